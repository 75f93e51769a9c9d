from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from app.core.ids import Id
from app.mining.models import LogFormat
from app.sops.schemas import AttributeType, Requirement


class LifecycleCounts(BaseModel):
    """What the import read and kept by lifecycle value (XES `lifecycle:transition`, CSV `lifecycle` column)."""

    read: int = Field(description="Events in the file")
    kept: int = Field(description="Events imported")
    skipped: dict[str, int] = Field(description="Events left out, per lifecycle value")
    lifecycle: str | list[str] = Field(description="The selection applied: `complete`, `all` or the values kept")
    requested: str | list[str] | None = Field(
        default=None, description="The `lifecycle` option given; null: the default (`complete` when the log "
        "has complete events, else `all`)")
    values: dict[str, int] = Field(default_factory=dict, description="Events read per lifecycle value; empty "
                                   "when the file has no lifecycle values (all rows kept)")

    @field_validator("skipped", "values")
    @classmethod
    def _most_frequent_first(cls, counts: dict[str, int]) -> dict[str, int]:
        # JSONB keeps no key order: most frequent first, ties by value.
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def note(self) -> str | None:
        """What a user would otherwise miss about the selection, in a sentence."""
        if not self.values:
            if self.requested not in (None, "all"):
                return "The file has no lifecycle column: the lifecycle option does not apply; all rows were kept."
            return None
        if self.requested is None and self.lifecycle == "all" and len(self.values) > 0:
            return (f"The log has no `complete` events, so all {self.read} events were kept (lifecycle values: "
                    f"{', '.join(list(self.values)[:10])}). Import with `lifecycle` to choose some.")
        if self.skipped:
            parts = ", ".join(f"{v} {n}" for v, n in self.skipped.items())
            return (f"{self.read - self.kept} of {self.read} events were skipped by their lifecycle value ({parts}); "
                    "import with `lifecycle=all` to keep them.")
        return None


class EventLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    process_id: int
    initiative_id: int | None
    name: str
    filename: str
    source_format: LogFormat
    events: int
    cases: int
    activities: int
    first_event: datetime | None
    last_event: datetime | None
    size_bytes: int
    lifecycle_counts: LifecycleCounts | None = Field(
        description="Events read, kept and skipped per lifecycle value; null for logs imported before it was "
        "recorded")
    case_attributes: list[str] | None = Field(
        None, description="The names of the cases' attributes read at import (XES trace attributes; CSV/Parquet "
        "`case:<name>` columns and columns with one value per case, the prefix left out), which control-point "
        "rules read by name; null for logs imported before they were read")
    uploaded_by_id: int
    created_at: datetime


class EventLogPage(BaseModel):
    items: list[EventLogRead]
    next_cursor: str | None


class Analysis(BaseModel):
    """Statistics of the (filtered) log. Names follow the reference results in shared/eventlogs/expected."""

    events: int
    cases: int
    activities: int
    start_activities: dict[str, int] = Field(description="Cases starting with each activity")
    end_activities: dict[str, int] = Field(description="Cases ending with each activity")
    directly_follows: list[dict[str, Any]] = Field(
        description="Pairs (from, to) of consecutive events in a case: count, mean_s, median_s, p95_s"
    )
    case_duration_s: dict[str, float | None] = Field(
        description="min, median, mean, max, p95 of case durations"
    )
    rework_cases_per_activity: dict[str, int] = Field(
        description="Cases in which the activity occurs twice or more"
    )
    variants: int = Field(description="Number of distinct activity sequences")
    activity_stats: list[dict[str, Any]] = Field(
        description="Per activity: occurrences, cases, mean_s and median_s until the next event"
    )
    top_variants: list[dict[str, Any]] = Field(description="Most frequent sequences with cases and share")
    weekly: list[dict[str, Any]] = Field(
        description="Cases started and completed per ISO week (Monday) in BUSINESS_TIMEZONE, as publish-kpis")
    bottlenecks: list[dict[str, Any]] = Field(description="Transitions ranked by total waiting time")


class StepLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity: str = Field(min_length=1, max_length=300)
    step_id: Id | None = Field(description="A survey step of the log's initiative; null removes the mapping")


class StepLinksUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    links: list[StepLinkIn] = Field(max_length=1000)


class StepComparison(BaseModel):
    """Surveyed minutes beside measured minutes, per survey step of the log's initiative."""

    log_id: int
    initiative_id: int
    steps: list[dict[str, Any]] = Field(description="step_id, position, name, surveyed_minutes, "
                                        "surveyed_waiting_minutes, activities, measured_occurrences, "
                                        "measured_mean_minutes, measured_median_minutes")
    activities: list[dict[str, Any]] = Field(description="activity, step_id (mapping or null), occurrences, "
                                             "mean_minutes, median_minutes")


class AttributeMatchRead(BaseModel):
    name: str = Field(description="The attribute declared on the SOP version")
    type: AttributeType
    column: str | None = Field(description="The log's case attribute read for it (same name, else the same "
                                           "ignoring case and punctuation); null when the log has none")
    cases_with_value: int
    invalid: int = Field(description="Cases whose value cannot be read as the declared type")


class ControlPointCompliance(BaseModel):
    number: int = Field(description="The control point's place in the version's control points, from 1 (the "
                                    "KPI's `CP<n>`)")
    id: UUID | None
    description: str
    condition: str
    requirement: Requirement
    kpi: str = Field(description="The code of the weekly compliance KPI that publish-kpis writes",
                     examples=["YH-LC02-CP1"])
    cases: int = Field(description="Cases in the log")
    compliant: int
    violating: int
    violations: dict[str, int] = Field(description="Violating cases by reason: missing_activity, wrong_role, "
                                                   "wrong_order, too_late")
    special_case: int = Field(description="Cases covered by a special case (an exception of the control point)")
    not_evaluable: int
    not_evaluable_reasons: dict[str, int] = Field(description="missing_attribute, invalid_attribute, error (the "
                                                              "condition fails on the values), roles_missing (the "
                                                              "requirement names a role, the log records none)")
    out_of_scope: int = Field(description="Cases the condition is false for")
    compliance_rate: float | None = Field(description="compliant / (compliant + violating); null when neither")


class ComplianceRead(BaseModel):
    """An event log checked against the control points' rules of an SOP version."""

    log_id: int
    process_id: int
    version_id: int = Field(description="The SOP version whose rules were checked")
    number: str | None = Field(examples=["V1.1"])
    effective_date: date | None
    cases: int
    roles_recorded: bool = Field(description="The log records the resources' roles (`org:role` / `role`)")
    attributes: list[AttributeMatchRead]
    control_points: list[ControlPointCompliance] = Field(description="The control points that have a rule")


class TraceEvent(BaseModel):
    activity: str
    timestamp: datetime
    resource: str | None
    role: str | None


class ComplianceCase(BaseModel):
    case_id: str
    point: int = Field(description="The control point's number")
    status: str = Field(description="compliant, violating, special_case, not_evaluable or out_of_scope")
    reason: str | None
    week: date = Field(description="The ISO week (Monday, BUSINESS_TIMEZONE) of the case's last event")
    attributes: dict[str, str | None] = Field(description="The case's attributes as read from the log")
    trace: list[TraceEvent] = Field(description="The case's events in time order")


class ComplianceCasePage(BaseModel):
    items: list[ComplianceCase]
    next_cursor: str | None
