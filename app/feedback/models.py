"""Feedback on a process or a step of its SOP (反馈渠道), named or anonymous, with the team's replies; and the
short-lived throttle of anonymous posts.

Anonymous means it here: an anonymous row holds no account, no address and no time finer than the day it came
(`received_on`); its sender follows it with a receipt code, of which only the SHA-256 is kept. The throttle keeps
a keyed hash (HMAC with the secret key) of the poster's account for one window, never beside the feedback."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow


class FeedbackCategory(enum.StrEnum):
    """The method's four problem categories, or a suggestion."""

    efficiency = "efficiency"
    quality = "quality"
    collaboration = "collaboration"
    risk = "risk"
    suggestion = "suggestion"


class FeedbackStatus(enum.StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    promoted = "promoted"  # became a problem of an initiative
    closed = "closed"


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (sa.Index("ix_feedback_process_status", "process_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="CASCADE")
    sop_version_id: int | None = Field(default=None, foreign_key="sop_versions.id", ondelete="SET NULL")
    step_id: str | None = Field(default=None, max_length=64)
    category: FeedbackCategory = Field(sa_column=sa.Column(enum_column(FeedbackCategory, "feedback_category"),
                                                           nullable=False))
    text: str = Field(max_length=5000)
    anonymous: bool
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    received_on: date = Field(description="The business day it came: no finer time is kept.")
    receipt_hash: str = Field(max_length=64, unique=True)
    status: FeedbackStatus = Field(default=FeedbackStatus.new, sa_column=sa.Column(
        enum_column(FeedbackStatus, "feedback_status"), nullable=False))
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    close_reason: str | None = Field(default=None, max_length=2000)
    issue_id: int | None = Field(default=None, foreign_key="issues.id", ondelete="SET NULL")
    # Set by the team's changes only (`save_update`): a new feedback has no time of its own but its day.
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1, nullable=False)


class FeedbackReply(SQLModel, table=True):
    __tablename__ = "feedback_replies"

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", ondelete="CASCADE", index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    text: str = Field(max_length=5000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FeedbackAttachment(SQLModel, table=True):
    """The one file a feedback carries (PNG, JPEG, PDF or plain text, its type told by its content). Of an anonymous
    feedback: named `attachment.<ext>` (never as uploaded) and cleaned of the metadata a library can remove;
    like the feedback, it keeps no time of its own."""

    __tablename__ = "feedback_attachments"

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", ondelete="CASCADE", unique=True)
    name: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, description="Of the bytes kept (for an anonymous one: after cleaning).")
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class FeedbackThrottle(SQLModel, table=True):
    """Anonymous posts per poster and window: `key` is HMAC-SHA256(secret key, account id, window start); rows of
    ended windows are deleted by the next anonymous post."""

    __tablename__ = "feedback_throttle"

    key: str = Field(max_length=64, primary_key=True)
    window_start: datetime = Field(sa_type=UTCDateTime, index=True)
    count: int = 0
