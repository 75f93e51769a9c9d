"""The team rule on every write that touches an initiative's KPIs and event logs (#12 item 5), through the
JSON API and the pages: a person not on the initiative's team (a member of another team, a lead of another
initiative) gets 403; the team (and administrators) succeed. Reads stay open to everyone signed in."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from app.metrics.models import Kpi, KpiAlert, KpiAlertRule, Observation
from app.metrics.schemas import AlertRuleCreate
from app.metrics.service import create_rule
from app.mining.models import EventLog
from tests.initiatives.factories import InitiativeFactory, Team, add_steps
from tests.metrics.helpers import add, make_kpi, utc
from tests.metrics.test_pages import login
from tests.mining.test_eventlogs_api import SMALL_CSV, upload


@dataclass
class World:
    team: Team
    kpi: Kpi  # of the team's initiative, owned by the team's business member
    rule: KpiAlertRule
    alert: KpiAlert
    log_id: int  # an event log of the initiative, uploaded by the business member
    step_id: int


@pytest.fixture
def world(client, session, factory) -> World:
    team = InitiativeFactory(session, factory).team()
    ini = team.initiative
    kpi = make_kpi(session, team.member, process_id=ini.process_id, initiative_id=ini.id, target=8)
    rule = create_rule(session, kpi.id, AlertRuleCreate(kind="target_breach", grain="week"), team.member)
    add(session, team.member, kpi, [(utc(2025, 1, 6, 2), 20.0)])
    alert = session.exec(select(KpiAlert).where(KpiAlert.kpi_id == kpi.id)).one()
    step = add_steps(session, ini, team.leader, [{"name": "Review", "minutes": "30"}])[0]
    session.flush()
    r = upload(client, factory.bearer(team.member), ini.process_id, SMALL_CSV.encode(), initiative_id=ini.id)
    assert r.status_code == 201, r.text
    return World(team, kpi, rule, alert, r.json()["id"], step.id)


def _etag(client, factory, user, url):
    return client.get(url, headers=factory.bearer(user)).headers["etag"]


# --- JSON API ----------------------------------------------------------------------------------------------


def test_creating_a_kpi_of_an_initiative(client, factory, world):
    t = world.team
    def body(n):
        return {"code": f"TEAM-{n}", "name_en": "n", "name_zh": "n", "unit": "min",
                "direction": "lower_is_better", "process_id": t.initiative.process_id,
                "initiative_id": t.initiative.id}
    for i, user in enumerate((t.outsider, t.other_lead)):
        r = client.post("/api/v1/kpis", json=body(i), headers=factory.bearer(user))
        assert r.status_code == 403, r.text
        assert "team members and administrators" in r.json()["detail"]
    for i, user in enumerate((t.it, t.leader, t.admin)):
        assert client.post("/api/v1/kpis", json=body(10 + i), headers=factory.bearer(user)).status_code == 201
    # Without an initiative there is no team: any member may define a KPI.
    plain = {k: v for k, v in body(20).items() if k != "initiative_id"}
    assert client.post("/api/v1/kpis", json=plain, headers=factory.bearer(t.outsider)).status_code == 201


def test_recording_observations_of_an_initiatives_kpi(client, factory, world, session):
    """JSON and CSV alike: the whole batch is refused for someone off the team, nothing is stored."""
    t, code = world.team, world.kpi.code
    def count() -> int:
        return len(session.exec(select(Observation).where(Observation.kpi_id == world.kpi.id)).all())
    before = count()
    batch = {"observations": [{"kpi": code, "ts": "2025-01-07T09:00:00+08:00", "value": 9}]}
    csv = f"kpi,ts,value\n{code},2025-01-07T09:00:00+08:00,9\n".encode()
    for user in (t.outsider, t.other_lead):
        auth = factory.bearer(user)
        r = client.post("/api/v1/observations", json=batch, headers=auth)
        assert r.status_code == 403 and "team members and administrators" in r.json()["detail"], r.text
        r = client.post("/api/v1/observations/csv", content=csv, headers={**auth, "Content-Type": "text/csv"})
        assert r.status_code == 403, r.text
    assert count() == before
    for user in (t.it, t.admin):
        assert client.post("/api/v1/observations", json=batch, headers=factory.bearer(user)).status_code == 201
    # an administrator's integration feeds every KPI
    token = factory.service_token(["metrics:write"], owner=t.admin)
    r = client.post("/api/v1/observations", json=batch, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    assert count() == before + 3


def test_changing_a_kpi_and_its_rules(client, factory, world, session):
    t, kpi_url = world.team, f"/api/v1/kpis/{world.kpi.id}"
    rules_url, rule_url = f"{kpi_url}/alert-rules", f"{kpi_url}/alert-rules/{world.rule.id}"
    for user in (t.outsider, t.other_lead):
        auth = factory.bearer(user)
        etag = _etag(client, factory, user, kpi_url)
        assert client.patch(kpi_url, json={"unit": "h"}, headers={**auth, "If-Match": etag}).status_code == 403
        assert client.post(rules_url, json={"kind": "target_breach", "grain": "month"},
                           headers=auth).status_code == 403
        rule_etag = f'"kpi-alert-rule-{world.rule.id}-v{world.rule.version}"'
        assert client.patch(rule_url, json={"grain": "month"},
                            headers={**auth, "If-Match": rule_etag}).status_code == 403
    # The owner (a member on the team), the team's leader and an administrator may.
    for user, unit in ((t.member, "h"), (t.leader, "min"), (t.admin, "s")):
        auth = factory.bearer(user)
        r = client.patch(kpi_url, json={"unit": unit}, headers={**auth, "If-Match": _etag(client, factory, user,
                                                                                          kpi_url)})
        assert r.status_code == 200, r.text
    # A team member who does not own the KPI is no editor by role (as before).
    it_etag = _etag(client, factory, t.it, kpi_url)
    assert client.patch(kpi_url, json={"unit": "d"}, headers={**factory.bearer(t.it),
                                                              "If-Match": it_etag}).status_code == 403
    r = client.post(rules_url, json={"kind": "worsening", "grain": "week", "percent": 10, "periods": 4},
                    headers=factory.bearer(t.leader))
    assert r.status_code == 201, r.text
    version = client.get(rules_url, headers=factory.bearer(t.leader)).json()[0]["version"]
    r = client.patch(rule_url, json={"grain": "month"}, headers={
        **factory.bearer(t.leader), "If-Match": f'"kpi-alert-rule-{world.rule.id}-v{version}"'})
    assert r.status_code == 200, r.text
    # Moving a KPI onto an initiative needs that initiative's team too.
    own = make_kpi(session, t.outsider)
    url = f"/api/v1/kpis/{own.id}"
    r = client.patch(url, json={"initiative_id": t.initiative.id, "process_id": t.initiative.process_id},
                     headers={**factory.bearer(t.outsider), "If-Match": _etag(client, factory, t.outsider, url)})
    assert r.status_code == 403


def test_acknowledging_an_alert(client, factory, world):
    t, url = world.team, f"/api/v1/alerts/{world.alert.id}/acknowledge"
    for user in (t.outsider, t.other_lead, t.viewer):
        assert client.post(url, headers=factory.bearer(user)).status_code == 403
    r = client.post(url, headers=factory.bearer(t.it))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"


def test_event_log_writes(client, factory, world, session):
    t, log = world.team, f"/api/v1/event-logs/{world.log_id}"
    pid, ini = t.initiative.process_id, t.initiative.id
    for user in (t.outsider, t.other_lead):
        auth = factory.bearer(user)
        assert upload(client, auth, pid, SMALL_CSV.encode(), initiative_id=ini).status_code == 403
        assert client.put(f"{log}/steps", json={"links": [{"activity": "Review", "step_id": world.step_id}]},
                          headers=auth).status_code == 403
        r = client.post(f"{log}/publish-kpis", headers=auth)
        assert r.status_code == 403, r.text
        assert client.delete(log, headers=auth).status_code == 403
    assert session.exec(select(Observation).where(Observation.source == f"event_log:{world.log_id}")).all() == []
    # Reads stay open.
    for user in (t.outsider, t.other_lead, t.viewer):
        auth = factory.bearer(user)
        assert client.get(log, headers=auth).status_code == 200
        assert client.get(f"{log}/analysis", headers=auth).status_code == 200
        assert client.get(f"{log}/steps", headers=auth).status_code == 200
    # The team.
    assert upload(client, factory.bearer(t.it), pid, SMALL_CSV.encode(), initiative_id=ini).status_code == 201
    assert client.put(f"{log}/steps", json={"links": [{"activity": "Review", "step_id": world.step_id}]},
                      headers=factory.bearer(t.it)).status_code == 200
    r = client.post(f"{log}/publish-kpis", headers=factory.bearer(t.it))
    assert r.status_code == 200, r.text
    kpis = session.exec(select(Kpi).where(Kpi.code.in_(r.json()["kpis"]))).all()
    assert len(kpis) == 4 and {k.initiative_id for k in kpis} == {ini}
    # An outsider's log without an initiative cannot feed the initiative's KPIs either.
    plain = upload(client, factory.bearer(t.outsider), pid, SMALL_CSV.encode()).json()["id"]
    r = client.post(f"/api/v1/event-logs/{plain}/publish-kpis", headers=factory.bearer(t.outsider))
    assert r.status_code == 403 and "record observations of" in r.json()["detail"]
    assert client.post(f"/api/v1/event-logs/{plain}/publish-kpis", headers=factory.bearer(t.admin)).status_code == 200
    # Deleting: the uploader on the team, the team's leader, administrators.
    assert client.delete(log, headers=factory.bearer(t.it)).status_code == 403  # neither uploader nor lead
    assert client.delete(log, headers=factory.bearer(t.leader)).status_code == 204
    other = upload(client, factory.bearer(t.member), pid, SMALL_CSV.encode(), initiative_id=ini).json()["id"]
    assert client.delete(f"/api/v1/event-logs/{other}", headers=factory.bearer(t.member)).status_code == 204
    assert session.get(EventLog, other) is None


# --- pages -------------------------------------------------------------------------------------------------


def test_event_log_pages(client, world):
    t, page = world.team, f"/event-logs/{world.log_id}"
    token = login(client, t.outsider)
    detail = client.get(page)
    assert detail.status_code == 200
    assert "/publish-kpis" not in detail.text and f"{page}/delete" not in detail.text
    assert 'name="step_id"' not in detail.text  # no mapping form
    files = {"file": ("log.csv", SMALL_CSV.encode(), "text/csv")}
    form = {"csrf_token": token, "process_id": str(t.initiative.process_id), "initiative_id": str(t.initiative.id)}
    assert client.post("/event-logs", data=form, files=files).status_code == 403
    assert client.post(f"{page}/steps", data={"csrf_token": token, "activity": "Review",
                                              "step_id": str(world.step_id)}).status_code == 403
    assert client.post(f"{page}/publish-kpis", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{page}/delete", data={"csrf_token": token}).status_code == 403
    token = login(client, t.other_lead)
    assert client.post(f"{page}/delete", data={"csrf_token": token}).status_code == 403

    token = login(client, t.member)
    detail = client.get(page)
    assert "/publish-kpis" in detail.text and f"{page}/delete" in detail.text and 'name="step_id"' in detail.text
    form["csrf_token"] = token
    assert client.post("/event-logs", data=form, files=files, follow_redirects=False).status_code == 303
    assert client.post(f"{page}/steps", data={"csrf_token": token, "activity": "Review",
                                              "step_id": str(world.step_id)},
                       follow_redirects=False).status_code == 303
    assert client.post(f"{page}/publish-kpis", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    token = login(client, t.leader)
    assert client.post(f"{page}/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303


def test_kpi_pages(client, world, session):
    t, page = world.team, f"/metrics/kpis/{world.kpi.id}"
    new = {"code": "PAGE-1", "name_en": "n", "name_zh": "n", "unit": "min", "direction": "lower_is_better",
           "aggregation": "mean", "process_id": str(t.initiative.process_id), "initiative_id": str(t.initiative.id)}
    rule = {"kind": "worsening", "grain": "week", "percent": "10", "periods": "4"}
    edit = {k: new[k] for k in new if k != "code"} | {"version": str(world.kpi.version)}
    for user in (t.outsider, t.other_lead):
        token = login(client, user)
        shown = client.get(page)
        assert shown.status_code == 200
        assert f"{page}/edit" not in shown.text and "/acknowledge" not in shown.text
        assert "/acknowledge" not in client.get(f"/metrics?initiative={t.initiative.id}").text
        assert client.post("/metrics/kpis/new", data={**new, "csrf_token": token}).status_code == 403
        assert client.get(f"{page}/edit").status_code == 403
        assert client.post(f"{page}/edit", data={**edit, "csrf_token": token}).status_code == 403
        assert client.post(f"{page}/rules", data={**rule, "csrf_token": token}).status_code == 403
        assert client.post(f"{page}/rules/{world.rule.id}/toggle", data={"csrf_token": token}).status_code == 403
        assert client.post(f"/metrics/alerts/{world.alert.id}/acknowledge",
                           data={"csrf_token": token}).status_code == 403
    token = login(client, t.it)
    assert "/acknowledge" in client.get(f"/metrics?initiative={t.initiative.id}").text
    assert client.post("/metrics/kpis/new", data={**new, "csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert client.post(f"/metrics/alerts/{world.alert.id}/acknowledge", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    token = login(client, t.leader)
    assert f"{page}/edit" in client.get(page).text
    assert client.get(f"{page}/edit").status_code == 200
    r = client.post(f"{page}/edit", data={**edit, "unit": "h", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert client.post(f"{page}/rules", data={**rule, "csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.post(f"{page}/rules/{world.rule.id}/toggle", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
