from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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


class BpmnPreview(BaseModel):
    """What an import of the file would take: the steps in flow order, the lanes, and every element of the file
    with what became of it. Nothing is written."""

    name: str
    lanes: list[str]
    steps: list[MapStepRead]
    report: list[NodeReportRead]
    counts: dict[str, Any] = Field(description="Flow nodes by type, tasks, gateways, events, sequence flows, lane "
                                               "names, task names, diagram shapes and edges")
