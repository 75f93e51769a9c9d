"""The demo data follows the method's YH-LC01 example."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from app import demo
from app.initiatives.models import Initiative, Phase
from app.initiatives.service import gate
from app.issues.models import Issue
from app.issues.service import cause_tree, priority_matrix, why_reads
from app.survey.service import all_steps


def test_demo_initiative_for_yh_lc01(session):
    if not demo.is_empty(session):  # pragma: no cover - the test database starts empty
        return
    demo.load(session)
    ini = session.exec(select(Initiative).order_by(Initiative.id)).first()  # the pilot's comes after
    assert ini.current_phase == Phase.root_cause
    steps = all_steps(session, ini.id)
    assert [s.kind.value for s in steps] == ["input", "activity", "activity", "output"]
    assert steps[1].minutes == Decimal(30) and "Manual review" in steps[1].name
    m = priority_matrix(session, ini.id)
    assert [len(m.quadrants[q]) for q in ("do_first", "schedule", "quick_fix", "defer")] == [2, 1, 1, 1]
    # unscored: the one the survey left, and the anonymous feedback made a problem after the rollout
    assert sorted(session.get(Issue, e.id).source.value for e in m.unscored) == ["feedback", "observation"]
    slow = m.quadrants["do_first"][0]
    assert "30" in slow.title
    tree = cause_tree(session, slow.id)
    assert {c.category.value for c in tree} == {"man", "machine", "material", "method", "environment"}
    assert any(c.is_root and c.depth == 2 for c in tree)
    whys = why_reads(session, slow.id)
    assert len(whys) == 3 and whys[-1].is_root
    g = gate(session, ini.id)
    assert [c.code for c in g.criteria if not c.met] == ["problems_scored"]
