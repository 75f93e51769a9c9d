"""BPMN round trips (app/maps/bpmn_read.py and bpmn_write.py together).

Files -> procopt -> files: every file of ../shared/bpmn/ (the OMG MIWG reference models and their Camunda Modeler
exports) is read, written again and read back. The export is valid against the OMG schemas and fully drawn; its
tasks, gateways, events and lanes are those the first import took, judged against the file's independent counts
(../shared/bpmn/expected/<folder>-<case>.json); the second import gives the same map and reports nothing as not
taken but what procopt's export marks as its own addition (and the export's one pool, which is never a step).

procopt -> files -> procopt: a survey-like and an SOP-like map with every fact set come back the same.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from app.maps.bpmn_read import REASONS, read
from app.maps.bpmn_write import NO_LANE, write
from app.maps.model import Imported, MapDoc, MapStep
from tests.maps.test_bpmn_read import FILES, IDS, SHARED
from tests.maps.test_bpmn_write import NS, SCHEMA_DIR, schema

# The input file's flow nodes by BPMN type: written here independently of the reader.
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
# What procopt writes per step kind ("activity" is a task, or a service task when the step has systems).
WRITTEN = {
    "input": {"startEvent"},
    "output": {"endEvent"},
    "decision": {"exclusiveGateway"},
    "activity": {"task", "serviceTask"},
}
WRITTEN_NODES = set().union(*WRITTEN.values())


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _added(el: etree._Element) -> bool:
    return el.find("bpmn:extensionElements/procopt:added", NS) is not None


@dataclass
class RoundTrip:
    expected: dict[str, Any]  # the file's independent counts
    first: Imported  # the file read
    data: bytes  # the first import written
    root: etree._Element  # ... parsed
    second: Imported  # ... read again

    @property
    def nodes(self) -> list[etree._Element]:
        """The export's flow nodes, in document order (the writer's flow order)."""
        return [e for e in self.root.find("bpmn:process", NS) if _local(e) in WRITTEN_NODES]

    def node_of_step(self) -> list[tuple[MapStep, etree._Element]]:
        """Each step of the first import with the flow node the export wrote for it."""
        written = [e for e in self.nodes if not _added(e)]
        pairs = list(zip(self.first.doc.steps, written, strict=True))
        for step, element in pairs:
            assert json.loads(element.find("bpmn:extensionElements/procopt:step", NS).text)["key"] == step.key
        return pairs

    def lane_elements(self) -> list[etree._Element]:
        return self.root.findall("bpmn:process/bpmn:laneSet/bpmn:lane", NS)


@cache
def round_trip(path: Path) -> RoundTrip:
    expected = json.loads((SHARED / "expected" / f"{path.parent.name}-{path.stem}.json").read_text())
    first = read(path.read_bytes())
    data = write(first.doc)
    return RoundTrip(expected, first, data, etree.fromstring(data), read(data))


def _listed_lanes(path: Path) -> dict[str, str]:
    """The input file's flow node ids and the innermost named lane listing each in its `flowNodeRef`s."""
    root = etree.parse(str(path)).getroot()
    lane_tag = f"{{{NS['bpmn']}}}lane"
    found: dict[str, tuple[int, str]] = {}
    for lane in root.iter(lane_tag):
        name, depth = (lane.get("name") or "").strip(), len(list(lane.iterancestors(lane_tag)))
        for ref in lane.findall("bpmn:flowNodeRef", NS) if name else ():
            key = (ref.text or "").strip()
            if key not in found or found[key][0] < depth:
                found[key] = (depth, name)
    return {key: name for key, (_, name) in found.items()}


def _names(steps: list[MapStep], kind: str) -> list[str]:
    return [s.name for s in steps if s.kind == kind]


# -- files -> procopt -> files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_export_of_an_imported_file_validates_against_the_omg_schema(path: Path) -> None:
    if not (SCHEMA_DIR / "BPMN20.xsd").is_file():
        pytest.skip(f"the OMG BPMN 2.0 schemas are absent ({SCHEMA_DIR})")
    assert schema().validate(round_trip(path).root), schema().error_log


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_task_of_the_file_is_a_task_of_the_export_and_comes_back(path: Path) -> None:
    rt = round_trip(path)
    # tasks, sub-processes and call activities of the file, nested ones too
    task_names = Counter(rt.expected["task_names"])
    assert sum(task_names.values()) == rt.expected["tasks"]
    first_activities = _names(rt.first.doc.steps, "activity")
    assert Counter(first_activities) == task_names  # all taken, none lost, none invented
    for step, element in rt.node_of_step():
        if step.kind == "activity":
            assert _local(element) in WRITTEN["activity"] and element.get("name") == step.name
    written_tasks = [e.get("name") for e in rt.nodes if _local(e) in WRITTEN["activity"]]
    assert written_tasks == first_activities  # same order, a sub-process written as a task
    assert _names(rt.second.doc.steps, "activity") == first_activities
    assert rt.second.counts["tasks"] == rt.expected["tasks"]
    assert rt.second.counts["task_names"] == rt.expected["task_names"]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_decisions_starts_and_ends_survive(path: Path) -> None:
    rt = round_trip(path)
    report, by_type = rt.first.report, rt.expected["by_type"]
    gateways = [r for r in report if r.type in GATEWAYS]
    assert len(gateways) == rt.expected["gateways"] == sum(by_type.get(t, 0) for t in GATEWAYS)
    decisions = [r for r in gateways if r.taken]
    assert all(r.taken_as == "decision" for r in decisions)
    # only gateways decide
    assert [r.id for r in report if r.taken_as == "decision"] == [r.id for r in decisions]
    for kind, event in (("input", "startEvent"), ("output", "endEvent")):
        events = [r for r in report if r.type == event]
        assert len(events) == by_type.get(event, 0)
        assert [r.id for r in report if r.taken_as == kind] == [r.id for r in events if r.taken]
        assert all(r.taken_as == kind for r in events if r.taken)

    steps = rt.first.doc.steps
    assert Counter(s.key for s in steps if s.kind == "decision") == Counter(r.id for r in decisions)
    for step, element in rt.node_of_step():
        assert _local(element) in WRITTEN[step.kind] and element.get("name") == step.name
    written = [e for e in rt.nodes if not _added(e)]
    for kind in ("decision", "input", "output"):
        tags = WRITTEN[kind]
        assert [e.get("name") for e in written if _local(e) in tags] == _names(steps, kind)
        assert _names(rt.second.doc.steps, kind) == _names(steps, kind)
    assert [(s.name, s.kind) for s in rt.second.doc.steps] == [(s.name, s.kind) for s in steps]
    # what the export adds: a start (end) event exactly when the map has no input (output)
    added = [_local(e) for e in rt.nodes if _added(e)]
    starts, ends = not _names(steps, "input"), not _names(steps, "output")
    assert added == ["startEvent"] * starts + ["endEvent"] * ends


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_lanes_are_lanes_of_the_export_and_every_step_keeps_its_lane(path: Path) -> None:
    rt = round_trip(path)
    taken = [r.name for r in rt.first.report if r.type == "lane" and r.taken]
    assert not Counter(taken) - Counter(rt.expected["lanes"])  # lanes of the file
    # the others (an unnamed lane) are reported, with a reason
    others = Counter(r.name for r in rt.first.report if r.type == "lane" and not r.taken and r.reason)
    assert Counter(rt.expected["lanes"]) - Counter(taken) == others
    departments = rt.first.doc.lanes  # the lanes taken, and pools taken as departments, in file order
    assert [name for name in departments if name in taken] == list(dict.fromkeys(taken))
    pools = [r.name for r in rt.first.report if r.type == "participant" and r.taken_as == "department"]
    assert sorted(departments) == sorted(dict.fromkeys([*taken, *pools]))

    listed = _listed_lanes(path)
    for step in rt.first.doc.steps:  # keys of a foreign file's steps are its element ids
        if step.key in listed:
            assert step.lane == listed[step.key], step
        assert not step.lane or step.lane in departments

    lanes = rt.lane_elements()
    assert [lane.get("name") for lane in lanes if not _added(lane)] == departments
    assert rt.second.doc.lanes == departments
    assert [s.lane for s in rt.second.doc.steps] == [s.lane for s in rt.first.doc.steps]
    lane_of = {ref.text: lane for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)}
    for step, element in rt.node_of_step():
        if step.lane:
            assert lane_of[element.get("id")].get("name") == step.lane
            assert not _added(lane_of[element.get("id")])
        elif lanes:  # the steps without a lane are in the lane procopt adds for them
            assert _added(lane_of[element.get("id")])
            assert lane_of[element.get("id")].get("name") == NO_LANE[rt.first.doc.lang]
    if not any(s.lane for s in rt.first.doc.steps):
        assert not lanes


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_second_import_gives_the_same_map_and_reports_only_what_procopt_added(path: Path) -> None:
    rt = round_trip(path)
    assert rt.second.doc == rt.first.doc  # keys, names, kinds, lanes, documentation, the map's name and facts
    by_id = {e.get("id"): e for e in rt.root.iter() if e.get("id")}
    participants = rt.root.findall("bpmn:collaboration/bpmn:participant", NS)
    assert len(participants) == 1
    pool = participants[0]
    for r in rt.second.report:
        if r.taken:
            assert r.reason is None, r  # procopt's facts read without a problem
            continue
        element = by_id[r.id]
        if element is pool:  # the pool whose process is the map: its lanes and nodes are what is taken
            name = pool.get("name")
            assert r.reason == REASONS["pool"].format(name=f'"{name}"' if name else pool.get("id"))
        elif r.type == "lane":
            assert _added(element) and r.reason == REASONS["lane_added"], r
        else:
            what = {"startEvent": "start event", "endEvent": "end event"}[r.type]
            assert _added(element) and r.reason == REASONS["added"].format(type=what), r
    marked = {e.get("id") for e in by_id.values() if _added(e)}
    assert marked == {r.id for r in rt.second.report if not r.taken and r.type != "participant"}
    taken = [r for r in rt.second.report if r.taken and r.type in WRITTEN_NODES]
    assert [r.taken_as for r in taken] == [s.kind for s in rt.first.doc.steps]
    assert write(rt.second.doc) == rt.data  # stable: writing the re-import gives the same file


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_export_draws_every_flow_node_and_sequence_flow(path: Path) -> None:
    rt = round_trip(path)
    nodes = rt.nodes
    flows = rt.root.findall("bpmn:process/bpmn:sequenceFlow", NS)
    assert len(nodes) == len(rt.first.doc.steps) + sum(_added(e) for e in nodes)
    assert len(flows) == len(nodes) - 1
    shapes = Counter(s.get("bpmnElement") for s in rt.root.iterfind(".//bpmndi:BPMNShape", NS))
    edges = Counter(e.get("bpmnElement") for e in rt.root.iterfind(".//bpmndi:BPMNEdge", NS))
    drawn = [*nodes, *rt.lane_elements(), *rt.root.findall("bpmn:collaboration/bpmn:participant", NS)]
    assert shapes == Counter(e.get("id") for e in drawn)
    assert edges == Counter(f.get("id") for f in flows)
    assert (rt.second.counts["di_shapes"], rt.second.counts["di_edges"]) == (len(drawn), len(flows))
    assert rt.second.counts["sequence_flows"] == len(flows)


# -- procopt -> files -> procopt -------------------------------------------------------------------------


def survey_like() -> MapDoc:
    """An initiative's as-is map as `service.survey_map` builds it: Chinese names, English descriptions, every
    fact set (one step without systems: a plain task, the others service tasks)."""
    finance, purchasing = "财务部", "采购部"

    def step(n: int, name: str, kind: str, lane: str, code: str, **facts: Any) -> MapStep:
        return MapStep(
            key=f"survey:{n}", name=name, kind=kind, lane=lane, role=f"{lane}专员", minutes=n * 1.5,
            waiting_minutes=float(n * 10), systems=facts.pop("systems", ["SAP", "网银"]),
            flags=facts.pop("flags", ["efficiency", "quality", "collaboration", "risk"]),
            control_points=facts.pop("control_points", ["三单匹配", "职责分离"]),
            documentation=facts.pop("documentation", f"Step {n} in English,\nover two lines"),
            extra={"department": code, "department_other": "Finance" if code == "fin" else "Purchasing", **facts},
        )  # fmt: skip

    steps = [
        step(1, "收到发票", "input", purchasing, "pur"),
        step(2, "登记发票 & <附件>", "activity", purchasing, "pur", systems=[], row=2),
        step(3, "核对\n订单", "activity", finance, "fin", nested={"a": [1, None, "值"]}),
        step(4, "金额 > 1 万?", "decision", finance, "fin", documentation="Over 10 000?"),
        step(5, "经理审批", "activity", finance, "fin", flags=["risk"]),
        step(6, "付款完成", "output", finance, "fin"),
    ]
    return MapDoc(
        "survey:7",
        "P-01 发票处理",
        steps,
        lanes=[purchasing, finance],
        lang="zh-CN",
        extra={"initiative": 7, "source": "问卷"},
    )


def sop_like() -> MapDoc:
    """An SOP version's flow as `service.sop_flow` builds it: activities only (so a start and an end are added),
    UUID keys, English names with the Chinese text as documentation, a step without a department (so the
    no-lane lane is added), control points, a system path, the inputs and outputs in extra."""
    keys = ["0b6f0c53-5f0e-4f5e-9a61-3a2c8d0e0001", "0b6f0c53-5f0e-4f5e-9a61-3a2c8d0e0002",
            "0b6f0c53-5f0e-4f5e-9a61-3a2c8d0e0003"]  # fmt: skip
    steps = [
        MapStep(keys[0], "Check the invoice", "activity", lane="Finance", role="Clerk", minutes=12.5,
                systems=["SAP › Invoices › Check"], control_points=["Three-way match", "Four eyes"],
                documentation="核对发票与订单\n\n核对金额",
                extra={"department": "fin", "inputs": "Invoice\nOrder", "outputs": "Checked invoice"}),
        MapStep(keys[1], "Approve", "activity", lane="", role="Manager", minutes=5.0, systems=[],
                control_points=["Approval limit"], documentation="经理审批",
                extra={"department": None, "inputs": "", "outputs": "Approval"}),
        MapStep(keys[2], "Pay", "activity", lane="Treasury", role="Treasurer", minutes=3.0, systems=["网银"],
                control_points=[], documentation="付款",
                extra={"department": "tre", "inputs": "Approval", "outputs": ""}),
    ]  # fmt: skip
    return MapDoc(
        "sop:42",
        "SOP-07 Invoice payment",
        steps,
        lanes=["Finance", "Treasury"],
        lang="en",
        sop_version="V1.2",
        extra={"sop": 5},
    )


def _as_chinese_sop() -> MapDoc:
    doc = sop_like()
    doc.lang, doc.name = "zh-CN", "SOP-07 发票付款"
    for step in doc.steps:
        step.name, step.documentation = step.documentation.split("\n")[0], step.name
    return doc


OWN_MAPS = {"survey_like": survey_like, "sop_like": sop_like, "sop_like_zh": _as_chinese_sop}


@pytest.mark.parametrize("name", list(OWN_MAPS))
def test_a_procopt_map_written_and_read_again_is_the_same(name: str) -> None:
    doc = OWN_MAPS[name]()
    data = write(doc)
    if (SCHEMA_DIR / "BPMN20.xsd").is_file():
        assert schema().validate(etree.fromstring(data)), schema().error_log
    imported = read(data)
    # steps with every fact, departments in order, the map's key, lang, version and extra
    assert imported.doc == doc
    departments = [r.name for r in imported.report if r.taken_as == "department"]
    assert departments == doc.lanes
    not_taken = [r for r in imported.report if not r.taken]
    added = [r for r in not_taken if r.type != "participant"]
    assert [r.type for r in not_taken if r.type == "participant"] == ["participant"]
    no_lane = any(not s.lane for s in doc.steps)
    kinds = {s.kind for s in doc.steps}
    assert sorted(r.type for r in added) == sorted(
        ["startEvent"] * ("input" not in kinds) + ["endEvent"] * ("output" not in kinds) + ["lane"] * no_lane
    )
    assert all("procopt added" in r.reason for r in added)
    taken = [r.taken_as for r in imported.report if r.taken and r.type != "lane"]
    assert taken == [s.kind for s in doc.steps]
    assert write(imported.doc) == data
