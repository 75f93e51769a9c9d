"""A wave's departments change as a whole (`PATCH /rollout-waves/{id}` with `department_ids`): a department added
comes into the scope with its people, one from another wave moves with its people and their progress, one taken
out leaves the scope; a live department stays, a wave keeps one department, and a refusal writes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, func, select

from app.core.audit import AuditRecord
from app.rollout import service
from app.rollout.models import RolloutDepartment, RolloutPerson
from app.rollout.schemas import ExceptionRequest, WaveIn
from tests.factories import Factory
from tests.rollout.factories import plan_for, rollout_world

API = "/api/v1"


@pytest.fixture
def plan(session: Session, factory: Factory):  # noqa: ANN201
    world = rollout_world(session, factory)
    plan = plan_for(session, world)  # wave 1: technology (two people)
    d = factory.departments()
    factory.user(department="finance")
    service.add_wave(session, plan.id, WaveIn(name="W2", starts_on=date(2026, 12, 14), ends_on=date(2026, 12, 18),
                                              department_ids=[d["operations"].id]), world.team.leader)
    session.commit()
    return world, plan, d


def _patch(client, world, wave, body):  # noqa: ANN001, ANN202
    return client.patch(f"{API}/rollout-waves/{wave.id}", json=body, headers={
        **Factory.bearer(world.team.leader), "If-Match": f'"rollout-wave-{wave.id}-v{wave.version}"'})


def _where(session: Session, plan) -> dict[int, int]:  # noqa: ANN001
    session.expire_all()
    return {r.department_id: r.wave_id for r in service.departments_of(session, plan.id)}


def _people(session: Session, plan, department_id: int) -> int:  # noqa: ANN001
    return session.exec(select(func.count()).select_from(RolloutPerson).where(
        RolloutPerson.plan_id == plan.id, RolloutPerson.department_id == department_id)).one()


def test_add_move_and_take_out_departments_with_their_people_audited(client, session, plan) -> None:  # noqa: ANN001
    world, plan, d = plan
    w1, w2 = service.waves(session, plan.id)
    tech, ops, fin = d["technology"].id, d["operations"].id, d["finance"].id
    tech_people = _people(session, plan, tech)
    assert tech_people >= 2 and _people(session, plan, fin) == 0
    # Finance added to wave 1: its active people come into the scope.
    r = _patch(client, world, w1, {"department_ids": [tech, fin]})
    assert r.status_code == 200, r.text
    assert _where(session, plan) == {tech: w1.id, ops: w2.id, fin: w1.id} and _people(session, plan, fin) >= 1
    # Technology moves to wave 2 with its people; finance taken out leaves the scope.
    w1, w2 = service.waves(session, plan.id)
    seen = w1.version
    r = _patch(client, world, w2, {"department_ids": [ops, tech]})
    assert r.status_code == 200, r.text
    session.expire_all()
    w1, w2 = service.waves(session, plan.id)
    assert w1.version == seen + 1  # the wave technology left changed too: its form as it was cannot take it back
    r = client.patch(f"{API}/rollout-waves/{w1.id}", json={"department_ids": [tech, fin]}, headers={
        **Factory.bearer(world.team.leader), "If-Match": f'"rollout-wave-{w1.id}-v{seen}"'})
    assert r.status_code == 412, r.text
    r = _patch(client, world, w1, {"department_ids": [fin], "name": "W1: finance"})
    assert r.status_code == 200, r.text
    assert _where(session, plan) == {tech: w2.id, ops: w2.id, fin: w1.id}
    assert _people(session, plan, tech) == tech_people
    audit = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "rollout_wave",
                                                   AuditRecord.entity_id == w2.id, AuditRecord.action == "update")
                         ).one()
    assert (audit.before["departments"], audit.after["departments"]) == (sorted([ops]), sorted([ops, tech]))
    plans = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "rollout_plan",
                                                   AuditRecord.entity_id == plan.id, AuditRecord.action == "update"))
    assert len(list(plans)) >= 3  # the plan's scope: once per change of departments (and once for wave 2's add)


@pytest.mark.parametrize("case", ["live", "last", "unknown", "empty"])
def test_refusals_are_422_at_the_field_and_write_nothing(client, session, plan, case) -> None:  # noqa: ANN001
    world, plan, d = plan
    w1, w2 = service.waves(session, plan.id)
    tech, ops = d["technology"].id, d["operations"].id
    if case == "live":
        service.record_exception(session, plan.id, tech, ExceptionRequest(reason="already working this way"),
                                 world.team.leader)
        session.commit()
        body, target, kind = {"department_ids": [ops, tech]}, w2, "live_department"  # moving a live one away
    elif case == "last":
        body, target, kind = {"department_ids": [ops, tech]}, w2, "last_department"  # wave 1 would be empty
    elif case == "unknown":
        body, target, kind = {"department_ids": [tech, 999_999]}, w1, "unknown_department"
    else:
        body, target, kind = {"department_ids": []}, w1, "too_short"
    before = (_where(session, plan), _people(session, plan, tech), target.version,
              session.exec(select(func.count()).select_from(AuditRecord)).one())
    r = _patch(client, world, target, body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["field"].startswith("department_ids") and errors[0]["type"] == kind, errors
    session.expire_all()
    assert (_where(session, plan), _people(session, plan, tech), session.get(type(target), target.id).version,
            session.exec(select(func.count()).select_from(AuditRecord)).one()) == before


def test_moving_every_department_of_a_wave_at_once_is_refused(client, session, plan) -> None:  # noqa: ANN001
    world, plan, d = plan
    w1, w2 = service.waves(session, plan.id)
    tech, ops, fin = d["technology"].id, d["operations"].id, d["finance"].id
    assert _patch(client, world, w1, {"department_ids": [tech, fin]}).status_code == 200
    session.expire_all()
    w1, w2 = service.waves(session, plan.id)
    before = _where(session, plan)
    r = _patch(client, world, w2, {"department_ids": [ops, tech, fin]})  # wave 1 would be left with none
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "last_department", r.text
    assert _where(session, plan) == before


def test_a_live_department_cannot_be_taken_out(client, session, plan) -> None:  # noqa: ANN001
    world, plan, d = plan
    w1, _ = service.waves(session, plan.id)
    tech, fin = d["technology"].id, d["finance"].id
    service.record_exception(session, plan.id, tech, ExceptionRequest(reason="go"), world.team.leader)
    session.commit()
    r = _patch(client, world, w1, {"department_ids": [fin]})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "live_department", r.text
    assert session.get(RolloutDepartment, (plan.id, tech)) is not None
