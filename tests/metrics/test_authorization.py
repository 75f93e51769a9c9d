"""Every metrics endpoint refuses a caller without credentials (401), a token without the scope it needs (403)
and, where people are limited by role, a viewer (403). Reading: `metrics:read` or `read`; recording
observations: `metrics:write`; KPI definitions and rules: `write`; acknowledging: `metrics:write` or `write`."""

from __future__ import annotations

import pytest

from app.metrics.schemas import AlertRuleCreate
from app.metrics.service import create_rule
from app.users.models import Role
from tests.metrics.helpers import add, bearer_token, make_kpi, utc

OBS = {"observations": [{"kpi": "AUTH-1", "ts": "2025-01-06T10:00:00+08:00", "value": 20}]}
CSV = b"kpi,ts,value\nAUTH-1,2025-01-06T10:00:00+08:00,20\n"

# (method, path, body, allowed scope sets, refused scope sets, viewer allowed)
ENDPOINTS = [
    ("GET", "/api/v1/kpis", None, [["metrics:read"], ["read"]], [["metrics:write"], ["write"]], True),
    ("POST", "/api/v1/kpis", {"code": "NEW-1", "name_en": "n", "name_zh": "n", "unit": "u",
                              "direction": "lower_is_better"}, [["write"]], [["metrics:write", "metrics:read"]], False),
    ("GET", "/api/v1/kpis/{kpi}", None, [["metrics:read"], ["read"]], [["metrics:write"], ["write"]], True),
    ("PATCH", "/api/v1/kpis/{kpi}", {"unit": "h"}, [["write"]], [["metrics:write"], ["read"]], False),
    ("GET", "/api/v1/kpis/{kpi}/history", None, [["read"]], [["metrics:write"]], False),
    ("GET", "/api/v1/kpis/{kpi}/compare?after_from=2025-01-01&after_to=2025-02-01&before_value=30", None,
     [["metrics:read"], ["read"]], [["metrics:write"], ["write"]], True),
    ("GET", "/api/v1/kpis/{kpi}/alert-rules", None, [["metrics:read"], ["read"]], [["write"]], True),
    ("POST", "/api/v1/kpis/{kpi}/alert-rules", {"kind": "target_breach"}, [["write"]],
     [["metrics:write"], ["read"]], False),
    ("PATCH", "/api/v1/kpis/{kpi}/alert-rules/{rule}", {"grain": "month"}, [["write"]], [["metrics:write"]], False),
    ("GET", "/api/v1/alerts", None, [["metrics:read"], ["read"]], [["metrics:write"], ["write"]], True),
    ("POST", "/api/v1/alerts/{alert}/acknowledge", None, [["metrics:write"], ["write"]],
     [["metrics:read", "read"]], False),
    ("POST", "/api/v1/observations", OBS, [["metrics:write"]], [["metrics:read"], ["write", "read"]], False),
    ("POST", "/api/v1/observations/csv", CSV, [["metrics:write"]], [["metrics:read"], ["write"]], False),
    ("GET", "/api/v1/metrics/series?kpi=AUTH-1&from=2025-01-01", None, [["metrics:read"], ["read"]],
     [["metrics:write"], ["write"]], True),
    ("GET", "/api/v1/metrics/observations", None, [["metrics:read"], ["read"]], [["metrics:write"], ["write"]],
     True),
    ("GET", "/api/v1/metrics/observations?format=csv", None, [["metrics:read"]], [["metrics:write"]], True),
]


@pytest.fixture
def ids(factory, session):  # noqa: ANN001, ANN201
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, code="AUTH-1", target=8)
    rule = create_rule(session, kpi.id, AlertRuleCreate(kind="target_breach", grain="week"), lead)
    add(session, lead, kpi, [(utc(2025, 1, 6, 2), 20.0)])
    from sqlmodel import select

    from app.metrics.models import KpiAlert

    alert = session.exec(select(KpiAlert)).one()
    session.flush()
    return {"kpi": kpi.id, "rule": rule.id, "alert": alert.id}


def _call(client, method, path, body, ids, headers):  # noqa: ANN001, ANN202
    url = path.format(**ids)
    headers = dict(headers)
    if method == "PATCH":
        entity = "kpi-alert-rule" if "alert-rules" in url else "kpi"
        current = client.get(url.split("?")[0] if entity == "kpi" else url.rsplit("/", 2)[0] + "/alert-rules",
                             headers={"Authorization": headers.get("Authorization", "")})
        version = 1
        if current.status_code == 200:
            body_ = current.json()
            version = body_["version"] if entity == "kpi" else body_[0]["version"]
        obj = ids["kpi"] if entity == "kpi" else ids["rule"]
        headers["If-Match"] = f'"{entity}-{obj}-v{version}"'
    if isinstance(body, bytes):
        return client.request(method, url, content=body, headers={**headers, "Content-Type": "text/csv"})
    return client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "allowed", "refused", "viewer_ok"), ENDPOINTS,
                         ids=[f"{m} {p.split('?')[0]}" for m, p, *_ in ENDPOINTS])
def test_scopes_and_roles(client, factory, ids, method, path, body, allowed, refused, viewer_ok):  # noqa: ANN001
    assert _call(client, method, path, body, ids, {}).status_code == 401
    for scopes in refused:
        r = _call(client, method, path, body, ids, bearer_token(factory, scopes))
        assert r.status_code == 403, (scopes, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    viewer = _call(client, method, path, body, ids, factory.bearer(factory.user(Role.viewer)))
    assert (viewer.status_code < 400) == viewer_ok, viewer.text
    for scopes in allowed:
        r = _call(client, method, path, body, ids, bearer_token(factory, scopes))
        assert r.status_code < 400, (scopes, r.text)
