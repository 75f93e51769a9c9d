"""Pure layout of a process flow map (directly-follows graph) and of a cycle-time histogram.

The map is drawn top to bottom: back edges are found by a depth-first search from the start, the
rest is layered by longest path, and nodes within a layer are ordered by the barycentre of their
neighbours, so that loops and rework show as edges going back up on the right.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

START, END = "\u25b6", "\u25a0"  # virtual start and end nodes
NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 180, 46, 40, 70, 30


@dataclass
class Node:
    name: str
    count: int
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    virtual: bool = False


@dataclass
class Edge:
    source: str
    target: str
    count: int
    median_s: float | None
    back: bool = False
    path: str = ""
    width: float = 1.0
    heat: int = 0  # 0..4, by median time
    label_x: float = 0.0
    label_y: float = 0.0


@dataclass
class FlowMap:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    hidden_edges: int = 0


def _keep_edges(edges: list[Edge], detail: int) -> list[Edge]:
    """The most frequent `detail` % of edges, plus each node's strongest incoming and outgoing edge."""
    ranked = sorted(edges, key=lambda e: (-e.count, e.source, e.target))
    keep = {id(e) for e in ranked[: max(1, math.ceil(len(ranked) * detail / 100))]} if ranked else set()
    best_out: dict[str, Edge] = {}
    best_in: dict[str, Edge] = {}
    for e in ranked:
        best_out.setdefault(e.source, e)
        best_in.setdefault(e.target, e)
    keep |= {id(e) for e in best_out.values()} | {id(e) for e in best_in.values()}
    return [e for e in ranked if id(e) in keep]


def _mark_back_edges(names: list[str], edges: list[Edge]) -> None:
    out: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        out[e.source].append(e)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in [START, *names, END]:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            edge = next(it, None)
            if edge is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(edge.target) == 1:
                edge.back = True
            elif edge.target not in state:
                state[edge.target] = 1
                stack.append((edge.target, iter(out[edge.target])))


def _layers(nodes: dict[str, Node], edges: list[Edge]) -> None:
    forward = [e for e in edges if not e.back and e.source != e.target]
    indegree = dict.fromkeys(nodes, 0)
    for e in forward:
        indegree[e.target] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for e in forward:
            if e.source == n:
                indegree[e.target] -= 1
                if indegree[e.target] == 0:
                    ready.append(e.target)
    for n in order:
        for e in forward:
            if e.source == n:
                nodes[e.target].layer = max(nodes[e.target].layer, nodes[n].layer + 1)
    last = max((n.layer for n in nodes.values()), default=0)
    if END in nodes:
        nodes[END].layer = max(last, 1)


def _order_layers(nodes: dict[str, Node], edges: list[Edge]) -> list[list[str]]:
    layers: dict[int, list[str]] = defaultdict(list)
    for n in sorted(nodes.values(), key=lambda n: -n.count):
        layers[n.layer].append(n.name)
    rows = [layers[i] for i in range(max(layers) + 1)] if layers else []
    neighbours: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        if not e.back:
            neighbours[e.target].append(e.source)
            neighbours[e.source].append(e.target)
    for _ in range(4):  # barycentre sweeps
        for i, row in enumerate(rows):
            pos = {name: j for r in rows[max(0, i - 1) : i + 2] for j, name in enumerate(r)}

            def centre(name: str, pos: dict[str, int] = pos) -> float:
                near = [pos[m] for m in neighbours[name] if m in pos and nodes[m].layer != nodes[name].layer]
                return sum(near) / len(near) if near else float(rows[nodes[name].layer].index(name))

            rows[i] = sorted(row, key=centre)
    return rows


def layout(result: dict[str, Any], *, detail: int = 100) -> FlowMap:
    """Position the nodes and route the edges of an analysis result (see `analysis.analyze`)."""
    stats = {a["activity"]: a["occurrences"] for a in result.get("activity_stats", [])}
    nodes = {name: Node(name, count) for name, count in stats.items()}
    if not nodes:
        return FlowMap()
    nodes[START] = Node(START, result["cases"], virtual=True)
    nodes[END] = Node(END, result["cases"], virtual=True)
    edges = [Edge(d["from"], d["to"], d["count"], d["median_s"]) for d in result["directly_follows"]]
    edges += [Edge(START, a, n, None) for a, n in result["start_activities"].items()]
    edges += [Edge(a, END, n, None) for a, n in result["end_activities"].items()]
    all_edges = len(edges)
    edges = _keep_edges(edges, detail)
    _mark_back_edges(sorted(stats, key=lambda a: -stats[a]), edges)
    _layers(nodes, edges)
    rows = _order_layers(nodes, edges)
    widest = max(len(r) for r in rows)
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X + 120  # room for back edges on the right
    for i, row in enumerate(rows):
        offset = (widest - len(row)) * (NODE_W + GAP_X) / 2
        for j, name in enumerate(row):
            nodes[name].x = MARGIN + offset + j * (NODE_W + GAP_X)
            nodes[name].y = MARGIN + i * (NODE_H + GAP_Y)
    top = max(e.count for e in edges)
    times = [e.median_s for e in edges if e.median_s is not None]
    slowest = max(times) if times else 0
    for e in edges:
        e.width = round(1 + 7 * e.count / top, 2)
        e.heat = min(4, int(5 * (e.median_s or 0) / slowest)) if slowest else 0
        _route(e, nodes[e.source], nodes[e.target], width)
    height = MARGIN * 2 + len(rows) * (NODE_H + GAP_Y)
    return FlowMap(
        nodes=list(nodes.values()),
        edges=edges,
        width=width,
        height=height,
        hidden_edges=all_edges - len(edges),
    )


def _route(e: Edge, a: Node, b: Node, width: float) -> None:
    if e.source == e.target:  # self-loop on the right side
        x, y = a.x + NODE_W, a.y + NODE_H / 2
        e.path = (
            f"M{x:.0f},{y - 8:.0f} C{x + 40:.0f},{y - 30:.0f} {x + 40:.0f},{y + 30:.0f} {x:.0f},{y + 8:.0f}"
        )
        e.label_x, e.label_y = x + 34, y
        return
    if e.back or b.layer <= a.layer:  # back edge: leave right, come round, enter right
        x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
        x2, y2 = b.x + NODE_W, b.y + NODE_H / 2
        bend = min(width - 10, max(x1, x2) + 30 + 12 * abs(a.layer - b.layer))
        e.path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        e.label_x, e.label_y = bend - 6, (y1 + y2) / 2
        return
    x1, y1 = a.x + NODE_W / 2, a.y + NODE_H
    x2, y2 = b.x + NODE_W / 2, b.y
    mid = (y1 + y2) / 2
    e.path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
    e.label_x, e.label_y = (x1 + x2) / 2, mid


def duration_histogram(frame: pl.DataFrame, bins: int = 20) -> list[dict[str, float | int]]:
    """Case durations (last minus first event, seconds) in `bins` equal bins up to the 99th percentile;
    the last bin also holds the longer cases."""
    durations = (
        frame.group_by("case_id")
        .agg(d=(pl.col("timestamp").max() - pl.col("timestamp").min()).dt.total_microseconds() / 1e6)
        .get_column("d")
    )
    if durations.is_empty():
        return []
    top = float(durations.quantile(0.99, "linear") or 0.0)
    if top <= 0:
        return [{"from_s": 0.0, "to_s": 0.0, "cases": durations.len()}]
    step = top / bins
    index = (durations / step).floor().clip(0, bins - 1).cast(pl.Int32)
    counts = index.value_counts().sort(index.name)
    by_bin = dict(counts.iter_rows())
    return [{"from_s": i * step, "to_s": (i + 1) * step, "cases": int(by_bin.get(i, 0))} for i in range(bins)]
