"""The rollout as people go through it, over the API: plan -> session -> a person fails at 70, is retrained,
passes at 90 -> acknowledges -> the department is ready -> the version is in force there; then V1.1 retrains on
the change only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.calendar import today
from tests.factories import Factory
from tests.initiatives.conftest import _fast_password_hashing  # noqa: F401
from tests.rollout.factories import RolloutWorld, answer_sheet, plan_for, rollout_world, ten_questions

API = "/api/v1"


@pytest.fixture
def world(session, factory) -> RolloutWorld:  # noqa: ANN001
    return rollout_world(session, factory)


def call(client, method, url, user, **kw):  # noqa: ANN001, ANN201
    return client.request(method, API + url, headers=Factory.bearer(user), **kw)


def ok(r, status=200):  # noqa: ANN001, ANN201
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def test_fail_retrain_pass_acknowledge_ready_in_force(client, session, world):  # noqa: ANN001
    team, (alice, bob) = world.team, world.people
    ten_questions(session, world)
    plan = plan_for(session, world)
    pid = plan.id
    tech = world.factory.departments()["technology"]
    bank = {q["id"]: q for q in ok(call(client, "GET", f"/sop-versions/{world.version.id}/questions", team.leader))}

    # Everyone of the department came into scope; the trainer (IT, of the department too) is taken out. Nobody is
    # ready; the version is not in force there yet.
    scope = {p["user"]["id"] for p in ok(call(client, "GET", f"/rollout-plans/{pid}/people", team.leader))}
    assert scope == {alice.id, bob.id, team.it.id}
    ok(call(client, "POST", f"/rollout-plans/{pid}/people", team.leader, json={"remove": [team.it.id]}), 204)
    readiness = ok(call(client, "GET", f"/rollout-plans/{pid}/readiness", alice))
    [dept] = readiness["departments"]
    assert (dept["code"], dept["people"], dept["ready"], dept["in_force_since"]) == ("technology", 2, False, None)
    applies = ok(call(client, "GET", f"/processes/{team.initiative.process_id}/sop/applicable?department=technology",
                      alice))
    assert applies["version_id"] is None  # its only version waits for the rollout there

    # A session; Alice fails at 70 and must be retrained before the retake.
    wave_id = ok(call(client, "GET", f"/rollout-plans/{pid}", alice))["waves"][0]["id"]
    first = ok(call(client, "POST", f"/rollout-plans/{pid}/sessions", team.leader, json={
        "wave_id": wave_id, "title": "V1.0 training", "held_on": (today() - timedelta(days=1)).isoformat(),
        "trainer_id": team.it.id, "materials": [{"title": "Slides", "url": "https://intranet.example/slides"}]}), 201)
    ok(call(client, "PUT", f"/training-sessions/{first['id']}/attendance", team.it, json={
        "attendance": [{"user_id": alice.id}, {"user_id": bob.id, "attended": False}]}))
    paper = ok(call(client, "POST", f"/rollout-plans/{pid}/attempts", alice), 201)
    assert len(paper["questions"]) == 10 and "correct" not in paper["questions"][0]
    again = ok(call(client, "POST", f"/rollout-plans/{pid}/attempts", alice), 200)  # the open one, continued
    assert again["id"] == paper["id"]
    done = ok(call(client, "POST", f"/test-attempts/{paper['id']}/submit", alice,
                   json={"answers": answer_sheet(paper, bank, 7)}))
    assert (done["score"], done["passed"]) == (70, False)
    assert sum(r["right"] for r in done["results"]) == 7
    mine = ok(call(client, "GET", f"/rollout-plans/{pid}/my-test", alice))
    assert (mine["retraining"], mine["may_start"], mine["attempts_left"]) == (True, False, 2)
    r = call(client, "POST", f"/rollout-plans/{pid}/attempts", alice)
    assert r.status_code == 409
    people = {p["user"]["id"]: p for p in ok(call(client, "GET", f"/rollout-plans/{pid}/people", team.leader))}
    assert people[alice.id]["retraining"] and people[alice.id]["best_score"] == 70

    # Another's attempt is not theirs to see.
    assert call(client, "GET", f"/test-attempts/{paper['id']}", bob).status_code == 404

    # Retrained today, she passes at 90 and acknowledges.
    second = ok(call(client, "POST", f"/rollout-plans/{pid}/sessions", team.leader, json={
        "wave_id": wave_id, "title": "Retraining", "held_on": today().isoformat()}), 201)
    ok(call(client, "PUT", f"/training-sessions/{second['id']}/attendance", team.leader, json={
        "attendance": [{"user_id": alice.id}, {"user_id": bob.id}]}))
    paper2 = ok(call(client, "POST", f"/rollout-plans/{pid}/attempts", alice), 201)
    assert paper2["number"] == 2
    done2 = ok(call(client, "POST", f"/test-attempts/{paper2['id']}/submit", alice,
                    json={"answers": answer_sheet(paper2, bank, 9)}))
    assert (done2["score"], done2["passed"]) == (90, True)
    assert call(client, "POST", f"/test-attempts/{paper2['id']}/submit", alice,
                json={"answers": []}).status_code == 409  # a retake is a new attempt, never an overwrite
    stale = call(client, "POST", f"/rollout-plans/{pid}/acknowledgement", alice, json={"content_hash": "0" * 64})
    assert stale.status_code == 422
    ok(call(client, "POST", f"/rollout-plans/{pid}/acknowledgement", alice,
            json={"content_hash": mine["content_hash"]}), 201)
    dept = ok(call(client, "GET", f"/rollout-plans/{pid}/readiness", alice))["departments"][0]
    assert (dept["passed"], dept["acknowledged"], dept["ready"]) == (1, 1, False)

    # Bob passes at 100 first time; the department is ready and the version in force there.
    paper3 = ok(call(client, "POST", f"/rollout-plans/{pid}/attempts", bob), 201)
    ok(call(client, "POST", f"/test-attempts/{paper3['id']}/submit", bob,
            json={"answers": answer_sheet(paper3, bank, 10)}))
    ok(call(client, "POST", f"/rollout-plans/{pid}/acknowledgement", bob,
            json={"content_hash": mine["content_hash"]}), 201)
    dept = ok(call(client, "GET", f"/rollout-plans/{pid}/readiness", alice))["departments"][0]
    assert dept["ready"] and dept["ready_at"] and dept["in_force_since"]
    assert dept["pass_rate"] == 1.0
    applies = ok(call(client, "GET", f"/processes/{team.initiative.process_id}/sop/applicable"
                                     f"?department=technology", alice))
    assert (applies["version_id"], applies["number"], applies["rolled_out"]) == (world.version.id, "V1.0", True)
    # A department outside the rollout follows the effective date.
    other = ok(call(client, "GET", f"/processes/{team.initiative.process_id}/sop/applicable?department=finance",
                    alice))
    assert (other["version_id"], other["rolled_out"]) == (world.version.id, False)
    # Leads see the scores, never the answers.
    attempts = ok(call(client, "GET", f"/rollout-plans/{pid}/attempts", team.leader))
    assert [(a["user"]["id"], a["score"]) for a in attempts] == [(alice.id, 70), (alice.id, 90), (bob.id, 100)]
    assert "answers" not in attempts[0] and "results" not in attempts[0]
    assert tech.id == dept["department_id"]


def test_a_new_version_retrains_on_the_change_only(client, session, world):  # noqa: ANN001
    """V1.1 changes one step: who passed V1.0 takes a test of the questions on that step only, R and A holders of
    the changed step first; a newcomer takes the whole test."""
    from app.rollout import service
    from app.sops import service as sops
    from app.sops.schemas import EditSection, NextRequest
    from tests.sops.factories import publish_now

    team, (alice, bob) = world.team, world.people
    ten_questions(session, world)
    plan = plan_for(session, world)
    service.update_people(session, plan.id, service.PeopleUpdate(remove=[team.it.id]), team.leader)
    bank = {q["id"]: q for q in ok(call(client, "GET", f"/sop-versions/{world.version.id}/questions", team.leader))}
    for person in (alice, bob):
        paper = ok(call(client, "POST", f"/rollout-plans/{plan.id}/attempts", person), 201)
        ok(call(client, "POST", f"/test-attempts/{paper['id']}/submit", person,
                json={"answers": answer_sheet(paper, bank, 10)}))

    v11 = sops.next_version(session, world.version.id, NextRequest(initiative_id=team.initiative.id), team.leader)
    steps = [dict(s) for s in v11.content["steps"]]
    steps[2]["instructions"] = "Activate in the new console"
    v11 = sops.update_section(session, v11.id, EditSection.steps, steps, team.leader, expected_version=v11.version)
    v11 = publish_now(session, world.factory, team.leader, v11, "Activation in the new console")
    changed_step = steps[2]["id"]
    ids = ten_questions(session, world, v11)
    newcomer = world.factory.user(department="technology")
    plan2 = plan_for(session, world, v11)
    assert plan2.previous_version_id == world.version.id
    service.update_people(session, plan2.id, service.PeopleUpdate(
        remove=[team.it.id], add=[{"user_id": bob.id, "sop_role": "IT"}]), team.leader)
    session.flush()
    bank2 = {q["id"]: q for q in ok(call(client, "GET", f"/sop-versions/{v11.id}/questions", team.leader))}
    on_change = {i for i in ids if bank2[i]["step_id"] == changed_step}
    assert len(on_change) == 2  # questions 2 and 6 are on step 3

    mine = ok(call(client, "GET", f"/rollout-plans/{plan2.id}/my-test", alice))
    assert (mine["delta"], mine["questions"]) == (True, 2)
    paper = ok(call(client, "POST", f"/rollout-plans/{plan2.id}/attempts", alice), 201)
    assert {q["question_id"] for q in paper["questions"]} == on_change and paper["delta"]
    assert ok(call(client, "GET", f"/rollout-plans/{plan2.id}/my-test", newcomer))["questions"] == 10

    people = ok(call(client, "GET", f"/rollout-plans/{plan2.id}/people", team.leader))
    assert people[0]["user"]["id"] == bob.id and people[0]["priority"]  # holds the changed step's role
    assert {p["user"]["id"]: p["delta"] for p in people} == {alice.id: True, bob.id: True, newcomer.id: False}
