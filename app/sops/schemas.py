"""The SOP document (`SopContent`, the method's seven sections) and the API's bodies."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from app.core.ids import Id
from app.initiatives.schemas import ProcessRef, UserRef
from app.raci.schemas import Letters
from app.sops.models import SopState, SopStatus, Vote

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Number = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
Minutes = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class Section(enum.StrEnum):
    """The seven sections of the method's SOP document, in its order."""

    purpose = "purpose"
    scope = "scope"
    raci = "raci"
    steps = "steps"
    control_points = "control_points"
    forms = "forms"
    contingencies = "contingencies"


class FormKind(enum.StrEnum):
    form = "form"
    system = "system"
    tool = "tool"
    script = "script"


class ContingencyKind(enum.StrEnum):
    contingency = "contingency"  # 应急方案: something fails
    special_case = "special_case"  # 特殊场景: a case the standard path does not fit


class Bump(enum.StrEnum):
    minor = "minor"  # V1.0 -> V1.1
    major = "major"  # V1.1 -> V2.0


def _unique(values: list, what: str) -> list:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {v!r} is named twice")
        seen.add(v)
    return values


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Purpose(_Part):
    """流程目的, with a measurable target ("activation 30 min -> 5 min")."""

    text: str = Field("", max_length=5000)
    kpi_id: Id | None = Field(None, description="A KPI of the process that measures the target.")
    baseline: Number | None = None
    target: Number | None = None
    unit: str = Field("", max_length=40, examples=["min"])


class Scope(_Part):
    """适用范围: business scenarios, departments (codes) and roles covered."""

    scenarios: list[Line] = Field(default_factory=list, max_length=100)
    departments: list[Code] = Field(default_factory=list, max_length=50,
                                    description="Codes of the departments covered; each needs a reviewer.")
    roles: list[Line] = Field(default_factory=list, max_length=100)

    @field_validator("scenarios", "departments", "roles")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class RaciActivity(_Part):
    name: Line
    step_id: UUID | None = Field(None, description="The step this activity is, when it is one.")


class RaciCell(_Part):
    activity: Line = Field(description="An activity's name")
    role: Line = Field(description="A role's name")
    letters: Letters


class Raci(_Part):
    """职责分工: activities (rows) by roles (columns); exactly one A per activity (checked by the service)."""

    roles: list[Line] = Field(default_factory=list, max_length=50)
    activities: list[RaciActivity] = Field(default_factory=list, max_length=500)
    cells: list[RaciCell] = Field(default_factory=list, max_length=25_000)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return _unique(value, "role")

    @field_validator("activities")
    @classmethod
    def _activities(cls, value: list[RaciActivity]) -> list[RaciActivity]:
        _unique([a.name for a in value], "activity")
        return value

    @field_validator("cells")
    @classmethod
    def _cells(cls, value: list[RaciCell], info: ValidationInfo) -> list[RaciCell]:
        roles = set(info.data.get("roles") or ())
        activities = {a.name for a in info.data.get("activities") or ()}
        for c in value:
            if c.role not in roles:
                raise ValueError(f"role {c.role!r} is not one of the roles")
            if c.activity not in activities:
                raise ValueError(f"activity {c.activity!r} is not one of the activities")
        _unique([(c.activity, c.role) for c in value], "cell")
        return [c for c in value if c.letters]


class _Answers(_Part):
    """The problems a step or control point answers and the countermeasures it carries out ("why is it here?")."""

    measure_ids: list[Id] = Field(default_factory=list, max_length=100,
                                  description="Countermeasures it carries out.")
    issue_ids: list[Id] = Field(default_factory=list, max_length=100, description="Problems it answers.")

    @field_validator("measure_ids", "issue_ids")
    @classmethod
    def _dedupe(cls, value: list[int]) -> list[int]:
        return list(dict.fromkeys(value))


class Step(_Answers):
    """详细步骤: one step; `id` is given by the server when a new step has none, and kept from then on."""

    id: UUID | None = None
    name: str = Field(min_length=1, max_length=200)
    department: str | None = Field(None, max_length=40, description="Code of the responsible department.")
    role: str = Field("", max_length=120)
    inputs: str = Field("", max_length=2000)
    outputs: str = Field("", max_length=2000)
    instructions: str = Field("", max_length=10_000)
    system_path: str = Field("", max_length=300, examples=["CRM › Customers › Activate"])
    minutes: Minutes = 0


class ControlPoint(_Answers):
    """关键节点: an approval or risk-control point at a step."""

    id: UUID | None = None
    step_id: UUID | None = Field(None, description="The step it is attached to.")
    description: str = Field(min_length=1, max_length=2000,
                             examples=["Order amount >= 10,000 needs the finance head's approval"])
    approver_role: str = Field("", max_length=120)
    rule: str = Field("", max_length=2000, description="A machine-checkable rule (reserved).")


class FormItem(_Part):
    """表单/工具: a form, system, tool or script the steps use."""

    name: str = Field(min_length=1, max_length=200)
    kind: FormKind = FormKind.form
    location: str = Field("", max_length=500, description="A link or where it is kept.")


class Contingency(_Part):
    """应急方案 / 特殊场景: situation -> what to do instead -> who approves -> back-fill deadline."""

    situation: str = Field(min_length=1, max_length=1000, examples=["System down"])
    instead: str = Field(min_length=1, max_length=2000, examples=["Paper register"])
    approver: str = Field("", max_length=120)
    backfill_hours: int | None = Field(None, ge=0, le=8760)
    kind: ContingencyKind = ContingencyKind.contingency


class SopContent(_Part):
    """The document: the method's seven sections."""

    purpose: Purpose = Field(default_factory=Purpose)
    scope: Scope = Field(default_factory=Scope)
    raci: Raci = Field(default_factory=Raci)
    steps: list[Step] = Field(default_factory=list, max_length=500)
    control_points: list[ControlPoint] = Field(default_factory=list, max_length=500)
    forms: list[FormItem] = Field(default_factory=list, max_length=200)
    contingencies: list[Contingency] = Field(default_factory=list, max_length=200)


# ---------------------------------------------------------------- requests

class SopCreate(_Part):
    review_interval_months: int = Field(12, ge=1, le=120)


class ReviewerIn(_Part):
    user_id: Id
    department: str | None = Field(None, max_length=40,
                                   description="The department reviewed for (code); the user's own by default.")


class SubmitRequest(_Part):
    reviewers: list[ReviewerIn] = Field(min_length=1, max_length=50)


class CommentCreate(_Part):
    section: Section
    step_id: UUID | None = Field(None, description="A step of the version (section `steps` or `control_points`).")
    parent_id: Id | None = Field(None, description="The thread's first comment, for a reply.")
    text: str = Field(min_length=1, max_length=5000)


class CommentUpdate(_Part):
    resolved: bool | None = None
    text: str | None = Field(None, min_length=1, max_length=5000)


class VoteRequest(_Part):
    vote: Literal[Vote.approve, Vote.request_changes]


class PublishRequest(_Part):
    effective_date: date
    bump: Bump | None = Field(None, description="Minor (V1.1) or major (V2.0); the suggestion when left out.")
    change_summary: str = Field("", max_length=2000, description="Required from V1.1 on.")
    note: str = Field("", max_length=2000)


class WithdrawRequest(_Part):
    reason: str = Field("", max_length=1000)


class NextRequest(_Part):
    initiative_id: Id | None = Field(None, description="The initiative that revises it; none for a standalone "
                                                        "revision by the process owner.")


# ---------------------------------------------------------------- reads

class ReviewerRead(BaseModel):
    user: UserRef
    department: str
    vote: Vote = Field(description="The vote in the current round (`none` when cast in an earlier one).")
    voted_round: int
    voted_at: datetime | None


class SopVersionRead(BaseModel):
    id: int
    sop_id: int
    process: ProcessRef
    initiative_id: int | None
    based_on_id: int | None
    number: str | None = Field(description='"V1.1"; none before it is published.', examples=["V1.0"])
    state: SopState = Field(description="What was done to it (stored).")
    status: SopStatus = Field(description="Its status today: published versions are approved, effective or "
                                          "superseded by the calendar.")
    content: SopContent
    author: UserRef | None
    review_round: int
    reviewers: list[ReviewerRead]
    open_comments: int
    signed_by: UserRef | None
    signed_at: datetime | None
    signed_hash: str | None = Field(description="sha256 of the canonical JSON of the content signed.")
    published_by: UserRef | None
    published_at: datetime | None
    effective_date: date | None
    change_summary: str
    note: str
    suggested_bump: Bump | None = Field(description="Against the latest published version; none for the first.")
    created_at: datetime
    updated_at: datetime
    version: int


class SopVersionSummary(BaseModel):
    id: int
    number: str | None
    state: SopState
    status: SopStatus
    initiative_id: int | None
    author: UserRef | None
    effective_date: date | None
    change_summary: str
    version: int


class SopRead(BaseModel):
    id: int
    process: ProcessRef
    review_interval_months: int
    current_version_id: int | None = Field(description="The version in force today.")
    review_due: date | None = Field(description="The current version's effective date plus the review interval.")


class SopVersionPage(BaseModel):
    sop: SopRead
    items: list[SopVersionSummary]


class CommentRead(BaseModel):
    id: int
    version_id: int
    section: Section
    step_id: UUID | None
    parent_id: int | None
    author: UserRef | None
    text: str
    resolved: bool
    round: int
    created_at: datetime
    updated_at: datetime
    version: int


class CommentPage(BaseModel):
    items: list[CommentRead]


class Table4Row(BaseModel):
    """A row of Table 4 (流程优化记录表)."""

    process_code: str
    process_name: str
    version: str = Field(examples=["V1.1"])
    version_id: int
    effective_date: date
    change_summary: str
    author: str
    reviewers: list[str]
    note: str


class Table4(BaseModel):
    items: list[Table4Row]


SectionValue = dict[str, Any] | list[dict[str, Any]]
