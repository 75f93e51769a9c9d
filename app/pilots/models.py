"""Pilots (phase 4): one team runs an approved SOP version for a few weeks; its KPIs before, during and after,
the daily log, the weekly retrospectives with their actions, the satisfaction survey, the unmet problems and the
decision to adopt, adapt or abandon."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime, enum_column
from app.core.versioning import VersionedColumns

__all__ = ["Decision", "Pilot", "PilotAction", "PilotAnswer", "PilotKpi", "PilotLogEntry", "PilotMember",
           "PilotRespondent", "PilotRetro", "PilotUnmet"]


class Decision(enum.StrEnum):
    """What the pilot's result means for the SOP version."""

    adopt = "adopt"  # on to rollout (or a V1.1 draft from the unmet problems first)
    adapt = "adapt"  # another pilot round
    abandon = "abandon"  # back to design (phase 3)


class Pilot(VersionedColumns, table=True):
    """A pilot round of an initiative: an approved SOP version run by one team for a planned period."""

    __tablename__ = "pilots"
    __table_args__ = (
        sa.Index("ix_pilots_initiative_id", "initiative_id", "id"),
        sa.CheckConstraint("planned_weeks BETWEEN 1 AND 26", name="planned_weeks_range"),
        sa.CheckConstraint("baseline_weeks BETWEEN 1 AND 52", name="baseline_weeks_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    sop_version_id: int = Field(foreign_key="sop_versions.id", ondelete="RESTRICT", index=True)
    round: int = Field(default=1, nullable=False)  # 1, 2, ... per initiative (adapt starts the next)
    scope: str = Field(max_length=200)  # the team or business line, as people say it: "运营A组"
    # The observations of the scope: every label here must match (`{"team": "A"}`).
    scope_labels: dict[str, str] = Field(default_factory=dict, sa_column=sa.Column(JSONType, nullable=False))
    planned_start: date
    planned_weeks: int = Field(default=2)
    actual_start: date | None = None
    actual_end: date | None = None
    baseline_weeks: int = Field(default=4)  # the "before" window: this many weeks before the start
    prediction: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    anonymous_survey: bool = Field(default=False)
    decision: Decision | None = Field(default=None, sa_column=sa.Column(enum_column(Decision, "pilot_decision")))
    decision_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    decided_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_version_id: int | None = Field(default=None, foreign_key="sop_versions.id", ondelete="SET NULL")
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class PilotKpi(SQLModel, table=True):
    """A KPI the pilot watches, with the pilot's own target and the value it expects."""

    __tablename__ = "pilot_kpis"

    pilot_id: int = Field(foreign_key="pilots.id", primary_key=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpis.id", primary_key=True, ondelete="RESTRICT", index=True)
    position: int = Field(default=0)
    target: float | None = None
    expected: float | None = None


class PilotMember(SQLModel, table=True):
    """A person in the pilot, and whether they were briefed on the SOP version before the start."""

    __tablename__ = "pilot_members"

    pilot_id: int = Field(foreign_key="pilots.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="RESTRICT", index=True)
    briefed_on: date | None = None


class PilotLogEntry(VersionedColumns, table=True):
    """每日跟踪: one day's progress and problems; a problem may become a problem of the initiative."""

    __tablename__ = "pilot_log_entries"
    __table_args__ = (sa.Index("ix_pilot_log_entries_pilot_day", "pilot_id", "day", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilots.id", ondelete="CASCADE")
    day: date
    progress: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    problems: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    issue_id: int | None = Field(default=None, foreign_key="issues.id", ondelete="SET NULL")
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class PilotRetro(VersionedColumns, table=True):
    """每周复盘会: one week's retrospective."""

    __tablename__ = "pilot_retros"
    __table_args__ = (sa.UniqueConstraint("pilot_id", "week", name="uq_pilot_retros_pilot_week"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilots.id", ondelete="CASCADE")
    week: int  # 1 = the pilot's first week
    held_on: date
    went_well: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    went_badly: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))


class PilotAction(VersionedColumns, table=True):
    """An action of a retrospective, with its owner; open ones carry into the next weeks until closed."""

    __tablename__ = "pilot_actions"
    __table_args__ = (sa.Index("ix_pilot_actions_pilot_id", "pilot_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilots.id", ondelete="CASCADE")
    retro_id: int = Field(foreign_key="pilot_retros.id", ondelete="CASCADE", index=True)
    text: str = Field(max_length=500)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    closed_week: int | None = None  # the week of the retrospective it was closed in


class PilotAnswer(SQLModel, table=True):
    """One person's answer to the satisfaction survey (1-5 each). Anonymous pilots store no account here, and
    no time: who answered is only in `PilotRespondent`, which holds nothing of the answer."""

    __tablename__ = "pilot_answers"
    __table_args__ = (
        sa.CheckConstraint("easier BETWEEN 1 AND 5", name="easier_range"),
        sa.CheckConstraint("risk_controlled BETWEEN 1 AND 5", name="risk_controlled_range"),
        sa.Index("ix_pilot_answers_pilot_id", "pilot_id"),
    )

    # A random id, not a sequence: the order of the answers is not kept, so it cannot be matched with the order
    # in which people answered (the audit log has that).
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pilot_id: int = Field(foreign_key="pilots.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    easier: int  # "Is it easier to operate?"
    risk_controlled: int  # "Is the risk under control?"
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))


class PilotRespondent(SQLModel, table=True):
    """That a person answered the survey (once), for anonymous pilots too."""

    __tablename__ = "pilot_respondents"

    pilot_id: int = Field(foreign_key="pilots.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")


class PilotUnmet(VersionedColumns, table=True):
    """未达标问题及原因: a problem the pilot did not solve, its cause and the change it asks for."""

    __tablename__ = "pilot_unmet"
    __table_args__ = (sa.Index("ix_pilot_unmet_pilot_id", "pilot_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilots.id", ondelete="CASCADE")
    problem: str = Field(max_length=500)
    cause: str = Field(default="", max_length=1000)
    change: str = Field(default="", max_length=1000)
