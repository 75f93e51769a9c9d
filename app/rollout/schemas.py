from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.core.ids import Id
from app.initiatives.schemas import UserRef
from app.rollout.models import ChecklistKind, Delivery, QuestionKind

Text = Annotated[str, StringConstraints(max_length=10_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Option = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _unique_ids(values: list[int], what: str) -> list[int]:
    if len(values) != len(set(values)):
        raise ValueError(f"each {what} once")
    return values


# ---------------------------------------------------------------- plan, waves, people

class WaveIn(_In):
    name: Name = Field(examples=["第1周：运营部"])
    starts_on: date
    ends_on: date
    delivery: Delivery = Delivery.per_department
    department_ids: list[Id] = Field(min_length=1, max_length=100, description="The departments of the wave; "
                                     "a department is in one wave of a plan.")

    @field_validator("department_ids")
    @classmethod
    def _departments(cls, value: list[int]) -> list[int]:
        return _unique_ids(value, "department")

    @model_validator(mode="after")
    def _dates(self) -> WaveIn:
        if self.ends_on < self.starts_on:
            raise ValueError("a wave ends on or after its start")
        return self


class PlanCreate(_In):
    sop_version_id: Id = Field(description="An approved or published version of the process's SOP; by default "
                                           "the one the initiative's adopted pilot led to.")
    pass_mark: int = Field(80, ge=1, le=100, description="The test's pass mark (0-100 score).")
    max_attempts: int = Field(3, ge=1, le=10, description="How many attempts a person has at the test.")
    note: Text = ""
    waves: list[WaveIn] = Field(default_factory=list, max_length=20)


class PlanUpdate(_In):
    pass_mark: int | None = Field(None, ge=1, le=100)
    max_attempts: int | None = Field(None, ge=1, le=10)
    note: Text | None = None


class WaveUpdate(_In):
    """Only the fields sent change."""

    name: Name | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    delivery: Delivery | None = None
    department_ids: list[Id] | None = Field(
        None, min_length=1, max_length=100,
        description="The wave's departments, as a whole. One added comes into the scope with its people, or moves "
                    "here from another wave of the plan with its people and their progress; one taken out leaves "
                    "the scope with its people (their attendance and attempts are kept). A live department stays "
                    "where it is, and a wave keeps at least one department.")

    @field_validator("department_ids")
    @classmethod
    def _departments(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else _unique_ids(value, "department")


class PersonIn(_In):
    user_id: Id
    department_id: Id | None = Field(None, description="One of the plan's departments; the person's own by "
                                                       "default.")
    sop_role: str = Field("", max_length=120, description="The SOP role they hold (a RACI role of the version), "
                                                         "for retraining R and A holders first.")


class PeopleUpdate(_In):
    """Add people to the scope (or change their department or role), and take people out of it."""

    add: list[PersonIn] = Field(default_factory=list, max_length=5000)
    remove: list[Id] = Field(default_factory=list, max_length=5000)


class ExceptionRequest(_In):
    reason: str = Field(min_length=1, max_length=2000,
                        description="Why the department goes live without everyone passed and acknowledged.")


class WaveRead(BaseModel):
    id: int
    position: int
    name: str
    starts_on: date
    ends_on: date
    delivery: Delivery
    department_ids: list[int]
    version: int


class PlanRead(BaseModel):
    id: int
    initiative_id: int
    sop_version_id: int
    sop_version_number: str | None
    previous_version_id: int | None = Field(description="The version this one replaces, rolled out before: "
                                                        "whoever passed its test is retrained on the change only.")
    pilot_id: int | None
    pass_mark: int
    max_attempts: int
    note: str
    waves: list[WaveRead]
    version: int


class Standing(enum.StrEnum):
    """Which people of the scope a list shows (`person_statuses`' `standing`)."""

    retraining = "retraining"  # 需重新培训
    not_passed = "not_passed"
    passed = "passed"
    not_acknowledged = "not_acknowledged"
    priority = "priority"


class PersonStatus(BaseModel):
    """One person of the scope: training, test and acknowledgement."""

    user: UserRef
    department_id: int
    sop_role: str
    delta: bool = Field(description="Passed the previous version: retrained on the change only.")
    priority: bool = Field(description="Holds an R or A for a changed step: retrained first.")
    attended: int = Field(description="Training sessions attended.")
    attempts: int
    best_score: int | None
    passed: bool = Field(description="Passed the test (or, retrained on the change, has no question to take).")
    retraining: bool = Field(description="需重新培训: the last attempt failed and no training session since.")
    acknowledged: bool
    acknowledged_at: datetime | None


class DepartmentReadiness(BaseModel):
    department_id: int
    code: str
    name: str
    wave_id: int
    people: int
    attended: int = Field(description="People who attended a training session.")
    passed: int
    acknowledged: int
    retraining: int
    pass_rate: float | None = Field(description="Passed / people who took the test; none before anyone did.")
    ready: bool = Field(description="Everyone passed and acknowledged, or the leader recorded an exception.")
    ready_at: datetime | None = Field(description="When it first was ready.")
    exception_reason: str
    in_force_since: datetime | None = Field(description="Since when the version is in force in the department: "
                                                        "its readiness, not before the version's effective date.")


class Readiness(BaseModel):
    plan_id: int
    departments: list[DepartmentReadiness]
    ready: bool = Field(description="Every department of every wave is ready.")


# ---------------------------------------------------------------- training

class Material(_In):
    title: str = Field(min_length=1, max_length=200)
    url: AnyHttpUrl


class SessionCreate(_In):
    wave_id: Id
    title: str = Field(min_length=1, max_length=200)
    held_on: date
    trainer_id: Id | None = None
    delivery: Delivery = Delivery.per_department
    materials: list[Material] = Field(default_factory=list, max_length=50)


class SessionUpdate(_In):
    title: str | None = Field(None, min_length=1, max_length=200)
    held_on: date | None = None
    trainer_id: Id | None = None
    delivery: Delivery | None = None
    materials: list[Material] | None = Field(None, max_length=50)


class AttendanceIn(_In):
    user_id: Id
    attended: bool = True


class AttendanceUpdate(_In):
    attendance: list[AttendanceIn] = Field(max_length=5000)


class MaterialRead(BaseModel):
    title: str
    url: str


class SessionRead(BaseModel):
    id: int
    plan_id: int
    wave_id: int
    title: str
    held_on: date
    trainer: UserRef | None
    delivery: Delivery
    materials: list[MaterialRead]
    attended: list[int] = Field(description="Ids of the people who attended.")
    absent: list[int] = Field(description="Ids of the people recorded absent.")
    version: int


# ---------------------------------------------------------------- question bank and tests

class QuestionIn(_In):
    kind: QuestionKind
    text: str = Field(min_length=1, max_length=2000)
    options: list[Option] = Field(default_factory=list, max_length=8,
                                  description="The options (2-8); for true/false leave it empty.")
    correct: list[int] = Field(min_length=1, max_length=8, description="0-based indexes of the right options; "
                                                                       "true/false: [0] true, [1] false.")
    step_id: UUID | None = Field(None, description="The step of the version it tests.")
    control_point_id: UUID | None = Field(None, description="The control point of the version it tests.")

    @model_validator(mode="after")
    def _shape(self) -> QuestionIn:
        if self.kind == QuestionKind.true_false:
            if self.options:
                raise ValueError("a true/false question has no options of its own")
            n = 2
        else:
            n = len(self.options)
            if n < 2:
                raise ValueError("a choice question has at least two options")
            if len(set(self.options)) != n:
                raise ValueError("each option once")
        if len(set(self.correct)) != len(self.correct) or any(i < 0 or i >= n for i in self.correct):
            raise ValueError("`correct` names options by their 0-based index, each once")
        if self.kind != QuestionKind.multiple and len(self.correct) != 1:
            raise ValueError("this kind of question has one right answer")
        if (self.step_id is None) == (self.control_point_id is None):
            raise ValueError("a question tests one step or one control point")
        return self


class QuestionUpdate(QuestionIn):
    """A question replaced; a person's edit is their review."""


class QuestionRead(BaseModel):
    id: int
    sop_version_id: int
    position: int
    kind: QuestionKind
    text: str
    options: list[str]
    correct: list[int]
    step_id: str | None
    control_point_id: str | None
    drafted: bool = Field(description="Drafted by procopt from the version's steps or control points.")
    reviewed: bool = Field(description="A person wrote, edited or reviewed it: only reviewed questions are used.")
    reviewed_by: UserRef | None
    version: int


class DraftResult(BaseModel):
    drafted: list[QuestionRead] = Field(description="The questions drafted now (not yet reviewed).")
    skipped: int = Field(description="Sources drafted before, left as they are.")


class PaperQuestion(BaseModel):
    """A question as the person sees it: options in the attempt's own order, no right answer."""

    question_id: int
    kind: QuestionKind
    text: str
    options: list[str]


class AnswerIn(_In):
    question_id: Id
    chosen: list[int] = Field(max_length=8, description="0-based indexes of the options as shown in the paper.")


class AttemptSubmit(_In):
    answers: list[AnswerIn] = Field(max_length=500)


class AnswerResult(BaseModel):
    question_id: int
    chosen: list[int]
    right: bool


class AttemptRead(BaseModel):
    id: int
    plan_id: int
    user: UserRef
    number: int
    delta: bool = Field(description="The change-only test.")
    started_at: datetime
    submitted_at: datetime | None
    pass_mark: int
    questions: list[PaperQuestion]
    results: list[AnswerResult] | None = Field(description="Once submitted: each answer and whether it was right "
                                                           "(the right answers themselves are not shown).")
    score: int | None
    passed: bool | None


class AttemptSummary(BaseModel):
    """An attempt as leads see it: the score, not the answers."""

    id: int
    user: UserRef
    number: int
    delta: bool
    started_at: datetime
    submitted_at: datetime | None
    score: int | None
    passed: bool | None


class MyTest(BaseModel):
    """Where a person stands with a plan's test and acknowledgement."""

    plan_id: int
    in_scope: bool
    delta: bool
    questions: int = Field(description="How many questions the person's test has.")
    attempts: list[AttemptSummary]
    attempts_left: int
    passed: bool
    retraining: bool
    may_start: bool
    open_attempt_id: int | None
    acknowledged: bool
    content_hash: str = Field(description="The hash of the version's content, to acknowledge.")


class AcknowledgeRequest(_In):
    content_hash: str = Field(min_length=64, max_length=64, description="The hash of the content read "
                                                                        "(`MyTest.content_hash`).")


class AcknowledgementRead(BaseModel):
    plan_id: int
    user: UserRef
    content_hash: str
    delta: bool
    acknowledged_at: datetime


# ---------------------------------------------------------------- launch, checklist, help

class NoticeCreate(_In):
    wave_id: Id
    effective_at: datetime = Field(description="When the version takes effect in the wave's departments.")
    text: str = Field(min_length=1, max_length=5000)


class NoticeRead(BaseModel):
    id: int
    plan_id: int
    wave_id: int
    effective_at: datetime
    text: str
    published_by: UserRef | None
    created_at: datetime
    department_ids: list[int]


class ChecklistCreate(_In):
    kind: ChecklistKind = ChecklistKind.other
    text: str = Field(min_length=1, max_length=500)
    owner_id: Id | None = None


class ChecklistUpdate(_In):
    kind: ChecklistKind | None = None
    text: str | None = Field(None, min_length=1, max_length=500)
    owner_id: Id | None = None
    done: bool | None = None


class ChecklistRead(BaseModel):
    id: int
    plan_id: int
    kind: ChecklistKind
    text: str
    owner: UserRef | None
    done: bool
    done_at: datetime | None
    done_by: UserRef | None
    version: int


class HelpCreate(_In):
    text: str = Field(min_length=1, max_length=5000)


class HelpAnswerRead(BaseModel):
    id: int
    author: UserRef | None
    text: str
    created_at: datetime


class HelpQuestionRead(BaseModel):
    id: int
    sop_id: int
    author: UserRef | None
    text: str
    created_at: datetime
    answers: list[HelpAnswerRead]


class Applicable(BaseModel):
    """The SOP version that applies to a department on a day."""

    process_id: int
    department_id: int
    at: date
    version_id: int | None
    number: str | None
    since: datetime | None = Field(description="Since when it applies in the department.")
    rolled_out: bool = Field(description="It applies there through a rollout (its people were ready), not by its "
                                         "effective date alone.")

