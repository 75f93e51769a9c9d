"""Quarterly review schemas: planning a review, the pack of data it is prepared from, the meeting record, and
opening a new round from a decision."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.ids import Id
from app.feedback.models import FeedbackCategory, FeedbackStatus
from app.initiatives.models import Trigger
from app.initiatives.schemas import ProcessRef, UserRef
from app.issues.models import IssueStatus
from app.measures.models import MeasureStatus
from app.reviews.models import DecisionKind, ReviewStatus
from app.risks.schemas import RegisterSummary, RiskChange, RiskRead
from app.survey.models import ProblemCategory


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReviewCreate(_In):
    year: int = Field(ge=2000, le=2100, examples=[2026])
    quarter: int = Field(ge=1, le=4, examples=[3])
    planned_on: date | None = Field(None, description="The meeting's day; default the tenth working day after the "
                                                      "quarter ends.")


class ReviewUpdate(_In):
    """Only the fields sent are changed."""

    planned_on: date | None = None
    notes: str | None = Field(None, max_length=10_000)


class FindingIn(_In):
    id: Id | None = Field(None, description="An existing finding of this review, kept (and its link to a problem).")
    text: str = Field(min_length=1, max_length=2000, examples=["审批环节随业务量增长再次成为瓶颈"])
    category: ProblemCategory = Field(description="The problem category it would be as a problem of a new round.")


class DecisionIn(_In):
    id: Id | None = Field(None, description="An existing decision of this review, kept (and its new round).")
    kind: DecisionKind
    text: str = Field(min_length=1, max_length=2000, examples=["Add a second approver above 50,000"])
    owner_id: Id | None = None
    due_on: date | None = None


class RecordRequest(_In):
    """The meeting record, as a whole: what is not sent of the findings and decisions is removed (except what
    opened a new round, which stays)."""

    held_on: date
    participant_ids: list[Id] = Field(min_length=1, max_length=100)
    findings: list[FindingIn] = Field(default_factory=list, max_length=50)
    decisions: list[DecisionIn] = Field(min_length=1, max_length=50)
    next_review_on: date | None = Field(None, description="The next review's day (it is planned for the next "
                                                          "quarter); default three months after this one.")
    notes: str = Field("", max_length=10_000)

    @model_validator(mode="after")
    def _next_after(self) -> RecordRequest:
        if self.next_review_on is not None and self.next_review_on <= self.held_on:
            raise ValueError("next_review_on must come after held_on")
        return self


class OpenRoundRequest(_In):
    title: str = Field(min_length=1, max_length=200, examples=["Approval bottleneck, second round"])
    trigger: Trigger = Trigger.inefficiency
    leader_id: Id | None = Field(None, description="Default: the decision's owner, else the caller.")
    finding_ids: list[Id] | None = Field(None, max_length=50, description="The findings that become its problems; "
                                                                          "default every one not yet a problem.")


# ---------------------------------------------------------------- the pack

class MonthValue(BaseModel):
    period_start: date
    value: float | None


class KpiReview(BaseModel):
    id: int
    code: str
    name_en: str
    name_zh: str
    unit: str
    direction: str
    aggregation: str = Field(description="How its observations aggregate; a `rate` is a share (0-1).")
    target: float | None
    baseline: float | None
    months: list[MonthValue] = Field(description="The quarter's months, each the KPI's value (its aggregation).")
    latest: float | None = Field(description="The quarter's last month with a value.")
    on_target: bool | None = Field(description="Whether `latest` meets the target; null without either.")
    alerts: int = Field(description="Alerts raised for a period in the quarter.")
    open_alerts: int


class FeedbackItem(BaseModel):
    id: int
    category: FeedbackCategory
    status: FeedbackStatus
    received_on: date
    text: str = Field(description="Its first 300 characters.")
    anonymous: bool
    overdue: bool
    issue_id: int | None


class FeedbackSummary(BaseModel):
    received: int
    by_category: dict[str, int]
    by_status: dict[str, int]
    overdue: int
    items: list[FeedbackItem]


class ProblemItem(BaseModel):
    id: int
    initiative_id: int
    title: str
    category: ProblemCategory
    status: IssueStatus
    impact: int | None
    urgency: int | None


class MeasureItem(BaseModel):
    id: int
    initiative_id: int
    goal: str
    status: MeasureStatus
    due_date: date | None
    overdue: bool
    owner: UserRef | None


class SopVersionItem(BaseModel):
    id: int
    number: str | None
    effective_date: date | None
    change_summary: str


class SopSummary(BaseModel):
    sop_id: int | None
    in_force: SopVersionItem | None
    review_interval_months: int | None
    review_due: date | None = Field(description="The periodic review of the SOP in force (its effective date "
                                                 "plus the SOP's review interval).")
    versions: list[SopVersionItem] = Field(description="Versions that took effect up to the quarter's end, newest "
                                                       "first.")


class DepartmentTraining(BaseModel):
    code: str
    name: str
    people: int
    passed: int
    acknowledged: int


class TrainingSummary(BaseModel):
    plan_id: int | None = Field(description="The rollout plan of the SOP version in force.")
    people: int
    passed: int
    acknowledged: int
    coverage: float | None = Field(description="Share of the people in scope who passed the test (0-1).")
    departments: list[DepartmentTraining]


class ReviewRisks(BaseModel):
    summary: RegisterSummary
    top: list[RiskRead] = Field(description="The risks not closed, highest score first (at most ten).")
    changes: list[RiskChange] = Field(description="The register's changes in the quarter, oldest first.")


class Pack(BaseModel):
    """What the review is prepared from: the process's data of the quarter (and the state of its problems,
    countermeasures and SOP when it was prepared)."""

    process: ProcessRef
    year: int
    quarter: int
    start: date
    end: date = Field(description="The quarter's last day.")
    prepared_at: datetime
    kpis: list[KpiReview]
    compliance: list[KpiReview] = Field(description="The control points' compliance rates (KPIs published from "
                                                    "event logs), per month.")
    feedback: FeedbackSummary
    problems: list[ProblemItem] = Field(description="The open problems of the process's initiatives.")
    measures: list[MeasureItem] = Field(description="Countermeasures not done or dropped.")
    sop: SopSummary
    training: TrainingSummary
    risks: ReviewRisks


# ---------------------------------------------------------------- the review

class FindingRead(BaseModel):
    id: int
    text: str
    category: ProblemCategory
    issue_id: int | None


class DecisionRead(BaseModel):
    id: int
    kind: DecisionKind
    text: str
    owner: UserRef | None
    due_on: date | None
    initiative_id: int | None


class ReviewRead(BaseModel):
    id: int
    process: ProcessRef
    year: int
    quarter: int
    label: str = Field(examples=["2026 Q3"])
    planned_on: date
    status: ReviewStatus
    due: bool = Field(description="Planned and its day has come.")
    held_on: date | None
    participants: list[UserRef]
    findings: list[FindingRead]
    decisions: list[DecisionRead]
    notes: str
    next_review_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class ReviewDetail(ReviewRead):
    pack: Pack = Field(description="Kept as it was when the review was held; prepared now while it is planned.")


class ReviewPage(BaseModel):
    items: list[ReviewRead]
    next_cursor: str | None


class RoundOpened(BaseModel):
    initiative_id: int
    issue_ids: list[int]
    review: ReviewRead


def dump(pack: Pack) -> dict[str, Any]:
    return pack.model_dump(mode="json")
