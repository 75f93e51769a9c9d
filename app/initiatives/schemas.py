from __future__ import annotations

import enum
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.ids import Id
from app.initiatives.models import InitiativeStatus, Phase, ProjectRole, Trigger


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    project_role: ProjectRole = Field(description="`leader` hands the leadership over: the previous "
                                      "leader stays on the team as `business`.")


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_role: ProjectRole


class InitiativeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    process_id: Id
    title: str = Field(min_length=1, max_length=200, examples=["Faster user activation"])
    trigger: Trigger = Field(examples=["inefficiency"])
    goal: str = Field("", max_length=10_000, examples=["Activation time from 30 min to 5 min"])
    priority_threshold: int = Field(3, ge=1, le=5, description="A score counts as high when >= this.")
    start_date: date | None = Field(None, description="Planned start of the diagnosis; default today. "
                                    "The other phases are planned after it with the method's durations.")
    leader_id: Id | None = Field(None, description="The team leader; defaults to the caller.")
    team: list[MemberCreate] = Field(default_factory=list, max_length=50,
                                     description="Other members (not `leader`).")


class InitiativeUpdate(BaseModel):
    """Only the fields sent are changed (leader or administrator)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, min_length=1, max_length=200)
    trigger: Trigger | None = None
    goal: str | None = Field(None, max_length=10_000)
    status: InitiativeStatus | None = None
    priority_threshold: int | None = Field(None, ge=1, le=5)


class PhaseUpdate(BaseModel):
    """Planned and actual dates of a phase (leader or administrator); only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    planned_start: date | None = None
    planned_end: date | None = None
    actual_start: date | None = None
    actual_end: date | None = None


class AdvanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    override_reason: str | None = Field(
        None, min_length=5, max_length=2000,
        description="Advance although the gate does not hold (leader or administrator); kept in the audit log.")


class BackToDesignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=5, max_length=2000, examples=["Pilot missed the target: 30 -> 22 min"])


class UserRef(BaseModel):
    id: int
    display_name: str


class ProcessRef(BaseModel):
    id: int
    code: str
    name: str


class MemberRead(BaseModel):
    id: int
    user: UserRef
    project_role: ProjectRole
    version: int


class PhaseState(enum.StrEnum):
    done = "done"
    current = "current"
    upcoming = "upcoming"


class PhaseRead(BaseModel):
    phase: Phase
    number: int
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    state: PhaseState
    late: bool = Field(description="Done after its planned end, current past its planned end, "
                       "or upcoming past its planned start.")
    version: int


class InitiativeRead(BaseModel):
    id: int
    process: ProcessRef
    title: str
    trigger: Trigger
    goal: str
    status: InitiativeStatus
    current_phase: Phase
    late: bool = Field(description="The current phase is past its planned end.")
    priority_threshold: int
    leader: UserRef | None
    team: list[MemberRead]
    phases: list[PhaseRead]
    created_at: datetime
    updated_at: datetime
    version: int


class InitiativePage(BaseModel):
    items: list[InitiativeRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Criterion(BaseModel):
    code: str
    met: bool
    message: str
    message_key: str = Field(description="The message's own key: the code, or `code.variant` where the "
                                         "criterion says something else in a case of its own")
    params: dict[str, int | str] = Field(default_factory=dict)


class GateRead(BaseModel):
    phase: Phase
    next_phase: Phase | None
    passed: bool
    criteria: list[Criterion]


class PhaseRange(BaseModel):
    """Used by pages: a phase's planned dates from a form, checked in order."""

    model_config = ConfigDict(extra="forbid")

    planned_start: date
    planned_end: date

    @model_validator(mode="after")
    def _order(self) -> PhaseRange:
        if self.planned_end < self.planned_start:
            raise ValueError("the planned end is before the planned start")
        return self
