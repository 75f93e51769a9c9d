"""KPI pages: dashboard with chart data blocks and the htmx grain switch, KPI page, comparison, form,
rules, acknowledgements and the CSV upload with preview; CSRF and roles."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import sqlalchemy as sa
from sqlmodel import select

from app.auth.deps import COOKIE_NAME
from app.core.db import utcnow
from app.core.security import create_access_token, csrf_token_for, decode_access_token
from app.metrics.models import Kpi, KpiAlert, Observation
from app.users.models import Role
from tests.metrics.helpers import add, make_kpi

HX = {"HX-Request": "true"}


def login(client, user) -> str:
    token = create_access_token(str(user.id))
    client.cookies.set(COOKIE_NAME, token)
    claims = decode_access_token(token)
    return csrf_token_for(str(claims.get("jti") or claims["iat"]))


def _chart_data(html: str, kpi_id: int) -> dict:
    m = re.search(rf'<div class="chart" data-kpi="{kpi_id}" data-chart=\'([^\']*)\'', html)
    assert m, "no chart data"
    return json.loads(unescape(m.group(1)))


def test_dashboard_charts_table_and_grain_switch(client, factory, session):
    lead = factory.user(Role.lead)
    process = factory.process(owner=lead)
    kpi = make_kpi(session, lead, process_id=process.id, target=8, baseline=30, name_en="Activation time")
    now = utcnow()
    add(session, lead, kpi, [(now - timedelta(days=d), 30.0 if d > 20 else 8.0) for d in range(40)])
    other = make_kpi(session, lead, name_en="Elsewhere")
    session.flush()
    login(client, lead)
    r = client.get(f"/metrics?process={process.id}")
    assert r.status_code == 200
    html = r.text
    assert "Activation time" in html and "Elsewhere" not in html
    assert '<script src="/static/vendor/echarts-5.6.0/echarts.min.js" defer></script>' in html
    assert "style=" not in html and "onclick" not in html  # CSP: no inline styles or handlers
    data = _chart_data(html, kpi.id)
    assert data["target"] == 8 and data["baseline"] == 30 and data["unit"] == "min"
    assert len(data["labels"]) == len(data["values"]) >= 6 and data["values"][-1] == 8.0
    assert "<table" in html and "2026" in html or "20" in html
    # The htmx grain switch returns only the board.
    r = client.get(f"/metrics?process={process.id}&grain=month", headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and 'data-chart=' in r.text
    assert r.headers["Vary"].startswith("HX-Request")
    assert re.match(r"\d{4}-\d{2}$", _chart_data(r.text, kpi.id)["labels"][0])
    r = client.get("/metrics?grain=day")
    assert "Elsewhere" in r.text and str(other.id) in r.text


def test_chinese_names_and_rates_as_percentages(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, aggregation="rate", unit="%", target=0.01, baseline=0.05, name_zh="激活差错率")
    add(session, lead, kpi, [(utcnow() - timedelta(hours=h), float(h % 10 == 0)) for h in range(100)])
    session.flush()
    login(client, lead)
    client.cookies.set("procopt_lang", "zh_CN")
    r = client.get(f"/metrics/kpis/{kpi.id}")
    assert r.status_code == 200 and "激活差错率" in r.text
    data = _chart_data(r.text, kpi.id)
    assert data["target"] == 1 and data["baseline"] == 5 and data["unit"] == "%" and data["locale"] == "ZH"
    assert "1%" in r.text and "5%" in r.text


def test_kpi_page_compare_and_rules(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, target=8, baseline=30)
    now = utcnow()
    add(session, lead, kpi, [(now - timedelta(days=60, hours=i), 30.0) for i in range(5)]
        + [(now - timedelta(days=2, hours=i), 8.0) for i in range(5)])
    session.flush()
    csrf = login(client, lead)
    assert client.get(f"/metrics/kpis/{kpi.id}").status_code == 200
    before_from = (now - timedelta(days=70)).date().isoformat()
    before_to = (now - timedelta(days=50)).date().isoformat()
    after_from = (now - timedelta(days=7)).date().isoformat()
    after_to = (now + timedelta(days=1)).date().isoformat()
    r = client.get(f"/metrics/kpis/{kpi.id}/compare", headers=HX, params={
        "before_from": before_from, "before_to": before_to, "after_from": after_from, "after_to": after_to})
    assert r.status_code == 200 and "-73.3%" in r.text and "<html" not in r.text
    r = client.get(f"/metrics/kpis/{kpi.id}/compare", headers=HX, params={"after_from": "2001-01-01",
                                                                           "after_to": "2001-02-01"})
    assert r.status_code == 422 and "flash-error" in r.text
    # Rules: a bad one comes back with the form; a good one is added and evaluated at once.
    r = client.post(f"/metrics/kpis/{kpi.id}/rules", headers={**HX, "X-CSRF-Token": csrf},
                    data={"kind": "worsening", "grain": "week", "percent": "", "periods": "4"})
    assert r.status_code == 422 and 'name="percent"' in r.text
    r = client.post(f"/metrics/kpis/{kpi.id}/rules", headers={**HX, "X-CSRF-Token": csrf},
                    data={"kind": "target_breach", "grain": "day"})
    assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/metrics/kpis/{kpi.id}"
    assert client.post(f"/metrics/kpis/{kpi.id}/rules", data={"kind": "target_breach"}).status_code == 403  # no CSRF


def test_kpi_form_create_and_edit(client, factory, session):
    lead = factory.user(Role.lead)
    process = factory.process(owner=lead)
    csrf = login(client, lead)
    assert client.get("/metrics/kpis/new").status_code == 200
    form = {"csrf_token": csrf, "code": "", "name_en": "Wait", "name_zh": "等待", "unit": "h",
            "direction": "lower_is_better", "aggregation": "p95", "target": "", "baseline": "2.5",
            "process_id": str(process.id), "initiative_id": ""}
    r = client.post("/metrics/kpis/new", data=form, headers=HX)
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    r = client.post("/metrics/kpis/new", data={**form, "code": "W-1"}, headers=HX)
    assert r.status_code == 200, r.text
    kpi = session.exec(select(Kpi).where(Kpi.code == "W-1")).one()
    assert (kpi.target, kpi.baseline, kpi.process_id, kpi.aggregation.value) == (None, 2.5, process.id, "p95")
    assert client.get(f"/metrics/kpis/{kpi.id}/edit").status_code == 200
    edit = {k: v for k, v in form.items() if k != "code"} | {"target": "1", "version": "1"}
    r = client.post(f"/metrics/kpis/{kpi.id}/edit", data=edit, headers=HX)
    assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/metrics/kpis/{kpi.id}"
    r = client.post(f"/metrics/kpis/{kpi.id}/edit", data=edit, headers=HX)  # stale version
    assert r.status_code == 422 and "Someone else changed" in r.text


def test_viewer_pages(client, factory, session):
    lead, viewer = factory.user(Role.lead), factory.user(Role.viewer)
    kpi = make_kpi(session, lead, target=1)
    session.flush()
    login(client, viewer)
    r = client.get("/metrics")
    assert r.status_code == 200 and "/metrics/kpis/new" not in r.text and "/metrics/upload" not in r.text
    assert client.get("/metrics/kpis/new").status_code == 403
    assert client.get("/metrics/upload").status_code == 403
    r = client.get(f"/metrics/kpis/{kpi.id}")
    assert r.status_code == 200 and f"/metrics/kpis/{kpi.id}/edit" not in r.text
    client.cookies.clear()
    r = client.get("/metrics", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_acknowledge_from_the_dashboard(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead, target=1)
    from app.metrics.schemas import AlertRuleCreate
    from app.metrics.service import create_rule

    create_rule(session, kpi.id, AlertRuleCreate(kind="target_breach", grain="day"), lead)
    add(session, lead, kpi, [(utcnow() - timedelta(minutes=5), 5.0)])
    alert = session.exec(select(KpiAlert)).one()
    csrf = login(client, lead)
    r = client.get("/metrics")
    assert "Open alerts" in r.text and f"/metrics/alerts/{alert.id}/acknowledge" in r.text
    r = client.post(f"/metrics/alerts/{alert.id}/acknowledge", data={"csrf_token": csrf, "next": "/metrics?grain=day"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/metrics?grain=day"
    session.refresh(alert)
    assert alert.status.value == "acknowledged"


def _csv(code: str) -> bytes:
    return f"kpi,ts,value,team\n{code},2025-03-03 09:30,8.5,A\n{code},2025-03-03T09:31:00+08:00,7,B\n".encode()


def test_upload_preview_then_import_once(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead)
    session.flush()
    csrf = login(client, lead)
    r = client.get("/metrics/upload")
    assert r.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', r.text).group(1)
    files = {"file": ("obs.csv", _csv(kpi.code), "text/csv")}
    data = {"csrf_token": csrf, "idempotency_key": key, "source": "excel"}
    r = client.post("/metrics/upload", data={**data, "action": "preview"}, files=files, headers=HX)
    assert r.status_code == 200 and "2 rows are ready to import" in r.text and "team=A" in r.text
    count = sa.select(sa.func.count()).select_from(Observation)
    assert session.execute(count).scalar_one() == 0
    r = client.post("/metrics/upload", data={**data, "action": "import"}, files=files, headers=HX)
    assert r.status_code == 200 and "2 observations imported" in r.text and 'hx-swap-oob="innerHTML:#idempotency-slot"' in r.text
    # A double submit with the same key stores nothing twice.
    r = client.post("/metrics/upload", data={**data, "action": "import"}, files=files, headers=HX)
    assert r.status_code == 200 and session.execute(count).scalar_one() == 2
    assert {o.source for o in session.exec(select(Observation))} == {"excel"}


def test_upload_errors_listed_with_rows(client, factory, session):
    lead = factory.user(Role.lead)
    kpi = make_kpi(session, lead)
    session.flush()
    csrf = login(client, lead)
    bad = f"kpi,ts,value\n{kpi.code},2025-03-03 09:30,x\nNOPE,2025-03-03 09:30,1\n".encode()
    r = client.post("/metrics/upload", data={"csrf_token": csrf, "idempotency_key": "k1", "action": "import"},
                    files={"file": ("bad.csv", bad, "text/csv")}, headers=HX)
    assert r.status_code == 422 and "2 problems found; nothing was stored." in r.text
    assert "not a number" in r.text and "unknown KPI" in r.text
    r = client.post("/metrics/upload", data={"csrf_token": csrf, "action": "preview"}, headers=HX)
    assert r.status_code == 422 and "Choose a CSV file." in r.text
