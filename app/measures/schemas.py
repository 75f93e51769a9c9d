from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.ids import Id
from app.initiatives.schemas import UserRef
from app.measures.models import EffectDirection, MeasureStatus, MeasureType

EffectNumber = Field(None, max_digits=14, decimal_places=4, allow_inf_nan=False)


class MeasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    goal: str = Field(min_length=1, max_length=300, examples=["Activation <= 5 min"])
    issue_ids: list[Id] = Field(min_length=1, max_length=100,
                                 description="Problems of the same initiative that the measure addresses.")
    description: str = Field(min_length=1, max_length=10_000,
                             examples=["Build an automatic check against the 3 systems"])
    type: MeasureType
    department: str | None = Field(None, max_length=40, examples=["technology"],
                                   description="Code of the responsible department.")
    owner_id: Id | None = None
    due_date: date | None = None
    status: MeasureStatus = MeasureStatus.planned
    progress_notes: str = Field("", max_length=10_000)
    effect_metric: str = Field("", max_length=200, examples=["Activation time"])
    effect_unit: str = Field("", max_length=40, examples=["min"])
    effect_baseline: Decimal | None = EffectNumber
    effect_target: Decimal | None = EffectNumber
    effect_direction: EffectDirection | None = None

    @field_validator("issue_ids")
    @classmethod
    def _dedupe(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class MeasureUpdate(BaseModel):
    """Only the fields sent are changed; optional fields may be set back to null."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    goal: str | None = Field(None, min_length=1, max_length=300)
    issue_ids: list[Id] | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, min_length=1, max_length=10_000)
    type: MeasureType | None = None
    department: str | None = Field(None, max_length=40)
    owner_id: Id | None = None
    due_date: date | None = None
    status: MeasureStatus | None = None
    progress_notes: str | None = Field(None, max_length=10_000)
    effect_metric: str | None = Field(None, max_length=200)
    effect_unit: str | None = Field(None, max_length=40)
    effect_baseline: Decimal | None = EffectNumber
    effect_target: Decimal | None = EffectNumber
    effect_direction: EffectDirection | None = None

    @field_validator("issue_ids")
    @classmethod
    def _dedupe(cls, value: list[int] | None) -> list[int] | None:
        return list(dict.fromkeys(value)) if value is not None else None


class IssueRef(BaseModel):
    id: int
    title: str


class MeasureRead(BaseModel):
    id: int
    initiative_id: int
    goal: str
    issues: list[IssueRef]
    description: str
    type: MeasureType
    department: str | None = Field(description="Department code")
    owner: UserRef | None
    due_date: date | None
    status: MeasureStatus
    overdue: bool = Field(description="Due before today (business time zone) and neither done nor dropped.")
    progress_notes: str
    effect_metric: str
    effect_unit: str
    effect_baseline: Decimal | None
    effect_target: Decimal | None
    effect_direction: EffectDirection | None
    created_at: datetime
    updated_at: datetime
    version: int


class MeasurePage(BaseModel):
    items: list[MeasureRead]
