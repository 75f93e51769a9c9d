"""Input and output shapes of the metrics API (and the pages, which validate with the same models)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.core.db import no_nul
from app.core.ids import Id
from app.metrics.models import (
    Aggregation,
    AlertRuleKind,
    AlertStatus,
    Direction,
    Grain,
)

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
LABEL_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,39}$"
MAX_BATCH_ROWS = 10_000
MAX_LABELS = 10

LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN)]
LabelValue = Annotated[str, StringConstraints(max_length=100), AfterValidator(no_nul)]


class KpiCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=40, pattern=CODE_PATTERN, examples=["YH-LC01-ACT"],
                      description="Unique, case-insensitive; letters, digits, `-`, `_`, `.`.")
    name_en: str = Field(min_length=1, max_length=200, examples=["Average activation time"])
    name_zh: str = Field(min_length=1, max_length=200, examples=["平均激活时长"])
    description: str = Field("", max_length=10_000)
    unit: str = Field(min_length=1, max_length=20, examples=["min"])
    direction: Direction = Field(examples=["lower_is_better"])
    aggregation: Aggregation = Field(
        Aggregation.mean, description="How observations of one period combine: `mean`, `sum`, `rate` "
        "(the share of observations equal to 1; values must lie in [0, 1]), `p50`, `p95`.")
    target: float | None = Field(None, allow_inf_nan=False, examples=[8])
    baseline: float | None = Field(None, allow_inf_nan=False, examples=[30])
    process_id: Id | None = Field(None, description="The process measured.")
    initiative_id: Id | None = Field(None, description="The optimization initiative, if any.")
    owner_id: Id | None = Field(None, description="Defaults to the caller; only leads and administrators "
                                 "may name someone else.")


class KpiUpdate(BaseModel):
    """Only the fields sent are changed. The code cannot change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name_en: str | None = Field(None, min_length=1, max_length=200)
    name_zh: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    unit: str | None = Field(None, min_length=1, max_length=20)
    direction: Direction | None = None
    aggregation: Aggregation | None = None
    target: float | None = Field(None, allow_inf_nan=False)
    baseline: float | None = Field(None, allow_inf_nan=False)
    process_id: Id | None = None
    initiative_id: Id | None = None
    owner_id: Id | None = None


class Ref(BaseModel):
    id: int
    code: str | None = None
    display_name: str | None = None


class KpiRead(BaseModel):
    id: int
    code: str
    name_en: str
    name_zh: str
    description: str
    unit: str
    direction: Direction
    aggregation: Aggregation
    target: float | None
    baseline: float | None
    process: Ref | None
    initiative_id: int | None
    owner: Ref
    created_at: datetime
    updated_at: datetime
    version: int


class KpiPage(BaseModel):
    items: list[KpiRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# Observations are of business processes: a time outside these years is a typo (say 2205 for 2025).
OBSERVATION_YEARS = (1900, 2999)


class ObservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kpi: str = Field(min_length=1, max_length=40, pattern=CODE_PATTERN, description="The KPI's code.",
                     examples=["YH-LC01-ACT"])
    ts: AwareDatetime = Field(description="When it was measured (years 1900-2999), ISO-8601 with an offset "
                              "(`2025-03-03T09:30:00+08:00` or `...Z`); stored in UTC.",
                              examples=["2025-03-03T09:30:00+08:00"])
    value: float = Field(strict=True, allow_inf_nan=False, examples=[12.5])
    labels: dict[LabelKey, LabelValue] | None = Field(
        None, max_length=MAX_LABELS, description="Up to 10 labels for breakdowns (team, department, channel).",
        examples=[{"team": "A", "channel": "app"}])
    source: Annotated[str, AfterValidator(no_nul)] | None = Field(None, max_length=100,
                                                                  description="Defaults to the batch's source.")

    @field_validator("ts")
    @classmethod
    def _plausible_year(cls, ts: datetime) -> datetime:
        # Year 9999 was a 500: the series cache's day arithmetic ran past the calendar.
        if not OBSERVATION_YEARS[0] <= ts.year <= OBSERVATION_YEARS[1]:
            raise ValueError(f"the year must lie between {OBSERVATION_YEARS[0]} and {OBSERVATION_YEARS[1]}")
        return ts


class ObservationBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str | None = Field(None, max_length=100, examples=["crm"],
                               description="Where the rows come from (each row may override it).")
    observations: list[ObservationIn] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class BatchRead(BaseModel):
    batch_id: int
    accepted: int = Field(description="Rows stored.")
    kpis: list[str] = Field(description="Codes of the KPIs the rows belong to.")
    min_ts: datetime
    max_ts: datetime
    alerts: list[int] = Field(description="Ids of the alerts raised or updated by this data.")


class CsvPreviewRow(BaseModel):
    row: int
    line: int
    kpi: str
    ts: datetime
    value: float
    labels: dict[str, str] | None
    source: str | None


class CsvPreview(BaseModel):
    rows: int
    kpis: list[str]
    labels: list[str]
    sample: list[CsvPreviewRow]
    errors: list[dict[str, Any]]
    error_count: int


class ObservationRead(BaseModel):
    id: int
    kpi: str
    ts: datetime
    value: float
    labels: dict[str, str] | None
    source: str | None


class ObservationPage(BaseModel):
    items: list[ObservationRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SeriesPoint(BaseModel):
    model_config = ConfigDict(extra="allow")  # one extra column per label of a `by` breakdown

    kpi: str
    kpi_id: int
    grain: Grain
    period_start: date = Field(description="Local date (business time zone) the period starts.")
    period_end: date = Field(description="Local date the next period starts (exclusive).")
    count: int
    mean: float | None
    sum: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    value: float | None = Field(description="The KPI's default aggregation for the period.")
    target: float | None
    baseline: float | None


class SeriesPage(BaseModel):
    items: list[SeriesPoint]
    next_cursor: str | None = Field(None, description="Always null: a series is returned whole.")


class Comparison(BaseModel):
    kpi: str
    aggregation: Aggregation
    direction: Direction
    before: float
    after: float
    diff: float
    diff_rate: float | None = Field(description="(after - before) / before; -0.733 is -73.3 %.")
    improved: bool
    met_target: bool | None
    target: float | None
    before_count: int | None = Field(description="Observations in the before period; null for a value.")
    after_count: int


class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AlertRuleKind
    grain: Grain = Grain.week
    percent: float | None = Field(None, gt=0, le=10_000, allow_inf_nan=False,
                                  description="worsening: by more than this % ...")
    periods: int | None = Field(None, ge=1, le=52, description="... against the mean of this many periods.")
    is_active: bool = True

    @model_validator(mode="after")
    def _shape(self) -> AlertRuleCreate:
        if self.kind == AlertRuleKind.worsening and (self.percent is None or self.periods is None):
            raise ValueError("a worsening rule needs percent and periods")
        if self.kind == AlertRuleKind.target_breach and (self.percent is not None or self.periods is not None):
            raise ValueError("a target breach rule takes no percent or periods")
        return self


class AlertRuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grain: Grain | None = None
    percent: float | None = Field(None, gt=0, le=10_000, allow_inf_nan=False)
    periods: int | None = Field(None, ge=1, le=52)
    is_active: bool | None = None


class AlertRuleRead(BaseModel):
    id: int
    kpi_id: int
    kind: AlertRuleKind
    grain: Grain
    percent: float | None
    periods: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    version: int


class AlertRead(BaseModel):
    id: int
    kpi: str
    kpi_id: int
    rule_id: int
    kind: AlertRuleKind
    grain: Grain
    period_start: date
    value: float
    reference: float
    params: dict[str, Any]
    status: AlertStatus
    raised_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: Ref | None
    version: int


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ExportFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    parquet = "parquet"
