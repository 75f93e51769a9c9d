"""The as-is map: survey steps laid out as a swimlane flow (a lane per department, one column per step).

Pure geometry: the page draws it as SVG, the API returns it as JSON. Shapes follow the method's
input - activity - decision - output: inputs and outputs are rounded terminals, activities boxes,
decisions diamonds. Text is wrapped here (CJK characters count double) so the SVG needs no script.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel

from app.survey.models import ProblemCategory, StepKind
from app.survey.schemas import MinutesOut, StepRead

LABEL_W = 150  # the lane label column
COL_W = 190  # one step per column
NODE_W = 160
NODE_H = 96
LANE_H = 136
TOP = 8
NAME_UNITS = 22  # ~ characters of 12px text across a node (a CJK character counts 2)
SYSTEM_UNITS = 26


class Lane(BaseModel):
    key: str  # department code, or "" for steps without one
    label: str
    y: int
    height: int


class Node(BaseModel):
    step_id: int
    position: int
    kind: StepKind
    lane: str
    x: int
    y: int
    width: int
    height: int
    cx: int
    cy: int
    name: str
    name_lines: list[str]
    minutes: MinutesOut
    waiting_minutes: MinutesOut
    systems: list[str]
    systems_line: str
    problem_flags: list[ProblemCategory]
    points: str  # polygon points for a decision diamond ("" otherwise)


class Edge(BaseModel):
    source: int
    target: int
    path: str  # an SVG path, orthogonal between lanes


class AsIsMap(BaseModel):
    width: int
    height: int
    lanes: list[Lane]
    nodes: list[Node]
    edges: list[Edge]


def _units(ch: str) -> float:
    return 2.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.0


def text_units(text: str) -> float:
    """The width of `text` in units (a CJK character is two, anything else one)."""
    return sum(_units(ch) for ch in text)


def wrap(text: str, units: float, max_lines: int) -> list[str]:
    """Break text into lines of at most `units` (words kept whole where they fit); ellipsis when cut."""
    lines: list[str] = []
    line, width = "", 0.0
    tokens: list[str] = []
    word = ""
    for ch in text:  # latin words stay together, CJK characters stand alone
        if ch.isspace():
            if word:
                tokens.append(word)
            tokens.append(" ")
            word = ""
        elif _units(ch) == 2.0:
            if word:
                tokens.append(word)
            tokens.append(ch)
            word = ""
        else:
            word += ch
    if word:
        tokens.append(word)
    for tok in tokens:
        w = text_units(tok)
        if tok == " ":
            if line:
                line, width = line + " ", width + 1
            continue
        if width + w > units and line.strip():
            lines.append(line.rstrip())
            line, width = "", 0.0
        while w > units:  # a word longer than a line
            cut, cw = "", 0.0
            for c in tok:
                if cw + _units(c) > units:
                    break
                cut, cw = cut + c, cw + _units(c)
            lines.append(cut)
            tok, w = tok[len(cut):], w - cw
        line, width = line + tok, width + w
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and sum(_units(c) for c in last) + 1 > units:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def layout(steps: list[StepRead], department_labels: dict[str, str], unassigned_label: str) -> AsIsMap:
    lane_keys: list[str] = []
    for s in steps:
        key = s.department or ""
        if key not in lane_keys:
            lane_keys.append(key)
    if "" in lane_keys:  # steps without a department go last
        lane_keys.remove("")
        lane_keys.append("")
    lanes = [Lane(key=k, label=department_labels.get(k, k) if k else unassigned_label, y=TOP + i * LANE_H,
                  height=LANE_H) for i, k in enumerate(lane_keys)]
    lane_y = {lane.key: lane.y for lane in lanes}
    nodes: list[Node] = []
    for col, s in enumerate(steps):
        x = LABEL_W + col * COL_W + (COL_W - NODE_W) // 2
        y = lane_y[s.department or ""] + (LANE_H - NODE_H) // 2
        cx, cy = x + NODE_W // 2, y + NODE_H // 2
        decision = s.kind == StepKind.decision
        points = f"{cx},{y} {x + NODE_W},{cy} {cx},{y + NODE_H} {x},{cy}" if decision else ""
        nodes.append(Node(
            step_id=s.id, position=s.position, kind=s.kind, lane=s.department or "", x=x, y=y, width=NODE_W,
            height=NODE_H, cx=cx, cy=cy, name=s.name,
            name_lines=wrap(s.name, NAME_UNITS * (0.62 if decision else 1), 2),
            minutes=s.minutes, waiting_minutes=s.waiting_minutes, systems=s.systems,
            systems_line=(wrap(" · ".join(s.systems), SYSTEM_UNITS * (0.6 if decision else 1), 1) or [""])[0],
            problem_flags=s.problem_flags, points=points))
    edges = []
    for a, b in zip(nodes, nodes[1:], strict=False):
        x1, y1, x2, y2 = a.x + a.width, a.cy, b.x, b.cy
        if y1 == y2:
            path = f"M{x1},{y1} H{x2 - 2}"
        else:
            mid = (x1 + x2) // 2
            path = f"M{x1},{y1} H{mid} V{y2} H{x2 - 2}"
        edges.append(Edge(source=a.step_id, target=b.step_id, path=path))
    width = LABEL_W + max(len(steps), 1) * COL_W + 10
    height = TOP * 2 + max(len(lanes), 1) * LANE_H
    return AsIsMap(width=width, height=height, lanes=lanes, nodes=nodes, edges=edges)
