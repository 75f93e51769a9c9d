"""A process map as a BPMN 2.0 file that Camunda Modeler, bpmn.io, Signavio and ARIS open: `write(doc)`.

BPMN 2.0 XML is how process maps travel between modelling tools, so the file is written for them: one
`collaboration` whose only `participant` (the pool, named after the map) refers to the one `process`
(`isExecutable="false"`: a description, not something for an engine), a `laneSet` with a lane per department,
and per step a flow node by its kind: input -> `startEvent`, output -> `endEvent`, decision ->
`exclusiveGateway`, activity -> `task`, or `serviceTask` when the step has systems (a system-supported step).
The steps are joined by `sequenceFlow`s in flow order; the survey's map is linear, so a decision gets one
outgoing flow to the next step, without a name (its branches are not recorded). An input step that is not the
first (or an output step that is not the last) stays a start (end) event inside the chain: tools display it
and may flag it.

The tools draw only what the diagram interchange (BPMNDI) places: without it Camunda Modeler and bpmn.io show
"no diagram to display". So every element is drawn: the pool, each lane, each flow node and each sequence flow.

Layout: left to right in flow order, one column of `COLUMN` px per node; the lanes stacked in their order,
each `LANE_HEIGHT` px tall and as wide as the pool's body, the pool being all lanes plus a `HEADER` px header on
the left; each node centred in its column and vertically in its lane (tasks 100x80, events 36x36, gateways
50x50 with the marker shown; a task with a name longer than `LONG_NAME` is `LONG_TASK`, 130x110, for bpmn.io
draws the name inside the box). A flow between nodes of one lane is a straight line; across lanes it runs
orthogonally, turning halfway between the two nodes. A map without lanes is drawn as one lane-high pool.

Lanes: one `lane` per `doc.lanes` entry in order (a step's lane not listed there is appended, in order of first
use). Steps without a lane go into a lane named `NO_LANE[lang]` ("(no lane)" / "（未分配）"), placed last and
only when there are other lanes; when no step has a lane there is no `laneSet` at all.

What procopt adds: the map's facts travel as `<procopt:map>` (the JSON of `MapDoc.facts()`) in the process's
`extensionElements`, a step's as `<procopt:step>` (the JSON of `MapStep.facts()`, sorted keys) in its flow
node's; the step's name is the node's `name` and its documentation the node's `documentation`. When the map has
no input step a start event is added before the first step, and without an output step an end event after the
last ("Start"/"End", "开始"/"结束" for zh-CN); these and the no-lane lane carry an empty `<procopt:added/>` in
their `extensionElements`, so an import knows they are no step (or department) of the map.

Element ids are stable for the same map and valid NCNames whatever the step keys: `Step_<n>` (n from 1 in flow
order), `Start_added`, `End_added`, `Flow_<n>`, `Lane_<n>`, the shapes and edges `<element id>_di`. Characters
XML 1.0 cannot hold are dropped from names and documentation and written as JSON escapes (which parse back to
the same string) in the facts. The output has no DOCTYPE; it declares the procopt namespace once, on
`definitions`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from app import __version__
from app.maps.model import BPMN_NS, BPMNDI_NS, DC_NS, DI_NS, PROCOPT_NS, MapDoc, MapStep

__all__ = ["COLUMN", "HEADER", "LANE_HEIGHT", "NO_LANE", "SIZES", "write"]

TARGET_NAMESPACE = "urn:procopt"
NSMAP = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "procopt": PROCOPT_NS}

HEADER = 30  # the pool's name band, on the left of the lanes
LANE_HEIGHT = 140  # room for a task (80) and the labels bpmn.io puts below events and gateways
COLUMN = 150  # a node's slot, left to right: a task (100) and the gap before the next one
MARGIN = 50  # between a lane's left (right) edge and its first (last) slot's node
ORIGIN_X, ORIGIN_Y = 160, 80  # the pool's top left corner
SIZES = {"task": (100, 80), "serviceTask": (100, 80), "startEvent": (36, 36), "endEvent": (36, 36),
         "exclusiveGateway": (50, 50)}
LONG_TASK = (130, 110)  # a task whose name would not fit in 100x80 (four lines of about 14 Latin letters)
LONG_NAME = 44  # the name's width in Latin letters beyond which a task is a LONG_TASK; a CJK character counts 2
_WIDE = re.compile(r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60]")
TAG_BY_KIND = {"input": "startEvent", "output": "endEvent", "decision": "exclusiveGateway", "activity": "task"}
ADDED_NAMES = {"en": ("Start", "End"), "zh-CN": ("开始", "结束")}
NO_LANE = {"en": "(no lane)", "zh-CN": "（未分配）"}

# What XML 1.0 cannot hold (lxml refuses it): C0 controls but tab, newline, carriage return; surrogates; FFFE/FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _b(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _json(data: dict[str, Any]) -> str:
    """The JSON of procopt's facts; a character XML cannot hold can only be inside a string, as a JSON escape."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class _Node:
    id: str
    tag: str
    name: str
    lane: int  # index into the lanes drawn; 0 when there are none
    step: MapStep | None  # None for an added start or end event


def _lanes(doc: MapDoc) -> tuple[list[str], bool]:
    """The lanes' names in order, and whether the last is the added no-lane lane; [] when no step has a lane."""
    used = [step.lane for step in doc.steps if step.lane]
    if not used:
        return [], False
    names = [lane for lane in dict.fromkeys(doc.lanes) if lane]
    names += [lane for lane in dict.fromkeys(used) if lane not in set(names)]
    if len(used) < len(doc.steps):
        return [*names, NO_LANE.get(doc.lang, NO_LANE["en"])], True
    return names, False


def _nodes(doc: MapDoc, lane_index: dict[str, int], fallback: int) -> list[_Node]:
    def lane_of(step: MapStep) -> int:
        return lane_index[step.lane] if step.lane else fallback

    nodes = [
        _Node(f"Step_{n}", "serviceTask" if step.kind == "activity" and step.systems else TAG_BY_KIND.get(step.kind, "task"),
              _text(step.name), lane_of(step), step)
        for n, step in enumerate(doc.steps, 1)
    ]
    start, end = ADDED_NAMES.get(doc.lang, ADDED_NAMES["en"])
    kinds = {step.kind for step in doc.steps}
    if "input" not in kinds:
        nodes.insert(0, _Node("Start_added", "startEvent", start, nodes[0].lane if nodes else fallback, None))
    if "output" not in kinds:
        nodes.append(_Node("End_added", "endEvent", end, nodes[-1].lane if nodes else fallback, None))
    return nodes


def _extension(parent: etree._Element, local: str, text: str | None = None) -> None:
    ext = etree.SubElement(parent, _b("extensionElements"))
    etree.SubElement(ext, f"{{{PROCOPT_NS}}}{local}").text = text


def _size(node: _Node) -> tuple[int, int]:
    """A node's width and height: tasks with long names are bigger, so that bpmn.io's label fits inside."""
    if node.tag in ("task", "serviceTask") and len(node.name) + len(_WIDE.findall(node.name)) > LONG_NAME:
        return LONG_TASK
    return SIZES[node.tag]


def _num(value: float) -> str:
    """A coordinate as the tools write it: 212, or 212.5 (never an exponent, however long the map)."""
    return str(int(value)) if value == int(value) else repr(float(value))


def _bounds(shape: etree._Element, x: float, y: float, w: float, h: float) -> None:
    etree.SubElement(shape, f"{{{DC_NS}}}Bounds", x=_num(x), y=_num(y), width=_num(w), height=_num(h))


def write(doc: MapDoc) -> bytes:
    """The map as BPMN 2.0 XML (UTF-8, with an XML declaration), valid against the OMG schemas, fully drawn."""
    lanes, added_lane = _lanes(doc)
    lane_index = {name: i for i, name in enumerate(lanes)}
    nodes = _nodes(doc, lane_index, len(lanes) - 1 if lanes else 0)
    flows = [(f"Flow_{n}", a, b) for n, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False), 1)]
    incoming = {b.id: fid for fid, _, b in flows}
    outgoing = {a.id: fid for fid, a, _ in flows}

    root = etree.Element(_b("definitions"), nsmap=NSMAP, id="Definitions_1", targetNamespace=TARGET_NAMESPACE,
                         exporter="procopt", exporterVersion=__version__)
    collaboration = etree.SubElement(root, _b("collaboration"), id="Collaboration_1")
    etree.SubElement(collaboration, _b("participant"), id="Participant_1", name=_text(doc.name),
                     processRef="Process_1")
    process = etree.SubElement(root, _b("process"), id="Process_1", isExecutable="false")
    _extension(process, "map", _json(doc.facts()))

    if lanes:
        lane_set = etree.SubElement(process, _b("laneSet"), id="LaneSet_1")
        lane_elements = []
        for i, name in enumerate(lanes, 1):
            lane = etree.SubElement(lane_set, _b("lane"), id=f"Lane_{i}", name=_text(name))
            if added_lane and i == len(lanes):
                _extension(lane, "added")
            lane_elements.append(lane)
        for node in nodes:
            etree.SubElement(lane_elements[node.lane], _b("flowNodeRef")).text = node.id

    for node in nodes:
        element = etree.SubElement(process, _b(node.tag), id=node.id, name=node.name)
        if node.step is None:
            _extension(element, "added")
        else:
            if node.step.documentation:
                etree.SubElement(element, _b("documentation")).text = _text(node.step.documentation)
            _extension(element, "step", _json(node.step.facts()))
        if node.id in incoming:
            etree.SubElement(element, _b("incoming")).text = incoming[node.id]
        if node.id in outgoing:
            etree.SubElement(element, _b("outgoing")).text = outgoing[node.id]
    for fid, a, b in flows:
        etree.SubElement(process, _b("sequenceFlow"), id=fid, sourceRef=a.id, targetRef=b.id)

    _diagram(root, nodes, flows, lanes)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _diagram(root: etree._Element, nodes: list[_Node], flows: list[tuple[str, _Node, _Node]],
             lanes: list[str]) -> None:
    diagram = etree.SubElement(root, f"{{{BPMNDI_NS}}}BPMNDiagram", id="BPMNDiagram_1")
    plane = etree.SubElement(diagram, f"{{{BPMNDI_NS}}}BPMNPlane", id="BPMNPlane_1", bpmnElement="Collaboration_1")
    shape_tag, edge_tag, waypoint_tag = (f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge",
                                         f"{{{DI_NS}}}waypoint")
    body_x = ORIGIN_X + HEADER
    width = 2 * MARGIN + max(len(nodes) - 1, 0) * COLUMN + SIZES["task"][0]
    bands = max(len(lanes), 1)

    pool = etree.SubElement(plane, shape_tag, id="Participant_1_di", bpmnElement="Participant_1",
                            isHorizontal="true")
    _bounds(pool, ORIGIN_X, ORIGIN_Y, HEADER + width, bands * LANE_HEIGHT)
    for i in range(len(lanes)):
        lane = etree.SubElement(plane, shape_tag, id=f"Lane_{i + 1}_di", bpmnElement=f"Lane_{i + 1}",
                                isHorizontal="true")
        _bounds(lane, body_x, ORIGIN_Y + i * LANE_HEIGHT, width, LANE_HEIGHT)

    centres: dict[str, tuple[float, float, float]] = {}  # id -> centre x, centre y, half width
    for col, node in enumerate(nodes):
        w, h = _size(node)
        cx = body_x + MARGIN + col * COLUMN + SIZES["task"][0] / 2
        cy = ORIGIN_Y + node.lane * LANE_HEIGHT + LANE_HEIGHT / 2
        centres[node.id] = (cx, cy, w / 2)
        shape = etree.SubElement(plane, shape_tag, id=f"{node.id}_di", bpmnElement=node.id)
        if node.tag == "exclusiveGateway":
            shape.set("isMarkerVisible", "true")
        _bounds(shape, cx - w / 2, cy - h / 2, w, h)

    for fid, a, b in flows:
        (ax, ay, aw), (bx, by, bw) = centres[a.id], centres[b.id]
        start, end = ax + aw, bx - bw
        points = [(start, ay), (end, by)]
        if ay != by:  # across lanes: out to the right, turn halfway, in from the left
            middle = (start + end) / 2
            points[1:1] = [(middle, ay), (middle, by)]
        edge = etree.SubElement(plane, edge_tag, id=f"{fid}_di", bpmnElement=fid)
        for x, y in points:
            etree.SubElement(edge, waypoint_tag, x=_num(x), y=_num(y))
