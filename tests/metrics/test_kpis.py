"""KPI definitions through the API: create, read, list, update with If-Match, history, authorization."""

from __future__ import annotations

from app.core.audit import history
from app.processes.models import Process
from app.users.models import Role
from tests.metrics.helpers import bearer_token, make_kpi

BODY = {"code": "YH-LC01-ACT", "name_en": "Average activation time", "name_zh": "平均激活时长", "unit": "min",
        "direction": "lower_is_better", "aggregation": "mean", "target": 8, "baseline": 30}


def test_create_read_list_update(client, factory, session):
    from tests.initiatives.factories import InitiativeFactory

    lead = factory.user(Role.lead)
    ini = InitiativeFactory(session, factory).initiative(lead)
    process = session.get(Process, ini.process_id)
    session.flush()
    r = client.post("/api/v1/kpis", json={**BODY, "process_id": process.id, "initiative_id": ini.id},
                    headers=factory.bearer(lead))
    assert r.status_code == 201, r.text
    kpi = r.json()
    assert kpi["process"] == {"id": process.id, "code": process.code, "display_name": None}
    assert kpi["initiative_id"] == ini.id and kpi["owner"]["id"] == lead.id and kpi["version"] == 1
    assert r.headers["Location"] == f"/api/v1/kpis/{kpi['id']}"
    etag = r.headers["ETag"]

    r = client.get("/api/v1/kpis?q=activation", headers=factory.bearer(lead))
    assert [k["code"] for k in r.json()["items"]] == ["YH-LC01-ACT"]
    r = client.get(f"/api/v1/kpis?process_id={process.id}", headers=factory.bearer(lead))
    assert len(r.json()["items"]) == 1

    r = client.patch(f"/api/v1/kpis/{kpi['id']}", json={"target": 5}, headers=factory.bearer(lead))
    assert r.status_code == 428
    r = client.patch(f"/api/v1/kpis/{kpi['id']}", json={"target": 5},
                     headers={**factory.bearer(lead), "If-Match": etag})
    assert r.status_code == 200 and r.json()["target"] == 5 and r.json()["version"] == 2
    r = client.patch(f"/api/v1/kpis/{kpi['id']}", json={"target": 6},
                     headers={**factory.bearer(lead), "If-Match": etag})
    assert r.status_code == 412
    actions = [a.action for a in history(session, "kpi", kpi["id"])]
    assert actions == ["update", "create"]
    r = client.get(f"/api/v1/kpis/{kpi['id']}/history", headers=factory.bearer(lead))
    assert r.status_code == 200 and r.json()[0]["after"]["target"] == 5


def test_code_unique_case_insensitively_and_input_strict(client, factory):
    member = factory.user(Role.member)
    assert client.post("/api/v1/kpis", json=BODY, headers=factory.bearer(member)).status_code == 201
    r = client.post("/api/v1/kpis", json={**BODY, "code": "yh-lc01-act"}, headers=factory.bearer(member))
    assert r.status_code == 409
    r = client.post("/api/v1/kpis", json={**BODY, "code": "X-2", "colour": "red"}, headers=factory.bearer(member))
    assert r.status_code == 422
    r = client.post("/api/v1/kpis", json={**BODY, "code": "X-3", "direction": "up"}, headers=factory.bearer(member))
    assert r.status_code == 422
    r = client.post("/api/v1/kpis", json={**BODY, "code": "X-4", "process_id": 999999},
                    headers=factory.bearer(member))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "process_id"
    r = client.post("/api/v1/kpis", json={**BODY, "code": "X-5", "aggregation": "rate", "target": 5},
                    headers=factory.bearer(member))
    assert r.status_code == 422


def test_viewer_cannot_create_and_member_edits_only_own(client, factory, session):
    viewer, member, other = factory.user(Role.viewer), factory.user(Role.member), factory.user(Role.member)
    assert client.post("/api/v1/kpis", json=BODY, headers=factory.bearer(viewer)).status_code == 403
    kpi = make_kpi(session, member)
    session.flush()
    etag = f'"kpi-{kpi.id}-v1"'
    r = client.patch(f"/api/v1/kpis/{kpi.id}", json={"unit": "h"}, headers={**factory.bearer(other), "If-Match": etag})
    assert r.status_code == 403
    r = client.patch(f"/api/v1/kpis/{kpi.id}", json={"unit": "h"}, headers={**factory.bearer(member), "If-Match": etag})
    assert r.status_code == 200
    assert client.get(f"/api/v1/kpis/{kpi.id}", headers=factory.bearer(viewer)).status_code == 200
    assert client.get(f"/api/v1/kpis/{kpi.id}/history", headers=factory.bearer(member)).status_code == 403


def test_scopes(client, factory, session):
    owner = factory.user(Role.admin)
    kpi = make_kpi(session, owner)
    session.flush()
    for scopes, status in ((["metrics:read"], 200), (["read"], 200), (["metrics:write"], 403), (["write"], 403)):
        r = client.get(f"/api/v1/kpis/{kpi.id}", headers=bearer_token(factory, scopes))
        assert r.status_code == status, (scopes, r.text)
    r = client.post("/api/v1/kpis", json=BODY, headers=bearer_token(factory, ["metrics:read", "metrics:write"]))
    assert r.status_code == 403
    r = client.post("/api/v1/kpis", json=BODY, headers=bearer_token(factory, ["write"]))
    assert r.status_code == 201
    assert client.get("/api/v1/kpis").status_code == 401


def test_list_pagination(client, factory, session):
    owner = factory.user(Role.lead)
    for i in range(5):
        make_kpi(session, owner, code=f"P-{i}")
    session.flush()
    seen, url = [], "/api/v1/kpis?q=P-&limit=2"
    while url:
        r = client.get(url, headers=factory.bearer(owner))
        body = r.json()
        seen += [k["code"] for k in body["items"]]
        url = r.headers.get("Link", "").split(">")[0].lstrip("<").replace("http://testserver", "") or None
        assert (url is None) == (body["next_cursor"] is None)
    assert seen == [f"P-{i}" for i in range(5)]


def test_initiative_must_exist_and_match_the_process(client, factory, session):
    from tests.initiatives.factories import InitiativeFactory

    lead = factory.user("lead")
    ini = InitiativeFactory(session, factory).initiative(lead)
    other_process = factory.process(owner=lead)
    session.flush()
    base = {"name_en": "Activation time", "name_zh": "激活时长", "unit": "min",
            "direction": "lower_is_better", "aggregation": "mean"}
    ok = client.post("/api/v1/kpis", json={**base, "code": "INI-OK", "process_id": ini.process_id,
                                           "initiative_id": ini.id}, headers=factory.bearer(lead))
    assert ok.status_code == 201, ok.text
    assert ok.json()["initiative_id"] == ini.id
    for code, extra in (("INI-NONE", {"initiative_id": 999999}),
                        ("INI-OTHER", {"initiative_id": ini.id, "process_id": other_process.id})):
        r = client.post("/api/v1/kpis", json={**base, "code": code, **extra}, headers=factory.bearer(lead))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "initiative_id"
