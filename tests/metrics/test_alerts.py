"""Alert rules evaluated when data arrives; alerts listed, acknowledged, resolved; authorization."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.core.audit import AuditRecord
from app.users.models import Role
from tests.metrics.helpers import add, bearer_token, make_kpi, utc

WEEK = timedelta(days=7)
MONDAY = utc(2025, 1, 6, 2)  # Monday 10:00 in Shanghai


def _rule(client, headers, kpi_id, **body):
    r = client.post(f"/api/v1/kpis/{kpi_id}/alert-rules", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r


def test_target_breach_raised_then_resolved_by_more_data(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, target=8)
    session.flush()
    _rule(client, factory.bearer(lead), kpi.id, kind="target_breach", grain="week")
    write = bearer_token(factory, ["metrics:write"])
    r = client.post("/api/v1/observations", headers=write, json={"observations": [
        {"kpi": kpi.code, "ts": "2025-01-06T10:00:00+08:00", "value": 12}]})
    assert r.status_code == 201 and len(r.json()["alerts"]) == 1
    alerts = client.get("/api/v1/alerts?status=open", headers=bearer_token(factory, ["metrics:read"])).json()["items"]
    assert [(a["kpi"], a["kind"], a["period_start"], a["value"], a["reference"]) for a in alerts] == [
        (kpi.code, "target_breach", "2025-01-06", 12.0, 8.0)]
    # More data in the same week brings the mean under the target: the alert resolves itself.
    r = client.post("/api/v1/observations", headers=write, json={"observations": [
        {"kpi": kpi.code, "ts": "2025-01-07T10:00:00+08:00", "value": 2}]})
    assert r.json()["alerts"] == [alerts[0]["id"]]
    r = client.get("/api/v1/alerts", headers=factory.bearer(lead))
    assert [a["status"] for a in r.json()["items"]] == ["resolved"]


def test_worsening_against_previous_periods(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, direction="higher_is_better", unit="score")
    for week in range(4):
        add(session, lead, kpi, [(MONDAY + week * WEEK, 4.5), (MONDAY + week * WEEK + timedelta(hours=1), 4.5)])
    _rule(client, factory.bearer(lead), kpi.id, kind="worsening", grain="week", percent=10, periods=3)
    assert client.get("/api/v1/alerts", headers=factory.bearer(lead)).json()["items"] == []
    add(session, lead, kpi, [(MONDAY + 4 * WEEK, 3.9)])  # 13 % below the mean of the previous three weeks
    items = client.get("/api/v1/alerts", headers=factory.bearer(lead)).json()["items"]
    assert len(items) == 1
    a = items[0]
    assert (a["kind"], a["period_start"], a["value"], a["reference"]) == ("worsening", "2025-02-03", 3.9, 4.5)
    assert round(a["params"]["change_percent"], 1) == 13.3


def test_acknowledge_and_authorization(client, factory, session):
    lead, viewer, member = factory.user(Role.lead), factory.user(Role.viewer), factory.user(Role.member)
    kpi = make_kpi(session, lead, target=8)
    session.flush()
    # Viewers and tokens without `write` cannot add rules; a rule without a target to breach is refused.
    assert client.post(f"/api/v1/kpis/{kpi.id}/alert-rules", json={"kind": "target_breach"},
                       headers=factory.bearer(viewer)).status_code == 403
    assert client.post(f"/api/v1/kpis/{kpi.id}/alert-rules", json={"kind": "target_breach"},
                       headers=bearer_token(factory, ["metrics:write"])).status_code == 403
    no_target = make_kpi(session, lead)
    session.flush()
    assert client.post(f"/api/v1/kpis/{no_target.id}/alert-rules", json={"kind": "target_breach"},
                       headers=factory.bearer(lead)).status_code == 422
    assert client.post(f"/api/v1/kpis/{kpi.id}/alert-rules", json={"kind": "worsening", "percent": 10},
                       headers=factory.bearer(lead)).status_code == 422
    rule = _rule(client, factory.bearer(lead), kpi.id, kind="target_breach", grain="day")
    add(session, lead, kpi, [(MONDAY, 20.0)])
    alert = client.get("/api/v1/alerts", headers=factory.bearer(viewer)).json()["items"][0]
    url = f"/api/v1/alerts/{alert['id']}/acknowledge"
    assert client.post(url, headers=factory.bearer(viewer)).status_code == 403
    assert client.post(url, headers=bearer_token(factory, ["metrics:read", "read"])).status_code == 403
    r = client.post(url, headers={**factory.bearer(member), "If-Match": '"kpi-alert-1-v99"'})
    assert r.status_code == 412
    r = client.post(url, headers=factory.bearer(member))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"]["id"] == member.id
    audit = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "kpi_alert",
                                                   AuditRecord.action == "acknowledge")).one()
    assert audit.actor_id == member.id
    # Later data for the same period leaves an acknowledged alert alone.
    add(session, lead, kpi, [(MONDAY + timedelta(hours=1), 30.0)])
    assert client.get("/api/v1/alerts", headers=factory.bearer(lead)).json()["items"][0]["status"] == "acknowledged"
    # Switching a rule off needs If-Match.
    rid = rule.json()["id"]
    r = client.patch(f"/api/v1/kpis/{kpi.id}/alert-rules/{rid}", json={"is_active": False}, headers=factory.bearer(lead))
    assert r.status_code == 428
    r = client.patch(f"/api/v1/kpis/{kpi.id}/alert-rules/{rid}", json={"is_active": False},
                     headers={**factory.bearer(lead), "If-Match": rule.headers["ETag"]})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/alerts", headers={}).status_code == 401
