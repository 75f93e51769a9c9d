from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.core.ids import Id
from app.initiatives.schemas import UserRef
from app.metrics.models import Aggregation, Direction
from app.pilots.models import Decision
from app.survey.models import ProblemCategory

LabelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,39}$")]
LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Score = Annotated[int, Field(ge=1, le=5)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PilotStatus(enum.StrEnum):
    planned = "planned"  # not started
    running = "running"
    finished = "finished"  # ended, not decided
    decided = "decided"


class PilotKpiIn(_In):
    kpi_id: Id
    target: Number | None = Field(None, description="The pilot's target; default the KPI's own target.")
    expected: Number | None = Field(None, description="The value predicted before the start (30 -> 8 min: 8).")


class PilotMemberIn(_In):
    user_id: Id
    briefed_on: date | None = Field(None, description="When they were briefed on the SOP version (attendance).")


def _unique(values: list, key: str) -> list:  # noqa: ANN001
    seen = [getattr(v, key) for v in values]
    if len(seen) != len(set(seen)):
        raise ValueError(f"each {key} once")
    return values


class PilotCreate(_In):
    sop_version_id: Id = Field(description="An approved or published version of the process's SOP.")
    scope: str = Field(min_length=1, max_length=200, examples=["运营A组"],
                       description="The team or business line that runs it, as people say it.")
    scope_labels: dict[LabelName, LabelValue] = Field(
        default_factory=dict, max_length=5, examples=[{"team": "A"}],
        description="The scope's observations: every label here must match (`team = A`). Empty: all of them.")
    planned_start: date
    planned_weeks: int = Field(2, ge=1, le=26)
    baseline_weeks: int = Field(4, ge=1, le=52, description="The baseline: this many weeks before the start.")
    prediction: Text = Field("", examples=["We expect activation to go from 30 to 8 minutes."])
    anonymous_survey: bool = Field(False, description="Answers keep no account; results need 3 answers.")
    kpis: list[PilotKpiIn] = Field(min_length=1, max_length=10)
    members: list[PilotMemberIn] = Field(default_factory=list, max_length=200)

    @field_validator("kpis")
    @classmethod
    def _kpis_once(cls, value: list[PilotKpiIn]) -> list[PilotKpiIn]:
        return _unique(value, "kpi_id")

    @field_validator("members")
    @classmethod
    def _members_once(cls, value: list[PilotMemberIn]) -> list[PilotMemberIn]:
        return _unique(value, "user_id")


class PilotUpdate(_In):
    """Only the fields sent are changed. The SOP version and the survey's anonymity are fixed once answers
    or the start exist; a decided pilot no longer changes."""

    scope: str | None = Field(None, min_length=1, max_length=200)
    scope_labels: dict[LabelName, LabelValue] | None = Field(None, max_length=5)
    planned_start: date | None = None
    planned_weeks: int | None = Field(None, ge=1, le=26)
    baseline_weeks: int | None = Field(None, ge=1, le=52)
    actual_start: date | None = None
    actual_end: date | None = None
    prediction: Text | None = None
    anonymous_survey: bool | None = None
    kpis: list[PilotKpiIn] | None = Field(None, min_length=1, max_length=10)
    members: list[PilotMemberIn] | None = Field(None, max_length=200)

    @field_validator("kpis")
    @classmethod
    def _kpis_once(cls, value: list[PilotKpiIn] | None) -> list[PilotKpiIn] | None:
        return value if value is None else _unique(value, "kpi_id")

    @field_validator("members")
    @classmethod
    def _members_once(cls, value: list[PilotMemberIn] | None) -> list[PilotMemberIn] | None:
        return value if value is None else _unique(value, "user_id")


class PilotKpiRead(BaseModel):
    kpi_id: int
    code: str
    name_en: str
    name_zh: str
    unit: str
    aggregation: Aggregation
    direction: Direction
    target: float | None
    expected: float | None


class PilotMemberRead(BaseModel):
    user: UserRef
    briefed_on: date | None
    answered: bool = Field(description="Answered the satisfaction survey")


class SopVersionRef(BaseModel):
    id: int
    number: str | None
    state: str


class PilotRead(BaseModel):
    id: int
    initiative_id: int
    sop_version: SopVersionRef
    round: int
    scope: str
    scope_labels: dict[str, str]
    status: PilotStatus
    planned_start: date
    planned_end: date = Field(description="planned_start + planned_weeks (exclusive)")
    planned_weeks: int
    actual_start: date | None
    actual_end: date | None
    baseline_weeks: int
    prediction: str
    anonymous_survey: bool
    kpis: list[PilotKpiRead]
    members: list[PilotMemberRead]
    decision: Decision | None
    decision_reason: str
    decided_by: UserRef | None
    decided_at: datetime | None
    next_version_id: int | None = Field(description="The V1.1 draft started by an adopt decision")
    version: int
    created_at: datetime
    updated_at: datetime


class LogEntryCreate(_In):
    day: date
    progress: Text = Field("", examples=["Team A ran 40 activations with the new checklist."])
    problems: Text = Field("", examples=["New system unfamiliar, no speed-up yet."])


class LogEntryRead(BaseModel):
    id: int
    pilot_id: int
    day: date
    progress: str
    problems: str
    issue_id: int | None = Field(description="The initiative's problem it was promoted to")
    author: UserRef | None
    created_at: datetime


class PromoteRequest(_In):
    title: str | None = Field(None, min_length=1, max_length=200,
                              description="Default: the first line of the entry's problems.")
    category: ProblemCategory = ProblemCategory.efficiency


class ActionIn(_In):
    text: str = Field(min_length=1, max_length=500)
    owner_id: Id | None = None


class RetroCreate(_In):
    week: int = Field(ge=1, le=26, description="The pilot's week: 1 is its first")
    held_on: date
    went_well: Text = ""
    went_badly: Text = ""
    actions: list[ActionIn] = Field(default_factory=list, max_length=50)
    close_action_ids: list[Id] = Field(default_factory=list, max_length=200,
                                       description="Open actions of earlier weeks closed in this one.")


class ActionRead(BaseModel):
    id: int
    week: int = Field(description="The week of the retrospective it comes from")
    text: str
    owner: UserRef | None
    closed_week: int | None
    version: int = Field(description='For `If-Match` on `PATCH /pilot-actions/{id}`: `"pilot-action-{id}-v{version}"`')


class RetroRead(BaseModel):
    id: int
    pilot_id: int
    week: int
    held_on: date
    went_well: str
    went_badly: str
    actions: list[ActionRead] = Field(description="The actions decided in this week")
    carried: list[ActionRead] = Field(description="Actions of earlier weeks still open at this one, or closed in it")


class ActionUpdate(_In):
    closed_week: int | None = Field(description="The week it was closed in; null reopens it")


class AnswerCreate(_In):
    easier: Score = Field(description="Is it easier to operate? 1 (not at all) to 5 (much easier)")
    risk_controlled: Score = Field(description="Is the risk under control? 1 to 5")
    comment: Text = ""


class QuestionResult(BaseModel):
    mean: float | None
    distribution: dict[str, int] = Field(description="How many answered 1, 2, 3, 4, 5")


class SurveyRead(BaseModel):
    anonymous: bool
    people: int = Field(description="People in the pilot")
    answered: int
    shown: bool = Field(description="False for an anonymous survey with fewer than 3 answers")
    min_answers: int
    satisfaction: float | None = Field(description="The mean of both questions over all answers (1-5)")
    easier: QuestionResult | None
    risk_controlled: QuestionResult | None
    comments: list[str]
    you_answered: bool
    you_may_answer: bool


class UnmetCreate(_In):
    problem: str = Field(min_length=1, max_length=500, examples=["Some users get no SMS code"])
    cause: str = Field("", max_length=1000, examples=["SMS channel"])
    change: str = Field("", max_length=1000, examples=["The SMS channel needs work"])


class UnmetRead(BaseModel):
    id: int
    pilot_id: int
    problem: str
    cause: str
    change: str
    version: int


class Window(BaseModel):
    start: date
    end: date = Field(description="Exclusive")


class StageValue(BaseModel):
    value: float | None
    count: int = Field(description="Observations behind the value")
    too_few: bool = Field(description="Fewer observations than `min_observations`")


class KpiEvaluation(PilotKpiRead):
    before: StageValue
    during: StageValue
    after: StageValue | None = Field(description="Null until the pilot has ended")
    diff_rate: float | None = Field(description="(during - before) / before: 30 -> 8 min is -0.7333")
    diff_rate_after: float | None = Field(description="(after - before) / before")
    improved: bool | None
    met_target: bool | None = Field(description="The pilot's value reached the target; null without one")


class Evaluation(BaseModel):
    pilot_id: int
    scope_labels: dict[str, str]
    before: Window
    during: Window
    after: Window | None
    min_observations: int = Field(description="Below this a figure is flagged too few to trust")
    kpis: list[KpiEvaluation]


class DecisionRequest(_In):
    decision: Decision
    reason: str = Field(min_length=5, max_length=5000, description="Why (an abandoned pilot's reason goes with "
                                                                  "the initiative back to design)")
    start_next_version: bool = Field(False, description="adopt: start the SOP's next version (V1.1) as a draft, "
                                                        "copied from the piloted one")


class Table3Row(BaseModel):
    """试点效果评估表: one row per KPI of the pilot."""

    process: str
    scope: str
    kpi: str
    before: float | None
    after: float | None
    unit: str = Field(description="`%` for a rate KPI, whose values are shares (0.05 = 5 %)")
    diff_rate: float | None
    satisfaction: float | None
    unmet: list[str] = Field(description="未达标问题及原因: 'problem → change'")
