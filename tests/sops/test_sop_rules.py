"""Who may do what with an SOP version, bad input (422, nothing written), and the design gate."""

from __future__ import annotations

import copy

from sqlmodel import func, select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.sops.models import SopVersion
from tests.helpers import assert_problem
from tests.initiatives.factories import add_issue
from tests.measures.helpers import add_measure
from tests.sops.factories import add_approved_sop
from tests.sops.helpers import design_story, ok, review_and_sign, send


def _draft(client, team):  # noqa: ANN001, ANN202
    return ok(send(client, "POST", f"/initiatives/{team.initiative.id}/sop/draft", team.leader), 201)


def test_drafts_are_read_by_their_circle_only(client, factory, team, session):
    story = design_story(session, factory, team)
    for user in (team.viewer, team.outsider, team.other_lead):
        assert_problem(send(client, "POST", f"/initiatives/{team.initiative.id}/sop/draft", user), 403)
    v = _draft(client, team)
    url = f"/sop-versions/{v['id']}"
    etag = f'"sop-version-{v["id"]}-v1"'
    for user in (team.viewer, team.outsider, team.other_lead):
        assert_problem(send(client, "GET", url, user), 403)
        assert_problem(send(client, "GET", f"{url}/comments", user), 403)
        assert ok(send(client, "GET", f"/sops/{v['sop_id']}/versions", user))["items"] == []
    for user in (team.member, team.it, team.admin):
        ok(send(client, "GET", url, user))
    # Another team (and a viewer) cannot edit, comment, submit or withdraw.
    for user in (team.outsider, team.viewer, team.other_lead):
        assert_problem(send(client, "PATCH", f"{url}/sections/forms", user, etag, json=[]), 403)
        assert_problem(send(client, "POST", f"{url}/comments", user, json={"section": "purpose", "text": "x"}), 403)
        assert_problem(send(client, "POST", f"{url}/submit", user,
                            json={"reviewers": [{"user_id": story.ops_reviewer.id}]}), 403)
        assert_problem(send(client, "POST", f"{url}/withdraw", user), 403)
    # A reviewer reads the version they review; the author is no reviewer and cannot vote.
    ok(send(client, "POST", f"{url}/submit", team.member,
            json={"reviewers": [{"user_id": story.ops_reviewer.id}, {"user_id": team.it.id}]}))
    ok(send(client, "GET", url, story.ops_reviewer))
    assert_problem(send(client, "POST", f"{url}/votes", team.leader, json={"vote": "approve"}), 403)
    assert_problem(send(client, "POST", f"{url}/votes", team.admin, json={"vote": "approve"}), 403)
    for reviewer in (story.ops_reviewer, team.it):
        ok(send(client, "POST", f"{url}/votes", reviewer, json={"vote": "approve"}))
    # Only the leader signs and publishes (not an administrator, not a member).
    for user in (team.member, team.admin, team.other_lead, team.viewer):
        assert_problem(send(client, "POST", f"{url}/sign", user), 403)
    ok(send(client, "POST", f"{url}/sign", team.leader))
    assert_problem(send(client, "POST", f"{url}/publish", team.member,
                        json={"effective_date": today().isoformat()}), 403)
    ok(send(client, "POST", f"{url}/publish", team.leader, json={"effective_date": today().isoformat()}))
    # Published: everyone reads it.
    for user in (team.viewer, team.outsider, team.other_lead):
        assert ok(send(client, "GET", url, user))["status"] == "effective"
        assert [i["id"] for i in ok(send(client, "GET", f"/sops/{v['sop_id']}/versions", user))["items"]] == [v["id"]]
    # Another team cannot start the next version for their own initiative, nor a standalone one.
    assert_problem(send(client, "POST", f"{url}/next", team.outsider, json={"initiative_id": team.other.id}), 422)
    assert_problem(send(client, "POST", f"{url}/next", team.outsider), 403)
    assert_problem(send(client, "POST", f"{url}/next", team.viewer, json={"initiative_id": team.initiative.id}), 403)


def test_bad_input_is_422_and_writes_nothing(client, factory, team, session):
    design_story(session, factory, team)
    v = _draft(client, team)
    vid = v["id"]
    url = f"/sop-versions/{vid}/sections"
    etag = f'"sop-version-{vid}-v1"'
    audits = session.exec(select(func.count()).select_from(AuditRecord)).one()
    original = copy.deepcopy(v["content"])
    steps = v["content"]["steps"]
    steps[2]["name"] = ""
    body = assert_problem(send(client, "PATCH", f"{url}/steps", team.member, etag, json=steps), 422)
    assert body["errors"][0]["field"] == "steps.2.name"
    raci = v["content"]["raci"]
    raci["roles"].append("Operations head")
    raci["cells"].append({"activity": "Manual review", "role": "Operations head", "letters": "A"})
    body = assert_problem(send(client, "PATCH", f"{url}/raci", team.member, etag, json=raci), 422)
    assert body["errors"][0]["field"] == "raci.cells" and "A" in body["detail"]
    raci["cells"][-1]["letters"] = "RACI"
    assert_problem(send(client, "PATCH", f"{url}/raci", team.member, etag, json=raci), 422)
    raci["cells"][-1] = {"activity": "Unknown", "role": "Operations head", "letters": "C"}
    assert_problem(send(client, "PATCH", f"{url}/raci", team.member, etag, json=raci), 422)
    cps = [{"step_id": "00000000-0000-4000-8000-000000000000", "description": "Amount >= 10,000: finance head"}]
    body = assert_problem(send(client, "PATCH", f"{url}/control_points", team.member, etag, json=cps), 422)
    assert body["errors"][0]["field"] == "control_points.0.step_id"
    for section, value in (("scope", {"departments": ["nowhere"]}), ("purpose", {"kpi_id": 2**31 - 1}),
                           ("forms", [{"name": "Form", "kind": "paper"}]), ("purpose", []), ("steps", {}),
                           ("contingencies", [{"situation": "System down"}])):
        assert_problem(send(client, "PATCH", f"{url}/{section}", team.member, etag, json=value), 422)
    assert send(client, "PATCH", f"{url}/nonsense", team.member, etag, json={}).status_code == 422
    session.expire_all()
    row = session.get(SopVersion, vid)
    assert row.version == 1 and row.content == original
    assert session.exec(select(func.count()).select_from(AuditRecord)).one() == audits
    # A step that a control point is attached to cannot go.
    steps[2]["name"] = "System activation"
    cps[0]["step_id"] = steps[2]["id"]
    v = ok(send(client, "PATCH", f"{url}/control_points", team.member, etag, json=cps))
    body = assert_problem(send(client, "PATCH", f"{url}/steps", team.member, f'"sop-version-{vid}-v2"',
                               json=steps[:2]), 422)
    assert body["errors"][0]["field"] == "steps"
    # Publishing without sign-off, signing without review.
    assert_problem(send(client, "POST", f"/sop-versions/{vid}/publish", team.leader,
                        json={"effective_date": today().isoformat()}), 409)
    assert_problem(send(client, "POST", f"/sop-versions/{vid}/sign", team.leader), 409)
    # Drafting outside the design phase.
    team.other.current_phase = "root_cause"
    assert_problem(send(client, "POST", f"/initiatives/{team.other.id}/sop/draft", team.other_lead), 409)


def test_the_design_gate_needs_an_approved_sop(client, factory, team, session):
    story = design_story(session, factory, team)
    gate = f"/initiatives/{team.initiative.id}/gate"

    def unmet():  # noqa: ANN202
        return {c["code"] for c in ok(send(client, "GET", gate, team.leader))["criteria"] if not c["met"]}

    assert unmet() == {"sop_approved"}
    v = _draft(client, team)
    review_and_sign(client, story, v["id"], team.member)
    assert unmet() == set()
    ok(send(client, "POST", f"/sop-versions/{v['id']}/publish", team.leader,
            json={"effective_date": today().isoformat()}))
    assert unmet() == set()


def test_factory_gets_the_gate_through(client, factory, team, session):
    ini = team.initiative
    ini.current_phase = "design"
    session.add(ini)
    session.flush()
    v = add_approved_sop(session, ini, team.leader)
    assert v.state == "approved"
    gate = ok(send(client, "GET", f"/initiatives/{ini.id}/gate", team.leader))
    assert "sop_approved" not in {c["code"] for c in gate["criteria"] if not c["met"]}


def test_standalone_revision_by_the_process_owner(client, factory, team, session):
    owner = team.leader  # the factories make the leader the process owner
    process_id = team.initiative.process_id
    assert_problem(send(client, "POST", f"/processes/{process_id}/sop", team.member), 403)
    assert_problem(send(client, "POST", "/processes/NO-SUCH/sop", owner), 404)
    assert_problem(send(client, "POST", "/processes/99999999999/sop", owner), 404)
    v = ok(send(client, "POST", f"/processes/{process_id}/sop", owner, json={"review_interval_months": 6}), 201)
    assert v["initiative_id"] is None and v["content"]["steps"] == []
    # The team of an initiative does not edit a standalone revision; the owner does.
    etag = f'"sop-version-{v["id"]}-v1"'
    assert_problem(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/forms", team.member, etag, json=[]), 403)
    ok(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/forms", owner, etag, json=[{"name": "CRM"}]))
    assert_problem(send(client, "GET", f"/processes/{process_id}/sop", team.viewer), 404)


def test_control_points_come_from_validation_and_compliance_countermeasures(client, factory, team, session):
    """A countermeasure that checks or approves becomes a control point at the step of its problem, linked to
    both; links to another process's problems are refused."""
    story = design_story(session, factory, team)
    check = add_measure(session, team.initiative.id, team.leader, [story.issue.id], type="validation",
                        description="Orders >= 10,000 need the finance head's approval")
    v = _draft(client, team)
    [cp] = v["content"]["control_points"]
    review = next(s for s in v["content"]["steps"] if story.issue.id in s["issue_ids"])
    assert (cp["description"], cp["step_id"]) == (check.description, review["id"])
    assert (cp["issue_ids"], cp["measure_ids"]) == ([story.issue.id], [check.id])
    elsewhere = add_issue(session, team.other, team.other_lead, impact=3, urgency=3)
    session.commit()
    cp["issue_ids"] = [elsewhere.id]
    body = assert_problem(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/control_points", team.member,
                               f'"sop-version-{v["id"]}-v1"', json=[cp]), 422)
    assert body["errors"][0]["field"] == "control_points"


def test_the_draft_carries_the_countermeasures_changes(client, factory, team, session):
    """A "remove a step" countermeasure takes its step out of the draft (and out of the RACI); an automating
    one gives its step its description as instructions."""
    story = design_story(session, factory, team)  # an automating countermeasure at the manual review
    activation = story.steps[2]
    gone = add_issue(session, team.initiative, team.leader, impact=2, urgency=2, step_ids=[activation.id])
    add_measure(session, team.initiative.id, team.leader, [gone.id], type="remove_step",
                description="Activate on approval")
    session.commit()
    content = _draft(client, team)["content"]
    names = [s["name"] for s in content["steps"]]
    assert activation.name not in names and len(names) == len(story.steps) - 1
    review = next(s for s in content["steps"] if s["name"] == story.steps[1].name)
    assert review["instructions"] == story.measure.description and review["measure_ids"] == [story.measure.id]
    assert all(s["instructions"] == "" for s in content["steps"] if s is not review)
