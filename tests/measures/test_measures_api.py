"""Countermeasures through the API: CRUD, If-Match, validation with nothing written, overdue, the design gate."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.initiatives.models import Phase
from app.measures.models import Measure, MeasureIssue
from tests.initiatives.factories import add_issue, add_raci
from tests.measures.helpers import API, add_measure, body
from tests.sops.factories import add_approved_sop


def _counts(session):  # noqa: ANN001, ANN202
    return (session.exec(select(func.count()).select_from(Measure)).one(),
            session.exec(select(func.count()).select_from(MeasureIssue)).one())


def test_crud(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, impact=5, urgency=5)
    other = add_issue(session, team.initiative, team.leader)
    session.flush()
    h = factory.bearer(team.it)
    url = f"{API}/initiatives/{team.initiative.id}/measures"
    r = client.post(url, json=body([issue.id, other.id, issue.id]), headers=h)
    assert r.status_code == 201, r.text
    m = r.json()
    assert r.headers["Location"] == f"/api/v1/measures/{m['id']}"
    assert r.headers["ETag"] == f'"measure-{m["id"]}-v1"'
    assert [i["id"] for i in m["issues"]] == [issue.id, other.id]
    assert m["type"] == "automate" and m["department"] == "technology" and m["status"] == "planned"
    assert m["due_date"] == "2030-01-31" and m["overdue"] is False
    assert float(m["effect_baseline"]) == 30 and float(m["effect_target"]) == 5
    assert m["effect_direction"] == "lower_is_better"

    items = client.get(url, headers=h).json()["items"]
    assert [i["id"] for i in items] == [m["id"]]
    mu = f"{API}/measures/{m['id']}"
    assert client.get(mu, headers=h).json()["goal"] == "Activation <= 5 min"
    r = client.patch(mu, json={"status": "in_progress", "progress_notes": "API designed", "issue_ids": [issue.id],
                               "owner_id": team.it.id, "department": None},
                     headers={**h, "If-Match": f'"measure-{m["id"]}-v1"'})
    assert r.status_code == 200, r.text
    m2 = r.json()
    assert m2["version"] == 2 and m2["status"] == "in_progress" and m2["department"] is None
    assert [i["id"] for i in m2["issues"]] == [issue.id] and m2["owner"]["id"] == team.it.id
    assert r.headers["ETag"] == f'"measure-{m["id"]}-v2"'
    # The problem lists its countermeasures.
    assert [x["id"] for x in client.get(f"{API}/issues/{issue.id}/measures", headers=h).json()] == [m["id"]]
    assert client.get(f"{API}/issues/{other.id}/measures", headers=h).json() == []
    actions = [a.action for a in session.exec(select(AuditRecord).where(AuditRecord.entity_type == "measure"))]
    assert actions == ["create", "update"]
    assert client.delete(mu, headers=h).status_code == 204
    assert client.get(mu, headers=h).status_code == 404


def test_if_match(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    m = add_measure(session, team.initiative.id, team.leader, [issue.id])
    h = factory.bearer(team.leader)
    mu = f"{API}/measures/{m.id}"
    r = client.patch(mu, json={"status": "done"}, headers=h)
    assert r.status_code == 428
    r = client.patch(mu, json={"status": "done"}, headers={**h, "If-Match": f'"measure-{m.id}-v7"'})
    assert r.status_code == 412
    r = client.patch(mu, json={"status": "done"}, headers={**h, "If-Match": f'"issue-{m.id}-v1"'})
    assert r.status_code == 412
    session.refresh(m)
    assert m.status == "planned" and m.version == 1


def test_bad_input_is_422_and_writes_nothing(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    foreign = add_issue(session, team.other, team.other_lead)
    session.flush()
    h = factory.bearer(team.leader)
    url = f"{API}/initiatives/{team.initiative.id}/measures"
    before = _counts(session)
    cases = [
        (body([issue.id, foreign.id]), "issue_ids"),  # another initiative's problem
        (body([issue.id], due_date="next friday"), "due_date"),
        (body([issue.id], due_date="2030-02-30"), "due_date"),
        (body([issue.id], type="magic"), "type"),
        (body([]), "issue_ids"),
        (body([999999]), "issue_ids"),
        (body([issue.id], department="nowhere"), "department"),
        (body([issue.id], owner_id=999999), "owner_id"),
        (body([issue.id], effect_target="a lot"), "effect_target"),
        (body([issue.id], effect_direction="sideways"), "effect_direction"),
    ]
    for data, field in cases:
        r = client.post(url, json=data, headers=h)
        assert r.status_code == 422, (field, r.text)
        assert field in {e["loc"][-1] if isinstance(e["loc"][-1], str) else e["loc"][-2] for e in r.json()["errors"]}, \
            (field, r.json())
    assert _counts(session) == before

    m = add_measure(session, team.initiative.id, team.leader, [issue.id])
    before = _counts(session)
    mu = f"{API}/measures/{m.id}"
    for data in ({"issue_ids": [foreign.id]}, {"due_date": "soon"}, {"type": "magic"}, {"goal": None},
                 {"issue_ids": [issue.id, foreign.id], "status": "done"}):
        r = client.patch(mu, json=data, headers={**h, "If-Match": f'"measure-{m.id}-v1"'})
        assert r.status_code == 422, (data, r.text)
    session.refresh(m)
    assert m.version == 1 and m.status == "planned"
    links = session.exec(select(MeasureIssue.issue_id).where(MeasureIssue.measure_id == m.id)).all()
    assert links == [issue.id] and _counts(session) == before


def test_overdue_flag_and_filters(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    yesterday = (today() - timedelta(days=1)).isoformat()
    late = add_measure(session, team.initiative.id, team.leader, [issue.id], due_date=yesterday)
    add_measure(session, team.initiative.id, team.leader, [issue.id], due_date=yesterday, status="done")
    add_measure(session, team.initiative.id, team.leader, [issue.id], due_date=yesterday, status="dropped")
    add_measure(session, team.initiative.id, team.leader, [issue.id], due_date=today().isoformat())
    add_measure(session, team.initiative.id, team.leader, [issue.id], due_date=None, department="operations")
    h = factory.bearer(team.viewer)
    url = f"{API}/initiatives/{team.initiative.id}/measures"
    items = client.get(url, headers=h).json()["items"]
    assert [i["overdue"] for i in items] == [True, False, False, False, False]
    assert [i["id"] for i in client.get(url, params={"overdue": "true"}, headers=h).json()["items"]] == [late.id]
    assert len(client.get(url, params={"overdue": "false"}, headers=h).json()["items"]) == 4
    assert len(client.get(url, params={"status": "done"}, headers=h).json()["items"]) == 1
    assert len(client.get(url, params={"department": "operations"}, headers=h).json()["items"]) == 1
    assert len(client.get(url, params={"department": "technology"}, headers=h).json()["items"]) == 4
    assert client.get(url, params={"status": "bogus"}, headers=h).status_code == 422


def _to_design(session, team):  # noqa: ANN001, ANN202
    ini = team.initiative
    ini.current_phase = Phase.design
    session.add(ini)
    session.flush()


def test_design_gate_needs_a_measure_for_every_do_first_problem(client, factory, team, session):
    _to_design(session, team)
    add_approved_sop(session, team.initiative, team.leader)  # the SOP's criterion met
    do_first = add_issue(session, team.initiative, team.leader, impact=5, urgency=4)
    add_issue(session, team.initiative, team.leader, impact=2, urgency=2)  # defer: needs none
    add_issue(session, team.initiative, team.leader, impact=5, urgency=5, status="resolved")  # closed
    session.flush()
    h = factory.bearer(team.leader)
    gate_url = f"{API}/initiatives/{team.initiative.id}/gate"

    def unmet():  # noqa: ANN202
        return {c["code"]: c for c in client.get(gate_url, headers=h).json()["criteria"] if not c["met"]}

    assert unmet()["do_first_planned"]["params"] == {"n": 1}
    m = add_measure(session, team.initiative.id, team.leader, [do_first.id], status="dropped")
    assert "do_first_planned" in unmet()  # a dropped measure plans nothing
    r = client.patch(f"{API}/measures/{m.id}", json={"status": "planned"},
                     headers={**h, "If-Match": f'"measure-{m.id}-v1"'})
    assert r.status_code == 200
    assert "do_first_planned" not in unmet()
    add_raci(session, team.initiative, team.leader)  # the design gate needs a valid RACI matrix too
    r = client.post(f"{API}/initiatives/{team.initiative.id}/advance", headers=h)
    assert r.status_code == 200 and r.json()["current_phase"] == "pilot"


def test_demo_has_the_methods_example(session):
    from app import demo
    from app.initiatives.models import Initiative
    from app.measures.service import list_measures, to_read

    if not demo.is_empty(session):  # pragma: no cover - the test database starts empty
        return
    demo.load(session)
    ini = session.exec(select(Initiative).order_by(Initiative.id)).first()  # the main one; the pilot's comes after
    rows = to_read(session, list_measures(session, ini.id))
    first = rows[0]
    assert "automatic check against the 3 systems" in first.description
    assert first.department == "technology" and first.type == "automate"
    assert (first.effect_baseline, first.effect_target, first.effect_unit) == (30, 5, "min")
    assert "error rate <= 1 %" in first.goal
    assert "30" in first.issues[0].title
