"""Reading a BPMN 2.0 file into a procopt map: `read(data) -> Imported`, a `MapDoc` and a report that names
every element of the file and what the import did with it, so that nothing is lost silently.

Parsing. The file is parsed with lxml (libxml2), never by hand, with
`etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
huge_tree=False, remove_comments=True, remove_pis=True)`: entities are never substituted (no billion laughs,
no external entity reading a local file), nothing is fetched from the network, no DTD is loaded or validated
against, libxml2's size and depth limits stay on (`huge_tree=False`), and comments and processing instructions
are dropped before anything looks at the tree. On top of that a file whose tree carries a DOCTYPE (internal
subset, entity declarations or an external DTD) or an unexpanded entity reference is refused outright:
BPMN needs none of it. Refusals are `BpmnError`: 413 when the file is larger than `max_bytes` (checked before
parsing), 422 when it is not well-formed XML, declares a DTD or entities, is XML but not BPMN 2.0 (the root
is not `definitions` in the BPMN model namespace), or holds no process or no flow node. The messages never
quote the file's text (a local file an entity points at cannot leak), only a line and column or the root's
element name.

Reading. Elements are recognised by namespace and local name, so any prefix works (`bpmn:`, `semantic:`,
`model:`, the default namespace); `extensionElements` (Signavio, Camunda, ...) are skipped, except procopt's
own; BPMN DI is only counted, so files with or without a diagram read the same.

Rules.
- Steps: every kind of task, `subProcess` (also `transaction`, `adHocSubProcess`) and `callActivity` ->
  "activity". Exclusive, inclusive, event-based and complex gateways with two or more outgoing sequence
  flows -> "decision"; a gateway with at most one outgoing flow only merges branches and is reported, not
  taken; parallel gateways are reported, not taken (they fork or join; the branches become one sequence).
  Start events -> "input" and end events -> "output", at the level of a process.
- Sub-processes: an expanded sub-process is one "activity" step, and the nodes inside it follow it directly
  as steps by the same rules, in their own flow order (recursively); the start and end events inside a
  sub-process are reported, not taken (the sub-process step marks its begin and end). A node inside a
  sub-process that no lane lists takes the sub-process's lane. This is the same notion of "task" as the
  counts: nested tasks and sub-processes count.
- Not steps, each reported with taken=False and a reason: intermediate and boundary events, data objects,
  data object and data store references, data associations, text annotations, groups, associations,
  message flows, pools, unnamed lanes, choreography activities. Sequence flows are not reported one by one:
  they are what the order is made of.
- Pools: the nodes of all processes are taken, pool by pool in the order of the participants (processes no
  participant refers to come after, in document order). When several pools have a process, a pool whose
  process has no named lanes is taken as a department (`taken_as="department"`) and is the lane of its
  steps; other pools are reported, not taken, their lanes and nodes being reported one by one.
- Lanes: a step's lane is the innermost named lane listing it in `flowNodeRef` (nested lane sets included);
  `doc.lanes` are the named lanes (and pool departments) in file order; named lanes are reported with
  `taken_as="department"`.
- Order, per process and per sub-process: a topological order of the sequence flows, from the start events
  in document order; an activity's boundary events count as its successors after its normal ones. A loop is
  broken at its back edge: the edge that returns to a node on the current path of a depth-first walk that
  takes successors in document order. The order is then the reverse post-order of a depth-first walk over
  the flows without back edges, so that alternative or parallel branches are flattened branch by branch
  (first branch, by document order of its first node, first; each branch whole; the join after them all).
  Nodes no start event reaches come after: first from the nodes nothing enters, in document order, by the
  same walk; then any rest (cycles nobody enters) from its first node in document order.
- Names: the `name` attribute with surrounding whitespace stripped (inner newlines kept); the text of the
  `documentation` elements (stripped, several joined by a blank line) -> `MapStep.documentation`. A foreign
  file's step key is the element's id; the map is keyed `bpmn:<first process id>`, named after its pool or
  process (the collaboration or definitions when there are several pools), `lang` "zh-CN" when a name has
  Chinese characters, else "en".
- procopt's own files: a flow node with `extensionElements/<procopt:step>` (JSON of `MapStep.facts()`, in
  `PROCOPT_NS`) restores key, kind, lane, role, minutes, waiting_minutes, systems, flags, control_points and
  extra from it exactly; `<procopt:map>` in a process's (or the definitions' / collaboration's)
  `extensionElements` restores the map's key, lang, sop_version and extra. The kind from the JSON wins over
  the rules (procopt writes a decision with one outgoing flow). A start or end event procopt added on
  export, marked by a `<procopt:added/>` element or by `"added": true` in its step JSON's `extra`, is
  dropped and reported; so is a lane marked `<procopt:added/>` (the lane of the steps without one). Facts
  that cannot be read leave the node to the rules above and say so in its report's reason.
- Elements without an id are reported as `<type>@<position>`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from app.core.labels import N_
from app.maps.model import (
    BPMN_NS,
    BPMNDI_NS,
    KINDS,
    PROCOPT_NS,
    BpmnError,
    Imported,
    MapDoc,
    MapStep,
    NodeReport,
)

__all__ = ["read", "REASONS", "PARSER_OPTIONS"]

PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

TASK_TYPES = frozenset(
    {
        "task",
        "userTask",
        "serviceTask",
        "manualTask",
        "scriptTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
    }
)
SUBPROCESS_TYPES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
ACTIVITY_TYPES = TASK_TYPES | SUBPROCESS_TYPES | {"callActivity"}
GATEWAY_TYPES = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
)
EVENT_TYPES = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
    }
)
CHOREOGRAPHY_TYPES = frozenset({"choreographyTask", "subChoreography", "callChoreography"})
FLOW_NODE_TYPES = ACTIVITY_TYPES | GATEWAY_TYPES | EVENT_TYPES | CHOREOGRAPHY_TYPES
# what `counts["by_type"]` counts, as ../shared/bpmn/expected/*.json
COUNTED_TYPES = FLOW_NODE_TYPES | {
    "sequenceFlow",
    "lane",
    "participant",
    "messageFlow",
    "association",
    "dataObject",
    "dataStoreReference",
    "textAnnotation",
}
DATA_TYPES = {"dataObject": N_("data object"), "dataObjectReference": N_("data object"),
              "dataStoreReference": N_("data store")}
# Words a reason's parameters may hold (`what`, `trigger`), which pages translate too.
WORDS = frozenset({
    N_("start event"), N_("end event"), N_("message"), N_("timer"), N_("conditional"), N_("signal"), N_("link"),
    N_("escalation"), N_("error"), N_("compensate"), N_("cancel"), N_("terminate"), N_("none"), N_("referenced"),
    N_("multiple"), *DATA_TYPES.values()})
# what the report lists, each element once
REPORTED_TYPES = (
    FLOW_NODE_TYPES
    | set(DATA_TYPES)
    | {
        "lane",
        "participant",
        "messageFlow",
        "association",
        "dataInputAssociation",
        "dataOutputAssociation",
        "textAnnotation",
        "group",
    }
)

# The reasons of the report, as templates (the pages translate these); `{...}` are names from the file.
REASONS: dict[str, str] = {
    "boundary": N_("boundary event: an exception path of {activity}; procopt's steps have no attached events"),
    "intermediate_catch": N_(
        "intermediate {trigger} event (catching): a wait inside the flow; procopt's steps have no "
        "intermediate events"
    ),
    "intermediate_throw": N_(
        "intermediate {trigger} event (throwing): a signal sent inside the flow; procopt's steps have no "
        "intermediate events"
    ),
    "other_event": N_("{type}: procopt's steps have no such events"),
    "inner_start": N_(
        "start event inside sub-process {sub_process}: the sub-process is the step, it needs no start of its own"
    ),
    "inner_end": N_("end event inside sub-process {sub_process}: the flow goes on after the sub-process"),
    "parallel_gateway": N_(
        "parallel gateway: it splits or joins parallel branches; procopt's steps are one sequence, the "
        "branches follow one another"
    ),
    "merging_gateway": N_("{type} only merging branches: the flow goes on, there is nothing to decide"),
    "added": N_("{type} procopt added when it wrote the file: not one of the map's steps"),
    "choreography": N_("choreography activity: an exchange between participants, not a step of a process"),
    "outside_process": N_("{type} outside any process: procopt takes the nodes of processes only"),
    "message_flow": N_("message flow between pools ({source} to {target}): procopt's map has no messages"),
    "association": N_("association: links a note or data to a node; procopt's steps have no such links"),
    "data_association": N_("data association of {activity}: reads or writes data; procopt's steps have no data links"),
    "data": N_("{what}: data the flow uses, not a step"),
    "annotation": N_("text annotation: a note on the drawing, not a step"),
    "group": N_("group: a frame on the drawing, not a step"),
    "lane_unnamed": N_("lane without a name: its nodes take the name of a lane around it, if any"),
    "lane_added": N_("lane procopt added for the steps without a lane: not a department"),
    "pool": N_("pool {name}: its process is part of the map; its lanes and nodes are reported one by one"),
    "pool_black_box": N_("pool {name} without a process (a black box): it has no steps"),
    "facts_unreadable": N_("procopt's facts of this node could not be read ({problem}): taken from BPMN alone"),
}

Why = tuple[str, dict[str, str]]  # why an element is not taken: a key of REASONS and its parameters


def _why(key: str, **params: str) -> Why:
    return key, params


def _report(ident: str, kind: str, name: str, taken_as: str | None, why: Why | None) -> NodeReport:
    """The report of one element: taken (as `taken_as`) or not, with the reason written out in English and kept
    as its key and parameters, for pages to show it in the reader's language."""
    if why is None:
        return NodeReport(ident, kind, name, taken_as is not None, taken_as)
    key, params = why
    return NodeReport(ident, kind, name, taken_as is not None, taken_as, REASONS[key].format(**params), key, params)


_B = "{" + BPMN_NS + "}"
_P = "{" + PROCOPT_NS + "}"
_EXTENSIONS = _B + "extensionElements"
_DTD_MESSAGE = N_(
    "The file declares a DTD or entities (<!DOCTYPE ...>): procopt does not accept them, since they can make "
    "a parser read local files or expand without end; BPMN files need none."
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_STEP_STR = ("key", "kind", "lane", "role")
_STEP_NUMBERS = ("minutes", "waiting_minutes")
_STEP_LISTS = ("systems", "flags", "control_points")
_STEP_KEYS = frozenset({*_STEP_STR, *_STEP_NUMBERS, *_STEP_LISTS, "extra"})


def read(data: bytes, *, max_bytes: int = 5_000_000) -> Imported:
    """The map, the report of every element and the counts of a BPMN 2.0 file; `BpmnError` when it cannot be."""
    root = _parse(data, max_bytes)
    return _Reader(root).run()


def _parse(data: bytes, max_bytes: int) -> etree._Element:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("read() takes the file's bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise BpmnError(N_("The file has {size} bytes, more than the {limit} allowed."), status=413, size=len(data),
                        limit=max_bytes)
    if not data.strip():
        raise BpmnError(N_("The file is empty: not a BPMN 2.0 file."))
    try:
        root = etree.fromstring(data, etree.XMLParser(**PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise BpmnError(_DTD_MESSAGE) from None
        line, column = exc.position if exc.position else (0, 0)
        raise BpmnError(N_("The file is not well-formed XML (line {line}, column {column})."), line=line,
                        column=column) from None
    info = root.getroottree().docinfo
    if (
        info.doctype
        or info.internalDTD is not None
        or info.externalDTD is not None
        or info.system_url
        or info.public_id
        or next(root.iter(etree.Entity), None) is not None
    ):
        raise BpmnError(_DTD_MESSAGE)
    qname = etree.QName(root)
    if qname.namespace != BPMN_NS or qname.localname != "definitions":
        raise BpmnError(N_("The file is XML but not BPMN 2.0: its root is <{root}>, not <definitions> in the BPMN "
                           "2.0 model namespace {namespace}."), root=qname.localname[:40], namespace=BPMN_NS)
    return root


def _local(el: etree._Element) -> str:
    return el.tag[len(_B) :]


def _name(el: etree._Element) -> str:
    return (el.get("name") or "").strip()


def _quote(name: str, fallback: str) -> str:
    return f'"{name}"' if name else fallback


def _walk(root: etree._Element) -> list[etree._Element]:
    """The BPMN elements of the file in document order, not descending into extensionElements or foreign
    elements."""
    out: list[etree._Element] = []
    stack = [root]
    while stack:
        el = stack.pop()
        out.append(el)
        kids = [c for c in el if isinstance(c.tag, str) and c.tag.startswith(_B) and c.tag != _EXTENSIONS]
        stack.extend(reversed(kids))
    return out


def _procopt(el: etree._Element, what: str) -> tuple[Any, str | None, bool]:
    """The JSON of `<procopt:{what}>` in the element's extensionElements (or None), a problem reading it, and
    whether a `<procopt:added/>` marks it."""
    ext = el.find(_EXTENSIONS)
    if ext is None:
        return None, None, False
    added = ext.find(_P + "added") is not None
    item = ext.find(_P + what)
    if item is None:
        return None, None, added
    try:
        return json.loads(item.text or ""), None, added
    except (ValueError, RecursionError):
        return None, f"<procopt:{what}> is not JSON", added


def _step_facts(data: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The fields of `MapStep.facts()` from their JSON, or the problem with it."""
    if not isinstance(data, dict):
        return None, "<procopt:step> is not a JSON object"
    facts: dict[str, Any] = {}
    for key in _STEP_STR:
        if key in data:
            if not isinstance(data[key], str):
                return None, f"{key} is not a string"
            facts[key] = data[key]
    if facts.get("kind") not in KINDS:
        return None, "kind is missing or not one of " + ", ".join(KINDS)
    for key in _STEP_NUMBERS:
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None, f"{key} is not a number"
        if key in data:
            facts[key] = value
    for key in _STEP_LISTS:
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return None, f"{key} is not a list of strings"
            facts[key] = list(value)
    if "extra" in data:
        if not isinstance(data["extra"], dict):
            return None, "extra is not an object"
        facts["extra"] = data["extra"]
    unknown = sorted(set(data) - _STEP_KEYS)
    return facts, (f"unknown keys left out: {', '.join(unknown)}" if unknown else None)


def _map_facts(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    facts: dict[str, Any] = {}
    for key in ("key", "lang"):
        if isinstance(data.get(key), str):
            facts[key] = data[key]
    if data.get("sop_version") is None or isinstance(data.get("sop_version"), str):
        facts["sop_version"] = data.get("sop_version")
    if isinstance(data.get("extra"), dict):
        facts["extra"] = data["extra"]
    return facts


def _trigger(el: etree._Element) -> str:
    kinds = [
        _local(c)[: -len("EventDefinition")]
        for c in el
        if isinstance(c.tag, str) and c.tag.startswith(_B) and c.tag.endswith("EventDefinition")
    ]
    kinds += ["referenced"] * len(el.findall(_B + "eventDefinitionRef"))
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "multiple"


@dataclass(eq=False)
class _Scope:
    """A process or a sub-process: the nodes its sequence flows connect."""

    process: etree._Element
    owner: _Node | None  # the sub-process, None for a process
    pool: _Pool
    nodes: list[_Node] = field(default_factory=list)


@dataclass(eq=False)
class _Node:
    index: int  # position in the walk: document order
    el: etree._Element
    id: str
    type: str
    name: str
    scope: _Scope | None = None
    outgoing: list[_Node] = field(default_factory=list)
    flows_out: int = 0
    boundary: list[_Node] = field(default_factory=list)
    attached_to: _Node | None = None
    inner: _Scope | None = None  # the scope of a sub-process
    lane: str = ""


@dataclass(eq=False)
class _Pool:
    participant: etree._Element | None
    process: etree._Element
    department: str = ""  # the pool's name when it stands for a department


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.elements = _walk(root)
        self.position = {el: i for i, el in enumerate(self.elements)}
        self.nodes = [
            _Node(i, el, el.get("id") or f"{_local(el)}@{i}", _local(el), _name(el))
            for i, el in enumerate(self.elements)
            if _local(el) in FLOW_NODE_TYPES
        ]
        self.node_of = {node.el: node for node in self.nodes}
        self.added_lanes = {el for el in self.elements if el.tag == _B + "lane" and _procopt(el, "lane")[2]}
        self.by_id: dict[str, Any] = {}
        for el in self.elements:
            if el.get("id"):
                self.by_id.setdefault(el.get("id"), el)

    # -- structure ---------------------------------------------------------------------------------------

    def _pools(self) -> list[_Pool]:
        processes = [el for el in self.root if el.tag == _B + "process"]
        if not processes:
            raise BpmnError(N_("The file holds no process: there are no steps to import."))
        participants = [el for el in self.elements if el.tag == _B + "participant"]
        seen: set[Any] = set()
        pools: list[_Pool] = []
        for participant in participants:
            process = self.by_id.get(participant.get("processRef") or "")
            if process is not None and process.tag == _B + "process" and process not in seen:
                seen.add(process)
                pools.append(_Pool(participant, process))
        pools += [_Pool(None, process) for process in processes if process not in seen]
        return pools

    def _scope(self, container: etree._Element, owner: _Node | None, pool: _Pool) -> _Scope:
        scope = _Scope(pool.process, owner, pool)
        flows = []
        for child in container:
            if not isinstance(child.tag, str) or not child.tag.startswith(_B):
                continue
            node = self.node_of.get(child)
            if node is not None:
                node.scope = scope
                scope.nodes.append(node)
                if node.type in SUBPROCESS_TYPES:
                    node.inner = self._scope(child, node, pool)
            elif child.tag == _B + "sequenceFlow":
                flows.append(child)
        ids: dict[str, _Node] = {}
        for node in scope.nodes:
            ids.setdefault(node.id, node)
        edges: set[tuple[int, int]] = set()
        for flow in flows:
            source, target = ids.get(flow.get("sourceRef") or ""), ids.get(flow.get("targetRef") or "")
            if source is not None:
                source.flows_out += 1
                if target is not None and (source.index, target.index) not in edges:
                    edges.add((source.index, target.index))
                    source.outgoing.append(target)
        for node in scope.nodes:
            node.outgoing.sort(key=lambda n: n.index)
            if node.type == "boundaryEvent":
                node.attached_to = ids.get(node.el.get("attachedToRef") or "")
                if node.attached_to is not None:
                    node.attached_to.boundary.append(node)
        return scope

    def _lanes(self, pools: list[_Pool]) -> list[str]:
        """Sets each node's lane; the lane names of the map in file order."""
        innermost: dict[tuple[Any, str], tuple[int, str]] = {}
        lanes_of: dict[Any, int] = Counter()
        for el in self.elements:
            if el.tag != _B + "lane":
                continue
            ancestors = list(el.iterancestors(_B + "lane", _B + "process"))
            process = next((a for a in ancestors if a.tag == _B + "process"), None)
            name = _name(el)
            if process is None or not name or el in self.added_lanes:
                continue
            lanes_of[process] += 1
            depth = sum(1 for a in ancestors if a.tag == _B + "lane")
            for ref in el.findall(_B + "flowNodeRef"):
                key = (process, (ref.text or "").strip())
                if key not in innermost or innermost[key][0] < depth:
                    innermost[key] = (depth, name)
        several = sum(1 for pool in pools if pool.participant is not None) > 1
        for pool in pools:
            if several and pool.participant is not None and _name(pool.participant) and not lanes_of[pool.process]:
                pool.department = _name(pool.participant)
        for node in self.nodes:  # document order: a sub-process comes before its nodes
            if node.scope is None:
                continue
            found = innermost.get((node.scope.process, node.id))
            if found is not None:
                node.lane = found[1]
            elif node.scope.owner is not None:
                node.lane = node.scope.owner.lane
            else:
                node.lane = node.scope.pool.department
        # file order: a pool's department where its participant is, the lanes where they are
        entries = [(self.position[pool.participant], pool.department) for pool in pools if pool.department]
        entries += [
            (self.position[el], _name(el))
            for el in self.elements
            if el.tag == _B + "lane" and _name(el) and el not in self.added_lanes
        ]
        return _unique(name for _, name in sorted(entries, key=lambda e: e[0]))

    # -- order -------------------------------------------------------------------------------------------

    def _order(self, scope: _Scope) -> list[_Node]:
        """The scope's nodes in flow order, each sub-process followed by its own nodes."""
        flat: list[_Node] = []
        for node in _flow_order(scope.nodes):
            flat.append(node)
            if node.inner is not None:
                flat.extend(self._order(node.inner))
        return flat

    # -- judging -----------------------------------------------------------------------------------------

    def _judge(self, node: _Node) -> tuple[str | None, Why | None, dict[str, Any] | None]:
        """taken_as (None: not taken), the reason, procopt's facts of the step."""
        data, problem, added = _procopt(node.el, "step")
        facts = None
        if data is not None:
            facts, problem = _step_facts(data)
            if facts is not None and facts.get("extra", {}).get("added") is True:
                added = True
        what = {"startEvent": "start event", "endEvent": "end event"}.get(node.type, node.type)
        if added:
            return None, _why("added", type=what), None
        note = _why("facts_unreadable", problem=problem) if problem else None
        if facts is not None and node.scope is not None:
            return facts["kind"], note, facts
        taken_as, reason = self._rule(node)
        return taken_as, (reason if taken_as is None else note), None

    def _rule(self, node: _Node) -> tuple[str | None, Why | None]:
        kind = node.type
        if kind in CHOREOGRAPHY_TYPES:
            return None, _why("choreography")
        if node.scope is None:
            return None, _why("outside_process", type=kind)
        owner = node.scope.owner
        owner_label = _quote(owner.name, owner.id) if owner is not None else ""
        if kind in ACTIVITY_TYPES:
            return "activity", None
        if kind == "startEvent":
            return ("input", None) if owner is None else (None, _why("inner_start", sub_process=owner_label))
        if kind == "endEvent":
            return ("output", None) if owner is None else (None, _why("inner_end", sub_process=owner_label))
        if kind == "parallelGateway":
            return None, _why("parallel_gateway")
        if kind in GATEWAY_TYPES:
            return ("decision", None) if node.flows_out >= 2 else (None, _why("merging_gateway", type=kind))
        if kind == "boundaryEvent":
            host = node.attached_to
            label = _quote(host.name, host.id) if host is not None else node.el.get("attachedToRef") or "no activity"
            return None, _why("boundary", activity=label)
        if kind == "intermediateCatchEvent":
            return None, _why("intermediate_catch", trigger=_trigger(node.el))
        if kind == "intermediateThrowEvent":
            return None, _why("intermediate_throw", trigger=_trigger(node.el))
        return None, _why("other_event", type=kind)

    def _other(self, el: etree._Element) -> NodeReport:
        """The report of an element that is not a flow node."""
        kind = _local(el)
        ident = el.get("id") or f"{kind}@{self.position[el]}"
        name = _name(el)
        if kind == "lane":
            if el in self.added_lanes:
                return _report(ident, kind, name, None, _why("lane_added"))
            if name:
                return NodeReport(ident, kind, name, True, "department")
            return _report(ident, kind, name, None, _why("lane_unnamed"))
        if kind == "participant":
            pool = self.pool_of.get(el)
            label = _quote(name, ident)
            if pool is None:
                return _report(ident, kind, name, None, _why("pool_black_box", name=label))
            if pool.department:
                return NodeReport(ident, kind, name, True, "department")
            return _report(ident, kind, name, None, _why("pool", name=label))
        if kind == "messageFlow":
            source, target = (self._label(el.get(end) or "") for end in ("sourceRef", "targetRef"))
            reason = _why("message_flow", source=source, target=target)
        elif kind in ("dataInputAssociation", "dataOutputAssociation"):
            parent = el.getparent()
            reason = _why("data_association", activity=_quote(_name(parent), parent.get("id") or ""))
        elif kind == "association":
            reason = _why("association")
        elif kind == "textAnnotation":
            text = el.find(_B + "text")
            name = name or ("".join(text.itertext()).strip() if text is not None else "")
            reason = _why("annotation")
        elif kind == "group":
            value = self.by_id.get(el.get("categoryValueRef") or "")
            name = name or ((value.get("value") or "").strip() if value is not None else "")
            reason = _why("group")
        else:
            reason = _why("data", what=DATA_TYPES[kind])
        return _report(ident, kind, name, None, reason)

    def _label(self, ref: str) -> str:
        el = self.by_id.get(ref)
        return _quote(_name(el), ref) if el is not None else ref or "?"

    # -- all together ------------------------------------------------------------------------------------

    def run(self) -> Imported:
        pools = self._pools()
        self.pool_of = {pool.participant: pool for pool in pools if pool.participant is not None}
        scopes = [self._scope(pool.process, None, pool) for pool in pools]
        if not any(scope.nodes for scope in scopes):
            raise BpmnError(N_("The file's processes have no flow nodes: there are no steps to import."))
        lanes = self._lanes(pools)

        judged = {node.index: self._judge(node) for node in self.nodes}
        steps = []
        for scope in scopes:
            for node in self._order(scope):
                taken_as, _, facts = judged[node.index]
                if taken_as is not None:
                    steps.append(self._step(node, taken_as, facts))
        report = []
        for i, el in enumerate(self.elements):
            kind = _local(el)
            if kind in FLOW_NODE_TYPES:
                node = self.node_of[el]
                taken_as, reason, _ = judged[i]
                report.append(_report(node.id, kind, node.name, taken_as, reason))
            elif kind in REPORTED_TYPES:
                report.append(self._other(el))
        doc = self._doc(pools, steps, _unique([*lanes, *(s.lane for s in steps if s.lane)]))
        return Imported(doc=doc, report=report, counts=self._counts())

    def _step(self, node: _Node, kind: str, facts: dict[str, Any] | None) -> MapStep:
        texts = ["".join(d.itertext()).strip() for d in node.el.findall(_B + "documentation")]
        step = MapStep(
            key=node.id, name=node.name, kind=kind, lane=node.lane, documentation="\n\n".join(t for t in texts if t)
        )
        for key, value in (facts or {}).items():
            setattr(step, key, value)
        return step

    def _doc(self, pools: list[_Pool], steps: list[MapStep], lanes: list[str]) -> MapDoc:
        facts: dict[str, Any] = {}
        holders = [pool.process for pool in pools] + [self.root] + self.root.findall(_B + "collaboration")
        for holder in holders:
            data, _, _ = _procopt(holder, "map")
            if data is not None:
                facts = _map_facts(data)
                break
        first = pools[0]
        if len(pools) == 1:
            candidates = [first.participant, first.process, self.root]
        else:
            candidates = [*self.root.findall(_B + "collaboration"), self.root, first.participant, first.process]
        name = next((_name(el) for el in candidates if el is not None and _name(el)), "")
        lang = "zh-CN" if any(_CJK.search(s.name) for s in steps) or _CJK.search(name) else "en"
        return MapDoc(
            key=facts.get("key", f"bpmn:{first.process.get('id') or 'process'}"),
            name=name,
            steps=steps,
            lanes=lanes,
            lang=facts.get("lang", lang),
            sop_version=facts.get("sop_version"),
            extra=facts.get("extra", {}),
        )

    def _counts(self) -> dict[str, Any]:
        by_type = Counter(_local(el) for el in self.elements if _local(el) in COUNTED_TYPES)
        activities = [node for node in self.nodes if node.type in ACTIVITY_TYPES]
        return {
            "by_type": dict(sorted(by_type.items())),
            "tasks": len(activities),
            "gateways": sum(1 for node in self.nodes if node.type in GATEWAY_TYPES),
            "events": sum(1 for node in self.nodes if node.type in EVENT_TYPES),
            "sequence_flows": by_type["sequenceFlow"],
            "lanes": [_name(el) for el in self.elements if el.tag == _B + "lane"],
            "task_names": sorted(node.name for node in activities),
            "di_shapes": sum(1 for _ in self.root.iter(f"{{{BPMNDI_NS}}}BPMNShape")),
            "di_edges": sum(1 for _ in self.root.iter(f"{{{BPMNDI_NS}}}BPMNEdge")),
        }


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _successors(node: _Node) -> list[_Node]:
    return node.outgoing + node.boundary  # targets in document order, then the attached boundary events


def _flow_order(nodes: list[_Node]) -> list[_Node]:
    """Topological order of one scope's sequence flows (see the module's rules). A first depth-first walk,
    successors in document order, finds the back edges (to a node still on the walk's path) and the roots
    used: start events, then nodes nothing enters, then any rest. A second walk over the flows without the
    back edges, from the same roots, gives the order as reverse post-order: walking the successors and the
    roots backwards puts the first branch first, each branch whole, the join after all of them."""
    back: set[tuple[int, int]] = set()
    visited: set[int] = set()
    phases: list[list[_Node]] = []

    def forward(roots: Iterable[_Node]) -> None:
        used = []
        for root in roots:
            if root.index in visited:
                continue
            used.append(root)
            visited.add(root.index)
            path = {root.index}
            stack = [(root, iter(_successors(root)))]
            while stack:
                node, successors = stack[-1]
                for nxt in successors:
                    if nxt.index in path:
                        back.add((node.index, nxt.index))
                    elif nxt.index not in visited:
                        visited.add(nxt.index)
                        path.add(nxt.index)
                        stack.append((nxt, iter(_successors(nxt))))
                        break
                else:
                    stack.pop()
                    path.discard(node.index)
        phases.append(used)

    forward(n for n in nodes if n.type == "startEvent")
    entered = {m.index for n in nodes for m in _successors(n)}
    forward([n for n in nodes if n.index not in visited and n.index not in entered])
    forward(nodes)

    def ahead(node: _Node) -> Iterable[_Node]:
        return reversed([m for m in _successors(node) if (node.index, m.index) not in back])

    order: list[_Node] = []
    placed: set[int] = set()
    for roots in phases:
        post: list[_Node] = []
        for root in reversed(roots):
            if root.index in placed:
                continue
            placed.add(root.index)
            stack = [(root, iter(ahead(root)))]
            while stack:
                node, successors = stack[-1]
                for nxt in successors:
                    if nxt.index not in placed:
                        placed.add(nxt.index)
                        stack.append((nxt, iter(ahead(nxt))))
                        break
                else:
                    stack.pop()
                    post.append(node)
        order.extend(reversed(post))
    return order
