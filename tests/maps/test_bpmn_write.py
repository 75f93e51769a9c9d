"""The BPMN 2.0 export (app/maps/bpmn_write.py): valid against the OMG schemas, every element drawn inside its
lane, procopt's facts carried back exactly, the element kinds the modelling tools expect."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from app.maps.bpmn_write import LANE_HEIGHT, LONG_TASK, NO_LANE, SIZES, write
from app.maps.model import BPMN_NS, BPMNDI_NS, DC_NS, DI_NS, PROCOPT_NS, MapDoc, MapStep

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "bpmn" / "schema"
NS = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "procopt": PROCOPT_NS}
FLOW_NODES = ("startEvent", "endEvent", "task", "serviceTask", "exclusiveGateway")
NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "BPMN20.xsd")))


def one_step() -> MapDoc:
    return MapDoc("survey:1", "Approve invoice", [MapStep("survey:1:1", "Approve", "activity")])


def twelve_steps() -> MapDoc:
    finance, purchasing, it = "财务部", "采购部", "信息部"
    steps = [
        MapStep("survey:7:1", "收到发票", "input", lane=purchasing, documentation="Invoice received"),
        MapStep("survey:7:2", "登记发票 & 附件", "activity", lane=purchasing, minutes=5, systems=["SAP"]),
        MapStep("survey:7:3", "核对 <订单>", "activity", lane=finance, minutes=12.5, waiting_minutes=60,
                flags=["efficiency", "quality"], control_points=["三单匹配"]),
        MapStep("survey:7:4", "金额 > 1 万?", "decision", lane=finance),
        MapStep("survey:7:5", "经理审批", "activity", lane=finance, role="经理", flags=["risk"],
                control_points=["审批权限", "职责分离"], documentation="Manager approval"),
        MapStep("survey:7:6", "录入付款", "activity", lane=it, systems=["SAP", "网银"], minutes=3),
        MapStep("survey:7:7", "生成凭证", "activity", lane=it, systems=["Oracle EBS"], extra={"source": "问卷"}),
        MapStep("survey:7:8", "复核凭证", "activity", lane=finance, flags=["collaboration"]),
        MapStep("survey:7:9", "是否异常?", "decision", lane=finance),
        MapStep("survey:7:10", "自动校验3个系统 Automatic check against CRM, KYC and Billing", "activity",
                lane=purchasing, minutes=2),
        MapStep("survey:7:11", "通知供应商", "activity", lane=purchasing, systems=["邮件"]),
        MapStep("survey:7:12", "付款完成", "output", lane=finance),
    ]
    return MapDoc("survey:7", "发票处理 & <付款>", steps, lanes=[finance, purchasing, it], lang="zh-CN",
                  sop_version="V1.1", extra={"initiative": 7})


def without_lanes() -> MapDoc:
    steps = [MapStep(f"survey:3:{n}", f"Step {n}", kind) for n, kind in
             enumerate(["activity", "decision", "activity", "output"], 1)]
    return MapDoc("survey:3", "No lanes", steps, lanes=["Declared but unused"])


def five_hundred() -> MapDoc:
    lanes = [f"Dept {n}" for n in range(6)]
    steps = [MapStep(f"sop:{n}", f"Step {n}", "decision" if n % 9 == 4 else "activity", lane=lanes[(n // 3) % 6],
                     systems=["ERP"] if n % 4 == 0 else [], minutes=float(n)) for n in range(500)]
    return MapDoc("sop:big", "Five hundred steps", steps, lanes=lanes)


def some_without_lane() -> MapDoc:
    steps = [MapStep("a", "A", "activity"), MapStep("b", "B", "activity", lane="Sales"), MapStep("c", "C", "activity")]
    return MapDoc("survey:9", "Partly laned", steps, lanes=["Sales"])


MAPS = {"one_step": one_step, "twelve_steps": twelve_steps, "without_lanes": without_lanes,
        "five_hundred": five_hundred, "some_without_lane": some_without_lane,
        "empty": lambda: MapDoc("survey:0", "Empty", [])}


def parse(doc: MapDoc) -> etree._Element:
    return etree.fromstring(write(doc))


def flow_nodes(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.find("bpmn:process", NS) if etree.QName(e).localname in FLOW_NODES]


def bounds(root: etree._Element) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


@pytest.mark.parametrize("name", list(MAPS))
def test_validates_against_the_omg_schema(name):
    if not (SCHEMA_DIR / "BPMN20.xsd").is_file():
        pytest.skip(f"the OMG BPMN 2.0 schemas are absent ({SCHEMA_DIR})")
    root = parse(MAPS[name]())
    assert schema().validate(root), schema().error_log


@pytest.mark.parametrize("name", list(MAPS))
def test_every_element_drawn_once_nodes_inside_their_lanes(name):
    doc = MAPS[name]()
    root = parse(doc)
    shapes = [s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", NS)]
    assert len(shapes) == len(set(shapes))
    nodes = flow_nodes(root)
    flows = root.findall("bpmn:process/bpmn:sequenceFlow", NS)
    lanes = root.findall(".//bpmn:lane", NS)
    assert set(shapes) == {"Participant_1"} | {e.get("id") for e in nodes + lanes}
    assert len(flows) == len(nodes) - 1
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert len(edges) == len(flows) == len(root.findall(".//bpmndi:BPMNEdge", NS))
    for flow in flows:
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2

    box = bounds(root)
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == root.find("bpmn:collaboration", NS).get("id")
    assert root.find(".//bpmndi:BPMNShape[@bpmnElement='Participant_1']", NS).get("isHorizontal") == "true"
    pool = box["Participant_1"]
    lane_of = {ref.text: lane.get("id") for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)}
    for node in nodes:
        assert inside(box[node.get("id")], box[lane_of[node.get("id")]] if lanes else pool)
        kind = etree.QName(node).localname
        long = kind.endswith("ask") and len(node.get("name")) + len(re.findall("[\u4e00-\u9fff]", node.get("name"))) > 44
        assert box[node.get("id")][2:] == (LONG_TASK if long else SIZES[kind])
    lane_boxes = sorted(box[lane.get("id")] for lane in lanes)
    for (_x, y, _w, h), nxt in zip(lane_boxes, lane_boxes[1:], strict=False):
        assert y + h <= nxt[1]  # stacked, no overlap
    for lane_box in lane_boxes:
        assert inside(lane_box, pool)
        assert lane_box[0] == pool[0] + 30 and lane_box[2] == pool[2] - 30 and lane_box[3] >= LANE_HEIGHT
    if lanes:
        assert pool[3] == sum(b[3] for b in lane_boxes)
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        if shape.get("bpmnElement").startswith("Lane_"):
            assert shape.get("isHorizontal") == "true"


@pytest.mark.parametrize("name", list(MAPS))
def test_edges_join_their_nodes_orthogonally_left_to_right(name):
    root = parse(MAPS[name]())
    box = bounds(root)
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in root.iterfind("bpmn:process/bpmn:sequenceFlow", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[flow.get("id")].findall("di:waypoint", NS)]
        sx, sy, sw, sh = box[flow.get("sourceRef")]
        tx, ty, tw, th = box[flow.get("targetRef")]
        assert sx + sw < tx  # flow order is left to right
        assert points[0] == (sx + sw, sy + sh / 2) and points[-1] == (tx, ty + th / 2)
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2


def test_lanes_list_the_steps_of_their_department_in_order():
    doc = twelve_steps()
    root = parse(doc)
    lanes = root.findall(".//bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == doc.lanes
    by_key = {json.loads(e.find(".//procopt:step", NS).text)["key"]: e.get("id") for e in flow_nodes(root)}
    for lane in lanes:
        refs = [r.text for r in lane.findall("bpmn:flowNodeRef", NS)]
        assert refs == [by_key[s.key] for s in doc.steps if s.lane == lane.get("name")]


def test_no_lane_at_all_means_no_lane_set():
    root = parse(without_lanes())
    assert root.find(".//bpmn:laneSet", NS) is None
    box = bounds(root)
    assert box["Participant_1"][3] == LANE_HEIGHT


def test_steps_without_a_lane_go_into_a_marked_lane_of_their_own():
    root = parse(some_without_lane())
    lanes = root.findall(".//bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == ["Sales", NO_LANE["en"]]
    assert lanes[0].find(".//procopt:added", NS) is None
    assert lanes[1].find("bpmn:extensionElements/procopt:added", NS) is not None
    assert [r.text for r in lanes[1].findall("bpmn:flowNodeRef", NS)] == ["Start_added", "Step_1", "Step_3",
                                                                         "End_added"]


@pytest.mark.parametrize("name", list(MAPS))
def test_facts_parse_back_and_kinds_follow_the_steps(name):
    doc = MAPS[name]()
    root = parse(doc)
    process = root.find("bpmn:process", NS)
    assert json.loads(process.find("bpmn:extensionElements/procopt:map", NS).text) == doc.facts()
    taken = [e for e in flow_nodes(root) if e.find(".//procopt:added", NS) is None]
    assert len(taken) == len(doc.steps)
    expected = {"input": "startEvent", "output": "endEvent", "decision": "exclusiveGateway"}
    for element, step in zip(taken, doc.steps, strict=True):
        assert json.loads(element.find("bpmn:extensionElements/procopt:step", NS).text) == step.facts()
        kind = expected.get(step.kind) or ("serviceTask" if step.systems else "task")
        assert etree.QName(element).localname == kind
        assert element.get("name") == step.name
        documentation = element.find("bpmn:documentation", NS)
        assert (documentation.text if documentation is not None else "") == step.documentation


def test_names_with_markup_characters_and_chinese_survive():
    root = parse(twelve_steps())
    assert root.find(".//bpmn:participant", NS).get("name") == "发票处理 & <付款>"
    names = [e.get("name") for e in flow_nodes(root)]
    assert "登记发票 & 附件" in names and "核对 <订单>" in names
    assert not [e for e in flow_nodes(root) if e.find(".//procopt:added", NS) is not None]  # it has input, output


@pytest.mark.parametrize(("lang", "start", "end"), [("en", "Start", "End"), ("zh-CN", "开始", "结束")])
def test_start_and_end_are_added_and_marked_when_the_map_has_none(lang, start, end):
    doc = one_step()
    doc.lang = lang
    nodes = flow_nodes(parse(doc))
    assert [etree.QName(e).localname for e in nodes] == ["startEvent", "task", "endEvent"]
    assert (nodes[0].get("name"), nodes[-1].get("name")) == (start, end)
    for added in (nodes[0], nodes[-1]):
        assert added.find("bpmn:extensionElements/procopt:added", NS) is not None
        assert added.find(".//procopt:step", NS) is None
    assert nodes[1].find(".//procopt:added", NS) is None
    ends = flow_nodes(parse(without_lanes()))  # has an output step: only a start is added
    assert [e.get("id") for e in ends if e.find(".//procopt:added", NS) is not None] == ["Start_added"]


def test_flows_connect_the_nodes_in_order():
    root = parse(twelve_steps())
    ids = [e.get("id") for e in flow_nodes(root)]
    flows = [(f.get("sourceRef"), f.get("targetRef")) for f in root.iterfind("bpmn:process/bpmn:sequenceFlow", NS)]
    assert flows == list(zip(ids, ids[1:], strict=False))
    gateway = root.find("bpmn:process/bpmn:exclusiveGateway", NS)
    assert len(gateway.findall("bpmn:incoming", NS)) == len(gateway.findall("bpmn:outgoing", NS)) == 1
    shape = root.find(f".//bpmndi:BPMNShape[@bpmnElement='{gateway.get('id')}']", NS)
    assert shape.get("isMarkerVisible") == "true"


def test_ids_are_unique_ncnames_and_stable():
    doc, again = twelve_steps(), twelve_steps()
    doc.steps[1].key = again.steps[1].key = "12 / weird key <&>"
    data = write(doc)
    assert data == write(again)
    ids = [e.get("id") for e in etree.fromstring(data).iter() if e.get("id") is not None]
    assert len(ids) == len(set(ids))
    assert all(NCNAME.match(i) for i in ids)


def test_declaration_no_doctype_and_procopt_declared_once():
    data = write(twelve_steps())
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
    assert data.count(PROCOPT_NS.encode()) == 1
    assert data.count(b'xmlns:procopt="') == 1
    root = etree.fromstring(data)
    assert root.nsmap["procopt"] == PROCOPT_NS
    assert (root.get("exporter"), root.get("targetNamespace")) == ("procopt", "urn:procopt")
    assert root.get("exporterVersion")
    participant = root.find("bpmn:collaboration/bpmn:participant", NS)
    process = root.find("bpmn:process", NS)
    assert participant.get("processRef") == process.get("id") and process.get("isExecutable") == "false"


def test_characters_xml_cannot_hold_are_dropped_from_names_and_escaped_in_facts():
    step = MapStep("k\x01", "Na\x00me\ufffe", "activity", documentation="do\x1bc", extra={"note": "a\x0bb\ud800"})
    root = parse(MapDoc("survey:5", "Map\x07", [step]))
    element = root.find("bpmn:process/bpmn:task", NS)
    assert element.get("name") == "Name"
    assert element.find("bpmn:documentation", NS).text == "doc"
    assert json.loads(element.find(".//procopt:step", NS).text) == step.facts()
    assert root.find(".//bpmn:participant", NS).get("name") == "Map"
