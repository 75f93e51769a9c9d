"""Initiatives API: create, read, list, update, team, phases, gates and overrides."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.initiatives.models import Phase
from app.users.models import Role

API = "/api/v1/initiatives"


def _create(client, factory, user, **overrides):  # noqa: ANN001, ANN202
    process = factory.process(owner=user if user.role != Role.viewer else None)
    body = {"process_id": process.id, "title": "Faster activation", "trigger": "inefficiency",
            "goal": "30 min -> 5 min"}
    body.update(overrides)
    return client.post(API, json=body, headers=factory.bearer(user))


def test_create_plans_six_phases_and_makes_the_caller_leader(client, factory):
    lead = factory.user(Role.lead)
    start = date(2026, 3, 2)
    r = _create(client, factory, lead, start_date=start.isoformat())
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["Location"] == f"{API}/{body['id']}"
    assert r.headers["ETag"] == f'"initiative-{body["id"]}-v1"'
    assert body["current_phase"] == "diagnosis" and body["status"] == "active"
    assert body["leader"]["id"] == lead.id
    assert [m["project_role"] for m in body["team"]] == ["leader"]
    phases = body["phases"]
    assert [p["phase"] for p in phases] == [p.value for p in Phase]
    assert [p["number"] for p in phases] == [1, 2, 3, 4, 5, 6]
    # The method's durations: 2 weeks, 5 days, 2 weeks, 3 weeks, 2 weeks, a quarter; back to back.
    lengths = [(date.fromisoformat(p["planned_end"]) - date.fromisoformat(p["planned_start"])).days + 1
               for p in phases]
    assert lengths == [14, 5, 14, 21, 14, 90]
    assert phases[0]["planned_start"] == "2026-03-02"
    for a, b in zip(phases, phases[1:], strict=False):
        assert date.fromisoformat(b["planned_start"]) == date.fromisoformat(a["planned_end"]) + timedelta(days=1)
    assert [p["state"] for p in phases] == ["current"] + ["upcoming"] * 5
    assert phases[0]["actual_start"] == today().isoformat()


def test_create_with_a_team_and_another_leader(client, factory):
    admin = factory.user(Role.admin)
    lead, biz, it = factory.user(Role.lead), factory.user(), factory.user()
    r = _create(client, factory, admin, leader_id=lead.id,
                team=[{"user_id": biz.id, "project_role": "business"}, {"user_id": it.id, "project_role": "it"}])
    assert r.status_code == 201, r.text
    team = r.json()["team"]
    assert [(m["user"]["id"], m["project_role"]) for m in team] == [
        (lead.id, "leader"), (biz.id, "business"), (it.id, "it")]


def test_only_leads_and_admins_create(client, factory):
    for role in (Role.member, Role.viewer):
        assert _create(client, factory, factory.user(role)).status_code == 403
    process = factory.process()
    r = client.post(API, json={"process_id": process.id, "title": "x", "trigger": "inefficiency"})
    assert r.status_code == 401


def test_create_refuses_bad_input_and_writes_nothing(client, factory, session):
    lead, viewer = factory.user(Role.lead), factory.user(Role.viewer)
    cases = [
        ({"trigger": "boredom"}, "trigger"),
        ({"priority_threshold": 0}, "priority_threshold"),
        ({"priority_threshold": 6}, "priority_threshold"),
        ({"process_id": 999999}, "process_id"),
        ({"team": [{"user_id": viewer.id, "project_role": "business"}]}, "team.0.user_id"),
        ({"team": [{"user_id": lead.id, "project_role": "leader"}]}, "team.0.project_role"),
        ({"id": 5}, "id"),
        ({"version": 7}, "version"),
    ]
    for overrides, field in cases:
        r = _create(client, factory, lead, **overrides)
        assert r.status_code == 422, (overrides, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(e["field"] == field for e in r.json()["errors"]), (field, r.json())
    assert client.get(API, headers=factory.bearer(lead)).json()["items"] == []


def test_read_and_list_with_filters_and_keyset_pages(client, factory, ifactory):
    lead, member = factory.user(Role.lead), factory.user()
    ids = [ifactory.initiative(lead).id for _ in range(3)]
    mine = ifactory.initiative(factory.user(Role.lead), members=[(member, "business")]).id
    viewer = factory.user(Role.viewer)
    h = factory.bearer(viewer)
    r = client.get(API, params={"limit": 2}, headers=h)
    assert r.status_code == 200
    first = r.json()
    assert [i["id"] for i in first["items"]] == [mine, ids[2]]
    assert 'rel="next"' in r.headers["Link"]
    r2 = client.get(API, params={"limit": 2, "cursor": first["next_cursor"]}, headers=h)
    assert [i["id"] for i in r2.json()["items"]] == [ids[1], ids[0]]
    assert r2.json()["next_cursor"] is None
    r = client.get(API, params={"mine": "true"}, headers=factory.bearer(member))
    assert [i["id"] for i in r.json()["items"]] == [mine]
    assert client.get(API, params={"phase": "design"}, headers=h).json()["items"] == []
    assert client.get(API, params={"status": "nope"}, headers=h).status_code == 422
    assert client.get(API, params={"cursor": "garbage"}, headers=h).status_code == 422
    r = client.get(f"{API}/{mine}", headers=h)
    assert r.status_code == 200 and r.headers["ETag"] == f'"initiative-{mine}-v1"'
    assert client.get(f"{API}/999999", headers=h).status_code == 404
    assert client.get(API).status_code == 401


def test_patch_needs_if_match_and_the_leader(client, factory, team):
    url = f"{API}/{team.initiative.id}"
    etag = client.get(url, headers=factory.bearer(team.leader)).headers["ETag"]
    body = {"title": "Activation in 5 minutes", "priority_threshold": 4}
    assert client.patch(url, json=body, headers=factory.bearer(team.leader)).status_code == 428
    for user in (team.member, team.outsider, team.other_lead, team.viewer):
        r = client.patch(url, json=body, headers={**factory.bearer(user), "If-Match": etag})
        assert r.status_code == 403, user.role
    r = client.patch(url, json=body, headers={**factory.bearer(team.leader), "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Activation in 5 minutes" and r.json()["priority_threshold"] == 4
    assert r.headers["ETag"] != etag
    r = client.patch(url, json={"title": "again"}, headers={**factory.bearer(team.leader), "If-Match": etag})
    assert r.status_code == 412
    r = client.patch(url, json={"title": None},
                     headers={**factory.bearer(team.admin), "If-Match": r.headers.get("ETag") or
                              client.get(url, headers=factory.bearer(team.admin)).headers["ETag"]})
    assert r.status_code == 422


def test_team_management(client, factory, team, session):
    url = f"{API}/{team.initiative.id}/team"
    h = factory.bearer(team.leader)
    newcomer = factory.user()
    r = client.post(url, json={"user_id": newcomer.id, "project_role": "compliance"}, headers=h)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert client.post(url, json={"user_id": newcomer.id, "project_role": "it"}, headers=h).status_code == 409
    viewer = factory.user(Role.viewer)
    assert client.post(url, json={"user_id": viewer.id, "project_role": "it"}, headers=h).status_code == 422
    # A business member cannot manage the team.
    r = client.post(url, json={"user_id": factory.user().id, "project_role": "it"},
                    headers=factory.bearer(team.member))
    assert r.status_code == 403
    roles = {m["user"]["id"]: m["project_role"] for m in client.get(url, headers=h).json()}
    assert roles[newcomer.id] == "compliance" and roles[team.leader.id] == "leader"
    # The leader cannot leave nor stop leading without naming a successor.
    leader_mid = next(m["id"] for m in client.get(url, headers=h).json() if m["project_role"] == "leader")
    assert client.delete(f"{url}/{leader_mid}", headers=h).status_code == 422
    etag = client.get(f"{url}/{leader_mid}", headers=h).headers["ETag"]
    r = client.patch(f"{url}/{leader_mid}", json={"project_role": "business"}, headers={**h, "If-Match": etag})
    assert r.status_code == 422
    # Handing the leadership over: exactly one leader remains.
    etag = client.get(f"{url}/{mid}", headers=h).headers["ETag"]
    assert client.patch(f"{url}/{mid}", json={"project_role": "leader"}, headers=h).status_code == 428
    r = client.patch(f"{url}/{mid}", json={"project_role": "leader"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    team_now = client.get(url, headers=h).json()
    assert [m["user"]["id"] for m in team_now if m["project_role"] == "leader"] == [newcomer.id]
    # The former leader no longer manages the team; the new one does.
    assert client.delete(f"{url}/{mid}", headers=h).status_code == 403
    member_mid = next(m["id"] for m in team_now if m["user"]["id"] == team.member.id)
    assert client.delete(f"{url}/{member_mid}", headers=factory.bearer(newcomer)).status_code == 204
    assert client.get(f"{url}/{member_mid}", headers=h).status_code == 404
    ini = client.get(f"{API}/{team.initiative.id}", headers=h).json()
    assert ini["leader"]["id"] == newcomer.id


def test_phase_dates_and_late_flags(client, factory, ifactory):
    lead = factory.user(Role.lead)
    ini = ifactory.initiative(lead, start_date=today() - timedelta(days=30))
    h = factory.bearer(lead)
    body = client.get(f"{API}/{ini.id}", headers=h).json()
    assert body["late"] is True
    assert body["phases"][0]["late"] is True  # diagnosis planned to end 17 days ago
    assert body["phases"][1]["late"] is True  # root cause should have started
    url = f"{API}/{ini.id}/phases/diagnosis"
    etag = client.get(url, headers=h).headers["ETag"]
    new_end = (today() + timedelta(days=3)).isoformat()
    r = client.patch(url, json={"planned_end": "2000-01-01"}, headers={**h, "If-Match": etag})
    assert r.status_code == 422
    r = client.patch(url, json={"planned_end": new_end}, headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["late"] is False and r.json()["planned_end"] == new_end
    assert client.get(f"{API}/{ini.id}", headers=h).json()["late"] is False
    assert client.get(f"{API}/{ini.id}/phases/nope", headers=h).status_code == 422


def test_advance_refused_lists_every_unmet_criterion(client, factory, team):
    url = f"{API}/{team.initiative.id}"
    h = factory.bearer(team.leader)
    gate = client.get(f"{url}/gate", headers=h).json()
    assert gate["passed"] is False and gate["next_phase"] == "root_cause"
    assert {c["code"]: c["met"] for c in gate["criteria"]} == {"survey_steps": False, "research_records": False}
    r = client.post(f"{url}/advance", headers=h)
    assert r.status_code == 422
    problem = r.json()
    assert problem["overridable"] is True
    assert {e["type"] for e in problem["errors"]} == {"survey_steps", "research_records"}
    assert client.get(url, headers=h).json()["current_phase"] == "diagnosis"


def test_advance_by_override_is_audited(client, factory, team, session):
    url = f"{API}/{team.initiative.id}"
    # Team members who are not the leader cannot advance, with or without a reason.
    r = client.post(f"{url}/advance", json={"override_reason": "deadline from the board"},
                    headers=factory.bearer(team.member))
    assert r.status_code == 403
    assert client.post(f"{url}/advance", json={"override_reason": "x"},
                       headers=factory.bearer(team.leader)).status_code == 422  # too short a reason
    r = client.post(f"{url}/advance", json={"override_reason": "Survey done on paper; typed in next week"},
                    headers=factory.bearer(team.leader))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current_phase"] == "root_cause"
    assert body["phases"][0]["state"] == "done" and body["phases"][0]["actual_end"] == today().isoformat()
    assert body["phases"][1]["actual_start"] == today().isoformat()
    rec = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "initiative",
                                                 AuditRecord.entity_id == team.initiative.id,
                                                 AuditRecord.action == "advance_override")).one()
    assert rec.reason == "Survey done on paper; typed in next week"
    assert rec.actor_id == team.leader.id
    assert rec.before["current_phase"] == "diagnosis" and rec.after["current_phase"] == "root_cause"
    assert rec.after["unmet"] == ["survey_steps", "research_records"]
    hist = client.get(f"{url}/history", headers=factory.bearer(team.member)).json()
    assert hist[0]["action"] == "advance_override" and hist[0]["reason"].startswith("Survey done")
    assert client.get(f"{url}/history", headers=factory.bearer(team.viewer)).status_code == 403


def test_last_phase_and_back_to_design(client, factory, team):
    url = f"{API}/{team.initiative.id}"
    h = factory.bearer(team.admin)
    reason = {"override_reason": "testing the whole cycle"}
    assert client.post(f"{url}/back-to-design", json={"reason": "too early"}, headers=h).status_code == 422
    for expected in ("root_cause", "design", "pilot"):
        r = client.post(f"{url}/advance", json=reason, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["current_phase"] == expected
    # A failed pilot returns to design, planned again from today.
    r = client.post(f"{url}/back-to-design", json={"reason": "Pilot missed the target: 30 -> 22 min"},
                    headers=factory.bearer(team.leader))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current_phase"] == "design"
    design = body["phases"][2]
    assert design["actual_start"] == today().isoformat() and design["actual_end"] is None
    assert design["planned_start"] == today().isoformat()
    assert body["phases"][3]["state"] == "upcoming"
    for expected in ("pilot", "rollout", "monitoring"):
        assert client.post(f"{url}/advance", json=reason, headers=h).json()["current_phase"] == expected
    r = client.post(f"{url}/advance", json=reason, headers=h)
    assert r.status_code == 422 and r.json()["overridable"] is False
    assert r.json()["errors"][0]["type"] == "last_phase"


def test_inactive_initiative_cannot_advance(client, factory, team):
    url = f"{API}/{team.initiative.id}"
    h = factory.bearer(team.leader)
    etag = client.get(url, headers=h).headers["ETag"]
    assert client.patch(url, json={"status": "on_hold"}, headers={**h, "If-Match": etag}).status_code == 200
    r = client.post(f"{url}/advance", json={"override_reason": "please go on"}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "initiative_active"
