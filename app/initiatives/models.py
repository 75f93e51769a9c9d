from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow
from app.core.versioning import VersionedColumns


class Trigger(enum.StrEnum):
    new_launch = "new_launch"
    inefficiency = "inefficiency"
    inconsistent_execution = "inconsistent_execution"
    compliance = "compliance"
    customer_feedback = "customer_feedback"


class InitiativeStatus(enum.StrEnum):
    active = "active"
    on_hold = "on_hold"
    completed = "completed"
    cancelled = "cancelled"


class Phase(enum.StrEnum):
    diagnosis = "diagnosis"
    root_cause = "root_cause"
    design = "design"
    pilot = "pilot"
    rollout = "rollout"
    monitoring = "monitoring"

    @property
    def index(self) -> int:
        return PHASES.index(self)

    @property
    def next(self) -> Phase | None:
        i = self.index
        return PHASES[i + 1] if i + 1 < len(PHASES) else None


PHASES: tuple[Phase, ...] = tuple(Phase)

# Planned length of each phase in days: the upper end of the method's ranges (1-2 weeks,
# 3-5 days, 1-2 weeks, 2-3 weeks, 1-2 weeks); monitoring is ongoing, planned to the first
# quarterly review.
PHASE_DAYS: dict[Phase, int] = {
    Phase.diagnosis: 14,
    Phase.root_cause: 5,
    Phase.design: 14,
    Phase.pilot: 21,
    Phase.rollout: 14,
    Phase.monitoring: 90,
}


class ProjectRole(enum.StrEnum):
    leader = "leader"
    business = "business"
    it = "it"
    compliance = "compliance"


class Initiative(VersionedColumns, table=True):
    __tablename__ = "initiatives"
    __table_args__ = (
        sa.CheckConstraint("priority_threshold BETWEEN 1 AND 5", name="priority_threshold_range"),
        sa.Index("ix_initiatives_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="RESTRICT", index=True)
    title: str = Field(max_length=200)
    trigger: Trigger = Field(sa_column=sa.Column(enum_column(Trigger, "initiative_trigger"), nullable=False))
    goal: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    status: InitiativeStatus = Field(
        default=InitiativeStatus.active,
        sa_column=sa.Column(enum_column(InitiativeStatus, "initiative_status"), nullable=False),
    )
    current_phase: Phase = Field(
        default=Phase.diagnosis,
        sa_column=sa.Column(enum_column(Phase, "initiative_phase"), nullable=False),
    )
    priority_threshold: int = Field(default=3, nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class InitiativeMember(VersionedColumns, table=True):
    """A member of an initiative's team; exactly one is the leader."""

    __tablename__ = "initiative_members"
    __table_args__ = (
        sa.UniqueConstraint("initiative_id", "user_id", name="uq_initiative_members_initiative_user"),
        # At most one leader per initiative (the service keeps it at exactly one).
        sa.Index("uq_initiative_members_one_leader", "initiative_id", unique=True,
                 sqlite_where=sa.text("project_role = 'leader'"),
                 postgresql_where=sa.text("project_role = 'leader'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    project_role: ProjectRole = Field(
        sa_column=sa.Column(enum_column(ProjectRole, "project_role"), nullable=False))


class InitiativePhase(SQLModel, table=True):
    """Planned and actual dates of one of the six phases of an initiative."""

    __tablename__ = "initiative_phases"
    __table_args__ = (
        sa.UniqueConstraint("initiative_id", "phase", name="uq_initiative_phases_initiative_phase"),
        sa.CheckConstraint("planned_end >= planned_start", name="planned_order"),
        sa.CheckConstraint("actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
                           name="actual_order"),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    phase: Phase = Field(sa_column=sa.Column(enum_column(Phase, "phase"), nullable=False))
    planned_start: date = Field(sa_type=sa.Date, nullable=False)
    planned_end: date = Field(sa_type=sa.Date, nullable=False)
    actual_start: date | None = Field(default=None, sa_type=sa.Date)
    actual_end: date | None = Field(default=None, sa_type=sa.Date)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)
