"""The demo RACI of YH-LC01: one A per step, no errors."""

from __future__ import annotations

from sqlmodel import select

from app import demo
from app.initiatives.models import Initiative
from app.raci.service import check, matrix


def test_demo_raci_has_one_a_per_step(session):
    if not demo.is_empty(session):  # pragma: no cover - the test database starts empty
        return
    demo.load(session)
    ini = session.exec(select(Initiative).order_by(Initiative.id)).first()  # the main one; the pilot's comes after
    m = matrix(session, ini.id)
    assert [r.name.split()[0] for r in m.roles] == ["运营专员", "运营经理", "技术工程师", "客服", "合规"]
    assert len(m.activities) == 4 and all(a.survey_step_id for a in m.activities)
    for a in m.activities:
        assert sum("A" in m.letters(a.id, r.id) for r in m.roles) == 1
    assert [v for v in check(m) if v.severity == "error"] == []
