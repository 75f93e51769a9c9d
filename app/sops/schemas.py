"""The SOP document (`SopContent`, the method's seven sections) and the API's bodies."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.core.ids import Id
from app.initiatives.schemas import ProcessRef, UserRef
from app.raci.schemas import Letters
from app.sops.models import SopState, SopStatus, Vote

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Number = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
Minutes = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
Expression = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
AttributeName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
# Words CEL keeps for itself: no attribute is named so.
CEL_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
                          "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"})


class Section(enum.StrEnum):
    """The seven sections of the method's SOP document, in its order."""

    purpose = "purpose"
    scope = "scope"
    raci = "raci"
    steps = "steps"
    control_points = "control_points"
    forms = "forms"
    contingencies = "contingencies"


# What `PATCH /sop-versions/{id}/sections/{section}` replaces: the seven sections, and the case attributes the
# control points' rules use (a part of the version, not a section of the method's document).
EditSection = enum.StrEnum("EditSection", {**{s.name: s.value for s in Section}, "attributes": "attributes"})


class AttributeType(enum.StrEnum):
    number = "number"
    text = "text"
    boolean = "boolean"
    date = "date"


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


class Attribute(_Part):
    """A case attribute the version's rules may use (`amount`, `channel`), with its type."""

    name: AttributeName = Field(examples=["amount"])
    type: AttributeType = AttributeType.text

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in CEL_RESERVED:
            raise ValueError(f"{value!r} is a word of the rule language")
        return value


def _unique_attributes(value: list[Attribute]) -> list[Attribute]:
    _unique([a.name for a in value], "attribute")
    return value


Attributes = Annotated[list[Attribute], Field(max_length=100), AfterValidator(_unique_attributes)]


class Requirement(_Part):
    """What must then hold in the case: an activity that occurs, optionally before another one, within a time
    of another one (or of the case's start), by a resource of a role."""

    activity: Line = Field(examples=["Finance approval"])
    before: Line | None = Field(None, description="An activity it must precede.", examples=["Ship"])
    within_minutes: Minutes | None = Field(None, description="At the latest this many minutes after `after` (the "
                                                             "case's start when `after` is left out).")
    after: Line | None = Field(None, description="The activity `within_minutes` counts from.",
                               examples=["Review"])
    role: Line | None = Field(None, description="The role of the resource that does `activity`.")

    @model_validator(mode="after")
    def _after_needs_limit(self) -> Requirement:
        if self.after is not None and self.within_minutes is None:
            raise ValueError("`after` is the start of a time limit: give `within_minutes` too")
        return self


class Rule(_Part):
    """A machine-checkable rule: when `condition` (CEL over the case's attributes) holds, `requirement` must."""

    condition: Expression = Field(description="A CEL expression over the version's attributes, true for the cases "
                                              "the control point applies to.",
                                  examples=['amount >= 10000.0 && channel != "internal"'])
    requirement: Requirement


class ControlPoint(_Answers):
    """关键节点: an approval or risk-control point at a step."""

    id: UUID | None = None
    step_id: UUID | None = Field(None, description="The step it is attached to.")
    description: str = Field(min_length=1, max_length=2000,
                             examples=["Order amount >= 10,000 needs the finance head's approval"])
    approver_role: str = Field("", max_length=120)
    rule: Rule | None = Field(None, description="The machine-checkable rule, when it has one.")

    @field_validator("rule", mode="before")
    @classmethod
    def _legacy_text(cls, value: Any) -> Any:
        """Before rules were structured, `rule` was a reserved free text (never checked): it reads as none."""
        return None if isinstance(value, str) else value


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
    control_point_id: UUID | None = Field(None, description="A special case: the control point it is an exception "
                                                            "of (its requirement gives way to this one).")
    condition: Expression | None = Field(None, description="A special case of a control point: a CEL expression "
                                                           "over the version's attributes, true for the cases it "
                                                           "covers.", examples=["amount >= 100000.0 && urgent"])

    @model_validator(mode="after")
    def _exception(self) -> Contingency:
        if (self.control_point_id is None) != (self.condition is None):
            raise ValueError("an exception of a control point names both the control point and its condition")
        if self.control_point_id is not None and self.kind != ContingencyKind.special_case:
            raise ValueError("only a special case is an exception of a control point")
        return self


class SopContent(_Part):
    """The document: the method's seven sections."""

    purpose: Purpose = Field(default_factory=Purpose)
    scope: Scope = Field(default_factory=Scope)
    raci: Raci = Field(default_factory=Raci)
    steps: list[Step] = Field(default_factory=list, max_length=500)
    control_points: list[ControlPoint] = Field(default_factory=list, max_length=500)
    forms: list[FormItem] = Field(default_factory=list, max_length=200)
    contingencies: list[Contingency] = Field(default_factory=list, max_length=200)
    attributes: Attributes = Field(default_factory=list,
                                   description="The case attributes the control points' rules use.")


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


class ActivityDone(_Part):
    activity: Line = Field(examples=["Finance approval"])
    at: datetime | None = Field(None, description="When it was done (for time limits).")
    role: Line | None = Field(None, description="The role of the resource that did it.")

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is UTC (times with and without one compare)."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class ControlCheckRequest(_Part):
    attributes: dict[str, Any] = Field(description="The case's attributes by name (numbers, texts, true/false, "
                                                   "dates as `2026-07-01`); undeclared ones are ignored.",
                                       examples=[{"amount": 12500, "channel": "web", "urgent": False}])
    activities: list[ActivityDone] | None = Field(None, max_length=10_000,
                                                  description="The activities done so far, in the order done; "
                                                              "without them `met` is null.")


# ---------------------------------------------------------------- reads

CheckReason = Annotated[str, Field(description=(
    "`no_rule` (the control point has no machine-checkable rule), `condition_false`, `condition_true` (it "
    "applies; no activities given), `missing_attributes:<names>` (not evaluable), `special_case`, `met`, "
    "`missing_activity`, `wrong_role`, `wrong_order`, `too_late`, `times_missing`, `error:<text>`."),
    examples=["missing_activity"])]


class SpecialCaseRead(BaseModel):
    index: int = Field(description="Its position in the contingencies section, from 1.")
    situation: str
    instead: str
    approver: str
    backfill_hours: int | None
    condition: str


class ControlPointCheck(BaseModel):
    id: UUID | None
    description: str
    applies: bool | None = Field(description="Whether its condition holds for the case; null without a rule or "
                                             "when an attribute it reads is missing.")
    reason: CheckReason
    requirement: Requirement | None = None
    special_case: SpecialCaseRead | None = Field(None, description="The exception that applies instead.")
    met: bool | None = Field(None, description="Whether the activities done meet the requirement; null when it "
                                               "does not apply, a special case applies or no activities were given.")


class CheckResult(BaseModel):
    control_points: list[ControlPointCheck]


class ControlCheckRead(CheckResult):
    version_id: int = Field(description="The SOP version in force whose rules answered.")
    number: str = Field(examples=["V1.1"])
    effective_date: date



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
