from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import enum_column
from app.core.versioning import VersionedColumns
from app.survey.models import ProblemCategory

__all__ = ["CauseCategory", "Issue", "IssueCause", "IssueSource", "IssueStatus", "IssueStep", "IssueWhy",
           "ProblemCategory", "Quadrant"]


class IssueSource(enum.StrEnum):
    interview = "interview"
    observation = "observation"
    data = "data"
    feedback = "feedback"


class IssueStatus(enum.StrEnum):
    open = "open"
    analysing = "analysing"
    countermeasure_planned = "countermeasure_planned"
    resolved = "resolved"
    deferred = "deferred"


# Problems still to be dealt with: the root-cause gate wants each of them scored.
OPEN_STATUSES = (IssueStatus.open, IssueStatus.analysing, IssueStatus.countermeasure_planned)


class CauseCategory(enum.StrEnum):
    """The fishbone's five bones: 人 機 料 法 環."""

    man = "man"
    machine = "machine"
    material = "material"
    method = "method"
    environment = "environment"


class Quadrant(enum.StrEnum):
    do_first = "do_first"
    schedule = "schedule"
    quick_fix = "quick_fix"
    defer = "defer"


class Issue(VersionedColumns, table=True):
    """A problem found in an initiative, scored for impact and urgency (1-5) once analysed."""

    __tablename__ = "issues"
    __table_args__ = (
        sa.CheckConstraint("impact IS NULL OR impact BETWEEN 1 AND 5", name="impact_range"),
        sa.CheckConstraint("urgency IS NULL OR urgency BETWEEN 1 AND 5", name="urgency_range"),
        sa.Index("ix_issues_initiative_id", "initiative_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    category: ProblemCategory = Field(
        sa_column=sa.Column(enum_column(ProblemCategory, "issue_category"), nullable=False))
    source: IssueSource = Field(sa_column=sa.Column(enum_column(IssueSource, "issue_source"), nullable=False))
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    status: IssueStatus = Field(
        default=IssueStatus.open,
        sa_column=sa.Column(enum_column(IssueStatus, "issue_status"), nullable=False))
    impact: int | None = Field(default=None)
    urgency: int | None = Field(default=None)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class IssueStep(SQLModel, table=True):
    """A survey step where the problem shows (same initiative)."""

    __tablename__ = "issue_steps"

    issue_id: int = Field(foreign_key="issues.id", primary_key=True, ondelete="CASCADE")
    step_id: int = Field(foreign_key="survey_steps.id", primary_key=True, ondelete="CASCADE", index=True)


class IssueCause(VersionedColumns, table=True):
    """A fishbone cause under one of the five bones; sub-causes nest under a parent cause."""

    __tablename__ = "issue_causes"
    __table_args__ = (sa.Index("ix_issue_causes_issue_id", "issue_id", "category", "position", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issues.id", ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="issue_causes.id", ondelete="CASCADE", index=True)
    category: CauseCategory = Field(
        sa_column=sa.Column(enum_column(CauseCategory, "cause_category"), nullable=False))
    text: str = Field(max_length=500)
    is_root: bool = Field(default=False)
    position: int = Field(default=0, nullable=False)


class IssueWhy(VersionedColumns, table=True):
    """One link of a 5-Whys chain: why? -> because ...; the last one may be the root cause."""

    __tablename__ = "issue_whys"
    __table_args__ = (sa.Index("ix_issue_whys_issue_position", "issue_id", "position", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issues.id", ondelete="CASCADE")
    position: int = Field(nullable=False)
    question: str = Field(max_length=500)
    answer: str = Field(max_length=500)
    is_root: bool = Field(default=False)
