"""Survey steps (table 1), research records, totals and the as-is map through the API."""

from __future__ import annotations

from sqlmodel import select

from app.core.audit import AuditRecord
from tests.initiatives.factories import YH_STEPS, add_record, add_steps

API = "/api/v1"


def _names(client, h, ini_id):  # noqa: ANN001, ANN202
    return [s["name"] for s in client.get(f"{API}/initiatives/{ini_id}/survey/steps", headers=h).json()["items"]]


def test_create_steps_in_order_insert_and_totals(client, factory, team):
    ini = team.initiative.id
    h = factory.bearer(team.member)
    url = f"{API}/initiatives/{ini}/survey/steps"
    for spec in YH_STEPS:
        r = client.post(url, json=spec, headers=h)
        assert r.status_code == 201, r.text
    body = client.get(url, headers=h).json()["items"]
    assert [s["position"] for s in body] == [1, 2, 3, 4]
    review = body[1]
    assert review["minutes"] == 30 and review["waiting_minutes"] == 60
    assert review["systems"] == ["CRM", "KYC", "Billing"]
    assert review["problem_flags"] == ["efficiency", "collaboration"]
    assert body[2]["minutes"] == 2.5
    # Insert at position 2: the others move down.
    r = client.post(url, json={"name": "Auto pre-check", "minutes": 0, "position": 2}, headers=h)
    assert r.status_code == 201 and r.json()["position"] == 2
    assert _names(client, h, ini) == ["User fills in information", "Auto pre-check", "Manual review",
                                      "System activation", "SMS sent"]
    s = client.get(f"{API}/initiatives/{ini}/survey/summary", headers=h).json()
    assert s["steps"] == 5
    assert s["minutes"] == 38.5 and s["waiting_minutes"] == 60.5 and s["total_minutes"] == 99
    assert s["waiting_share"] == round(60.5 / 99, 4)
    assert [(d["department"], d["steps"], d["total_minutes"]) for d in s["departments"]] == [
        ("operations", 2, 95), ("technology", 2, 4), (None, 1, 0)]
    assert s["flagged"] == {"efficiency": 1, "quality": 1, "collaboration": 1, "risk": 0}


def test_update_move_reorder_delete(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    ini = team.initiative.id
    h = factory.bearer(team.it)
    url = f"{API}/survey/steps/{steps[1].id}"
    etag = client.get(url, headers=h).headers["ETag"]
    assert client.patch(url, json={"minutes": 25}, headers=h).status_code == 428
    r = client.patch(url, json={"minutes": 25.75, "problem_flags": ["risk"], "department": "technology"},
                     headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["minutes"] == 25.75 and r.json()["problem_flags"] == ["risk"]
    assert r.json()["department"] == "technology" and r.json()["version"] == 2
    assert client.patch(url, json={"minutes": 1}, headers={**h, "If-Match": etag}).status_code == 412
    r = client.post(f"{API}/survey/steps/{steps[3].id}/move", json={"position": 1}, headers=h)
    assert r.status_code == 200 and r.json()["position"] == 1
    assert _names(client, h, ini) == ["SMS sent", "User fills in information", "Manual review", "System activation"]
    order = [steps[0].id, steps[1].id, steps[2].id, steps[3].id]
    r = client.post(f"{API}/initiatives/{ini}/survey/steps/reorder", json={"step_ids": order}, headers=h)
    assert r.status_code == 200 and [s["position"] for s in r.json()] == [1, 2, 3, 4]
    bad = client.post(f"{API}/initiatives/{ini}/survey/steps/reorder", json={"step_ids": order[:3]}, headers=h)
    assert bad.status_code == 422
    assert client.delete(f"{API}/survey/steps/{steps[1].id}", headers=h).status_code == 204
    items = client.get(f"{API}/initiatives/{ini}/survey/steps", headers=h).json()["items"]
    assert [(s["position"], s["name"]) for s in items] == [
        (1, "User fills in information"), (2, "System activation"), (3, "SMS sent")]
    assert client.get(url, headers=h).status_code == 404
    actions = list(session.exec(select(AuditRecord.action).where(AuditRecord.entity_type == "survey_step",
                                                                 AuditRecord.entity_id == steps[1].id)))
    assert sorted(actions) == ["create", "delete", "update"]


def test_bad_steps_are_refused_and_change_nothing(client, factory, team, session):
    ini = team.initiative.id
    h = factory.bearer(team.member)
    url = f"{API}/initiatives/{ini}/survey/steps"
    cases = [
        {"name": "x", "minutes": -1},
        {"name": "x", "minutes": 1.234},
        {"name": "x", "minutes": "abc"},
        {"name": "x", "minutes": True},
        {"name": "x", "minutes": 1, "kind": "loop"},
        {"name": "x", "minutes": 1, "problem_flags": ["boredom"]},
        {"name": "x", "minutes": 1, "department": "marketing"},
        {"name": "", "minutes": 1},
        {"name": "x"},
        {"name": "x", "minutes": 1, "position": 0},
        {"name": "x", "minutes": 1, "id": 3},
        {"name": "x", "minutes": 1, "initiative_id": team.other.id},
    ]
    for body in cases:
        r = client.post(url, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
    assert _names(client, h, ini) == []
    (step,) = add_steps(session, team.initiative, team.leader, YH_STEPS[:1])
    etag = client.get(f"{API}/survey/steps/{step.id}", headers=h).headers["ETag"]
    for body in ({"minutes": None}, {"name": None}, {"waiting_minutes": -5}, {"position": 2}):
        r = client.patch(f"{API}/survey/steps/{step.id}", json=body, headers={**h, "If-Match": etag})
        assert r.status_code == 422, body
    assert client.get(f"{API}/survey/steps/{step.id}", headers=h).json()["version"] == 1


def test_steps_are_paged(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, [{"name": f"S{i}", "minutes": i} for i in range(5)])
    h = factory.bearer(team.viewer)
    url = f"{API}/initiatives/{team.initiative.id}/survey/steps"
    r = client.get(url, params={"limit": 3}, headers=h)
    assert [s["name"] for s in r.json()["items"]] == ["S0", "S1", "S2"] and "Link" in r.headers
    r = client.get(url, params={"limit": 3, "cursor": r.json()["next_cursor"]}, headers=h)
    assert [s["name"] for s in r.json()["items"]] == ["S3", "S4"] and r.json()["next_cursor"] is None


def test_research_records(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    other_steps = add_steps(session, team.other, team.other_lead, YH_STEPS[:1])
    ini = team.initiative.id
    h = factory.bearer(team.member)
    url = f"{API}/initiatives/{ini}/research-records"
    body = {"method": "observation", "conducted_on": "2026-03-04", "participants": "Zhang Wei, 2 reviewers",
            "findings": "Paper signature at approval: 1 day average wait", "step_ids": [steps[1].id, steps[1].id]}
    r = client.post(url, json=body, headers=h)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["step_ids"] == [steps[1].id] and rec["created_by"]["id"] == team.member.id
    # A step of another initiative is refused, and nothing is written.
    r = client.post(url, json={**body, "step_ids": [other_steps[0].id]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "unknown_step"
    for bad in ({"method": "séance"}, {"conducted_on": "yesterday"}, {"participants": ""}):
        assert client.post(url, json={**body, **bad}, headers=h).status_code == 422
    assert len(client.get(url, headers=h).json()["items"]) == 1
    add_record(session, team.initiative, team.leader, conducted_on="2026-03-01")
    items = client.get(url, params={"limit": 1}, headers=h).json()
    assert items["items"][0]["conducted_on"] == "2026-03-04"
    nxt = client.get(url, params={"limit": 1, "cursor": items["next_cursor"]}, headers=h).json()
    assert nxt["items"][0]["conducted_on"] == "2026-03-01"
    rurl = f"{API}/research-records/{rec['id']}"
    etag = client.get(rurl, headers=h).headers["ETag"]
    r = client.patch(rurl, json={"step_ids": [steps[0].id, steps[1].id], "method": "interview"},
                     headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["step_ids"] == sorted([steps[0].id, steps[1].id])
    r = client.patch(rurl, json={"step_ids": [other_steps[0].id]}, headers={**h, "If-Match": r.headers["ETag"]})
    assert r.status_code == 422
    # Deleting a step drops its links.
    client.delete(f"{API}/survey/steps/{steps[0].id}", headers=h)
    assert client.get(rurl, headers=h).json()["step_ids"] == [steps[1].id]
    assert client.delete(rurl, headers=h).status_code == 204
    assert client.get(rurl, headers=h).status_code == 404


def test_as_is_map_layout(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS + [
        {"name": f"Extra step {i} with a rather long name that must wrap", "minutes": 1,
         "department": "finance" if i % 2 else None, "kind": "decision" if i % 3 == 0 else "activity"}
        for i in range(20)])
    r = client.get(f"{API}/initiatives/{team.initiative.id}/survey/map", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    m = r.json()
    assert [lane["key"] for lane in m["lanes"]] == ["operations", "technology", "finance", ""]
    assert [lane["label"] for lane in m["lanes"]][-1] == "Unassigned"
    assert len(m["nodes"]) == 24 and len(m["edges"]) == 23
    xs = [n["x"] for n in m["nodes"]]
    assert xs == sorted(xs) and len(set(xs)) == 24  # one column per step, in order
    review = m["nodes"][1]
    assert review["minutes"] == 30 and review["systems_line"] == "CRM · KYC · Billing"
    assert all(len(n["name_lines"]) <= 2 for n in m["nodes"])
    assert m["nodes"][4]["kind"] == "decision" and m["nodes"][4]["points"]
    assert m["width"] >= 24 * 150
    zh = client.get(f"{API}/initiatives/{team.initiative.id}/survey/map", params={"lang": "zh_CN"},
                    headers=factory.bearer(team.viewer)).json()
    assert [lane["label"] for lane in zh["lanes"]][:2] == ["运营部", "技术部"]
