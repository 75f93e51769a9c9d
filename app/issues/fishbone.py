"""The fishbone (Ishikawa) diagram as geometry for an SVG: five bones, 人 機 料 法 環.

The problem is the head on the right; man, machine and material branch above the spine, method
and environment below. Causes sit along their bone as labelled twigs, sub-causes after their
parent (marked by depth); root causes are flagged for the template to highlight.

A label is wrapped into up to `MAX_LINES` lines (CJK per character, other text at spaces), centred
on its twig; the twigs on a bone are spaced by their labels' heights and the bones grow to hold
them, so labels on one bone never overlap. A line is at most as wide as fits between two bones on
the same side, so a label never reaches the bone to its left either.
"""

from __future__ import annotations

from pydantic import BaseModel

from app.issues.models import CauseCategory
from app.issues.schemas import CauseRead
from app.survey.asis_map import text_units, wrap

WIDTH = 1100
HEAD_W = 220
HEAD_UNITS = 26  # a line of the head (14px bold)
HEAD_LINE_PX = 18
HEAD_MAX_LINES = 8
LINE_PX = 15  # a label line at 12px
GAP_PX = 5  # between the labels of two twigs
MAX_LINES = 3
SLANT = 0.45
TIP_PX = 34  # from a bone's tip (its name) to the middle of the nearest label
SPINE_PX = 36  # from the spine to the middle of the nearest label
TWIG_PX = 10
DEPTH_PX = 14  # a sub-cause's twig is longer by this per level
UNIT_PX = 6.5  # a cause label's width per text unit at 12px (a CJK character is two units)
ROOT_MARK_PX = 14  # "★ "
TOP_BONES = (CauseCategory.man, CauseCategory.machine, CauseCategory.material)
BOTTOM_BONES = (CauseCategory.method, CauseCategory.environment)
JOINTS = {CauseCategory.man: 300, CauseCategory.machine: 560, CauseCategory.material: 820,
          CauseCategory.method: 430, CauseCategory.environment: 690}
# The room between two neighbouring bones on one side: a label ends at its twig and must begin right
# of the bone on its left, also at its top or bottom line, where that bone is nearer.
BONE_GAP = min(min(abs(JOINTS[a] - JOINTS[b]) for a in side for b in side if a != b)
               for side in (TOP_BONES, BOTTOM_BONES))
_HALF_BLOCK = LINE_PX * (MAX_LINES - 1) / 2 + 9  # from the middle line to a glyph's far edge
_CLEARANCE = 8


class Twig(BaseModel):
    cause_id: int
    text: str
    lines: list[str]  # the label, wrapped; the last ends with "…" only when even MAX_LINES cannot hold it
    depth: int
    is_root: bool
    x1: float
    x2: float
    y: float
    text_y: float  # the first line's baseline (the lines are centred on the twig)
    label_w: float  # the estimated width of the widest line, with the root mark


class Bone(BaseModel):
    category: CauseCategory
    label: str
    x1: float  # on the spine
    y1: float
    x2: float  # the tip, where the label is
    y2: float
    label_y: float
    twigs: list[Twig]


class Fishbone(BaseModel):
    left: float  # the view box starts here: labels far up a long bone reach left of 0
    width: int
    height: int
    spine_y: float
    head_x: float
    head_y: float
    head_h: float
    head_lines: list[str]
    line_px: int = LINE_PX  # from one label line to the next
    bones: list[Bone]


def line_units(depth: int) -> int:
    """The widest label line (in text units) for a cause at `depth` that still fits between two bones."""
    twig = TWIG_PX + DEPTH_PX * depth + SLANT * LINE_PX * (MAX_LINES - 1) / 2
    room = BONE_GAP - 3 - twig - ROOT_MARK_PX - SLANT * _HALF_BLOCK - _CLEARANCE
    return max(8, int(room // UNIT_PX))


def bone_length(line_counts: list[int]) -> float:
    """The length a bone needs for labels of these line counts (in order), at least 110."""
    if not line_counts:
        return 110
    spacing = sum(_spacing(a, b) for a, b in zip(line_counts, line_counts[1:], strict=False))
    ends = LINE_PX * (line_counts[0] - 1) / 2 + LINE_PX * (line_counts[-1] - 1) / 2
    return max(110, TIP_PX + SPINE_PX + spacing + ends)


def _spacing(above: int, below: int) -> float:
    """From the middle of one label to the middle of the next one along the bone."""
    return LINE_PX * (above + below) / 2 + GAP_PX


def layout(title: str, causes: list[CauseRead], labels: dict[CauseCategory, str]) -> Fishbone:
    by_bone: dict[CauseCategory, list[CauseRead]] = {c: [] for c in CauseCategory}
    for cause in causes:  # already in tree order
        by_bone[cause.category].append(cause)
    wrapped = {c.id: wrap(c.text, line_units(c.depth), MAX_LINES) or [""] for c in causes}
    counts = {cat: [len(wrapped[c.id]) for c in by_bone[cat]] for cat in CauseCategory}
    head_lines = wrap(title, HEAD_UNITS, HEAD_MAX_LINES)
    head_h = max(80, HEAD_LINE_PX * len(head_lines) + 26)
    top_len = max([bone_length(counts[c]) for c in TOP_BONES] + [head_h / 2 + 20])
    bottom_len = max([bone_length(counts[c]) for c in BOTTOM_BONES] + [head_h / 2 + 20])
    spine_y = 50 + top_len
    height = int(spine_y + bottom_len + 50)
    bones = []
    for category in CauseCategory:
        up = category in TOP_BONES
        length = top_len if up else bottom_len
        x1 = JOINTS[category]
        x2 = x1 - SLANT * length
        y2 = spine_y - length if up else spine_y + length
        twigs = []
        # Distance from the spine of each label's middle; read top to bottom in tree order on both sides.
        n = counts[category]
        if up:
            t = length - TIP_PX - LINE_PX * (n[0] - 1) / 2 if n else 0
        else:
            t = SPINE_PX + LINE_PX * (n[0] - 1) / 2 if n else 0
        for k, cause in enumerate(by_bone[category]):
            if k:
                t += -_spacing(n[k - 1], n[k]) if up else _spacing(n[k - 1], n[k])
            lines = wrapped[cause.id]
            y = spine_y - t if up else spine_y + t
            bx = x1 - SLANT * t
            twig_len = TWIG_PX + DEPTH_PX * cause.depth + SLANT * LINE_PX * (len(lines) - 1) / 2
            widths = [UNIT_PX * text_units(line) + (ROOT_MARK_PX if cause.is_root and i == 0 else 0)
                      for i, line in enumerate(lines)]
            twigs.append(Twig(cause_id=cause.id, text=cause.text, lines=lines, depth=cause.depth,
                              is_root=cause.is_root, x1=round(bx - twig_len, 1), x2=round(bx, 1), y=round(y, 1),
                              text_y=round(y + 4 - LINE_PX * (len(lines) - 1) / 2, 1),
                              label_w=round(max(widths), 1)))
        bones.append(Bone(category=category, label=labels[category], x1=x1, y1=spine_y, x2=round(x2, 1), y2=y2,
                          label_y=y2 - 14 if up else y2 + 24, twigs=twigs))
    left = min([0.0] + [label_start(t) - 8 for b in bones for t in b.twigs])
    return Fishbone(left=round(left, 1), width=WIDTH, height=height, spine_y=spine_y, head_x=WIDTH - HEAD_W - 10,
                    head_y=spine_y - head_h / 2, head_h=head_h, head_lines=head_lines, bones=bones)


def label_start(twig: Twig) -> float:
    """Where a twig's label begins (it ends at the twig, `text-anchor="end"`), estimated from its units."""
    return twig.x1 - 3 - twig.label_w
