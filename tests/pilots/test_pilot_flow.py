"""A pilot through the API from plan to decision: create, start, log and promote, retrospectives carrying
actions, the survey, unmet problems, the evaluation, the decision adopt with a V1.1 draft, the gate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.calendar import today
from tests.pilots.factories import observe, pilot_world

API = "/api/v1"


@pytest.fixture
def world(session, factory):
    return pilot_world(session, factory)


def _create(client, factory, world, **extra):  # noqa: ANN001, ANN201
    body = {"sop_version_id": world.version.id, "scope": "运营A组", "scope_labels": {"team": "A"},
            "planned_start": world.start.isoformat(), "prediction": "30 → 8 min",
            "kpis": [{"kpi_id": world.time.id, "expected": 8}, {"kpi_id": world.errors.id}],
            "members": [{"user_id": world.team.member.id, "briefed_on": world.start.isoformat()},
                        {"user_id": world.team.it.id}, {"user_id": world.team.viewer.id}], **extra}
    return client.post(f"{API}/initiatives/{world.team.initiative.id}/pilots", json=body,
                       headers=factory.bearer(world.team.leader))


def test_the_whole_pilot(client, factory, session, world):
    team = world.team
    lead = factory.bearer(team.leader)
    r = _create(client, factory, world)
    assert r.status_code == 201, r.text
    pilot = r.json()
    assert pilot["status"] == "planned" and pilot["round"] == 1 and pilot["sop_version"]["number"] == "V1.0"
    assert [k["target"] for k in pilot["kpis"]] == [10, 0.02]  # the KPI's own targets by default
    assert pilot["planned_end"] == (world.start + timedelta(weeks=2)).isoformat()
    pid = pilot["id"]

    # Observations: team A 30 min before, 8 during; team B (not in the scope) 50 throughout.
    observe(session, world, world.time, world.start - timedelta(weeks=4), 28, [30.0] * 40)
    observe(session, world, world.time, world.start, 14, [8.0] * 35)
    observe(session, world, world.time, world.start - timedelta(weeks=4), 42, [50.0] * 42, team="B")
    observe(session, world, world.errors, world.start - timedelta(weeks=4), 28, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 4)
    observe(session, world, world.errors, world.start, 14, [1] + [0] * 19)

    etag = client.get(f"{API}/pilots/{pid}", headers=lead).headers["etag"]
    r = client.patch(f"{API}/pilots/{pid}", json={"actual_start": world.start.isoformat()},
                     headers={**lead, "If-Match": etag})
    assert r.status_code == 200 and r.json()["status"] == "running", r.text

    # Daily log by one of the pilot's people, promoted to a problem by the team.
    member = factory.bearer(team.member)
    entry = client.post(f"{API}/pilots/{pid}/log", headers=member, json={
        "day": world.start.isoformat(), "progress": "40 activations", "problems": "新系统不熟悉，暂无提速"}).json()
    r = client.post(f"{API}/pilots/{pid}/log/{entry['id']}/promote", headers=lead, json={})
    assert r.status_code == 200 and r.json()["issue_id"], r.text
    issue = client.get(f"{API}/issues/{r.json()['issue_id']}", headers=lead).json()
    assert issue["title"] == "新系统不熟悉，暂无提速" and issue["initiative_id"] == team.initiative.id
    assert client.post(f"{API}/pilots/{pid}/log/{entry['id']}/promote", headers=lead, json={}).status_code == 409

    # Retrospectives: an action of week 1 carried into week 2 and closed there.
    w1 = client.post(f"{API}/pilots/{pid}/retrospectives", headers=lead, json={
        "week": 1, "held_on": (world.start + timedelta(days=6)).isoformat(), "went_well": "checklist",
        "went_badly": "SMS", "actions": [{"text": "Ask the SMS vendor", "owner_id": team.it.id}]}).json()
    action = w1["actions"][0]
    w2 = client.post(f"{API}/pilots/{pid}/retrospectives", headers=lead, json={
        "week": 2, "held_on": (world.start + timedelta(days=13)).isoformat(), "close_action_ids": [action["id"]]})
    assert w2.status_code == 201, w2.text
    assert [a["id"] for a in w2.json()["carried"]] == [action["id"]] and w2.json()["carried"][0]["closed_week"] == 2
    assert client.get(f"{API}/pilots/{pid}/actions", params={"open": True}, headers=lead).json() == []

    # Survey: each of the pilot's people once.
    for user, scores in ((team.member, (5, 4)), (team.it, (4, 5)), (team.viewer, (5, 4))):
        r = client.post(f"{API}/pilots/{pid}/survey/answers", headers=factory.bearer(user),
                        json={"easier": scores[0], "risk_controlled": scores[1], "comment": "好用"})
        assert r.status_code == 204, r.text
    assert client.post(f"{API}/pilots/{pid}/survey/answers", headers=member,
                       json={"easier": 1, "risk_controlled": 1}).status_code == 409
    assert client.post(f"{API}/pilots/{pid}/survey/answers", headers=factory.bearer(team.outsider),
                       json={"easier": 1, "risk_controlled": 1}).status_code == 403
    poll = client.get(f"{API}/pilots/{pid}/survey", headers=lead).json()
    assert poll["answered"] == 3 and poll["satisfaction"] == pytest.approx(27 / 6)
    assert poll["easier"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}

    unmet = client.post(f"{API}/pilots/{pid}/unmet", headers=lead, json={
        "problem": "部分用户反馈手机号验证码收不到", "cause": "短信通道", "change": "短信通道需优化"})
    assert unmet.status_code == 201, unmet.text

    # Evaluation: team A only, 30 -> 8 = -73.3 %; error rate 10 % -> 5 %.
    ev = client.get(f"{API}/pilots/{pid}/evaluation", headers=lead).json()
    time, errors = ev["kpis"]
    assert time["before"] == {"value": 30.0, "count": 40, "too_few": False}
    assert time["during"]["value"] == 8.0 and time["during"]["count"] == 35
    assert time["diff_rate"] == pytest.approx(-22 / 30) and time["met_target"] is True and time["improved"]
    assert errors["before"]["value"] == pytest.approx(0.1) and errors["during"]["value"] == pytest.approx(0.05)
    assert errors["during"]["too_few"] is True and errors["met_target"] is False
    assert ev["after"] is None and time["after"] is None

    # Decide: only after the end; adopt with a V1.1 draft; the gate opens.
    gate = client.get(f"{API}/initiatives/{team.initiative.id}/gate", headers=lead).json()
    assert any(c["code"] == "pilot_adopted" and not c["met"] for c in gate["criteria"])
    decision = {"decision": "adopt", "reason": "-73 %, satisfaction 4.5", "start_next_version": True}
    assert client.post(f"{API}/pilots/{pid}/decision", headers=lead, json=decision).status_code == 422
    etag = client.get(f"{API}/pilots/{pid}", headers=lead).headers["etag"]
    r = client.patch(f"{API}/pilots/{pid}", json={"actual_end": today().isoformat()},
                     headers={**lead, "If-Match": etag})
    assert r.status_code == 200 and r.json()["status"] == "finished", r.text
    r = client.post(f"{API}/pilots/{pid}/decision", headers=factory.bearer(team.member), json=decision)
    assert r.status_code == 403
    r = client.post(f"{API}/pilots/{pid}/decision", headers=lead, json=decision)
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "decided" and decided["decided_by"]["id"] == team.leader.id
    nxt = client.get(f"{API}/sop-versions/{decided['next_version_id']}", headers=lead).json()
    assert nxt["state"] == "draft"
    comments = client.get(f"{API}/sop-versions/{nxt['id']}/comments", headers=lead).json()["items"]
    assert [c["text"] for c in comments] == [
        "试点第 1 轮未达标 Unmet in pilot round 1: 部分用户反馈手机号验证码收不到 → 短信通道需优化（短信通道）"]
    assert comments[0]["section"] == "steps" and not comments[0]["resolved"]
    gate = client.get(f"{API}/initiatives/{team.initiative.id}/gate", headers=lead).json()
    assert any(c["code"] == "pilot_adopted" and c["met"] for c in gate["criteria"])
    assert client.post(f"{API}/pilots/{pid}/log", headers=member, json={
        "day": today().isoformat(), "progress": "late"}).status_code == 409

    rows = client.get(f"{API}/pilots/{pid}/table3", headers=lead, params={"lang": "zh_CN"}).json()
    assert rows[0]["scope"] == "运营A组" and rows[0]["before"] == 30 and rows[0]["after"] == 8
    assert rows[0]["unmet"] == ["部分用户反馈手机号验证码收不到 → 短信通道需优化"]
    csv = client.get(f"{API}/pilots/{pid}/table3/export", headers=lead, params={"format": "csv", "lang": "zh_CN"})
    assert csv.status_code == 200 and "试点范围" in csv.content.decode("utf-8-sig")
    assert "-73.3 %" in csv.content.decode("utf-8-sig")
