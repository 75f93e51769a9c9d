"""Quarterly reviews (季度复盘会) of a process: the meeting planned for a quarter, its record (date,
participants, findings, decisions), and what the data showed when it was held.

A review is prepared from the data of its quarter (see `app.reviews.service.pack`); once held, that pack is kept
with it (`pack`), so the minutes show what the meeting looked at, not what the data became later."""

from __future__ import annotations

import enum
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, enum_column
from app.core.versioning import VersionedColumns
from app.survey.models import ProblemCategory


class ReviewStatus(enum.StrEnum):
    planned = "planned"
    held = "held"


class DecisionKind(enum.StrEnum):
    """What the review decided: keep the standard, revise it (a minor version), or a new round through design,
    pilot and rollout (phases 3-5) in a new initiative."""

    no_change = "no_change"
    small_iteration = "small_iteration"
    new_round = "new_round"


class Review(VersionedColumns, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        sa.UniqueConstraint("process_id", "year", "quarter", name="uq_reviews_process_quarter"),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        sa.Index("ix_reviews_status_planned_on", "status", "planned_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="CASCADE")
    year: int
    quarter: int
    planned_on: date = Field(description="The day the meeting is planned.")
    status: ReviewStatus = Field(default=ReviewStatus.planned, sa_column=sa.Column(
        enum_column(ReviewStatus, "review_status"), nullable=False))
    held_on: date | None = None
    notes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    next_review_on: date | None = Field(default=None, description="The next review's day, planned when this one "
                                                                   "is held.")
    pack: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class ReviewParticipant(SQLModel, table=True):
    __tablename__ = "review_participants"

    review_id: int = Field(foreign_key="reviews.id", ondelete="CASCADE", primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)


class ReviewFinding(SQLModel, table=True):
    __tablename__ = "review_findings"

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="reviews.id", ondelete="CASCADE", index=True)
    position: int
    text: str = Field(max_length=2000)
    category: ProblemCategory = Field(sa_column=sa.Column(enum_column(ProblemCategory, "review_finding_category"),
                                                          nullable=False))
    issue_id: int | None = Field(default=None, foreign_key="issues.id", ondelete="SET NULL",
                                 description="The problem it became in the new round's initiative.")


class ReviewDecision(SQLModel, table=True):
    __tablename__ = "review_decisions"

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="reviews.id", ondelete="CASCADE", index=True)
    position: int
    kind: DecisionKind = Field(sa_column=sa.Column(enum_column(DecisionKind, "review_decision_kind"),
                                                   nullable=False))
    text: str = Field(max_length=2000)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    due_on: date | None = None
    initiative_id: int | None = Field(default=None, foreign_key="initiatives.id", ondelete="SET NULL",
                                      description="The initiative of the new round it opened.")
