"""SOP documents: one SOP per process, its versions (the seven sections as one JSON document), the review
(reviewers with their votes, threaded comments).

A version's stored `state` is what people did to it: `draft` → `in_review` → `approved` (signed) →
`published` (with its V-number and effective date), or `withdrawn`. What a reader sees as its status adds
the calendar: a published version is `effective` from its effective date until a later published version
takes effect, `superseded` after, and still `approved` before (`app.sops.service.status_at`). Nothing has
to run on the effective date for that to be right.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime, enum_column
from app.core.versioning import VersionedColumns

__all__ = ["OPEN_STATES", "Sop", "SopComment", "SopReviewer", "SopState", "SopStatus", "SopVersion", "Vote"]


class SopState(enum.StrEnum):
    """What is stored: the steps people took."""

    draft = "draft"
    in_review = "in_review"
    approved = "approved"  # signed, not yet published
    published = "published"
    withdrawn = "withdrawn"


# A version still being worked on: at most one per SOP (a partial unique index holds it).
OPEN_STATES = (SopState.draft, SopState.in_review, SopState.approved)


class SopStatus(enum.StrEnum):
    """What a reader sees at a date: the stored state with the calendar applied."""

    draft = "draft"
    in_review = "in_review"
    approved = "approved"  # signed; or published with an effective date still ahead
    effective = "effective"
    superseded = "superseded"
    withdrawn = "withdrawn"


class Vote(enum.StrEnum):
    none = "none"
    approve = "approve"
    request_changes = "request_changes"


class Sop(VersionedColumns, table=True):
    """The standard operating procedure of one process, with its periodic review interval."""

    __tablename__ = "sops"

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="RESTRICT", unique=True)
    review_interval_months: int = Field(default=12, nullable=False)


class SopVersion(VersionedColumns, table=True):
    """One version of an SOP. `version` (VersionedColumns) is the record's version for If-Match; the
    document's number is `number_major`.`number_minor` (V1.0 = 1, 0), given when it is published."""

    __tablename__ = "sop_versions"
    __table_args__ = (
        sa.UniqueConstraint("sop_id", "number_major", "number_minor", name="uq_sop_versions_number"),
        sa.Index("uq_sop_versions_one_open", "sop_id", unique=True,
                 sqlite_where=sa.text("state IN ('draft', 'in_review', 'approved')"),
                 postgresql_where=sa.text("state IN ('draft', 'in_review', 'approved')")),
        sa.Index("ix_sop_versions_sop_id_state", "sop_id", "state"),
        sa.CheckConstraint("review_round >= 0", name="review_round_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sop_id: int = Field(foreign_key="sops.id", ondelete="CASCADE")
    initiative_id: int | None = Field(default=None, foreign_key="initiatives.id", ondelete="SET NULL", index=True)
    based_on_id: int | None = Field(default=None, foreign_key="sop_versions.id", ondelete="SET NULL")
    state: SopState = Field(default=SopState.draft,
                            sa_column=sa.Column(enum_column(SopState, "sop_state"), nullable=False))
    number_major: int | None = Field(default=None)
    number_minor: int | None = Field(default=None)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONType, nullable=False))
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    review_round: int = Field(default=0, nullable=False)  # 0 before the first submission
    signed_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    signed_hash: str | None = Field(default=None, max_length=64)
    published_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    effective_date: date | None = Field(default=None)
    change_summary: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    note: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))


class SopReviewer(SQLModel, table=True):
    """A reviewer of a version, for a department; a vote counts in the round it was cast in only."""

    __tablename__ = "sop_reviewers"
    __table_args__ = (sa.UniqueConstraint("version_id", "user_id", name="uq_sop_reviewers_version_user"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="sop_versions.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    department: str = Field(default="", max_length=40)  # a department code, or "" when none
    vote: Vote = Field(default=Vote.none, sa_column=sa.Column(enum_column(Vote, "sop_vote"), nullable=False))
    voted_round: int = Field(default=0, nullable=False)
    voted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class SopComment(VersionedColumns, table=True):
    """A comment on a section (or one step) of a version; replies name their thread's first comment."""

    __tablename__ = "sop_comments"
    __table_args__ = (sa.Index("ix_sop_comments_version_id", "version_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="sop_versions.id", ondelete="CASCADE")
    section: str = Field(max_length=20)
    step_id: str | None = Field(default=None, max_length=36)
    parent_id: int | None = Field(default=None, foreign_key="sop_comments.id", ondelete="CASCADE", index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    resolved: bool = Field(default=False, nullable=False)
    round: int = Field(default=0, nullable=False)
