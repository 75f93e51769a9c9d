from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator

from app.core.ids import Id, Position
from app.initiatives.schemas import UserRef
from app.survey.models import ProblemCategory, ResearchMethod, StepKind

Minutes = Annotated[
    Decimal,
    Field(ge=0, le=1_000_000, max_digits=9, decimal_places=2, examples=[30]),
    PlainSerializer(float, return_type=float, when_used="json"),
]
MinutesOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
SystemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


class StepFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("systems", "problem_flags", check_fields=False)
    @classmethod
    def _dedupe(cls, value: list | None) -> list | None:
        return _unique(value) if value is not None else None


class StepCreate(StepFields):
    name: str = Field(min_length=1, max_length=200, examples=["Manual review"])
    kind: StepKind = StepKind.activity
    department: str | None = Field(None, max_length=40, examples=["operations"],
                                   description="Code of the responsible department.")
    role: str = Field("", max_length=120, examples=["Operations specialist"])
    minutes: Minutes
    waiting_minutes: Minutes = Decimal(0)
    systems: list[SystemName] = Field(default_factory=list, max_length=20, examples=[["CRM", "KYC", "Billing"]])
    problem_flags: list[ProblemCategory] = Field(default_factory=list, max_length=4,
                                                 examples=[["efficiency", "collaboration"]])
    description: str = Field("", max_length=10_000)
    position: Position | None = Field(None, description="Insert at this position (1 = first); default: last.")


class StepUpdate(StepFields):
    """Only the fields sent are changed."""

    name: str | None = Field(None, min_length=1, max_length=200)
    kind: StepKind | None = None
    department: str | None = Field(None, max_length=40)
    role: str | None = Field(None, max_length=120)
    minutes: Minutes | None = None
    waiting_minutes: Minutes | None = None
    systems: list[SystemName] | None = Field(None, max_length=20)
    problem_flags: list[ProblemCategory] | None = Field(None, max_length=4)
    description: str | None = Field(None, max_length=10_000)


class StepMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position = Field(description="The new position (1 = first); past the end means last.")


class StepOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_ids: list[Id] = Field(max_length=1000, description="Every step of the initiative, in the new order.")


class StepRead(BaseModel):
    id: int
    initiative_id: int
    position: int
    name: str
    kind: StepKind
    department: str | None
    role: str
    minutes: MinutesOut
    waiting_minutes: MinutesOut
    systems: list[str]
    problem_flags: list[ProblemCategory]
    description: str
    created_at: datetime
    updated_at: datetime
    version: int


class StepPage(BaseModel):
    items: list[StepRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ResearchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    method: ResearchMethod
    conducted_on: date
    participants: str = Field(min_length=1, max_length=500, examples=["Zhang Wei (ops specialist), 3 reviewers"])
    findings: str = Field("", max_length=20_000,
                          examples=["Review checks data in 3 systems by hand; about 30 minutes per user."])
    step_ids: list[Id] = Field(default_factory=list, max_length=200, description="Survey steps it concerns.")

    @field_validator("step_ids")
    @classmethod
    def _dedupe(cls, value: list[int]) -> list[int]:
        return _unique(value)


class ResearchUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    method: ResearchMethod | None = None
    conducted_on: date | None = None
    participants: str | None = Field(None, min_length=1, max_length=500)
    findings: str | None = Field(None, max_length=20_000)
    step_ids: list[Id] | None = Field(None, max_length=200)

    @field_validator("step_ids")
    @classmethod
    def _dedupe(cls, value: list[int] | None) -> list[int] | None:
        return _unique(value) if value is not None else None


class ResearchRead(BaseModel):
    id: int
    initiative_id: int
    method: ResearchMethod
    conducted_on: date
    participants: str
    findings: str
    step_ids: list[Id]
    created_by: UserRef | None
    created_at: datetime
    updated_at: datetime
    version: int


class ResearchPage(BaseModel):
    items: list[ResearchRead]
    next_cursor: str | None


class DepartmentTotal(BaseModel):
    department: str | None = Field(description="Department code; null for steps without one.")
    steps: int
    minutes: MinutesOut
    waiting_minutes: MinutesOut
    total_minutes: MinutesOut


class SurveySummary(BaseModel):
    steps: int
    minutes: MinutesOut = Field(description="Working time of all steps.")
    waiting_minutes: MinutesOut
    total_minutes: MinutesOut = Field(description="Working plus waiting time.")
    waiting_share: float | None = Field(description="Waiting / total, 0-1; null when the total is 0.")
    departments: list[DepartmentTotal]
    flagged: dict[ProblemCategory, int] = Field(description="Steps flagged with each problem category.")


class ImportRowError(BaseModel):
    row: int
    column: str | None
    message: str


class ImportMode(enum.StrEnum):
    """How an import treats the current steps: `append` after them, `replace` them."""

    append = "append"
    replace = "replace"


class ImportResult(BaseModel):
    mode: str
    imported: int
    steps: list[StepRead]
