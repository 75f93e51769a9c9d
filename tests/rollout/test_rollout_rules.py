"""Every endpoint of the rollout: who may and who is refused, and the rules.

Everyone signed in reads the plan, its readiness counts, sessions, notices, checklist and the help channel; the
initiative's team (and administrators) plans, keeps the question bank and sees the results; a session's trainer
records attendance; the leader records exceptions; the people in scope take their own test and acknowledge; an
attempt is its person's only (another's is not found). A viewer, a member of another initiative's team and a lead
not on the team are refused (403) and write nothing; no credentials get 401. Bad input is a 422 naming the field,
with nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.initiatives.models import Phase
from app.rollout import service
from app.rollout.models import (
    Acknowledgement,
    ChecklistItem,
    HelpAnswer,
    HelpQuestion,
    LaunchNotice,
    RolloutDepartment,
    RolloutPerson,
    RolloutPlan,
    RolloutWave,
    TestAttempt,
    TestQuestion,
    TrainingAttendance,
    TrainingSession,
)
from app.rollout.schemas import ChecklistCreate, HelpCreate, PeopleUpdate, SessionCreate, WaveIn
from app.users.models import User
from tests.factories import Factory
from tests.helpers import assert_problem, fill
from tests.initiatives.conftest import _fast_password_hashing  # noqa: F401
from tests.rollout.factories import RolloutWorld, plan_for, rollout_world, ten_questions

API = "/api/v1"
READ, EDIT, MANAGE, TRAIN, SELF, ANSWER = "read", "edit", "manage", "train", "self", "answer"


@dataclass
class Stage:
    world: RolloutWorld
    plan: RolloutPlan
    person: User  # in scope, not on the team
    ids: dict[str, Any]


@pytest.fixture
def stage(session: Session, factory: Factory) -> Stage:
    world = rollout_world(session, factory)
    team = world.team
    questions = ten_questions(session, world)
    plan = plan_for(session, world)
    departments = factory.departments()
    wave2 = service.add_wave(session, plan.id, WaveIn(name="W2", starts_on=today(), ends_on=today(),
                                                      department_ids=[departments["finance"].id]), team.leader)
    wave1 = service.waves(session, plan.id)[0]
    held = service.create_session(session, plan.id, SessionCreate(
        wave_id=wave1.id, title="T", held_on=today() - timedelta(days=1), trainer_id=team.it.id), team.leader)
    spare = service.create_session(session, plan.id, SessionCreate(wave_id=wave1.id, title="S", held_on=today()),
                                   team.leader)
    item = service.create_item(session, plan.id, ChecklistCreate(text="Rights", owner_id=team.it.id), team.leader)
    question = service.ask(session, world.version.sop_id, HelpCreate(text="How?"), world.people[0])
    attempt, _ = service.start_attempt(session, plan.id, world.people[0])
    session.flush()
    ids = {"ini": team.initiative.id, "plan": plan.id, "wave": wave1.id, "wave2": wave2.id, "session": held.id,
           "spare": spare.id, "version": world.version.id, "q": questions[0], "item": item.id, "sop":
           world.version.sop_id, "help": question.id, "attempt": attempt.id, "process": team.initiative.process_id,
           "finance": departments["finance"].id, "legal": departments["legal"].id, "person": world.people[1].id, "today": today().isoformat()}
    return Stage(world, plan, world.people[0], ids)


QUESTION = {"kind": "true_false", "text": "Step 1 is Fill in", "correct": [0], "step_id": "{step}"}
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/initiatives/{ini}/rollout-plans", None, READ),
    ("GET", "/rollout-plans/{plan}", None, READ),
    ("PATCH", "/rollout-plans/{plan}", {"note": "n"}, EDIT),
    ("POST", "/rollout-plans/{plan}/waves",
     {"name": "W3", "starts_on": "{today}", "ends_on": "{today}", "department_ids": ["{legal}"]}, EDIT),
    ("PATCH", "/rollout-waves/{wave}", {"name": "Week 1"}, EDIT),
    ("DELETE", "/rollout-waves/{wave2}", None, EDIT),
    ("GET", "/rollout-plans/{plan}/people", None, EDIT),
    ("POST", "/rollout-plans/{plan}/people", {"remove": ["{person}"]}, EDIT),
    ("GET", "/rollout-plans/{plan}/readiness", None, READ),
    ("POST", "/rollout-plans/{plan}/departments/{finance}/exception", {"reason": "nobody there yet"}, MANAGE),
    ("GET", "/processes/{process}/sop/applicable?department=technology", None, READ),
    ("POST", "/rollout-plans/{plan}/sessions", {"wave_id": "{wave}", "title": "T2", "held_on": "{today}"}, EDIT),
    ("GET", "/rollout-plans/{plan}/sessions", None, READ),
    ("PATCH", "/training-sessions/{session}", {"title": "T1"}, EDIT),
    ("DELETE", "/training-sessions/{spare}", None, EDIT),
    ("PUT", "/training-sessions/{session}/attendance", {"attendance": [{"user_id": "{person}"}]}, TRAIN),
    ("GET", "/sop-versions/{version}/questions", None, EDIT),
    ("POST", "/sop-versions/{version}/questions", QUESTION, EDIT),
    ("POST", "/sop-versions/{version}/questions/draft?lang=en", None, EDIT),
    ("PUT", "/test-questions/{q}", QUESTION, EDIT),
    ("POST", "/test-questions/{q}/review", None, EDIT),
    ("DELETE", "/test-questions/{q}", None, EDIT),
    ("GET", "/rollout-plans/{plan}/my-test", None, READ),
    ("POST", "/rollout-plans/{plan}/attempts", None, SELF),
    ("GET", "/rollout-plans/{plan}/attempts", None, EDIT),
    ("POST", "/rollout-plans/{plan}/acknowledgement", {"content_hash": "{hash}"}, SELF),
    ("POST", "/rollout-plans/{plan}/notices", {"wave_id": "{wave}", "effective_at": "2026-12-07T01:00:00Z",
                                              "text": "Live"}, EDIT),
    ("GET", "/rollout-plans/{plan}/notices", None, READ),
    ("POST", "/rollout-plans/{plan}/checklist", {"text": "Manual"}, EDIT),
    ("GET", "/rollout-plans/{plan}/checklist", None, READ),
    ("PATCH", "/checklist-items/{item}", {"text": "Rights for the new step"}, EDIT),
    ("DELETE", "/checklist-items/{item}", None, EDIT),
    ("GET", "/rollout-plans/{plan}/training-record?format=csv", None, EDIT),
    ("GET", "/rollout-plans/{plan}/training-record?format=xlsx&lang=en", None, EDIT),
    ("GET", "/sops/{sop}/help", None, READ),
    ("POST", "/sops/{sop}/help", {"text": "Why?"}, READ),
    ("POST", "/help-questions/{help}/answers", {"text": "Because."}, ANSWER),
]
IDS = [f"{m} {u}" for m, u, _, _ in ENDPOINTS]
ETAG = {"/rollout-plans/{plan}": ("rollout-plan", "plan"), "/rollout-waves/{wave}": ("rollout-wave", "wave"),
        "/training-sessions/{session}": ("training-session", "session"), "/test-questions/{q}": ("test-question", "q"),
        "/checklist-items/{item}": ("checklist-item", "item")}
TABLES = [RolloutPlan, RolloutWave, RolloutDepartment, RolloutPerson, TrainingSession, TrainingAttendance,
          TestQuestion, TestAttempt, Acknowledgement, LaunchNotice, ChecklistItem, HelpQuestion, HelpAnswer,
          AuditRecord]


def fingerprint(session: Session) -> dict[str, Any]:
    session.expire_all()
    out: dict[str, Any] = {t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}
    for t in (RolloutPlan, RolloutWave, TrainingSession, TestQuestion, ChecklistItem):
        out[f"{t.__tablename__}.versions"] = sorted(session.exec(select(t.id, t.version)).all())
    out["attendance"] = sorted(session.exec(select(TrainingAttendance.user_id, TrainingAttendance.attended)).all())
    out["ready"] = sorted(session.exec(select(RolloutDepartment.department_id, RolloutDepartment.ready_at)).all())
    return out


def _call(client, st: Stage, method: str, url: str, body: Any, headers: dict[str, str]):  # noqa: ANN001, ANN202
    from app.sops import service as sops

    ids = {**st.ids, "step": st.world.steps()[0]["id"], "hash": sops.content_hash(st.world.version.content)}
    headers = dict(headers)
    if url in ETAG and method in ("PATCH", "PUT"):
        entity, key = ETAG[url]
        headers["If-Match"] = f'"{entity}-{ids[key]}-v1"'
    return client.request(method, API + fill(url, ids), json=fill(body, ids) if body is not None else None,
                          headers=headers)


def refused_of(st: Stage, who: str) -> list[User]:
    t = st.world.team
    outside = [t.viewer, t.outsider, t.other_lead]
    return {READ: [], EDIT: [*outside, st.person], MANAGE: [*outside, st.person, t.member, t.it],
            TRAIN: [*outside, st.person], SELF: outside, ANSWER: [*outside, st.person]}[who]


def allowed_of(st: Stage, who: str) -> list[User]:
    t = st.world.team
    return {EDIT: [t.member], MANAGE: [t.leader], TRAIN: [t.it], SELF: [st.world.people[1]],
            ANSWER: [t.admin]}[who]


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_unauthenticated_is_401(client, stage, method, url, body, who):  # noqa: ANN001
    assert_problem(_call(client, stage, method, url, body, {}), 401)


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_refused_callers_write_nothing(client, factory, session, stage, method, url, body, who):  # noqa: ANN001
    before = fingerprint(session)
    for user in refused_of(stage, who):
        problem = assert_problem(_call(client, stage, method, url, body, factory.bearer(user)), 403)
        assert problem["type"] == "/problems/forbidden", (user.email, problem)
    assert fingerprint(session) == before
    if method != "GET":
        token = {"Authorization": f"Bearer {factory.service_token(['read'])}"}
        before = fingerprint(session)
        assert_problem(_call(client, stage, method, url, body, token), 403)
        assert fingerprint(session) == before


ALLOWED = [e for e in ENDPOINTS if e[3] != READ]


@pytest.mark.parametrize(("method", "url", "body", "who"), ALLOWED, ids=[f"{m} {u}" for m, u, _, _ in ALLOWED])
def test_allowed_callers_succeed(client, factory, session, stage, method, url, body, who):  # noqa: ANN001
    for user in allowed_of(stage, who):
        before = fingerprint(session)
        r = _call(client, stage, method, url, body, factory.bearer(user))
        assert r.status_code in (200, 201, 204), r.text
        if method != "GET":
            assert fingerprint(session) != before


@pytest.mark.parametrize(("method", "url", "body", "who"), [e for e in ENDPOINTS if e[3] == READ],
                         ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if e[3] == READ])
def test_everyone_signed_in_reads(client, factory, stage, method, url, body, who):  # noqa: ANN001
    t = stage.world.team
    for user in (t.viewer, t.outsider, t.other_lead, stage.person, t.member, t.admin):
        r = _call(client, stage, method, url, body, factory.bearer(user))
        assert r.status_code in (200, 201), (user.email, r.text)


def test_an_attempt_is_its_persons_only(client, factory, session, stage):  # noqa: ANN001
    """Another person, the leader and an administrator get a 404 for someone's attempt, and cannot submit it."""
    t = stage.world.team
    before = fingerprint(session)
    for user in (stage.world.people[1], t.leader, t.admin, t.viewer):
        assert_problem(client.get(f"{API}/test-attempts/{stage.ids['attempt']}", headers=factory.bearer(user)), 404)
        assert_problem(client.post(f"{API}/test-attempts/{stage.ids['attempt']}/submit", json={"answers": []},
                                   headers=factory.bearer(user)), 404)
    assert fingerprint(session) == before
    mine = client.get(f"{API}/test-attempts/{stage.ids['attempt']}", headers=factory.bearer(stage.person))
    assert mine.status_code == 200 and mine.json()["results"] is None


# ---------------------------------------------------------------- bad input: a 422 naming the field, nothing written

BAD = [
    ("POST", "/initiatives/{ini}/rollout-plans", {"sop_version_id": "{version}", "pass_mark": 101}, "pass_mark"),
    ("POST", "/rollout-plans/{plan}/waves", {"name": "W", "starts_on": "{today}", "ends_on": "2000-01-01",
                                             "department_ids": ["{legal}"]}, ""),
    ("POST", "/rollout-plans/{plan}/waves", {"name": "W", "starts_on": "{today}", "ends_on": "{today}",
                                             "department_ids": ["{finance}"]}, "department_ids.0"),
    ("POST", "/rollout-plans/{plan}/people", {"add": [{"user_id": "{person}", "department_id": 999}]},
     "add.0.department_id"),
    ("POST", "/rollout-plans/{plan}/sessions", {"wave_id": 99999, "title": "T", "held_on": "{today}"}, "wave_id"),
    ("POST", "/rollout-plans/{plan}/sessions", {"wave_id": "{wave}", "title": "T", "held_on": "{today}",
                                                "materials": [{"title": "x", "url": "javascript:alert(1)"}]},
     "materials.0.url"),
    ("POST", "/sop-versions/{version}/questions", {"kind": "single", "text": "Q", "options": ["a", "b"],
                                                   "correct": [2], "step_id": "{step}"}, ""),
    ("POST", "/sop-versions/{version}/questions", {"kind": "single", "text": "Q", "options": ["a", "b"],
                                                   "correct": [0], "step_id": "00000000-0000-0000-0000-000000000000"},
     "step_id"),
    ("POST", "/rollout-plans/{plan}/acknowledgement", {"content_hash": "a" * 64}, "content_hash"),
    ("POST", "/test-attempts/{attempt}/submit", {"answers": [{"question_id": 99999, "chosen": [0]}]},
     "answers.0.question_id"),
    ("POST", "/rollout-plans/{plan}/checklist", {"text": ""}, "text"),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), BAD, ids=[f"{m} {u} {f}" for m, u, _, f in BAD])
def test_bad_input_is_a_422_and_writes_nothing(client, factory, session, stage, method, url, body, field):  # noqa: ANN001
    t = stage.world.team
    user = stage.person if "acknowledgement" in url or "test-attempts" in url else t.leader
    before = fingerprint(session)
    problem = assert_problem(_call(client, stage, method, url, body, factory.bearer(user)), 422)
    if field:
        fields = [e.get("field", "") for e in problem.get("errors") or []]
        assert any(f == field or f.endswith(field) for f in fields), (field, problem)
    assert fingerprint(session) == before


# ---------------------------------------------------------------- rules

def test_a_plan_is_made_in_the_rollout_phase_once_per_version(client, factory, session, stage):  # noqa: ANN001
    t = stage.world.team
    body = {"sop_version_id": stage.world.version.id}
    r = client.post(f"{API}/initiatives/{t.initiative.id}/rollout-plans", json=body, headers=factory.bearer(t.leader))
    assert_problem(r, 409)
    t.initiative.current_phase = Phase.pilot
    session.add(t.initiative)
    session.flush()
    assert_problem(client.post(f"{API}/initiatives/{t.initiative.id}/rollout-plans", json=body,
                               headers=factory.bearer(t.leader)), 422)


def test_attempts_run_out_and_a_pass_ends_them(client, factory, session, stage):  # noqa: ANN001
    """Three attempts by default, each failed one followed by a retraining; after the third, none is left."""
    from tests.rollout.factories import answer_sheet

    person, t = stage.person, stage.world.team
    bank = {q.id: {"options": q.options, "correct": q.correct}
            for q in service.list_questions(session, stage.world.version.id, t.leader)}
    for n in range(3):
        paper = client.post(f"{API}/rollout-plans/{stage.plan.id}/attempts", headers=factory.bearer(person)).json()
        r = client.post(f"{API}/test-attempts/{paper['id']}/submit", headers=factory.bearer(person),
                        json={"answers": answer_sheet(paper, bank, 5)})
        assert r.json()["score"] == 50
        ts = service.create_session(session, stage.plan.id, SessionCreate(wave_id=stage.ids["wave"], title=f"R{n}",
                                                                          held_on=today()), t.leader)
        service.record_attendance(session, ts.id, service.AttendanceUpdate(attendance=[{"user_id": person.id}]),
                                  t.leader)
        session.flush()
    mine = client.get(f"{API}/rollout-plans/{stage.plan.id}/my-test", headers=factory.bearer(person)).json()
    assert (mine["attempts_left"], mine["may_start"], mine["retraining"]) == (0, False, False)
    assert_problem(client.post(f"{API}/rollout-plans/{stage.plan.id}/attempts", headers=factory.bearer(person)), 409)
    # The leader lets the department go live anyway, with a reason; it is live from then on.
    r = client.post(f"{API}/rollout-plans/{stage.plan.id}/departments/{stage.ids['finance']}/exception",
                    json={"reason": "Finance joins next quarter"}, headers=factory.bearer(t.leader))
    finance = next(d for d in r.json()["departments"] if d["department_id"] == stage.ids["finance"])
    assert finance["ready"] and finance["exception_reason"] == "Finance joins next quarter"


def test_the_gate_needs_every_department_ready_and_the_checklist_done(session, stage):  # noqa: ANN001
    from app.initiatives.service import gate

    t = stage.world.team
    criteria = {c.code: c for c in gate(session, t.initiative.id).criteria}
    assert not criteria["rollout_ready"].met and not criteria["checklist_done"].met
    assert criteria["checklist_done"].params == {"open": 1}
    item = session.exec(select(ChecklistItem)).one()
    service.update_item(session, item.id, service.ChecklistUpdate(done=True), t.it, expected_version=None)
    for d in service.departments_of(session, stage.plan.id):
        service.record_exception(session, stage.plan.id, d.department_id, service.ExceptionRequest(reason="go"),
                                 t.leader)
    session.flush()
    criteria = {c.code: c.met for c in gate(session, t.initiative.id).criteria}
    assert criteria["rollout_ready"] and criteria["checklist_done"]


def test_scope_changes_after_a_department_is_live_do_not_take_it_back(session, stage):  # noqa: ANN001
    t = stage.world.team
    d = service.record_exception(session, stage.plan.id, stage.ids["finance"], service.ExceptionRequest(reason="x"),
                                 t.leader)
    live = d.ready_at
    newcomer = stage.world.factory.user(department="finance")
    service.update_people(session, stage.plan.id, PeopleUpdate(add=[{"user_id": newcomer.id}]), t.leader)
    session.flush()
    row = session.get(RolloutDepartment, (stage.plan.id, stage.ids["finance"]))
    assert row.ready_at == live
