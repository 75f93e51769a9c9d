"""The fishbone's geometry: labels wrap instead of being cut, never overlap, and stay inside the drawing."""

from __future__ import annotations

import itertools

from app.issues.fishbone import (
    BOTTOM_BONES,
    JOINTS,
    LINE_PX,
    MAX_LINES,
    SLANT,
    TOP_BONES,
    Fishbone,
    Twig,
    label_start,
    layout,
    line_units,
)
from app.issues.models import CauseCategory
from app.issues.schemas import CauseRead
from app.survey.asis_map import text_units

LABELS = {c: c.value for c in CauseCategory}
LONG_MIXED = "审核员未受 KYC 系统培训 Reviewers were never trained on the KYC system"
LONG_CJK = "用户资料不完整导致审核员需要多次电话联系客户补充身份证明材料和地址信息"


def _causes(category: CauseCategory, texts: list[str], depth: int = 0, first_id: int = 1) -> list[CauseRead]:
    return [CauseRead(id=first_id + i, issue_id=1, parent_id=None, category=category, text=t, is_root=i == 0,
                      depth=depth, position=i, version=1) for i, t in enumerate(texts)]


def _every(category_texts: dict[CauseCategory, list[str]]) -> list[CauseRead]:
    causes: list[CauseRead] = []
    for category, texts in category_texts.items():
        causes += _causes(category, texts, first_id=len(causes) + 1)
    return causes


def _extent(t: Twig) -> tuple[float, float]:
    """The label's top and bottom (glyphs of 12px: ~9px above a baseline, ~3px below)."""
    return t.text_y - 9, t.text_y + LINE_PX * (len(t.lines) - 1) + 3


def _bone(fb: Fishbone, category: CauseCategory):  # noqa: ANN202
    return next(b for b in fb.bones if b.category == category)


def test_short_labels_need_no_room_left_of_the_drawing():
    fb = layout("Slow review", _causes(CauseCategory.man, ["No training", "Old PC"]), LABELS)
    assert fb.left == 0
    assert [t.lines for t in fb.bones[0].twigs] == [["No training"], ["Old PC"]]


def test_long_labels_wrap_into_lines_instead_of_being_cut():
    fb = layout("Slow review", _causes(CauseCategory.man, [LONG_MIXED, LONG_CJK]), LABELS)
    mixed, cjk = fb.bones[0].twigs
    assert 1 < len(mixed.lines) <= MAX_LINES and 1 < len(cjk.lines) <= MAX_LINES
    assert not any(line.endswith("…") for t in (mixed, cjk) for line in t.lines)
    # English breaks at spaces (words whole), Chinese between any two characters
    assert " ".join(mixed.lines) == LONG_MIXED
    assert "".join(cjk.lines) == LONG_CJK
    assert all(text_units(line) <= line_units(0) for t in (mixed, cjk) for line in t.lines)
    assert sum(text_units(line) for line in cjk.lines[:-1]) / (len(cjk.lines) - 1) > line_units(0) - 2  # full lines


def test_only_a_label_longer_than_three_lines_is_cut_and_its_full_text_is_kept():
    text = "word " * 60
    twig = layout("Slow review", _causes(CauseCategory.method, [text]), LABELS).bones[3].twigs[0]
    assert len(twig.lines) == MAX_LINES and twig.lines[-1].endswith("…")
    assert twig.text == text


def test_wrapped_labels_on_one_bone_never_overlap_and_the_bone_grows_for_them():
    short = layout("Slow review", _causes(CauseCategory.machine, ["KYC slow"] * 6), LABELS)
    long = layout("Slow review", _causes(CauseCategory.machine, [LONG_MIXED] * 6), LABELS)
    assert long.height > short.height and long.spine_y > short.spine_y
    for fb in (short, long):
        for b in fb.bones:
            for above, below in itertools.pairwise(sorted(b.twigs, key=lambda t: t.y)):
                assert _extent(above)[1] < _extent(below)[0]


def test_labels_keep_clear_of_the_spine_the_bone_names_and_the_head():
    texts = [LONG_MIXED, "short", LONG_CJK, "x " * 40]
    fb = layout("Slow review", _every(dict.fromkeys(CauseCategory, texts)), LABELS)
    for b in fb.bones:
        for t in b.twigs:
            top, bottom = _extent(t)
            if b.category in TOP_BONES:
                assert bottom < fb.spine_y - 20 and top > b.label_y + 7
            else:
                assert top > fb.spine_y + 20 and bottom < b.label_y - 17
            assert t.x2 < fb.head_x


def test_a_label_never_reaches_the_bone_on_its_left():
    texts = [LONG_MIXED, LONG_CJK, "审核" * 40, "Reviewers " * 9]
    fb = layout("Slow review", _every(dict.fromkeys(CauseCategory, texts)), LABELS)
    for side in (TOP_BONES, BOTTOM_BONES):
        for left, right in itertools.pairwise(sorted(side, key=JOINTS.get)):
            for t in _bone(fb, right).twigs:
                top, bottom = _extent(t)
                nearest = fb.spine_y - bottom if left in TOP_BONES else top - fb.spine_y  # where `left` is farthest right
                assert label_start(t) > JOINTS[left] - SLANT * nearest + 4


def test_sub_causes_get_narrower_lines_for_their_longer_twigs():
    assert line_units(0) > line_units(1) > line_units(2)
    top, sub = (layout("Slow review", _causes(CauseCategory.man, [LONG_MIXED], depth=d), LABELS).bones[0].twigs[0]
                for d in (0, 2))
    assert all(text_units(line) <= line_units(2) for line in sub.lines)
    assert sub.x2 - sub.x1 > top.x2 - top.x1


def test_long_labels_far_up_a_long_bone_widen_the_view_to_the_left():
    texts = [LONG_MIXED] * 12
    fb = layout("Slow review", _causes(CauseCategory.man, texts), LABELS)
    top = min(fb.bones[0].twigs, key=lambda t: t.x2)  # the twig farthest up the bone, nearest the left edge
    assert top.x1 < 300 - 0.45 * 150  # it does sit far left ...
    assert fb.left < 0  # ... so the view starts left of 0
    # every line of every label (ending at its twig, ~6.5px per unit, CJK two units, "★ " 14px) begins inside the view
    starts = [t.x1 - 3 - 6.5 * text_units(line) - (14 if t.is_root and i == 0 else 0)
              for b in fb.bones for t in b.twigs for i, line in enumerate(t.lines)]
    assert all(s >= fb.left for s in starts)
    assert fb.left > min(starts) - 20  # and the view is no wider than needed


def test_a_long_title_grows_the_head_instead_of_being_cut():
    title = "人工审核耗时30分钟 Manual review takes 30 minutes because every application is checked by hand"
    fb = layout(title, [], LABELS)
    assert len(fb.head_lines) > 3 and not fb.head_lines[-1].endswith("…")
    assert fb.head_h >= 18 * len(fb.head_lines) + 20
    assert fb.head_y >= 10 and fb.head_y + fb.head_h <= fb.height - 10
