from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.sops.schemas import SopVersionRead
from app.survey.schemas import StepRead


class MapStepRead(BaseModel):
    key: str = Field(description="procopt's id of the step, or the BPMN element's id")
    name: str
    kind: str = Field(description="input, activity, decision or output")
    lane: str = Field(description="The lane (department or role) it is in; empty when none")
    role: str
    minutes: float | None
    waiting_minutes: float | None
    systems: list[str]
    flags: list[str]
    control_points: list[str]
    documentation: str
    extra: dict[str, Any]


class NodeReportRead(BaseModel):
    id: str
    type: str = Field(description="The BPMN element's local name (task, boundaryEvent, lane, messageFlow, ...)")
    name: str
    taken: bool
    taken_as: str | None = Field(description="input, activity, decision, output, or department (a lane or pool)")
    reason: str | None = Field(description="Why it was not taken")
    reason_key: str | None = Field(None, description="What kind of reason (boundary, message_flow, "
                                                     "parallel_gateway, ...), the same in every file")
    reason_params: dict[str, str] = Field(default_factory=dict, description="The names the reason quotes")


class LaneMatchRead(BaseModel):
    lane: str = Field(description="The lane's name in the file")
    department: str | None = Field(description="Code of the department it was matched to by code or name (either "
                                               "language); null: none matches, its steps keep the lane as role")


class BpmnPreview(BaseModel):
    """What an import of the file would take: the steps in flow order, the lanes and the departments they match,
    and every element of the file with what became of it. Nothing is written."""

    name: str
    lanes: list[LaneMatchRead]
    steps: list[MapStepRead]
    report: list[NodeReportRead]
    counts: dict[str, Any] = Field(description="Flow nodes by type, tasks, gateways, events, sequence flows, lane "
                                               "names, task names, diagram shapes and edges")


class SurveyBpmnImport(BaseModel):
    """What the import wrote onto the survey, and the file's full report."""

    mode: str
    imported: int
    steps: list[StepRead]
    lanes: list[LaneMatchRead]
    report: list[NodeReportRead]


class SopBpmnImport(BaseModel):
    """The SOP version with its steps replaced by the file's, and the file's full report."""

    version: SopVersionRead
    imported: int
    lanes: list[LaneMatchRead]
    report: list[NodeReportRead]
