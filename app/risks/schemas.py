"""Risk register schemas: a risk as written (create, update, the control-point links) and as read (with its score,
score band, the linked control points' measured compliance, and whether it is flagged or due for review)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.core.ids import Id
from app.initiatives.schemas import UserRef
from app.risks.models import RiskSeed, RiskStatus

Description = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Text = Annotated[str, StringConstraints(max_length=5000)]
MAX_LINKS = 50


def Scale(default: int | None = None, **kw: object):  # noqa: ANN201, N802 - a field factory, like Field
    return Field(default, ge=1, le=5, strict=True, description="1 (lowest) to 5 (highest).", **kw)


def Threshold(default: int | None = None):  # noqa: ANN201, N802
    return Field(default, ge=0, le=100, strict=True,
                 description="Percent (0-100): the risk is flagged when the measured compliance of a linked control "
                             "point falls below it.")


def _unique(values: list[UUID] | None) -> list[UUID] | None:
    if values is not None and len(values) != len(set(values)):
        raise ValueError("name each control point once")
    return values


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RiskCreate(_In):
    initiative_id: Id | None = Field(None, description="An initiative on the risk's process, or none (a risk of "
                                                       "the process itself).")
    description: Description = Field(examples=["Large orders shipped without the finance head's approval"])
    signs: Text = Field("", description="How it shows (风险表现).", examples=["Approvals back-filled after shipping"])
    likelihood: int = Scale(...)
    impact: int = Scale(...)
    owner_id: Id | None = Field(None, description="Who answers for it: someone who may read the register "
                                                  "(the process's owner, an administrator, a member of an "
                                                  "initiative's team on the process); not a viewer.")
    response: Text = Field("", description="The response (应对措施).")
    status: RiskStatus = RiskStatus.open
    review_date: date | None = Field(None, description="When it is next reviewed; due on and after that day.")
    compliance_threshold: int = Threshold(90)
    control_point_ids: list[UUID] = Field(default_factory=list, max_length=MAX_LINKS,
                                          description="Control points (their ids) of the process's SOP that keep "
                                                      "the risk in check.")

    _links = field_validator("control_point_ids")(_unique)


class RiskUpdate(_In):
    """Only the fields sent change; `initiative_id`, `owner_id` and `review_date` may be set back to null."""

    initiative_id: Id | None = None
    description: Description | None = None
    signs: Text | None = None
    likelihood: int | None = Scale()
    impact: int | None = Scale()
    owner_id: Id | None = None
    response: Text | None = None
    status: RiskStatus | None = None
    review_date: date | None = None
    compliance_threshold: int | None = Threshold()
    control_point_ids: list[UUID] | None = Field(None, max_length=MAX_LINKS)

    _links = field_validator("control_point_ids")(_unique)


NOT_NULL = ("description", "signs", "likelihood", "impact", "response", "status", "compliance_threshold",
            "control_point_ids")


class ControlPointLinks(_In):
    control_point_ids: list[UUID] = Field(max_length=MAX_LINKS, description="Every control point linked from now "
                                                                            "on (an empty list unlinks them all).")

    _links = field_validator("control_point_ids")(_unique)


class Band(enum.StrEnum):
    """The score's band (likelihood x impact): low 1-4, medium 5-9, high 10-16, critical 20-25."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class LinkedPoint(BaseModel):
    id: UUID
    number: int | None = Field(description="Its number in the SOP version in force (the `n` of the KPI "
                                           "`<PROCESS>-CP<n>`); null when that version no longer has it.")
    description: str | None = Field(description="As the version in force words it; null when it has no such point.")
    in_force: bool = Field(description="The SOP version in force has this control point.")
    kpi: str | None = Field(description="The event-log compliance KPI of the point (published from event logs), "
                                        "when the point has a rule.")
    rate: float | None = Field(description="The latest weekly compliance (share 0-1 of the cases in scope that met "
                                           "the requirement); null when not measured.")
    week: date | None = Field(description="The week (its Monday) of that observation.")
    below: bool = Field(description="The rate is below the risk's threshold.")


class FlagReason(BaseModel):
    control_point_id: UUID
    number: int
    description: str
    rate: float = Field(description="Share 0-1, below `compliance_threshold` / 100.")
    week: date


class RiskRead(BaseModel):
    """A risk. For a seeded risk (`seed` set) `description`, `signs` and `response` are the method's English texts
    as stored, which the pages and exports show in the reader's language; once edited they are as written."""

    id: int
    process_id: int
    initiative_id: int | None
    seed: RiskSeed | None = Field(description="Which of the method's five key risks it was seeded as, if any.")
    description: str
    signs: str
    likelihood: int
    impact: int
    score: int = Field(description="likelihood x impact (1-25)")
    band: Band
    owner: UserRef | None
    response: str
    status: RiskStatus
    review_date: date | None
    review_due: bool = Field(description="Not closed and the review date is today or past.")
    compliance_threshold: int
    control_points: list[LinkedPoint]
    flagged: bool = Field(description="The latest measured compliance of a linked control point is below the "
                                      "threshold: the residual risk is no longer what it was; review it.")
    flag_reasons: list[FlagReason]
    created_at: datetime
    updated_at: datetime
    version: int


class RiskPage(BaseModel):
    items: list[RiskRead]
    next_cursor: str | None = None


class HeatCell(BaseModel):
    likelihood: int
    impact: int
    score: int
    band: Band
    count: int


class HeatMap(BaseModel):
    """Likelihood x impact, 25 cells (likelihood 5 first, impact 1 first), counting the risks the filters select;
    closed risks are counted only when `status=closed` is asked for."""

    cells: list[HeatCell]
    total: int


class RegisterSummary(BaseModel):
    """The register of a process at a glance (for the quarterly review)."""

    process_id: int
    total: int
    by_status: dict[RiskStatus, int]
    by_band: dict[Band, int] = Field(description="Risks not closed, by score band.")
    flagged: list[RiskRead]
    review_due: list[RiskRead]


class RiskChange(BaseModel):
    """A change of the register (from its audit trail)."""

    at: datetime
    risk_id: int
    action: str = Field(description="`create`, `update` or `delete`.")
    actor_label: str
    before: dict | None
    after: dict | None
    changed: list[str] = Field(description="The fields whose value changed (all of them on create and delete).")
