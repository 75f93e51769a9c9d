"""The fishbone (Ishikawa) diagram as geometry for an SVG: five bones, 人 機 料 法 環.

The problem is the head on the right; man, machine and material branch above the spine, method
and environment below. Causes sit along their bone as labelled twigs, sub-causes after their
parent (marked by depth); root causes are flagged for the template to highlight.
"""

from __future__ import annotations

from pydantic import BaseModel

from app.issues.models import CauseCategory
from app.issues.schemas import CauseRead
from app.survey.asis_map import text_units, wrap

WIDTH = 1100
HEAD_W = 220
LINE = 20
SLANT = 0.45
TEXT_UNITS = 38
UNIT_PX = 6.5  # a cause label's width per text unit at 12px (a CJK character is two units)
ROOT_MARK_PX = 14  # "★ "
TOP_BONES = (CauseCategory.man, CauseCategory.machine, CauseCategory.material)
BOTTOM_BONES = (CauseCategory.method, CauseCategory.environment)
JOINTS = {CauseCategory.man: 300, CauseCategory.machine: 560, CauseCategory.material: 820,
          CauseCategory.method: 430, CauseCategory.environment: 690}


class Twig(BaseModel):
    cause_id: int
    text: str
    line: str
    depth: int
    is_root: bool
    x1: float
    x2: float
    y: float


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
    head_lines: list[str]
    bones: list[Bone]


def layout(title: str, causes: list[CauseRead], labels: dict[CauseCategory, str]) -> Fishbone:
    by_bone: dict[CauseCategory, list[CauseRead]] = {c: [] for c in CauseCategory}
    for cause in causes:  # already in tree order
        by_bone[cause.category].append(cause)
    top_len = max(110, 50 + LINE * max(len(by_bone[c]) for c in TOP_BONES))
    bottom_len = max(110, 50 + LINE * max(len(by_bone[c]) for c in BOTTOM_BONES))
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
        for k, cause in enumerate(by_bone[category]):
            # Distance from the spine; read top to bottom in tree order on both sides.
            t = length - 34 - k * LINE if up else 30 + k * LINE
            y = spine_y - t if up else spine_y + t
            bx = x1 - SLANT * t
            line = (wrap(cause.text, TEXT_UNITS - 2 * cause.depth, 1) or [""])[0]
            twigs.append(Twig(cause_id=cause.id, text=cause.text, line=line, depth=cause.depth,
                              is_root=cause.is_root, x1=round(bx - 10 - 14 * cause.depth, 1), x2=round(bx, 1),
                              y=round(y, 1)))
        bones.append(Bone(category=category, label=labels[category], x1=x1, y1=spine_y, x2=round(x2, 1), y2=y2,
                          label_y=y2 - 14 if up else y2 + 24, twigs=twigs))
    left = min([0.0] + [_label_start(t) - 8 for b in bones for t in b.twigs])
    return Fishbone(left=round(left, 1), width=WIDTH, height=height, spine_y=spine_y, head_x=WIDTH - HEAD_W - 10,
                    head_lines=wrap(title, 26, 3), bones=bones)


def _label_start(twig: Twig) -> float:
    """Where a twig's label begins (it ends at the twig, `text-anchor="end"`), estimated from its units."""
    return twig.x1 - 3 - UNIT_PX * text_units(twig.line) - (ROOT_MARK_PX if twig.is_root else 0)
