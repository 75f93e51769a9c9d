from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.ids import Id
from app.initiatives.schemas import UserRef
from app.issues.models import CauseCategory, IssueSource, IssueStatus, ProblemCategory, Quadrant


def Score():  # noqa: N802 - reads like a type where it is used
    return Field(None, ge=1, le=5, strict=True, description="1 (lowest) to 5 (highest); null until scored.")



class IssueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200, examples=["Manual review takes 30 minutes"])
    description: str = Field("", max_length=10_000)
    category: ProblemCategory
    source: IssueSource
    step_ids: list[Id] = Field(default_factory=list, max_length=200,
                                description="Survey steps of the same initiative where the problem shows.")
    owner_id: Id | None = None
    status: IssueStatus = IssueStatus.open
    impact: int | None = Score()
    urgency: int | None = Score()

    @field_validator("step_ids")
    @classmethod
    def _dedupe(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class IssueUpdate(BaseModel):
    """Only the fields sent are changed; `impact` and `urgency` may be set back to null (unscored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    category: ProblemCategory | None = None
    source: IssueSource | None = None
    step_ids: list[Id] | None = Field(None, max_length=200)
    owner_id: Id | None = None
    status: IssueStatus | None = None
    impact: int | None = Score()
    urgency: int | None = Score()

    @field_validator("step_ids")
    @classmethod
    def _dedupe(cls, value: list[int] | None) -> list[int] | None:
        return list(dict.fromkeys(value)) if value is not None else None


class IssueRead(BaseModel):
    id: int
    initiative_id: int
    title: str
    description: str
    category: ProblemCategory
    source: IssueSource
    step_ids: list[Id]
    owner: UserRef | None
    status: IssueStatus
    impact: int | None
    urgency: int | None
    score: int | None = Field(description="impact x urgency")
    quadrant: Quadrant | None = Field(description="Where the priority matrix puts it; null until scored.")
    root_causes: int = Field(description="Causes and 5-Whys answers marked as root cause.")
    created_at: datetime
    updated_at: datetime
    version: int


class IssuePage(BaseModel):
    items: list[IssueRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class IssueSort(enum.StrEnum):
    created = "created"
    created_desc = "-created"
    priority = "priority"  # impact x urgency desc, impact desc, oldest first; unscored last


class QuadrantFilter(enum.StrEnum):
    do_first = "do_first"
    schedule = "schedule"
    quick_fix = "quick_fix"
    defer = "defer"
    unscored = "unscored"


class MatrixEntry(BaseModel):
    id: int
    title: str
    category: ProblemCategory
    status: IssueStatus
    impact: int | None
    urgency: int | None
    score: int | None
    rank: int = Field(description="1-based order within its quadrant.")
    version: int


class PriorityMatrix(BaseModel):
    initiative_id: int
    threshold: int = Field(description="A score counts as high when >= this.")
    quadrants: dict[Quadrant, list[MatrixEntry]]
    unscored: list[MatrixEntry]


# ------------------------------------------------------------------ fishbone

class CauseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: CauseCategory | None = Field(None, description="The bone; required for a top-level cause, "
                                           "a sub-cause takes its parent's.")
    text: str = Field(min_length=1, max_length=500, examples=["Systems A and B not synced"])
    parent_id: Id | None = None
    is_root: bool = False


class CauseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: CauseCategory | None = None
    text: str | None = Field(None, min_length=1, max_length=500)
    parent_id: Id | None = Field(None, description="Move under another cause (null: top level).")
    is_root: bool | None = None


class CauseRead(BaseModel):
    id: int
    issue_id: int
    parent_id: int | None
    category: CauseCategory
    text: str
    is_root: bool
    depth: int = Field(description="0 for a cause on a bone, 1 for its sub-causes, ...")
    position: int
    version: int


# ------------------------------------------------------------------ 5-Whys

class WhyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str = Field(min_length=1, max_length=500, examples=["Why is data entered twice?"])
    answer: str = Field(min_length=1, max_length=500, examples=["Systems A and B are not synced"])
    is_root: bool = Field(False, description="This answer is the root cause: the chain ends here.")


class WhyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str | None = Field(None, min_length=1, max_length=500)
    answer: str | None = Field(None, min_length=1, max_length=500)
    is_root: bool | None = None


class WhyRead(BaseModel):
    id: int
    issue_id: int
    position: int
    question: str
    answer: str
    is_root: bool
    version: int
