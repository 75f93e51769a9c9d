"""The fishbone's geometry: labels far up a long bone stay inside the drawing."""

from __future__ import annotations

from app.issues.fishbone import layout
from app.issues.models import CauseCategory
from app.issues.schemas import CauseRead

LABELS = {c: c.value for c in CauseCategory}


def _causes(category: CauseCategory, texts: list[str], depth: int = 0) -> list[CauseRead]:
    return [CauseRead(id=i + 1, issue_id=1, parent_id=None, category=category, text=t, is_root=i == 0,
                      depth=depth, position=i, version=1) for i, t in enumerate(texts)]


def test_short_labels_need_no_room_left_of_the_drawing():
    fb = layout("Slow review", _causes(CauseCategory.man, ["No training", "Old PC"]), LABELS)
    assert fb.left == 0


def test_long_labels_far_up_a_long_bone_widen_the_view_to_the_left():
    texts = ["审核员未受 KYC 系统培训 Reviewers not trained on the KYC system at all"] * 12
    fb = layout("Slow review", _causes(CauseCategory.man, texts), LABELS)
    top = min(fb.bones[0].twigs, key=lambda t: t.x2)  # the twig farthest up the bone, nearest the left edge
    assert top.x1 < 300 - 0.45 * 150  # it does sit far left ...
    assert fb.left < 0  # ... so the view starts left of 0
    # every label (ending at its twig, 12px, ~6.5px per unit, CJK two units) begins inside the view
    from app.survey.asis_map import text_units
    assert all(t.x1 - 3 - 6.5 * text_units(t.line) - 14 >= fb.left for b in fb.bones for t in b.twigs)
    # and the view is no wider than needed
    assert fb.left > min(t.x1 - 3 - 6.5 * text_units(t.line) - 14 for b in fb.bones for t in b.twigs) - 20
