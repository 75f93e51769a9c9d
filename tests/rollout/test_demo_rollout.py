"""The demo's rollout is the issue's: YH-LC01 V1.1 in two waves (operations in week 1; product and technology in
week 2), a 10-question test, people who passed, one who scored 70 and is marked for retraining; so V1.1 is in
force in operations and product, and technology still works to V1.0."""

from __future__ import annotations

from sqlmodel import select

from app import demo
from app.initiatives.models import Phase
from app.initiatives.service import gate, get_initiative
from app.rollout import service
from app.rollout.models import RolloutPlan, TestQuestion


def test_the_demo_rollout(session):
    demo.load(session)
    session.flush()
    plan = session.exec(select(RolloutPlan)).one()
    assert get_initiative(session, plan.initiative_id).current_phase == Phase.rollout
    assert [w.name.split(" ")[0] for w in service.waves(session, plan.id)] == ["第1周：运营部", "第2周：产品部、技术部"]
    questions = session.exec(select(TestQuestion).where(TestQuestion.sop_version_id == plan.sop_version_id)).all()
    assert len(questions) == 10 and all(q.reviewed_at is not None for q in questions)
    people = {p.user.display_name.split(" ")[0]: p for p in service.person_statuses(session, plan)}
    assert {k: (p.best_score, p.passed, p.retraining) for k, p in people.items()} == {
        "Wang": (100, True, False), "Zhang": (90, True, False), "经理": (80, True, False), "Chen": (70, False, True)}
    ready = {d.code: (d.ready, d.in_force_since is not None) for d in service.readiness(session, plan).departments}
    assert ready == {"operations": (True, True), "product": (True, True), "technology": (False, False)}
    assert service.applicable(session, "YH-LC01", "operations", None).number == "V1.1"
    assert service.applicable(session, "YH-LC01", "technology", None).number == "V1.0"
    criteria = {c.code: c.met for c in gate(session, plan.initiative_id).criteria}
    assert criteria == {"rollout_ready": False, "checklist_done": False}
