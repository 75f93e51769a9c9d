"""BPMN 2.0 import: the OMG MIWG files (reference models and Camunda Modeler exports) read without silent loss,
hostile files are refused, procopt's own files restore their facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from app.maps.bpmn_read import PARSER_OPTIONS, read
from app.maps.model import BPMN_NS, KINDS, PROCOPT_NS, BpmnError, MapDoc, MapStep

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bpmn"  # ../shared/bpmn next to the repository
FILES = sorted([*SHARED.glob("reference/*.bpmn"), *SHARED.glob("camunda-modeler/*.bpmn")])
IDS = [f"{path.parent.name}/{path.stem}" for path in FILES]

# what the report must name, each once: written here independently of the module
FLOW_NODES = {
    "task", "userTask", "serviceTask", "manualTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask",
    "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "implicitThrowEvent",
}  # fmt: skip
OTHERS = {
    "lane", "participant", "messageFlow", "association", "dataInputAssociation", "dataOutputAssociation",
    "dataObject", "dataObjectReference", "dataStoreReference", "textAnnotation", "group",
}  # fmt: skip


def _elements(data: bytes) -> list[etree._Element]:
    """The BPMN elements of a file outside extensionElements."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return [
        el
        for el in root.iter(f"{{{BPMN_NS}}}*")
        if not any(a.tag == f"{{{BPMN_NS}}}extensionElements" for a in el.iterancestors())
    ]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _bpmn(body: str, *, prefix: str = "bpmn", extra_ns: str = "") -> bytes:
    """A small BPMN file: `body` inside definitions, `{p}` standing for the prefix with its colon."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{BPMN_NS}"' if prefix else f'xmlns="{BPMN_NS}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{p}definitions {xmlns} {extra_ns} id="D" '
        f'targetNamespace="urn:t">{body.replace("{p}", p)}</{p}definitions>'
    ).encode()


LINEAR = """<{p}process id="P" name="Linear">
  <{p}startEvent id="s" name=" Order in "/>
  <{p}task id="a" name="Check&#10;order"><{p}documentation>Look at it</{p}documentation></{p}task>
  <{p}endEvent id="e" name="Done"/>
  <{p}sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
  <{p}sequenceFlow id="f2" sourceRef="a" targetRef="e"/>
</{p}process>"""


def _names(data: bytes) -> list[str]:
    return [step.name for step in read(data).doc.steps]


# -- the MIWG files --------------------------------------------------------------------------------------


def test_the_shared_files_are_there() -> None:
    assert len(FILES) == 24


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_counts_equal_the_independent_counts(path: Path) -> None:
    expected = json.loads((SHARED / "expected" / f"{path.parent.name}-{path.stem}.json").read_text())
    assert read(path.read_bytes()).counts == expected


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_report_names_every_element_once_and_taken_nodes_are_the_steps(path: Path) -> None:
    data = path.read_bytes()
    imported = read(data)
    elements = [el for el in _elements(data) if _local(el) in FLOW_NODES | OTHERS]
    ids = [r.id for r in imported.report]
    assert len(ids) == len(set(ids))
    assert set(ids) == {el.get("id") for el in elements}
    assert len(imported.report) == len(elements)
    types = {el.get("id"): _local(el) for el in elements}
    assert all(r.type == types[r.id] for r in imported.report)

    taken_nodes = [r for r in imported.report if r.taken and r.type in FLOW_NODES]
    assert {r.id for r in taken_nodes} == {step.key for step in imported.doc.steps}
    assert len(taken_nodes) == len(imported.doc.steps)
    kind_of = {r.id: r.taken_as for r in taken_nodes}
    assert all(step.kind == kind_of[step.key] and step.kind in KINDS for step in imported.doc.steps)
    for r in imported.report:
        assert r.taken or r.reason, r
        assert not r.taken or r.taken_as in (*KINDS, "department"), r
    assert all(step.lane in imported.doc.lanes for step in imported.doc.steps if step.lane)
    assert imported.doc.steps[0].kind == "input"


@pytest.mark.parametrize(
    ("case", "lanes", "expected"),
    [
        ("reference/A.4.0", ["Lane 1", "Lane 2"], {"Task 1": "", "Task 3": "Lane 1", "Task 6": "Lane 2"}),
        ("reference/A.4.1", ["Lane 1", "Lane 2", "Lane 3"], {"Task 1": "Lane 1", "Task 3": "Lane 2", "Task 6": "Lane 3"}),
        # the unnamed-lane pool "Pool" is a department of its own next to the pool with lanes
        ("camunda-modeler/A.4.0", ["Pool", "Lane 2", "Lane 1"], {"Task 1": "Pool", "Task 3": "Lane 1", "Task 6": "Lane 2"}),
        ("camunda-modeler/A.4.1", ["Lane 1", "Lane 4", "Lane 3"], {"Task 1": "Lane 1", "Task 3": "Lane 4", "Task 6": "Lane 3"}),
    ],
)  # fmt: skip
def test_lanes_arrive_as_departments(case: str, lanes: list[str], expected: dict[str, str]) -> None:
    imported = read((SHARED / f"{case}.bpmn").read_bytes())
    assert imported.doc.lanes == lanes
    departments = [r.name for r in imported.report if r.type in ("lane", "participant") and r.taken_as == "department"]
    assert sorted(departments) == sorted(lanes)
    steps = {step.name: step for step in imported.doc.steps}
    assert {name: steps[name].lane for name in expected} == expected
    # a task inside an expanded sub-process has its lane (listed, or the sub-process's)
    assert steps["Task 6"].lane == steps["Expanded Sub-Process 2"].lane


def test_nested_lanes_give_the_innermost_named_lane() -> None:
    imported = read((SHARED / "reference" / "C.1.0.bpmn").read_bytes())
    lanes = {step.name: step.lane for step in imported.doc.steps}
    assert lanes["Approve Invoice"] == "Approver"
    assert lanes["Prepare\r\nBank\r\nTransfer"] == "Accountant"
    unnamed = [r for r in imported.report if r.type == "lane" and not r.name]
    assert len(unnamed) == 1 and not unnamed[0].taken and "lane without a name" in unnamed[0].reason


def test_pools_without_lanes_become_departments_when_there_are_several() -> None:
    imported = read((SHARED / "reference" / "C.2.0.bpmn").read_bytes())
    assert imported.doc.lanes == ["Carrier", "Credit Card Company", "Customer", "Picker", "Packager"]
    pools = {r.name: r for r in imported.report if r.type == "participant"}
    assert pools["Customer"].taken_as == "department"
    assert not pools["Amazon"].taken and "its lanes and nodes are reported" in pools["Amazon"].reason
    flows = [r for r in imported.report if r.type == "messageFlow"]
    assert len(flows) == 5 and all(r.reason.startswith("message flow between pools") for r in flows)


def test_sub_process_is_a_step_followed_by_its_nodes() -> None:
    imported = read((SHARED / "reference" / "A.4.1.bpmn").read_bytes())
    names = [step.name for step in imported.doc.steps]
    for sub, inner in (("Expanded Sub-Process 1", "Task 4"), ("Expanded Sub-Process 2", "Task 6")):
        assert names[names.index(sub) + 1] == inner
    inner_events = [r for r in imported.report if r.reason and "inside sub-process" in r.reason]
    assert sorted(r.name for r in inner_events) == ["End Event 3", "End Event 4", "Start Event 3", "Start Event 4"]


def test_boundary_events_are_reported_with_their_task_and_their_path_is_taken() -> None:
    imported = read((SHARED / "reference" / "A.3.0.bpmn").read_bytes())
    boundary = [r for r in imported.report if r.type == "boundaryEvent"]
    assert len(boundary) == 2 and not any(r.taken for r in boundary)
    assert all(
        r.reason == 'boundary event: an exception path of "Collapsed\nSub-Process"; procopt\'s steps have no '
        "attached events"
        for r in boundary
    )
    assert _names((SHARED / "reference" / "A.3.0.bpmn").read_bytes()) == [
        "Start Event", "Task 1", "Collapsed\nSub-Process", "Task 2", "Task 3", "End Event 1", "Task 4", "End Event 2",
    ]  # fmt: skip


def test_gateways_that_only_merge_and_parallel_gateways_are_reported_not_taken() -> None:
    imported = read((SHARED / "reference" / "A.2.0.bpmn").read_bytes())
    gateways = [r for r in imported.report if r.type == "exclusiveGateway"]
    assert [r.taken_as for r in gateways].count("decision") == 1
    assert any(not r.taken and "only merging branches" in r.reason for r in gateways)
    parallel = [r for r in read((SHARED / "reference" / "B.1.0.bpmn").read_bytes()).report if r.type == "parallelGateway"]
    assert parallel and all(not r.taken and r.reason.startswith("parallel gateway") for r in parallel)


def test_artifacts_and_data_are_reported() -> None:
    report = read((SHARED / "camunda-modeler" / "B.1.0.bpmn").read_bytes()).report
    by_type = {r.type: r for r in report}
    assert by_type["textAnnotation"].name == "Text Annotation"
    assert by_type["group"].name == "Group"
    for kind in ("textAnnotation", "group", "association", "dataObject", "dataObjectReference", "dataStoreReference"):
        assert not by_type[kind].taken and by_type[kind].reason


# -- order -----------------------------------------------------------------------------------------------


def test_order_flattens_parallel_branches_breaks_loops_and_puts_unreachable_nodes_last() -> None:
    body = """<{p}process id="P">
      <{p}task id="orphan" name="Orphan"/>
      <{p}endEvent id="e" name="End"/>
      <{p}parallelGateway id="join"/>
      <{p}task id="b2" name="B2"/>
      <{p}task id="a1" name="A1"/>
      <{p}exclusiveGateway id="retry" name="Again?"/>
      <{p}task id="b1" name="B1"/>
      <{p}parallelGateway id="fork"/>
      <{p}task id="a2" name="A2"/>
      <{p}startEvent id="s" name="Start"/>
      <{p}sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
      <{p}sequenceFlow id="f2" sourceRef="fork" targetRef="b1"/>
      <{p}sequenceFlow id="f3" sourceRef="fork" targetRef="a1"/>
      <{p}sequenceFlow id="f4" sourceRef="a1" targetRef="a2"/>
      <{p}sequenceFlow id="f5" sourceRef="b1" targetRef="b2"/>
      <{p}sequenceFlow id="f6" sourceRef="a2" targetRef="join"/>
      <{p}sequenceFlow id="f7" sourceRef="b2" targetRef="join"/>
      <{p}sequenceFlow id="f8" sourceRef="join" targetRef="retry"/>
      <{p}sequenceFlow id="f9" sourceRef="retry" targetRef="a1"/>
      <{p}sequenceFlow id="f10" sourceRef="retry" targetRef="e"/>
    </{p}process>"""
    # branches in document order of their first node (b2 ... a1 comes before b1), the loop back to A1 ignored
    assert _names(_bpmn(body)) == ["Start", "A1", "A2", "B1", "B2", "Again?", "End", "Orphan"]


def test_several_start_events_keep_a_topological_order() -> None:
    body = """<{p}process id="P">
      <{p}startEvent id="s1" name="S1"/><{p}startEvent id="s2" name="S2"/>
      <{p}task id="a" name="A"/><{p}task id="b" name="B"/><{p}task id="j" name="J"/>
      <{p}sequenceFlow id="f1" sourceRef="s1" targetRef="a"/><{p}sequenceFlow id="f2" sourceRef="a" targetRef="j"/>
      <{p}sequenceFlow id="f3" sourceRef="s2" targetRef="b"/><{p}sequenceFlow id="f4" sourceRef="b" targetRef="j"/>
    </{p}process>"""
    assert _names(_bpmn(body)) == ["S1", "A", "S2", "B", "J"]


# -- spellings, diagrams, vendors ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["bpmn", "semantic", "model", ""])
def test_any_namespace_prefix_reads_the_same(prefix: str) -> None:
    imported = read(_bpmn(LINEAR, prefix=prefix))
    assert [(s.key, s.name, s.kind) for s in imported.doc.steps] == [
        ("s", "Order in", "input"),
        ("a", "Check\norder", "activity"),
        ("e", "Done", "output"),
    ]
    assert imported.doc.steps[1].documentation == "Look at it"
    assert imported.doc.name == "Linear" and imported.doc.key == "bpmn:P"
    assert imported.counts["di_shapes"] == imported.counts["di_edges"] == 0


def test_a_file_without_its_diagram_reads_the_same() -> None:
    data = (SHARED / "reference" / "B.2.0.bpmn").read_bytes()
    root = etree.fromstring(data)
    for diagram in root.findall("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram"):
        root.remove(diagram)
    bare = read(etree.tostring(root))
    full = read(data)
    assert bare.doc == full.doc and bare.report == full.report
    assert bare.counts["di_shapes"] == bare.counts["di_edges"] == 0
    assert {k: v for k, v in bare.counts.items() if not k.startswith("di_")} == {
        k: v for k, v in full.counts.items() if not k.startswith("di_")
    }


def test_vendor_extensions_are_ignored() -> None:
    body = LINEAR.replace(
        '<{p}task id="a" name="Check&#10;order">',
        '<{p}task id="a" name="Check&#10;order" camunda:assignee="x"><{p}extensionElements>'
        '<camunda:properties><camunda:property name="k" value="v"/></camunda:properties>'
        '<{p}task id="hidden" name="Not a task"/></{p}extensionElements>',
    )
    imported = read(_bpmn(body, extra_ns='xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'))
    assert [s.key for s in imported.doc.steps] == ["s", "a", "e"]
    assert "hidden" not in {r.id for r in imported.report}
    assert imported.counts["tasks"] == 1


# -- hostile and wrong files -----------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) for _ in range(10)))
        for i in range(1, 10)
    )
    + b']><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">'
    b'<task id="t" name="&lol9;"/></process></definitions>'
)
XXE_TEXT = (
    b'<?xml version="1.0"?><!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t" name="x">'
    b"<documentation>&xxe;</documentation></task></process></definitions>"
)
XXE_ATTRIBUTE = XXE_TEXT.replace(b'name="x"', b'name="&xxe;"').replace(b"&xxe;</doc", b"</doc")
XXE_PARAMETER = (
    b'<?xml version="1.0"?><!DOCTYPE definitions [<!ENTITY % pe SYSTEM "file:///etc/passwd"> %pe;]>'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t"/></process>'
    b"</definitions>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE definitions SYSTEM "http://example.invalid/bpmn.dtd">'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t"/></process>'
    b"</definitions>"
)
PLAIN_DTD = _bpmn(LINEAR).replace(b"?>\n", b"?>\n<!DOCTYPE bpmn:definitions>\n", 1)


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE_TEXT, XXE_ATTRIBUTE, XXE_PARAMETER, EXTERNAL_DTD, PLAIN_DTD],
    ids=["billion-laughs", "xxe-text", "xxe-attribute", "xxe-parameter-entity", "external-dtd", "doctype"],
)
def test_dtds_and_entities_are_refused_without_leaking(data: bytes) -> None:
    with pytest.raises(BpmnError) as caught:
        read(data)
    error = caught.value
    assert error.status == 422
    assert "DTD or entities" in error.message
    passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0"
    leaks = {line.split(":")[0] + ":" for line in passwd.splitlines() if line}
    assert not any(leak in str(error) or leak in repr(error.args) for leak in leaks)
    assert "lollol" not in str(error)
    assert error.__cause__ is None and (error.__suppress_context__ or error.__context__ is None)


def test_a_doctype_inside_text_is_no_dtd() -> None:
    body = LINEAR.replace("Look at it", "<![CDATA[<!DOCTYPE html><p>Look at it</p>]]>")
    assert read(_bpmn(body)).doc.steps[1].documentation == "<!DOCTYPE html><p>Look at it</p>"


def test_other_encodings_and_deep_nesting() -> None:
    text = _bpmn(LINEAR).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert _names(text.encode("utf-16")) == ["Order in", "Check\norder", "Done"]
    deep = _bpmn('<{p}process id="P"><{p}task id="t"/>' + "<x>" * 5000 + "</x>" * 5000 + "</{p}process>")
    with pytest.raises(BpmnError) as caught:  # libxml2's depth limit stays on (huge_tree=False)
        read(deep)
    assert caught.value.status == 422


def test_the_parser_is_hardened() -> None:
    assert PARSER_OPTIONS["resolve_entities"] is False and PARSER_OPTIONS["no_network"] is True
    assert PARSER_OPTIONS["load_dtd"] is False and PARSER_OPTIONS["dtd_validation"] is False
    assert PARSER_OPTIONS["huge_tree"] is False and PARSER_OPTIONS["remove_comments"] is True


def test_a_file_over_the_limit_is_413() -> None:
    data = _bpmn(LINEAR)
    with pytest.raises(BpmnError) as caught:
        read(data, max_bytes=len(data) - 1)
    assert caught.value.status == 413
    assert read(data, max_bytes=len(data)).doc.steps
    with pytest.raises(BpmnError) as default_limit:
        read(data + b" " * 5_000_000)
    assert default_limit.value.status == 413


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"name,minutes\nCheck,5\n", "not well-formed XML"),
        (b"<definitions><process>", "not well-formed XML"),
        (b"\xff\xfe\x00garbage", "not well-formed XML"),
        (b"<html><body>hello</body></html>", "not BPMN 2.0"),
        (b'<definitions xmlns="http://schema.omg.org/spec/BPMN/2.0"><process id="p"/></definitions>', "not BPMN 2.0"),
        (b'<x:process xmlns:x="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p"/>', "not BPMN 2.0"),
        (_bpmn('<{p}collaboration id="c"><{p}participant id="x" name="Black box"/></{p}collaboration>'), "no process"),
        (_bpmn('<{p}process id="P"><{p}laneSet id="l"/></{p}process>'), "no flow nodes"),
    ],
    ids=["empty", "blank", "csv", "broken", "binary", "html", "bpmn-beta", "root-not-definitions", "no-process",
         "empty-process"],
)  # fmt: skip
def test_wrong_files_are_422_with_a_clear_message(data: bytes, words: str) -> None:
    with pytest.raises(BpmnError) as caught:
        read(data)
    assert caught.value.status == 422
    assert words in caught.value.message


# -- procopt's own files ---------------------------------------------------------------------------------


def _procopt_file() -> bytes:
    step = {
        "key": "survey:12", "kind": "activity", "lane": "Finance", "role": "Clerk", "minutes": 12.5,
        "waiting_minutes": 30, "systems": ["SAP"], "flags": ["risk", "quality"],
        "control_points": ["Four eyes"], "extra": {"survey_row": 3, "nested": {"a": [1, None]}},
    }  # fmt: skip
    decision = {"key": "survey:13", "kind": "decision", "lane": "", "role": "", "minutes": None,
                "waiting_minutes": None, "systems": [], "flags": [], "control_points": [], "extra": {}}  # fmt: skip
    output = {**decision, "key": "survey:14", "kind": "output", "lane": "IT"}
    added_end = {**decision, "key": "x", "kind": "output", "extra": {"added": True}}
    facts = {"key": "survey:7", "lang": "zh-CN", "sop_version": "V1.1", "extra": {"initiative": 7}}

    def ext(name: str, value: object) -> str:
        return f"<{{p}}extensionElements><procopt:{name}>{json.dumps(value)}</procopt:{name}></{{p}}extensionElements>"

    body = f"""<{{p}}process id="Process_1">{ext("map", facts)}
      <{{p}}laneSet id="LS"><{{p}}lane id="L1" name="Finance"><{{p}}flowNodeRef>Step_1</{{p}}flowNodeRef></{{p}}lane>
        <{{p}}lane id="L2" name="IT"><{{p}}flowNodeRef>Step_3</{{p}}flowNodeRef></{{p}}lane>
        <{{p}}lane id="L3" name="(no lane)"><{{p}}extensionElements><procopt:added/></{{p}}extensionElements>
          <{{p}}flowNodeRef>Start_added</{{p}}flowNodeRef><{{p}}flowNodeRef>Step_2</{{p}}flowNodeRef></{{p}}lane>
      </{{p}}laneSet>
      <{{p}}startEvent id="Start_added" name="Start"><{{p}}extensionElements><procopt:added/></{{p}}extensionElements>
      </{{p}}startEvent>
      <{{p}}serviceTask id="Step_1" name="核对发票"><{{p}}documentation>Check the invoice</{{p}}documentation>
        {ext("step", step)}</{{p}}serviceTask>
      <{{p}}exclusiveGateway id="Step_2" name="OK?">{ext("step", decision)}</{{p}}exclusiveGateway>
      <{{p}}endEvent id="Step_3" name="Paid">{ext("step", output)}</{{p}}endEvent>
      <{{p}}endEvent id="End_added" name="End">{ext("step", added_end)}</{{p}}endEvent>
      <{{p}}sequenceFlow id="F1" sourceRef="Start_added" targetRef="Step_1"/>
      <{{p}}sequenceFlow id="F2" sourceRef="Step_1" targetRef="Step_2"/>
      <{{p}}sequenceFlow id="F3" sourceRef="Step_2" targetRef="Step_3"/>
      <{{p}}sequenceFlow id="F4" sourceRef="Step_3" targetRef="End_added"/>
    </{{p}}process>"""
    return _bpmn(body, extra_ns=f'xmlns:procopt="{PROCOPT_NS}"')


def test_a_procopt_file_restores_every_fact() -> None:
    imported = read(_procopt_file())
    doc = imported.doc
    assert (doc.key, doc.lang, doc.sop_version, doc.extra) == ("survey:7", "zh-CN", "V1.1", {"initiative": 7})
    assert doc.lanes == ["Finance", "IT"]
    assert doc.steps == [
        MapStep(
            key="survey:12", name="核对发票", kind="activity", lane="Finance", role="Clerk", minutes=12.5,
            waiting_minutes=30, systems=["SAP"], flags=["risk", "quality"], control_points=["Four eyes"],
            documentation="Check the invoice", extra={"survey_row": 3, "nested": {"a": [1, None]}},
        ),
        MapStep(key="survey:13", name="OK?", kind="decision"),  # one outgoing flow: a decision all the same
        MapStep(key="survey:14", name="Paid", kind="output", lane="IT"),
    ]  # fmt: skip
    report = {r.id: r for r in imported.report}
    for added in ("Start_added", "End_added"):
        assert not report[added].taken and "procopt added" in report[added].reason
    assert not report["L3"].taken and "procopt added" in report["L3"].reason


def test_unreadable_procopt_facts_fall_back_to_the_bpmn_and_say_so() -> None:
    body = LINEAR.replace(
        '<{p}documentation>Look at it</{p}documentation>',
        "<{p}extensionElements><procopt:step>{not json</procopt:step></{p}extensionElements>",
    ).replace(
        '<{p}endEvent id="e" name="Done"/>',
        '<{p}endEvent id="e" name="Done"><{p}extensionElements><procopt:step>{"key": "k", "kind": "boss"}'
        "</procopt:step></{p}extensionElements></{p}endEvent>",
    )
    imported = read(_bpmn(body, extra_ns=f'xmlns:procopt="{PROCOPT_NS}"'))
    assert [(s.key, s.kind) for s in imported.doc.steps] == [("s", "input"), ("a", "activity"), ("e", "output")]
    report = {r.id: r for r in imported.report}
    assert report["a"].taken and "not JSON" in report["a"].reason
    assert report["e"].taken and "kind is missing or not one of" in report["e"].reason


def test_deeply_nested_procopt_json_is_unreadable_not_a_crash() -> None:
    nested = "[" * 200_000 + "]" * 200_000
    body = LINEAR.replace(
        "<{p}documentation>Look at it</{p}documentation>",
        f"<{{p}}extensionElements><procopt:step>{nested}</procopt:step></{{p}}extensionElements>",
    )
    report = {r.id: r for r in read(_bpmn(body, extra_ns=f'xmlns:procopt="{PROCOPT_NS}"')).report}
    assert report["a"].taken_as == "activity" and "not JSON" in report["a"].reason


def test_what_procopt_writes_comes_back_the_same() -> None:
    from app.maps.bpmn_write import write

    doc = MapDoc(
        key="sop:5",
        name="Invoice approval",
        lang="en",
        sop_version="V2.0",
        lanes=["Finance", "IT"],
        extra={"x": 1},
        steps=[
            MapStep("a", "Receive invoice", "activity", lane="Finance", minutes=3.0, systems=["SAP"]),
            MapStep("b", "Amount over limit?", "decision", lane="Finance", documentation="金额超限？"),
            MapStep("c", "Book", "activity", flags=["risk"], control_points=["Check"], extra={"n": [1]}),
            MapStep("d", "Booked", "output", lane="IT", waiting_minutes=60.0),
        ],
    )
    imported = read(write(doc))
    assert imported.doc == doc
    assert sum(r.taken for r in imported.report if r.type not in ("lane", "participant")) == 4
