"""The process map as BPMN sees it: what procopt exports (an initiative's as-is map, an SOP version's flow) and
what an import of a BPMN 2.0 file gives back, with the report of every flow node of the file.

`bpmn_write.write(doc)` turns a `MapDoc` into BPMN 2.0 XML; `bpmn_read.read(data)` turns a file into an
`Imported` (a `MapDoc` and the report). procopt's own facts of a step travel in the flow node's
`extensionElements` as `<procopt:step>` holding the JSON of `MapStep.facts()`, and of the map as
`<procopt:map>` holding the JSON of `MapDoc.facts()`, in the `PROCOPT_NS` namespace: other tools keep or
ignore them, a file that comes back from procopt restores them exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROCOPT_NS = "urn:procopt:bpmn:1"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
KINDS = ("input", "activity", "decision", "output")  # a step's kind, as the survey has them


@dataclass
class MapStep:
    """One step of a map, in flow order."""

    key: str  # procopt's id of the step: "survey:12" or an SOP step's UUID; on import the BPMN element id
    name: str
    kind: str  # one of KINDS: input -> start event, activity -> task, decision -> exclusive gateway,
    # output -> end event
    lane: str = ""  # the department (or role) doing it, as shown; "" when none
    role: str = ""
    minutes: float | None = None
    waiting_minutes: float | None = None
    systems: list[str] = field(default_factory=list)  # a step with systems is a service task
    flags: list[str] = field(default_factory=list)  # problem flags: efficiency, quality, collaboration, risk
    control_points: list[str] = field(default_factory=list)  # descriptions of its control points
    documentation: str = ""  # the name in the other language, or a description
    extra: dict[str, Any] = field(default_factory=dict)  # any other procopt fact, round-tripped as is

    def facts(self) -> dict[str, Any]:
        """What `<procopt:step>` carries: everything but the name and documentation, which BPMN holds itself."""
        data = asdict(self)
        data.pop("name")
        data.pop("documentation")
        return data


@dataclass
class MapDoc:
    """A map: its process, its steps in flow order, its lanes in order."""

    key: str  # "survey:<initiative id>" or "sop:<version id>"
    name: str  # the process's name, as shown
    steps: list[MapStep]
    lanes: list[str] = field(default_factory=list)  # in order; every step's non-empty lane is one of them
    lang: str = "en"  # the language of the names: "en" or "zh-CN"
    sop_version: str | None = None  # "V1.1" for an SOP version's flow
    extra: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        return {"key": self.key, "lang": self.lang, "sop_version": self.sop_version, "extra": self.extra}


@dataclass
class NodeReport:
    """One element of the file and what the import did with it."""

    id: str
    type: str  # the BPMN element's local name: task, userTask, exclusiveGateway, boundaryEvent, lane, ...
    name: str
    taken: bool
    taken_as: str | None = None  # "input", "activity", "decision", "output", "department" (a lane)
    reason: str | None = None  # why not taken, in a sentence (English)
    reason_key: str | None = None  # the key of `bpmn_read.REASONS` the reason is written from, for translations
    reason_params: dict[str, str] = field(default_factory=dict)  # its parameters


@dataclass
class Imported:
    doc: MapDoc
    report: list[NodeReport]
    counts: dict[str, Any]  # by_type, tasks, gateways, events, sequence_flows, lanes, task_names, di_shapes,
    # di_edges: the same keys and meaning as ../shared/bpmn/expected/*.json


class BpmnError(Exception):
    """The file cannot be imported: not XML, hostile (DTD, entities), too large, not BPMN, no process. `template`
    is English with `{...}` fields filled from `params` (pages show it translated)."""

    def __init__(self, template: str, status: int = 422, **params: Any) -> None:
        self.template, self.params, self.status = template, params, status
        self.message = template.format(**params)
        super().__init__(self.message)
