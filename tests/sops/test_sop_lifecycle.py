"""An SOP end to end through the API: drafted from the initiative, edited with If-Match, reviewed in two
rounds, signed, published as V1.0, revised into V1.1, and listed in Table 4."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.sops.service import add_months
from tests.sops.helpers import design_story, ok, review_and_sign, send


def test_lifecycle(client, factory, team, session):
    story = design_story(session, factory, team)
    leader, member, it, ops = team.leader, team.member, team.it, story.ops_reviewer
    ini = team.initiative

    # Draft the SOP from the chain.
    r = send(client, "POST", f"/initiatives/{ini.id}/sop/draft", leader)
    v = ok(r, 201)
    vid = v["id"]
    assert r.headers["Location"] == f"/api/v1/sop-versions/{vid}"
    assert r.headers["ETag"] == f'"sop-version-{vid}-v1"'
    assert v["state"] == "draft" and v["status"] == "draft" and v["number"] is None
    assert v["author"]["id"] == leader.id and v["suggested_bump"] is None
    steps = v["content"]["steps"]
    assert [s["name"] for s in steps] == [s.name for s in story.steps]
    assert steps[1]["issue_ids"] == [story.issue.id] and steps[1]["measure_ids"] == [story.measure.id]
    assert steps[1]["minutes"] == 30 and steps[1]["system_path"] == "CRM › KYC › Billing"
    assert steps[0]["issue_ids"] == [] and len({s["id"] for s in steps}) == 4
    purpose = v["content"]["purpose"]
    assert (purpose["baseline"], purpose["target"], purpose["unit"]) == (30, 5, "min")
    raci = v["content"]["raci"]
    assert raci["activities"][0]["name"] == "Manual review" and raci["cells"][0]["letters"] == "RA"
    assert {"operations", "technology"} <= set(v["content"]["scope"]["departments"])
    # A second draft while this one is open: refused.
    assert send(client, "POST", f"/initiatives/{ini.id}/sop/draft", member).status_code == 409

    # Edit a section with If-Match; the stale tag then gets 412 and changes nothing.
    etag = r.headers["ETag"]
    steps[0]["instructions"] = "Fill in the form in the app"
    steps.append({"name": "Welcome call", "department": "operations", "minutes": 3})
    r = send(client, "PATCH", f"/sop-versions/{vid}/sections/steps", member, etag, json=steps)
    v = ok(r)
    assert v["version"] == 2 and r.headers["ETag"] == f'"sop-version-{vid}-v2"'
    assert v["content"]["steps"][0]["instructions"] == "Fill in the form in the app"
    assert v["content"]["steps"][4]["id"]  # the new step got its id
    assert send(client, "PATCH", f"/sop-versions/{vid}/sections/steps", member, etag, json=steps).status_code == 412
    assert send(client, "PATCH", f"/sop-versions/{vid}/sections/steps", member, json=steps).status_code == 428
    scope = {"scenarios": ["New user registration"], "departments": ["operations", "technology"],
             "roles": ["Operations specialist"]}
    v = ok(send(client, "PATCH", f"/sop-versions/{vid}/sections/scope", member, f'"sop-version-{vid}-v2"',
                json=scope))

    # Submit: the author cannot review; every covered department needs a reviewer.
    url = f"/sop-versions/{vid}"
    r = send(client, "POST", f"{url}/submit", member, json={"reviewers": [{"user_id": leader.id}, {"user_id": it.id}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reviewers.0.user_id"
    r = send(client, "POST", f"{url}/submit", member, json={"reviewers": [{"user_id": it.id}]})
    assert r.status_code == 422 and "operations" in r.json()["detail"]
    v = ok(send(client, "POST", f"{url}/submit", member,
                json={"reviewers": [{"user_id": ops.id}, {"user_id": it.id}]}))
    assert v["state"] == "in_review" and v["review_round"] == 1
    assert [(x["department"], x["vote"]) for x in v["reviewers"]] == [("operations", "none"), ("technology", "none")]

    # Review round 1: a comment on a step, a reply in its thread, a request for changes, an approval.
    step_id = v["content"]["steps"][1]["id"]
    r = send(client, "POST", f"{url}/comments", ops, json={"section": "steps", "step_id": step_id,
                                                           "text": "Name the three systems checked"})
    comment = ok(r, 201)
    assert comment["round"] == 1 and comment["author"]["id"] == ops.id
    reply = ok(send(client, "POST", f"{url}/comments", member,
                    json={"section": "steps", "parent_id": comment["id"], "text": "Done in round 2"}), 201)
    assert reply["parent_id"] == comment["id"]
    ok(send(client, "POST", f"{url}/votes", it, json={"vote": "request_changes"}))
    v = ok(send(client, "POST", f"{url}/votes", ops, json={"vote": "approve"}))
    assert [x["vote"] for x in v["reviewers"]] == ["approve", "request_changes"] and v["open_comments"] == 1
    r = send(client, "POST", f"{url}/sign", leader)
    assert r.status_code == 409 and it.display_name in r.json()["detail"]

    # A change after submission starts round 2: the earlier approval no longer counts.
    steps = v["content"]["steps"]
    steps[1]["instructions"] = "Check CRM, KYC and Billing"
    v = ok(send(client, "PATCH", f"{url}/sections/steps", member, f'"sop-version-{vid}-v{v["version"]}"', json=steps))
    assert v["review_round"] == 2 and [x["vote"] for x in v["reviewers"]] == ["none", "none"]
    for reviewer in (ops, it):
        v = ok(send(client, "POST", f"{url}/votes", reviewer, json={"vote": "approve"}))
    r = send(client, "POST", f"{url}/sign", leader)
    assert r.status_code == 409 and "comment" in r.json()["detail"]
    r = send(client, "PATCH", f"{url}/comments/{comment['id']}", member, f'"sop-comment-{comment["id"]}-v1"',
             json={"resolved": True})
    assert ok(r)["resolved"] is True and r.headers["ETag"] == f'"sop-comment-{comment["id"]}-v2"'
    assert len(ok(send(client, "GET", f"{url}/comments", ops))["items"]) == 2

    # Sign-off: the leader only, with the hash of the exact content.
    assert send(client, "POST", f"{url}/sign", member).status_code == 403
    v = ok(send(client, "POST", f"{url}/sign", leader))
    assert v["state"] == "approved" and v["signed_by"]["id"] == leader.id and v["signed_at"]
    canonical = json.dumps(v["content"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert v["signed_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    r = send(client, "PATCH", f"{url}/sections/forms", member, f'"sop-version-{vid}-v{v["version"]}"', json=[])
    assert r.status_code == 409 and "signed" in r.json()["detail"]

    # Publish V1.0 (ten days ago).
    first_day = today() - timedelta(days=10)
    v = ok(send(client, "POST", f"{url}/publish", leader, json={"effective_date": first_day.isoformat()}))
    assert v["number"] == "V1.0" and v["state"] == "published" and v["status"] == "effective"
    code = v["process"]["code"]
    assert ok(send(client, "GET", f"/processes/{code}/sop", team.viewer))["id"] == vid
    assert ok(send(client, "GET", f"/processes/{code.lower()}/sop", team.viewer))["id"] == vid
    assert ok(send(client, "GET", f"/processes/{v['process']['id']}/sop", team.outsider))["id"] == vid
    before = (first_day - timedelta(days=1)).isoformat()
    assert send(client, "GET", f"/processes/{code}/sop", team.viewer, params={"at": before}).status_code == 404

    # Published versions are immutable.
    r = send(client, "PATCH", f"{url}/sections/purpose", leader, f'"sop-version-{vid}-v{v["version"]}"',
             json={"text": "x"})
    assert r.status_code == 409 and "V1.0 is published" in r.json()["detail"]
    assert send(client, "POST", f"{url}/withdraw", leader).status_code == 409

    # V1.1: a copy of V1.0, reviewed again; the summary is required and the date not before V1.0's.
    nxt = ok(send(client, "POST", f"{url}/next", member, json={"initiative_id": ini.id}), 201)
    assert nxt["based_on_id"] == vid and nxt["content"] == v["content"] and nxt["state"] == "draft"
    assert nxt["suggested_bump"] == "minor"
    url2 = f"/sop-versions/{nxt['id']}"
    forms = [{"name": "User activation request form", "kind": "form", "location": "OA › Forms"}]
    nxt = ok(send(client, "PATCH", f"{url2}/sections/forms", member, f'"sop-version-{nxt["id"]}-v1"', json=forms))
    assert nxt["suggested_bump"] == "minor"
    review_and_sign(client, story, nxt["id"], member)
    r = send(client, "POST", f"{url2}/publish", leader, json={"effective_date": today().isoformat()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "change_summary"
    r = send(client, "POST", f"{url2}/publish", leader,
             json={"effective_date": (first_day - timedelta(days=1)).isoformat(), "change_summary": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "effective_date"
    v2 = ok(send(client, "POST", f"{url2}/publish", leader, json={
        "effective_date": today().isoformat(), "change_summary": "新增短信通道优化步骤", "note": "解决验证码接收问题"}))
    assert v2["number"] == "V1.1" and v2["status"] == "effective"
    assert ok(send(client, "GET", f"/processes/{code}/sop", team.viewer))["id"] == v2["id"]
    assert ok(send(client, "GET", f"/processes/{code}/sop", team.viewer,
                   params={"at": first_day.isoformat()}))["id"] == vid
    assert ok(send(client, "GET", url, team.viewer))["status"] == "superseded"

    # The versions and Table 4.
    page = ok(send(client, "GET", f"/sops/{v['sop_id']}/versions", team.viewer))
    assert [(i["number"], i["status"]) for i in page["items"]] == [("V1.0", "superseded"), ("V1.1", "effective")]
    assert page["sop"]["current_version_id"] == v2["id"] and page["sop"]["review_interval_months"] == 12
    assert page["sop"]["review_due"] == add_months(today(), 12).isoformat()
    rows = ok(send(client, "GET", f"/sops/{v['sop_id']}/table4", team.outsider))["items"]
    assert [(x["version"], x["effective_date"], x["change_summary"], x["note"]) for x in rows] == [
        ("V1.0", first_day.isoformat(), "", ""),
        ("V1.1", today().isoformat(), "新增短信通道优化步骤", "解决验证码接收问题")]
    assert rows[1]["process_code"] == code and rows[1]["author"] == member.display_name
    assert rows[1]["reviewers"] == [ops.display_name, it.display_name]

    actions = [a.action for a in session.exec(select(AuditRecord).where(AuditRecord.entity_type == "sop_version",
                                                                        AuditRecord.entity_id == vid)
                                              .order_by(AuditRecord.id))]
    assert actions[:4] == ["create", "update", "update", "submit"] and actions[-2:] == ["sign", "publish"]
    assert "vote" in actions


def test_major_bump_suggested_when_steps_change(client, factory, team, session):
    story = design_story(session, factory, team)
    v = ok(send(client, "POST", f"/initiatives/{team.initiative.id}/sop/draft", team.leader), 201)
    review_and_sign(client, story, v["id"], team.member)
    ok(send(client, "POST", f"/sop-versions/{v['id']}/publish", team.leader,
            json={"effective_date": today().isoformat()}))
    nxt = ok(send(client, "POST", f"/sop-versions/{v['id']}/next", team.member,
                  json={"initiative_id": team.initiative.id}), 201)
    steps = nxt["content"]["steps"] + [{"name": "SMS channel check", "minutes": 1}]
    nxt = ok(send(client, "PATCH", f"/sop-versions/{nxt['id']}/sections/steps", team.member,
                  f'"sop-version-{nxt["id"]}-v1"', json=steps))
    assert nxt["suggested_bump"] == "major"
    review_and_sign(client, story, nxt["id"], team.member)
    v2 = ok(send(client, "POST", f"/sop-versions/{nxt['id']}/publish", team.leader,
                 json={"effective_date": today().isoformat(), "change_summary": "Adds the SMS channel step"}))
    assert v2["number"] == "V2.0"
    # Withdrawing a draft.
    third = ok(send(client, "POST", f"/sop-versions/{v2['id']}/next", team.member,
                    json={"initiative_id": team.initiative.id}), 201)
    assert ok(send(client, "POST", f"/sop-versions/{third['id']}/withdraw", team.member,
                   json={"reason": "not needed"}))["state"] == "withdrawn"
    assert send(client, "POST", f"/sop-versions/{third['id']}/withdraw", team.member).status_code == 409
