"""KPI definitions, observations (ingested in all-or-nothing batches), alert rules, alerts and the
per-period aggregate cache and the per-day moments of label filters."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime, enum_column, utcnow
from app.core.versioning import VersionedColumns

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER primary key (which is 64-bit there).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Direction(enum.StrEnum):
    lower_is_better = "lower_is_better"
    higher_is_better = "higher_is_better"


class Aggregation(enum.StrEnum):
    mean = "mean"
    sum = "sum"
    rate = "rate"  # the mean of 0/1 observations (e.g. error or not), shown as a percentage
    p50 = "p50"
    p95 = "p95"


class Grain(enum.StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"


class AlertRuleKind(enum.StrEnum):
    target_breach = "target_breach"
    worsening = "worsening"


class AlertStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"  # the condition no longer holds once more data for its period arrived


class Kpi(VersionedColumns, table=True):
    """A key performance indicator: what is measured, in which unit, which way is better, the goal."""

    __tablename__ = "kpis"
    __table_args__ = (sa.Index("ix_kpis_process_id_code", "process_id", "code_norm"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    # Upper-cased code: unique case-insensitively; the sort key.
    code_norm: str = Field(max_length=40, unique=True)
    name_en: str = Field(max_length=200)
    name_zh: str = Field(max_length=200)
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    unit: str = Field(max_length=20)
    direction: Direction = Field(sa_column=sa.Column(enum_column(Direction, "kpi_direction"), nullable=False))
    aggregation: Aggregation = Field(
        sa_column=sa.Column(enum_column(Aggregation, "kpi_aggregation"), nullable=False)
    )
    target: float | None = None
    baseline: float | None = None
    process_id: int | None = Field(default=None, foreign_key="processes.id", ondelete="RESTRICT")
    initiative_id: int | None = Field(default=None, foreign_key="initiatives.id", ondelete="RESTRICT", index=True)
    owner_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") and self.name_zh else self.name_en


class ObservationBatch(SQLModel, table=True):
    """One accepted ingestion request (API, CSV upload, page, demo): audited once, not per row."""

    __tablename__ = "observation_batches"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    token_id: int | None = Field(default=None, foreign_key="service_tokens.id", ondelete="SET NULL")
    origin: str = Field(max_length=20)  # api | csv | page | demo
    source: str | None = Field(default=None, max_length=100)
    row_count: int
    kpi_ids: list[int] = Field(sa_column=sa.Column(JSONType, nullable=False))
    min_ts: datetime = Field(sa_type=UTCDateTime, nullable=False)
    max_ts: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Observation(SQLModel, table=True):
    """One measured value of a KPI at an instant (stored UTC), with optional labels (team, channel, ...)."""

    __tablename__ = "observations"
    # Covers the series reads (kpi_id, ts -> value) with index-only scans on PostgreSQL, and the exports'
    # keyset order (kpi_id, ts, id).
    __table_args__ = (sa.Index("ix_observations_kpi_id_ts", "kpi_id", "ts", "id", postgresql_include=["value"]),)

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True, autoincrement=True))
    kpi_id: int = Field(foreign_key="kpis.id", ondelete="RESTRICT")
    ts: datetime = Field(sa_type=UTCDateTime, nullable=False)
    value: float = Field(nullable=False)
    labels: dict[str, str] | None = Field(default=None, sa_column=sa.Column(JSONType))
    source: str | None = Field(default=None, max_length=100)
    batch_id: int = Field(foreign_key="observation_batches.id", ondelete="RESTRICT")


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a request sent with an `Idempotency-Key`, per caller, with the body's hash."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("principal", "key", name="uq_idempotency_keys_principal_key"),
        sa.Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=60)  # "user:<id>" or "token:<id>"
    key: str = Field(max_length=200)
    endpoint: str = Field(max_length=100)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(sa_column=sa.Column(JSONType, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class KpiAlertRule(VersionedColumns, table=True):
    """When to raise an alert for a KPI, evaluated on its latest period whenever data arrives."""

    __tablename__ = "kpi_alert_rules"

    id: int | None = Field(default=None, primary_key=True)
    kpi_id: int = Field(foreign_key="kpis.id", ondelete="CASCADE", index=True)
    kind: AlertRuleKind = Field(
        sa_column=sa.Column(enum_column(AlertRuleKind, "kpi_alert_rule_kind"), nullable=False)
    )
    grain: Grain = Field(sa_column=sa.Column(enum_column(Grain, "kpi_alert_rule_grain"), nullable=False))
    percent: float | None = None
    periods: int | None = None
    is_active: bool = Field(default=True, nullable=False)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class KpiAlert(SQLModel, table=True):
    """A rule that fired for one period; one alert per rule and period, updated as late data arrives."""

    __tablename__ = "kpi_alerts"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "period_start", name="uq_kpi_alerts_rule_id_period_start"),
        sa.Index("ix_kpi_alerts_status_id", "status", "id"),
        sa.Index("ix_kpi_alerts_kpi_id_id", "kpi_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kpi_id: int = Field(foreign_key="kpis.id", ondelete="CASCADE")
    rule_id: int = Field(foreign_key="kpi_alert_rules.id", ondelete="CASCADE")
    kind: AlertRuleKind = Field(
        sa_column=sa.Column(enum_column(AlertRuleKind, "kpi_alert_kind"), nullable=False)
    )
    grain: Grain = Field(sa_column=sa.Column(enum_column(Grain, "kpi_alert_grain"), nullable=False))
    period_start: date
    value: float
    reference: float
    params: dict[str, Any] = Field(sa_column=sa.Column(JSONType, nullable=False))
    status: AlertStatus = Field(
        default=AlertStatus.open,
        sa_column=sa.Column(enum_column(AlertStatus, "kpi_alert_status"), nullable=False),
    )
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    version: int = Field(default=1, nullable=False)


class KpiPeriodCache(SQLModel, table=True):
    """Aggregates of closed periods (no label breakdown); rows of a period are dropped when late data
    for it arrives and computed again on the next read. Empty closed periods are cached with count 0."""

    __tablename__ = "kpi_period_cache"

    kpi_id: int = Field(foreign_key="kpis.id", ondelete="CASCADE", primary_key=True)
    grain: Grain = Field(
        sa_column=sa.Column(enum_column(Grain, "kpi_period_cache_grain"), primary_key=True)
    )
    tz: str = Field(max_length=64, primary_key=True)
    period_start: date = Field(primary_key=True)
    count: int
    mean: float | None = None
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class KpiDayMoments(SQLModel, table=True):
    """Per local day of closed days, the moments of a KPI's observations whose labels include a filter's
    (count, sum, how many non-zero): the windows of a pilot's evaluation add them up instead of scanning the
    rows again. `labels` is the SHA-256 of the filter as canonical JSON. Rows of a day are dropped when late data
    for it arrives (with the period cache's, `series.invalidate_cache`); a closed day without observations is
    kept with count 0."""

    __tablename__ = "kpi_day_moments"

    kpi_id: int = Field(foreign_key="kpis.id", ondelete="CASCADE", primary_key=True)
    tz: str = Field(max_length=64, primary_key=True)
    labels: str = Field(max_length=64, primary_key=True)
    day: date = Field(primary_key=True)
    count: int
    sum: float
    nonzero: int
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
