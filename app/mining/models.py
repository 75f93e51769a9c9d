from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime, enum_column, utcnow


class LogFormat(enum.StrEnum):
    csv = "csv"
    xes = "xes"
    parquet = "parquet"


class EventLog(SQLModel, table=True):
    """An imported event log of a process: its summary; the events live in `event_log_data`."""

    __tablename__ = "event_logs"
    __table_args__ = (sa.Index("ix_event_logs_process_id", "process_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="RESTRICT")
    # The initiative whose survey the log is compared with, if any (same process).
    initiative_id: int | None = Field(default=None, foreign_key="initiatives.id", ondelete="SET NULL",
                                      index=True)
    name: str = Field(max_length=200)
    filename: str = Field(max_length=255)
    source_format: LogFormat = Field(
        sa_column=sa.Column(enum_column(LogFormat, "log_format"), nullable=False)
    )
    source_timezone: str = Field(max_length=64)
    events: int
    cases: int
    activities: int
    first_event: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_event: datetime | None = Field(default=None, sa_type=UTCDateTime)
    size_bytes: int
    # Events read, kept and skipped per lifecycle value at import (readers.LifecycleReport.as_dict());
    # null for logs imported before it was recorded.
    lifecycle_counts: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    # The names of the cases' attributes read at import (readers: XES trace attributes, `case:` columns and
    # columns with one value per case); null for logs imported before they were read.
    case_attributes: list[str] | None = Field(default=None, sa_column=sa.Column(JSONType))
    uploaded_by_id: int = Field(foreign_key="users.id", ondelete="RESTRICT")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class EventLogData(SQLModel, table=True):
    """The normalised events of one log as a Parquet file (zstd), stored in the database.

    One row per log keeps millions of events compact (a few bytes per event), shared by every
    worker and container, transactional with the log's record, and gone when the log is deleted.
    """

    __tablename__ = "event_log_data"

    log_id: int = Field(foreign_key="event_logs.id", primary_key=True, ondelete="CASCADE")
    parquet: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    # The cases' attributes (`case_id` and a text column per attribute) as Parquet; null before they were read.
    cases_parquet: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))


class StepLink(SQLModel, table=True):
    """A log activity mapped to a survey step of the log's initiative (several activities may share a step)."""

    __tablename__ = "event_log_step_links"

    log_id: int = Field(foreign_key="event_logs.id", primary_key=True, ondelete="CASCADE")
    activity: str = Field(max_length=300, primary_key=True)
    step_id: int = Field(foreign_key="survey_steps.id", ondelete="CASCADE", index=True)
