"""Every endpoint of the pilots: who may and who is refused, bad input, and the rules.

Everyone signed in reads; the initiative's team (and administrators) plans and runs the pilot, writes the
retrospectives and the unmet problems; the team and the pilot's own people write the daily log; the pilot's people
answer the survey, once; the leader (or an administrator) decides. A viewer, a member of another initiative's
team and a lead not on the team are refused (403) and write nothing; no credentials get 401. Bad input is a 422
naming the field, with nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.initiatives.models import Initiative, Phase
from app.issues.models import Issue
from app.pilots import service
from app.pilots.models import (
    Pilot,
    PilotAction,
    PilotAnswer,
    PilotKpi,
    PilotLogEntry,
    PilotMember,
    PilotRespondent,
    PilotRetro,
    PilotUnmet,
)
from app.pilots.schemas import ActionIn, LogEntryCreate, PilotCreate, PilotUpdate, RetroCreate, UnmetCreate
from app.sops import service as sops
from app.sops.models import SopVersion
from app.sops.schemas import EditSection, NextRequest, SopCreate, SubmitRequest, VoteRequest
from app.users.models import Role, User
from tests.factories import Factory
from tests.helpers import assert_problem, fill
from tests.initiatives.conftest import _fast_password_hashing  # noqa: F401  (many accounts: cheap hashing)
from tests.initiatives.factories import InitiativeFactory, Team
from tests.metrics.helpers import make_kpi
from tests.pilots.factories import PilotWorld, pilot_world
from tests.sops.factories import publish_now, standalone_draft

API = "/api/v1"
READ, EDIT, MANAGE, LOG, ANSWER = "read", "edit", "manage", "log", "answer"


# ---------------------------------------------------------------- the world and its helpers

@dataclass
class Stage:
    """A pilot that ran (started two weeks ago, ended today) and is not decided: one of its people is not on
    the initiative's team; a log entry with a problem, a week-1 retrospective with an open action, an unmet
    problem."""

    world: PilotWorld
    person: User  # one of the pilot's people, not on the initiative's team
    pilot: Pilot
    entry: PilotLogEntry
    action: PilotAction
    unmet: PilotUnmet

    @property
    def team(self) -> Team:
        return self.world.team

    def ids(self) -> dict[str, Any]:
        w = self.world
        return {"ini": w.team.initiative.id, "pilot": self.pilot.id, "entry": self.entry.id,
                "action": self.action.id, "unmet": self.unmet.id, "version": w.version.id, "kpi": w.time.id,
                "today": today().isoformat(), "start": w.start.isoformat()}


def _stage(session: Session, factory: Factory, world: PilotWorld) -> Stage:
    team = world.team
    person = factory.user(Role.member)
    pilot = service.create_pilot(session, team.initiative.id, PilotCreate(
        sop_version_id=world.version.id, scope="运营A组", scope_labels={"team": "A"}, planned_start=world.start,
        kpis=[{"kpi_id": world.time.id, "expected": 8}, {"kpi_id": world.errors.id}],
        members=[{"user_id": person.id, "briefed_on": world.start}, {"user_id": team.member.id}]), team.leader)
    pilot = service.update_pilot(session, pilot.id, PilotUpdate(actual_start=world.start, actual_end=today()),
                                 team.leader, expected_version=pilot.version)
    entry = service.add_log_entry(session, pilot.id, LogEntryCreate(day=world.start, progress="40 activations",
                                                                    problems="SMS codes arrive late"), person)
    retro = service.add_retro(session, pilot.id, RetroCreate(
        week=1, held_on=world.start + timedelta(days=6), went_badly="SMS",
        actions=[ActionIn(text="Ask the SMS vendor", owner_id=team.it.id)]), team.leader)
    action = session.exec(select(PilotAction).where(PilotAction.retro_id == retro.id)).one()
    unmet = service.add_unmet(session, pilot.id, UnmetCreate(problem="Some users get no SMS code",
                                                             change="The SMS channel needs work"), team.leader)
    session.flush()
    return Stage(world, person, pilot, entry, action, unmet)


@pytest.fixture
def world(session, factory) -> PilotWorld:  # noqa: ANN001
    return pilot_world(session, factory)


@pytest.fixture
def stage(session, factory, world) -> Stage:  # noqa: ANN001
    return _stage(session, factory, world)


def send(client, method: str, url: str, user: User | None = None, etag: str | None = None,  # noqa: ANN001, ANN201
         headers: dict[str, str] | None = None, **kw: Any):
    h = dict(headers or {})
    if user is not None:
        h.update(Factory.bearer(user))
    if etag:
        h["If-Match"] = etag
    return client.request(method, f"{API}{url}", headers=h, **kw)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def assert_422(response: Any, field: str) -> dict[str, Any]:
    """A 422 problem whose `errors[]` name `field` (or, for a mapping's key, a field inside it)."""
    body = assert_problem(response, 422)
    fields = [e["field"] for e in body.get("errors") or []]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), (field, fields, body)
    return body


def etag_of(client, user: User, pilot_id: int) -> str:  # noqa: ANN001
    r = send(client, "GET", f"/pilots/{pilot_id}", user)
    assert r.status_code == 200, r.text
    return r.headers["etag"]


TABLES = [Pilot, PilotKpi, PilotMember, PilotLogEntry, PilotRetro, PilotAction, PilotAnswer, PilotRespondent,
          PilotUnmet, Issue, SopVersion, AuditRecord]
VERSIONED = [Pilot, PilotLogEntry, PilotRetro, PilotAction, PilotUnmet, Initiative]


def fingerprint(session: Session) -> dict[str, Any]:
    """What is stored: each table's rows counted, each versioned record's version, the initiatives' phases,
    the pilots' people and KPIs."""
    session.expire_all()
    out: dict[str, Any] = {t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES}
    for t in VERSIONED:
        out[f"{t.__tablename__}.versions"] = sorted(session.exec(select(t.id, t.version)).all())
    out["phases"] = sorted(session.exec(select(Initiative.id, Initiative.current_phase)).all())
    out["members"] = sorted(session.exec(select(PilotMember.pilot_id, PilotMember.user_id,
                                                PilotMember.briefed_on)).all())
    out["kpis"] = sorted(session.exec(select(PilotKpi.pilot_id, PilotKpi.kpi_id, PilotKpi.target)).all())
    out["actions"] = sorted(session.exec(select(PilotAction.id, PilotAction.closed_week)).all())
    return out


def create_body(world: PilotWorld, **extra: Any) -> dict[str, Any]:
    return {"sop_version_id": world.version.id, "scope": "运营A组", "scope_labels": {"team": "A"},
            "planned_start": world.start.isoformat(), "kpis": [{"kpi_id": world.time.id}], **extra}


def decide(session: Session, st: Stage, decision: str = "adapt") -> None:
    from app.pilots.schemas import DecisionRequest

    service.decide(session, st.pilot.id, DecisionRequest(decision=decision, reason="the reason"), st.team.leader,
                   expected_version=None)
    session.flush()


# ---------------------------------------------------------------- every endpoint: who

# (method, url, body, who); {name} is filled from Stage.ids().
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("POST", "/initiatives/{ini}/pilots",
     {"sop_version_id": "{version}", "scope": "B", "planned_start": "{today}", "kpis": [{"kpi_id": "{kpi}"}]}, EDIT),
    ("GET", "/initiatives/{ini}/pilots", None, READ),
    ("GET", "/pilots/{pilot}", None, READ),
    ("PATCH", "/pilots/{pilot}", {"scope": "运营B组"}, EDIT),
    ("POST", "/pilots/{pilot}/log", {"day": "{today}", "progress": "30 more"}, LOG),
    ("GET", "/pilots/{pilot}/log", None, READ),
    ("POST", "/pilots/{pilot}/log/{entry}/promote", {}, EDIT),
    ("POST", "/pilots/{pilot}/retrospectives", {"week": 2, "held_on": "{today}", "close_action_ids": ["{action}"]},
     EDIT),
    ("GET", "/pilots/{pilot}/retrospectives", None, READ),
    ("GET", "/pilots/{pilot}/actions", None, READ),
    ("PATCH", "/pilot-actions/{action}", {"closed_week": 1}, EDIT),
    ("POST", "/pilots/{pilot}/survey/answers", {"easier": 4, "risk_controlled": 5, "comment": "ok"}, ANSWER),
    ("GET", "/pilots/{pilot}/survey", None, READ),
    ("POST", "/pilots/{pilot}/unmet", {"problem": "Slow at peak", "cause": "One reviewer"}, EDIT),
    ("GET", "/pilots/{pilot}/unmet", None, READ),
    ("DELETE", "/pilot-unmet/{unmet}", None, EDIT),
    ("GET", "/pilots/{pilot}/evaluation", None, READ),
    ("POST", "/pilots/{pilot}/decision", {"decision": "adapt", "reason": "SMS first"}, MANAGE),
    ("GET", "/pilots/{pilot}/table3", None, READ),
    ("GET", "/pilots/{pilot}/table3/export?format=csv", None, READ),
    ("GET", "/pilots/{pilot}/table3/export?format=xlsx&lang=en", None, READ),
]
IDS = [f"{m} {u}" for m, u, _, _ in ENDPOINTS]
ETAG = {"/pilots/{pilot}": ("pilot", "pilot"), "/pilot-actions/{action}": ("pilot-action", "action")}


def _call(client, st: Stage, method: str, url: str, body: Any, headers: dict[str, str]):  # noqa: ANN001, ANN202
    ids = st.ids()
    headers = dict(headers)
    if method == "PATCH":
        entity, key = ETAG[url]
        headers["If-Match"] = f'"{entity}-{ids[key]}-v1"' if entity == "pilot-action" else \
            f'"{entity}-{ids[key]}-v{st.pilot.version}"'
    return client.request(method, API + fill(url, ids), json=fill(body, ids) if body is not None else None,
                          headers=headers)


def refused_of(st: Stage, who: str) -> list[User]:
    t = st.team
    outside = [t.viewer, t.outsider, t.other_lead]
    return {READ: [], EDIT: [*outside, st.person], LOG: outside, MANAGE: [*outside, st.person, t.member, t.it],
            ANSWER: [*outside, t.leader, t.admin, t.it]}[who]


ALLOWED = {EDIT: ("it", "admin"), LOG: ("person", "it", "admin"), MANAGE: ("leader", "admin"),
           ANSWER: ("person", "member")}
ALLOWED_CASES = [(m, u, b, w, who) for m, u, b, w in ENDPOINTS if w != READ for who in ALLOWED[w]]


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_unauthenticated_is_401(client, stage, method, url, body, who):  # noqa: ANN001
    r = _call(client, stage, method, url, body, {})
    assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_refused_callers_write_nothing(client, factory, session, stage, method, url, body, who):  # noqa: ANN001
    """A viewer, another initiative's member, a lead not on the team; for the team's writes also the pilot's
    person who is not on the team, for the decision also the team's members; for the survey everyone not in
    the pilot, the leader and administrators too. A read-only service token cannot write at all."""
    before = fingerprint(session)
    for user in refused_of(stage, who):
        body_ = assert_problem(_call(client, stage, method, url, body, factory.bearer(user)), 403)
        assert body_["type"] == "/problems/forbidden", (user.role, body_)
    assert fingerprint(session) == before
    if method != "GET":
        token = {"Authorization": f"Bearer {factory.service_token(['read'])}"}
        before = fingerprint(session)  # the token itself is written
        assert_problem(_call(client, stage, method, url, body, token), 403)
        assert fingerprint(session) == before


@pytest.mark.parametrize(("method", "url", "body", "who", "user"), ALLOWED_CASES,
                         ids=[f"{m} {u} {who}" for m, u, _, _, who in ALLOWED_CASES])
def test_allowed_callers_succeed(client, factory, session, stage, method, url, body, who, user):  # noqa: ANN001
    if url == "/initiatives/{ini}/pilots":
        decide(session, stage)  # one undecided pilot at a time
    actor = stage.person if user == "person" else getattr(stage.team, user)
    before = fingerprint(session)
    r = _call(client, stage, method, url, body, factory.bearer(actor))
    assert r.status_code in (200, 201, 204), r.text
    assert fingerprint(session) != before


@pytest.mark.parametrize(("method", "url", "body", "who"), [e for e in ENDPOINTS if e[3] == READ],
                         ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if e[3] == READ])
def test_everyone_signed_in_reads(client, factory, stage, method, url, body, who):  # noqa: ANN001
    t = stage.team
    for user in (t.viewer, t.outsider, t.other_lead, stage.person, t.member, t.leader, t.admin):
        r = _call(client, stage, method, url, body, factory.bearer(user))
        assert r.status_code == 200, (user.role, r.text)
    r = _call(client, stage, method, url, body, {"Authorization": f"Bearer {factory.service_token(['read'])}"})
    assert r.status_code == 200, r.text


def test_a_viewer_among_the_pilots_people_logs_and_answers_only(client, session, world):  # noqa: ANN001
    """Front-line people may hold the viewer role: in the pilot they write the log and answer the survey, and
    change nothing else."""
    team = world.team
    pid = ok(send(client, "POST", f"/initiatives/{team.initiative.id}/pilots", team.leader, json=create_body(
        world, members=[{"user_id": team.viewer.id}])), 201)["id"]
    entry = ok(send(client, "POST", f"/pilots/{pid}/log", team.viewer, json={
        "day": today().isoformat(), "problems": "SMS late"}), 201)
    assert entry["author"]["id"] == team.viewer.id
    assert send(client, "POST", f"/pilots/{pid}/survey/answers", team.viewer,
                json={"easier": 4, "risk_controlled": 4}).status_code == 204
    before = fingerprint(session)
    etag = etag_of(client, team.viewer, pid)
    for method, url, tag, body in (("PATCH", f"/pilots/{pid}", etag, {"scope": "B"}),
                                   ("POST", f"/pilots/{pid}/log/{entry['id']}/promote", None, {}),
                                   ("POST", f"/pilots/{pid}/unmet", None, {"problem": "x"}),
                                   ("POST", f"/pilots/{pid}/retrospectives", None,
                                    {"week": 1, "held_on": today().isoformat()})):
        assert_problem(send(client, method, url, team.viewer, tag, json=body), 403)
    assert fingerprint(session) == before


def test_unknown_records_are_404(client, stage):  # noqa: ANN001
    lead = stage.team.leader
    for method, url in (("GET", "/pilots/999999"), ("GET", "/pilots/999999/evaluation"),
                        ("GET", "/pilots/999999/survey"), ("GET", "/pilots/999999/unmet"),
                        ("GET", "/pilots/999999/actions"), ("GET", "/initiatives/999999/pilots"),
                        ("DELETE", "/pilot-unmet/999999"), ("POST", f"/pilots/{stage.pilot.id}/log/999999/promote")):
        assert_problem(send(client, method, url, lead, json={} if method == "POST" else None), 404)
    r = send(client, "PATCH", "/pilot-actions/999999", lead, '"pilot-action-999999-v1"', json={"closed_week": 1})
    assert_problem(r, 404)


# ---------------------------------------------------------------- planning: bad input, rules

CREATE_BAD: list[tuple[dict[str, Any], str]] = [
    ({"scope": ""}, "scope"),
    ({"scope": "x" * 201}, "scope"),
    ({"scope_labels": {"team name": "A"}}, "scope_labels"),
    ({"scope_labels": {"team": ""}}, "scope_labels.team"),
    ({"scope_labels": {f"l{i}": "x" for i in range(6)}}, "scope_labels"),
    ({"planned_start": "2026-02-30"}, "planned_start"),
    ({"planned_weeks": 0}, "planned_weeks"),
    ({"planned_weeks": 27}, "planned_weeks"),
    ({"baseline_weeks": 0}, "baseline_weeks"),
    ({"baseline_weeks": 53}, "baseline_weeks"),
    ({"prediction": "x" * 10_001}, "prediction"),
    ({"anonymous_survey": "perhaps"}, "anonymous_survey"),
    ({"kpis": []}, "kpis"),
    ({"kpis": [{"kpi_id": "{kpi}"}, {"kpi_id": "{kpi}"}]}, "kpis"),
    ({"kpis": [{"kpi_id": "abc"}]}, "kpis.0.kpi_id"),
    ({"kpis": [{"kpi_id": "{kpi}", "target": "high"}]}, "kpis.0.target"),
    ({"kpis": [{"kpi_id": 999999}]}, "kpis.0.kpi_id"),
    ({"kpis": [{"kpi_id": "{kpi}"}, {"kpi_id": "{other_kpi}"}]}, "kpis.1.kpi_id"),  # another process's KPI
    ({"members": [{"user_id": "{member}"}, {"user_id": "{member}"}]}, "members"),
    ({"members": [{"user_id": 999999}]}, "members.0.user_id"),
    ({"members": [{"user_id": "{member}"}, {"user_id": "{inactive}"}]}, "members.1.user_id"),
    ({"members": [{"user_id": "{member}", "briefed_on": "yesterday"}]}, "members.0.briefed_on"),
    ({"sop_version_id": 999999}, "sop_version_id"),
    ({"sop_version_id": "{foreign_version}"}, "sop_version_id"),  # a published version of another process
    ({"sop_version_id": "{draft}"}, "sop_version_id"),  # a draft of the process's SOP
    ({"colour": "red"}, "colour"),
    ({"scope_labels": {"ts": "A"}}, "scope_labels"),  # named like the observations' own columns
    ({"scope_labels": {"kpi_id": "1"}}, "scope_labels"),
    ({"scope_labels": {"value": "1"}}, "scope_labels"),
    ({"scope_labels": {"team.name": "A"}}, "scope_labels"),  # no observation can carry this label
]


@pytest.fixture
def refs(session, factory, world) -> dict[str, Any]:  # noqa: ANN001
    """Things of other processes and a draft of this process's SOP, for the bad-input tables."""
    team = world.team
    process, owner, foreign = standalone_draft(session, factory, {EditSection.steps: [{"name": "x", "minutes": 1}]})
    foreign = publish_now(session, factory, owner, foreign)
    draft = sops.next_version(session, world.version.id, NextRequest(initiative_id=team.initiative.id), team.leader)
    other_kpi = make_kpi(session, team.leader, process_id=team.other.process_id)
    inactive = factory.user(Role.member, active=False)
    session.flush()
    return {"kpi": world.time.id, "other_kpi": other_kpi.id, "member": team.member.id, "inactive": inactive.id,
            "foreign_version": foreign.id, "draft": draft.id}


@pytest.mark.parametrize(("change", "field"), CREATE_BAD, ids=[f for _, f in CREATE_BAD])
def test_creating_with_bad_input_is_422_and_writes_nothing(client, session, world, refs, change, field):  # noqa: ANN001
    before = fingerprint(session)
    body = {**create_body(world), **fill(change, refs)}
    assert_422(send(client, "POST", f"/initiatives/{world.team.initiative.id}/pilots", world.team.leader,
                    json=body), field)
    assert fingerprint(session) == before


def test_the_phase_and_one_undecided_pilot_at_a_time(client, session, world):  # noqa: ANN001
    ini = world.team.initiative
    url = f"/initiatives/{ini.id}/pilots"
    for phase in (Phase.design, Phase.rollout):
        ini.current_phase = phase
        session.add(ini)
        session.flush()
        before = fingerprint(session)
        assert_422(send(client, "POST", url, world.team.leader, json=create_body(world)), "initiative")
        assert fingerprint(session) == before
    ini.current_phase = Phase.pilot
    session.add(ini)
    session.flush()
    first = ok(send(client, "POST", url, world.team.leader, json=create_body(world)), 201)
    assert first["round"] == 1 and first["status"] == "planned"
    before = fingerprint(session)
    body = assert_problem(send(client, "POST", url, world.team.admin, json=create_body(world)), 409)
    assert str(first["id"]) in body["detail"]
    assert fingerprint(session) == before


def test_an_approved_version_is_pilotable(client, session, factory):  # noqa: ANN001
    world = approved_world(session, factory)
    r = send(client, "POST", f"/initiatives/{world.team.initiative.id}/pilots", world.team.it,
             json=create_body(world))
    assert ok(r, 201)["sop_version"]["state"] == "approved"


PATCH_BAD: list[tuple[dict[str, Any], str]] = [
    ({"scope": None}, "scope"),
    ({"scope": ""}, "scope"),
    ({"scope_labels": None}, "scope_labels"),
    ({"scope_labels": {"ts": "A"}}, "scope_labels"),
    ({"planned_start": None}, "planned_start"),
    ({"planned_weeks": 0}, "planned_weeks"),
    ({"baseline_weeks": None}, "baseline_weeks"),
    ({"prediction": None}, "prediction"),
    ({"anonymous_survey": None}, "anonymous_survey"),
    ({"kpis": None}, "kpis"),
    ({"kpis": []}, "kpis"),
    ({"kpis": [{"kpi_id": "{other_kpi}"}]}, "kpis.0.kpi_id"),
    ({"members": None}, "members"),
    ({"members": [{"user_id": "{inactive}"}]}, "members.0.user_id"),
    ({"actual_start": "{tomorrow}", "actual_end": None}, "actual_start"),  # the start cannot be in the future
    ({"actual_end": "{before_start}"}, "actual_end"),  # the end before the start
    ({"actual_end": "{start}"}, "actual_end"),  # ... or on it
    ({"actual_end": "{after_tomorrow}"}, "actual_end"),  # the end in the future
    ({"actual_start": None}, "actual_end"),  # an end without a start
    ({"sop_version_id": "{draft}"}, "sop_version_id"),  # the version does not change
    ({"round": 5}, "round"),
]


@pytest.mark.parametrize(("change", "field"), PATCH_BAD, ids=[f"{f}:{c}" for c, f in PATCH_BAD])
def test_changing_with_bad_input_is_422_and_writes_nothing(client, session, stage, refs, change, field):  # noqa: ANN001
    st = stage
    # Also the KPIs sent alongside would be written before the bad field is seen: nothing of them either.
    values = {**refs, "tomorrow": (today() + timedelta(days=1)).isoformat(),
              "after_tomorrow": (today() + timedelta(days=2)).isoformat(),
              "before_start": (st.world.start - timedelta(days=1)).isoformat(), "start": st.world.start.isoformat()}
    body = {"kpis": [{"kpi_id": st.world.errors.id, "target": 0.5}], **fill(change, values)}
    before = fingerprint(session)
    etag = etag_of(client, st.team.leader, st.pilot.id)
    assert_422(send(client, "PATCH", f"/pilots/{st.pilot.id}", st.team.leader, etag, json=body), field)
    assert fingerprint(session) == before


def test_the_dates_of_the_pilot(client, session, world):  # noqa: ANN001
    """The start today and the end tomorrow (it ended today, the end is exclusive) are fine; the status
    follows the dates."""
    lead = world.team.leader
    p = ok(send(client, "POST", f"/initiatives/{world.team.initiative.id}/pilots", lead, json=create_body(world)),
           201)
    url = f"/pilots/{p['id']}"
    r = ok(send(client, "PATCH", url, lead, etag_of(client, lead, p["id"]), json={"actual_start": today().isoformat()}))
    assert r["status"] == "running"
    r = ok(send(client, "PATCH", url, lead, etag_of(client, lead, p["id"]),
                json={"actual_end": (today() + timedelta(days=1)).isoformat()}))
    assert r["status"] == "finished"
    # Taking the end back reopens it.
    r = ok(send(client, "PATCH", url, lead, etag_of(client, lead, p["id"]), json={"actual_end": None}))
    assert r["status"] == "running" and r["actual_end"] is None


def test_if_match_is_required_on_patch(client, session, stage):  # noqa: ANN001
    st = stage
    lead = st.team.leader
    before = fingerprint(session)
    for url, body, entity, record in ((f"/pilots/{st.pilot.id}", {"scope": "B"}, "pilot", st.pilot),
                                      (f"/pilot-actions/{st.action.id}", {"closed_week": 1}, "pilot-action",
                                       st.action)):
        assert_problem(send(client, "PATCH", url, lead, json=body), 428)
        stale = f'"{entity}-{record.id}-v{record.version - 1 if record.version > 1 else 0}"'
        assert_problem(send(client, "PATCH", url, lead, stale, json=body), 412)
        assert_problem(send(client, "PATCH", url, lead, f'"{entity}-{record.id + 1}-v{record.version}"', json=body),
                       412)  # another record's tag
        assert_problem(send(client, "PATCH", url, lead, "*", json=body), 412)
    # The decision takes If-Match optionally: a stale one is refused.
    stale = f'"pilot-{st.pilot.id}-v{st.pilot.version - 1}"'
    assert_problem(send(client, "POST", f"/pilots/{st.pilot.id}/decision", lead, stale,
                        json={"decision": "adopt", "reason": "the reason"}), 412)
    assert fingerprint(session) == before
    # The current ones work, and the answer's ETag is the next version.
    etag = etag_of(client, lead, st.pilot.id)
    r = send(client, "PATCH", f"/pilots/{st.pilot.id}", lead, etag, json={"scope": "B"})
    assert r.status_code == 200 and r.headers["etag"] != etag
    assert_problem(send(client, "PATCH", f"/pilots/{st.pilot.id}", lead, etag, json={"scope": "C"}), 412)
    r = send(client, "PATCH", f"/pilot-actions/{st.action.id}", lead, f'"pilot-action-{st.action.id}-v1"',
             json={"closed_week": 1})
    assert r.status_code == 200 and r.headers["etag"] == f'"pilot-action-{st.action.id}-v2"'


# ---------------------------------------------------------------- log, retrospectives, actions, unmet, decision

def test_log_and_promote_bad_input(client, session, stage):  # noqa: ANN001
    st = stage
    url = f"/pilots/{st.pilot.id}/log"
    quiet = service.add_log_entry(session, st.pilot.id, LogEntryCreate(day=st.world.start, progress="fine"),
                                  st.person)
    session.flush()
    before = fingerprint(session)
    for body, field in (({"day": (today() + timedelta(days=1)).isoformat(), "progress": "x"}, "day"),
                        ({"day": today().isoformat()}, "progress"),  # neither progress nor problems
                        ({"day": today().isoformat(), "progress": "  ", "problems": ""}, "progress"),
                        ({"day": "not a day", "progress": "x"}, "day"),
                        ({"progress": "x"}, "day"),
                        ({"day": today().isoformat(), "progress": "x" * 10_001}, "progress"),
                        ({"day": today().isoformat(), "progress": "x", "author_id": 1}, "author_id")):
        assert_422(send(client, "POST", url, st.person, json=body), field)
    promote = f"{url}/{st.entry.id}/promote"
    assert_422(send(client, "POST", promote, st.team.leader, json={"title": ""}), "title")
    assert_422(send(client, "POST", promote, st.team.leader, json={"category": "speed"}), "category")
    assert_422(send(client, "POST", f"{url}/{quiet.id}/promote", st.team.leader, json={}), "problems")
    assert fingerprint(session) == before
    # An entry of another pilot is not this pilot's.
    assert_problem(send(client, "POST", f"/pilots/{st.pilot.id + 1000}/log/{st.entry.id}/promote", st.team.leader,
                        json={}), 404)
    assert fingerprint(session) == before


def test_retrospectives_follow_the_weeks_once(client, session, stage):  # noqa: ANN001
    st = stage
    lead = st.team.leader
    url = f"/pilots/{st.pilot.id}/retrospectives"
    held = today().isoformat()
    ok(send(client, "POST", url, lead, json={"week": 3, "held_on": held}), 201)
    before = fingerprint(session)
    assert_422(send(client, "POST", url, lead, json={"week": 2, "held_on": held}), "week")  # before the last
    assert_422(send(client, "POST", url, lead, json={"week": 1, "held_on": held}), "week")  # has one already
    assert_422(send(client, "POST", url, lead, json={"week": 3, "held_on": held}), "week")  # has one already
    for body, field in (({"week": 0, "held_on": held}, "week"), ({"week": 27, "held_on": held}, "week"),
                        ({"week": 4}, "held_on"), ({"week": 4, "held_on": held, "actions": [{"text": ""}]},
                                                    "actions.0.text"),
                        ({"week": 4, "held_on": held, "actions": [{"text": "a"}, {"text": "b", "owner_id": 999999}]},
                         "actions.1.owner_id"),
                        ({"week": 4, "held_on": held, "close_action_ids": [999999]}, "close_action_ids"),
                        ({"week": 4, "held_on": held, "close_action_ids": ["x"]}, "close_action_ids.0"),
                        ({"week": 4, "held_on": held, "went_well": "x" * 10_001}, "went_well")):
        assert_422(send(client, "POST", url, lead, json=body), field)
    assert fingerprint(session) == before
    r = ok(send(client, "POST", url, lead, json={"week": 4, "held_on": held, "close_action_ids": [st.action.id]}),
           201)
    assert [a["id"] for a in r["carried"]] == [st.action.id] and r["carried"][0]["closed_week"] == 4
    # A closed action cannot be closed again in a later week.
    before = fingerprint(session)
    assert_422(send(client, "POST", url, lead, json={"week": 5, "held_on": held, "close_action_ids": [st.action.id]}),
               "close_action_ids")
    assert fingerprint(session) == before


def test_actions_belong_to_their_pilot(client, session, factory, stage):  # noqa: ANN001
    """Another initiative's people cannot close this pilot's action; another pilot's retrospective cannot
    close it either (not even the next round's of the same initiative); its own week or a later one only."""
    st = stage
    url = f"/pilot-actions/{st.action.id}"
    tag = f'"pilot-action-{st.action.id}-v1"'
    before = fingerprint(session)
    for user in (st.team.outsider, st.team.other_lead, st.team.viewer, st.person):
        assert_problem(send(client, "PATCH", url, user, tag, json={"closed_week": 1}), 403)
    assert_422(send(client, "PATCH", url, st.team.leader, tag, json={"closed_week": 0}), "closed_week")
    assert_422(send(client, "PATCH", url, st.team.leader, tag, json={}), "closed_week")
    assert_422(send(client, "PATCH", url, st.team.leader, tag, json={"closed_week": "soon"}), "closed_week")
    assert fingerprint(session) == before
    # The next round (after "adapt") cannot close the first round's action.
    decide(session, st, "adapt")
    second = ok(send(client, "POST", f"/initiatives/{st.team.initiative.id}/pilots", st.team.leader,
                     json=create_body(st.world)), 201)
    assert second["round"] == 2
    before = fingerprint(session)
    assert_422(send(client, "POST", f"/pilots/{second['id']}/retrospectives", st.team.leader,
                    json={"week": 1, "held_on": today().isoformat(), "close_action_ids": [st.action.id]}),
               "close_action_ids")
    assert fingerprint(session) == before
    # ... and the first round's action is frozen with its pilot.
    assert_problem(send(client, "PATCH", url, st.team.leader, tag, json={"closed_week": 1}), 409)
    assert fingerprint(session) == before


def test_action_reopened_and_closed_again(client, session, stage):  # noqa: ANN001
    st = stage
    url = f"/pilot-actions/{st.action.id}"
    r = ok(send(client, "PATCH", url, st.team.it, f'"pilot-action-{st.action.id}-v1"', json={"closed_week": 2}))
    assert r["closed_week"] == 2 and r["week"] == 1
    r = ok(send(client, "PATCH", url, st.team.it, f'"pilot-action-{st.action.id}-v2"', json={"closed_week": None}))
    assert r["closed_week"] is None
    assert [a["id"] for a in ok(send(client, "GET", f"/pilots/{st.pilot.id}/actions?open=true", st.team.viewer))] \
        == [st.action.id]


def test_unmet_and_decision_bad_input(client, session, stage):  # noqa: ANN001
    st = stage
    lead = st.team.leader
    before = fingerprint(session)
    url = f"/pilots/{st.pilot.id}/unmet"
    for body, field in (({"problem": ""}, "problem"), ({"problem": " "}, "problem"), ({}, "problem"),
                        ({"problem": "x" * 501}, "problem"), ({"problem": "x", "cause": "x" * 1001}, "cause"),
                        ({"problem": "x", "change": "x" * 1001}, "change"), ({"problem": "x", "id": 3}, "id")):
        assert_422(send(client, "POST", url, lead, json=body), field)
    url = f"/pilots/{st.pilot.id}/decision"
    for body, field in (({"decision": "maybe", "reason": "the reason"}, "decision"), ({"decision": "adopt"}, "reason"),
                        ({"decision": "adopt", "reason": ""}, "reason"),
                        ({"decision": "adopt", "reason": "x" * 5001}, "reason"), ({"decision": "adopt", "reason": "no"}, "reason"),
                        ({"decision": "adapt", "reason": "the reason", "start_next_version": True}, "start_next_version"),
                        ({"decision": "abandon", "reason": "the reason", "start_next_version": True}, "start_next_version"),
                        ({"decision": "adopt", "reason": "the reason", "decided_by_id": 1}, "decided_by_id")):
        assert_422(send(client, "POST", url, lead, json=body), field)
    assert fingerprint(session) == before
    # Not ended yet: no decision.
    etag = etag_of(client, lead, st.pilot.id)
    ok(send(client, "PATCH", f"/pilots/{st.pilot.id}", lead, etag, json={"actual_end": None}))
    before = fingerprint(session)
    assert_422(send(client, "POST", url, lead, json={"decision": "adopt", "reason": "the reason"}), "actual_end")
    assert fingerprint(session) == before


def test_a_decided_pilot_is_frozen(client, session, stage):  # noqa: ANN001
    st = stage
    lead, pid = st.team.leader, st.pilot.id
    r = ok(send(client, "POST", f"/pilots/{pid}/decision", lead, json={"decision": "adapt", "reason": "SMS first"}))
    assert r["status"] == "decided" and r["decided_by"]["id"] == lead.id and r["decision_reason"] == "SMS first"
    assert r["decided_at"] is not None
    etag = etag_of(client, lead, pid)
    before = fingerprint(session)
    calls = [
        ("PATCH", f"/pilots/{pid}", etag, {"scope": "B"}, lead),
        ("PATCH", f"/pilots/{pid}", etag, {"actual_end": None}, st.team.admin),
        ("POST", f"/pilots/{pid}/log", None, {"day": today().isoformat(), "progress": "late"}, st.person),
        ("POST", f"/pilots/{pid}/log", None, {"day": today().isoformat(), "progress": "late"}, lead),
        ("POST", f"/pilots/{pid}/log/{st.entry.id}/promote", None, {}, lead),
        ("POST", f"/pilots/{pid}/retrospectives", None, {"week": 2, "held_on": today().isoformat()}, lead),
        ("PATCH", f"/pilot-actions/{st.action.id}", f'"pilot-action-{st.action.id}-v1"', {"closed_week": 1}, lead),
        ("POST", f"/pilots/{pid}/survey/answers", None, {"easier": 5, "risk_controlled": 5}, st.person),
        ("POST", f"/pilots/{pid}/unmet", None, {"problem": "late"}, lead),
        ("DELETE", f"/pilot-unmet/{st.unmet.id}", None, None, lead),
        ("POST", f"/pilots/{pid}/decision", None, {"decision": "adopt", "reason": "changed my mind"}, lead),
        ("POST", f"/pilots/{pid}/decision", etag, {"decision": "abandon", "reason": "changed my mind"}, st.team.admin),
    ]
    for method, url, tag, body, user in calls:
        r = send(client, method, url, user, tag, json=body)
        assert assert_problem(r, 409)["decision"] == "adapt", (method, url)
    # Refused people still get 403 first.
    assert_problem(send(client, "PATCH", f"/pilots/{pid}", st.team.outsider, etag, json={"scope": "B"}), 403)
    assert_problem(send(client, "POST", f"/pilots/{pid}/log/{st.entry.id}/promote", st.team.outsider, json={}), 403)
    assert fingerprint(session) == before
    survey = ok(send(client, "GET", f"/pilots/{pid}/survey", st.person))
    assert survey["you_may_answer"] is False
    for url in (f"/pilots/{pid}", f"/pilots/{pid}/log", f"/pilots/{pid}/evaluation", f"/pilots/{pid}/table3"):
        ok(send(client, "GET", url, st.team.viewer))


def test_promote_checks_rights_before_anything(client, session, stage):  # noqa: ANN001
    """Someone not on the team learns nothing of the entry: 403, not 409 (promoted already) nor 422."""
    st = stage
    url = f"/pilots/{st.pilot.id}/log/{st.entry.id}/promote"
    ok(send(client, "POST", url, st.team.it, json={"title": "SMS late"}))
    before = fingerprint(session)
    for user in (st.team.outsider, st.team.other_lead, st.team.viewer, st.person):
        assert_problem(send(client, "POST", url, user, json={}), 403)
    assert_problem(send(client, "POST", url, st.team.leader, json={}), 409)
    assert fingerprint(session) == before


# ---------------------------------------------------------------- rounds, abandon, the gate, the next version

def gate_met(client, user: User, ini_id: int) -> bool:  # noqa: ANN001
    gate = ok(send(client, "GET", f"/initiatives/{ini_id}/gate", user))
    return next(c["met"] for c in gate["criteria"] if c["code"] == "pilot_adopted")


def test_adapt_then_adopt_and_the_gate(client, session, stage):  # noqa: ANN001
    st = stage
    ini = st.team.initiative.id
    lead = st.team.leader
    assert gate_met(client, lead, ini) is False
    ok(send(client, "POST", f"/pilots/{st.pilot.id}/decision", lead, json={"decision": "adapt", "reason": "SMS channel"}))
    assert gate_met(client, lead, ini) is False  # adapt is not adopt
    assert ok(send(client, "GET", f"/initiatives/{ini}", lead))["current_phase"] == "pilot"
    second = ok(send(client, "POST", f"/initiatives/{ini}/pilots", st.team.member, json=create_body(
        st.world, anonymous_survey=True, members=[{"user_id": st.person.id}])), 201)
    assert second["round"] == 2 and second["status"] == "planned" and second["decision"] is None
    assert_problem(send(client, "POST", f"/initiatives/{ini}/pilots", lead, json=create_body(st.world)), 409)
    assert [p["round"] for p in ok(send(client, "GET", f"/initiatives/{ini}/pilots", st.team.viewer))] == [1, 2]
    etag = etag_of(client, lead, second["id"])
    ok(send(client, "PATCH", f"/pilots/{second['id']}", lead, etag,
            json={"actual_start": st.world.start.isoformat(), "actual_end": today().isoformat()}))
    # The leader decides; the admin could too; a member of the team cannot.
    assert_problem(send(client, "POST", f"/pilots/{second['id']}/decision", st.team.member,
                        json={"decision": "adopt", "reason": "-73 %"}), 403)
    r = ok(send(client, "POST", f"/pilots/{second['id']}/decision", st.team.admin,
                json={"decision": "adopt", "reason": "-73 %"}))
    assert r["decided_by"]["id"] == st.team.admin.id and r["next_version_id"] is None
    assert gate_met(client, lead, ini) is True
    # The gate lets the initiative on to rollout.
    r = send(client, "POST", f"/initiatives/{ini}/advance", lead, json={})
    assert r.status_code == 200, r.text
    assert ok(send(client, "GET", f"/initiatives/{ini}", lead))["current_phase"] == "rollout"


def test_abandon_returns_to_design(client, session, stage):  # noqa: ANN001
    st = stage
    ini = st.team.initiative.id
    r = ok(send(client, "POST", f"/pilots/{st.pilot.id}/decision", st.team.leader,
                json={"decision": "abandon", "reason": "No gain at all"}))
    assert r["decision"] == "abandon"
    assert ok(send(client, "GET", f"/initiatives/{ini}", st.team.viewer))["current_phase"] == "design"
    # In design again: no pilot until it is back in the pilot phase.
    before = fingerprint(session)
    assert_422(send(client, "POST", f"/initiatives/{ini}/pilots", st.team.leader, json=create_body(st.world)),
               "initiative")
    assert fingerprint(session) == before


def approved_world(session: Session, factory: Factory) -> PilotWorld:
    """Like `pilot_world`, but the SOP version is approved (signed), not published."""
    team = InitiativeFactory(session, factory).team()
    ini = team.initiative
    v = sops.start_standalone(session, str(ini.process_id), SopCreate(), team.leader)
    v = sops.update_section(session, v.id, EditSection.steps, [{"name": "Review", "minutes": 8}], team.leader,
                            expected_version=v.version)
    reviewer = factory.user(Role.member)
    v = sops.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), team.leader,
                    expected_version=v.version)
    sops.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    v = sops.sign(session, v.id, team.leader, expected_version=None)
    ini.current_phase = Phase.pilot
    session.add(ini)
    time = make_kpi(session, team.leader, process_id=ini.process_id, target=10)
    errors = make_kpi(session, team.leader, process_id=ini.process_id, unit="%", aggregation="rate", target=0.02)
    session.flush()
    return PilotWorld(team, v, time, errors, today() - timedelta(weeks=2))


def test_the_next_version_needs_a_published_one(client, session, factory):  # noqa: ANN001
    """Adopting a pilot of an approved (not yet published) version with a V1.1 draft is refused whole: the
    pilot stays undecided, no draft appears, nothing is audited; adopting without the draft works."""
    world = approved_world(session, factory)
    st = _stage(session, factory, world)
    url = f"/pilots/{st.pilot.id}/decision"
    before = fingerprint(session)
    body = assert_problem(send(client, "POST", url, st.team.leader, json={
        "decision": "adopt", "reason": "-73 %", "start_next_version": True}), 409)
    assert body["state"] == "approved"
    assert fingerprint(session) == before
    session.expire_all()
    pilot = session.get(Pilot, st.pilot.id)
    assert pilot.decision is None and pilot.next_version_id is None and pilot.decided_by_id is None
    assert session.exec(select(func.count()).select_from(SopVersion)
                        .where(col(SopVersion.sop_id) == world.version.sop_id)).one() == 1
    r = ok(send(client, "POST", url, st.team.leader, json={"decision": "adopt", "reason": "-73 %"}))
    assert r["decision"] == "adopt" and r["next_version_id"] is None


def test_the_next_version_from_a_published_one(client, session, stage):  # noqa: ANN001
    st = stage
    r = ok(send(client, "POST", f"/pilots/{st.pilot.id}/decision", st.team.leader, json={
        "decision": "adopt", "reason": "-73 %", "start_next_version": True}))
    nxt = session.get(SopVersion, r["next_version_id"])
    assert nxt.state == "draft" and nxt.based_on_id == st.world.version.id and nxt.initiative_id == st.team.initiative.id
    read = ok(send(client, "GET", f"/sop-versions/{nxt.id}", st.team.leader))
    assert read["state"] == "draft" and read["number"] is None  # numbered when published


# ---------------------------------------------------------------- the survey

def survey_pilot(client, world: PilotWorld, people: list[User], anonymous: bool) -> int:  # noqa: ANN001
    body = create_body(world, anonymous_survey=anonymous, members=[{"user_id": u.id} for u in people])
    return ok(send(client, "POST", f"/initiatives/{world.team.initiative.id}/pilots", world.team.leader,
                   json=body), 201)["id"]


def answer(client, pid: int, user: User, easier: int, risk: int, comment: str = ""):  # noqa: ANN001, ANN201
    return send(client, "POST", f"/pilots/{pid}/survey/answers", user,
                json={"easier": easier, "risk_controlled": risk, "comment": comment})


def test_an_anonymous_survey(client, session, factory, world):  # noqa: ANN001
    team = world.team
    a, b, c, d = (factory.user(Role.member) for _ in range(4))
    pid = survey_pilot(client, world, [a, b, c, d, team.member], anonymous=True)
    assert answer(client, pid, b, 5, 4, "zz faster").status_code == 204
    assert answer(client, pid, a, 2, 3, "aa SMS late").status_code == 204

    rows = session.exec(select(PilotAnswer).where(PilotAnswer.pilot_id == pid)).all()
    assert len(rows) == 2 and all(r.user_id is None for r in rows)
    assert sorted(r.user_id for r in session.exec(select(PilotRespondent).where(PilotRespondent.pilot_id == pid))) \
        == sorted([a.id, b.id])
    # What is audited of an answer says who answered, not what.
    audits = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "pilot", AuditRecord.entity_id == pid,
                                                    AuditRecord.action == "answer")).all()
    assert len(audits) == 2
    assert all("easier" not in str(x.after) and "SMS" not in str(x.after) and "faster" not in str(x.after)
               for x in audits)

    # Two answers: nothing shown, to anyone (the team's leader and the answering people too).
    for user in (team.leader, team.admin, a, c, team.viewer):
        poll = ok(send(client, "GET", f"/pilots/{pid}/survey", user))
        assert poll["anonymous"] is True and poll["answered"] == 2 and poll["people"] == 5
        assert poll["shown"] is False and poll["min_answers"] == 3
        assert poll["satisfaction"] is None and poll["easier"] is None and poll["risk_controlled"] is None
        assert poll["comments"] == []
    assert ok(send(client, "GET", f"/pilots/{pid}/survey", a))["you_answered"] is True
    assert ok(send(client, "GET", f"/pilots/{pid}/survey", c))["you_may_answer"] is True
    assert ok(send(client, "GET", f"/pilots/{pid}/survey", team.leader))["you_may_answer"] is False
    rows3 = ok(send(client, "GET", f"/pilots/{pid}/table3", team.viewer))
    assert rows3 and all(r["satisfaction"] is None for r in rows3)
    text = send(client, "GET", f"/pilots/{pid}/table3/export?format=csv", team.viewer).content.decode("utf-8-sig")
    assert "SMS late" not in text

    # Each person once; people outside the pilot cannot answer.
    before = fingerprint(session)
    assert_problem(answer(client, pid, a, 1, 1), 409)
    for user in (team.leader, team.admin, team.it, team.outsider, team.other_lead, team.viewer):
        assert_problem(answer(client, pid, user, 1, 1), 403)
    for body, field in (({"easier": 0, "risk_controlled": 3}, "easier"), ({"easier": 6, "risk_controlled": 3},
                                                                          "easier"),
                        ({"easier": 3}, "risk_controlled"), ({"easier": 3, "risk_controlled": "x"}, "risk_controlled"),
                        ({"easier": 3, "risk_controlled": 3, "comment": "x" * 10_001}, "comment"),
                        ({"easier": 3, "risk_controlled": 3, "user_id": a.id}, "user_id")):
        assert_422(send(client, "POST", f"/pilots/{pid}/survey/answers", c, json=body), field)
    assert fingerprint(session) == before

    # The third answer: shown, from all three.
    assert answer(client, pid, team.member, 4, 4).status_code == 204
    poll = ok(send(client, "GET", f"/pilots/{pid}/survey", team.viewer))
    assert poll["shown"] is True and poll["answered"] == 3
    assert poll["easier"] == {"mean": pytest.approx(11 / 3), "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}}
    assert poll["risk_controlled"]["mean"] == pytest.approx(11 / 3)
    assert poll["satisfaction"] == pytest.approx(22 / 6)
    assert poll["comments"] == ["aa SMS late", "zz faster"]  # in no order of answering
    assert all(r.user_id is None for r in session.exec(select(PilotAnswer).where(PilotAnswer.pilot_id == pid)))
    rows3 = ok(send(client, "GET", f"/pilots/{pid}/table3", team.viewer))
    assert all(r["satisfaction"] == pytest.approx(22 / 6) for r in rows3)
    members = {m["user"]["id"]: m["answered"] for m in ok(send(client, "GET", f"/pilots/{pid}", team.viewer))["members"]}
    assert members == {a.id: True, b.id: True, c.id: False, d.id: False, team.member.id: True}

    # Anonymity and who answered are fixed now.
    lead = team.leader
    before = fingerprint(session)
    etag = etag_of(client, lead, pid)
    assert_422(send(client, "PATCH", f"/pilots/{pid}", lead, etag, json={"anonymous_survey": False}),
               "anonymous_survey")
    assert_422(send(client, "PATCH", f"/pilots/{pid}", lead, etag, json={"members": [{"user_id": c.id}]}), "members")
    assert fingerprint(session) == before
    ok(send(client, "PATCH", f"/pilots/{pid}", lead, etag, json={"anonymous_survey": True}))  # the same: fine


def test_a_named_survey_keeps_the_account_and_shows_from_one_answer(client, session, factory, world):  # noqa: ANN001
    a, b = factory.user(Role.member), factory.user(Role.member)
    pid = survey_pilot(client, world, [a, b], anonymous=False)
    poll = ok(send(client, "GET", f"/pilots/{pid}/survey", a))
    assert poll["shown"] is True and poll["answered"] == 0 and poll["satisfaction"] is None
    assert poll["min_answers"] == 1 and poll["you_may_answer"] is True
    assert answer(client, pid, a, 3, 5, "ok").status_code == 204
    row = session.exec(select(PilotAnswer).where(PilotAnswer.pilot_id == pid)).one()
    assert row.user_id == a.id
    poll = ok(send(client, "GET", f"/pilots/{pid}/survey", b))
    assert poll["shown"] is True and poll["satisfaction"] == 4 and poll["comments"] == ["ok"]
    # After an answer the anonymity no longer changes.
    etag = etag_of(client, world.team.leader, pid)
    assert_422(send(client, "PATCH", f"/pilots/{pid}", world.team.leader, etag, json={"anonymous_survey": True}),
               "anonymous_survey")
