"""A pilot in a real browser, in English and in Chinese, on a fresh initiative set up through the JSON API (the
demo's own initiative is left alone): the pilot planned on the page, its dates, a daily log entry promoted to a
problem, a retrospective with an action, the survey answered by three of its people (three logins), the
evaluation with its charts, the decision "adopt", and the initiative's gate showing the pilot criterion met.

`PILOT_SHOTS=/tmp/pilot-shots` also saves screenshots of the pilot's page and Table 3.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from app.core.calendar import today
from app.core.config import get_settings
from tests.e2e.conftest import htmx_idle, login, mark_document, not_reloaded
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e
# The pilot's people: they answer the survey (demo accounts, app/demo/__init__.py).
PEOPLE = [("member@example.com", "Zhang Wei"), ("it@example.com", "Chen Jie"), ("compliance@example.com", "Liu Yang")]
PEOPLE_PASSWORD = "demo-member-2026"
SCORES = [(5, 4), (4, 5), (5, 4)]
SHOTS = os.environ.get("PILOT_SHOTS")


def _api(live_url: str) -> httpx.Client:
    """A client of the JSON API with the leader's bearer token."""
    token = httpx.post(f"{live_url}/api/v1/auth/token", data={"username": LEAD[0], "password": LEAD[1]}).json()
    return httpx.Client(base_url=live_url, timeout=30, headers={"Authorization": f"Bearer {token['access_token']}"})


def _ok(r: httpx.Response, code: int = 200) -> dict:
    assert r.status_code == code, r.text
    return r.json() if r.content else {}


def _at_noon(day, tz: ZoneInfo) -> str:  # noqa: ANN001
    return datetime.combine(day, time(12, 0), tzinfo=tz).isoformat()


def _prepare(live_url: str, locale: str) -> tuple[int, str]:
    """A new initiative of YH-LC01 (whose SOP is published) moved to the pilot phase (the leader's override,
    as the API allows), with two KPIs of its own and their observations: team A 30 min before the pilot, about
    8 during, team B 50 throughout; errors 10 % -> 5 %. Returns the initiative's id and the KPIs' code prefix."""
    tz = ZoneInfo(get_settings().business_timezone)
    start = today() - timedelta(weeks=2)
    prefix = f"E2EP-{locale.split('_')[0].upper()}-{datetime.now().strftime('%H%M%S')}"
    with _api(live_url) as api:
        process = _ok(api.get("/api/v1/processes", params={"q": "YH-LC01"}))["items"][0]
        ini = _ok(api.post("/api/v1/initiatives", json={"process_id": process["id"], "title": f"Pilot e2e {locale}",
                                                        "trigger": "inefficiency"}), 201)
        for _ in range(3):  # diagnosis -> root cause -> design -> pilot
            ini = _ok(api.post(f"/api/v1/initiatives/{ini['id']}/advance",
                               json={"override_reason": "e2e: straight to the pilot"}))
        assert ini["current_phase"] == "pilot"
        kpis = {
            "ACT": {"name_en": f"Activation time {locale}", "name_zh": f"激活时长 {locale}", "unit": "min",
                    "direction": "lower_is_better", "aggregation": "mean", "target": 10, "baseline": 30},
            "ERR": {"name_en": f"Error rate {locale}", "name_zh": f"差错率 {locale}", "unit": "%",
                    "direction": "lower_is_better", "aggregation": "rate", "target": 0.02},
        }
        for suffix, spec in kpis.items():
            _ok(api.post("/api/v1/kpis", json={"code": f"{prefix}-{suffix}", **spec, "process_id": process["id"],
                                               "initiative_id": ini["id"]}), 201)
        rows = []
        for i in range(40):
            day = start - timedelta(weeks=4) + timedelta(days=i % 28)
            rows.append({"kpi": f"{prefix}-ACT", "ts": _at_noon(day, tz), "value": 30.0, "labels": {"team": "A"}})
            rows.append({"kpi": f"{prefix}-ACT", "ts": _at_noon(day, tz), "value": 50.0, "labels": {"team": "B"}})
            rows.append({"kpi": f"{prefix}-ERR", "ts": _at_noon(day, tz), "value": 1.0 if i % 10 == 0 else 0.0,
                         "labels": {"team": "A"}})
        for i in range(35):
            day = start + timedelta(days=i % 14)
            rows.append({"kpi": f"{prefix}-ACT", "ts": _at_noon(day, tz), "value": 8.0, "labels": {"team": "A"}})
        for i in range(20):
            day = start + timedelta(days=i % 14)
            rows.append({"kpi": f"{prefix}-ERR", "ts": _at_noon(day, tz), "value": 1.0 if i == 0 else 0.0,
                         "labels": {"team": "A"}})
        _ok(api.post("/api/v1/observations", json={"source": "e2e", "observations": rows}), 201)
        return ini["id"], prefix


def _shot(page, name: str) -> None:  # noqa: ANN001
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(300)  # the charts are drawn
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _as(page, locale: str, email: str, password: str) -> None:  # noqa: ANN001
    page.context.clear_cookies()
    page.goto(f"/lang?set={locale}&next=/login")
    login(page, email, password)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_pilot_from_plan_to_adoption(page, live_url, locale):  # noqa: ANN001, PLR0915
    initiative_id, prefix = _prepare(live_url, locale)
    start = today() - timedelta(weeks=2)
    _as(page, locale, *LEAD)
    page.goto(f"/initiatives/{initiative_id}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if locale == "zh_CN" else "en")
    page.locator(f".tabs a[href='/initiatives/{initiative_id}/pilots']").click()
    expect(page.locator(".tabs a[aria-current=page]")).to_have_attribute("href", f"/initiatives/{initiative_id}/pilots")

    # Plan the pilot: version, scope and its labels, the KPIs with the expected value, three people.
    form = page.locator("#new-pilot form")
    expect(form.locator("select[name=sop_version_id] option:checked")).to_contain_text("V1.")
    form.locator("input[name=scope]").fill("运营A组 Operations team A")
    form.locator("textarea[name=scope_labels]").fill("team=A")
    form.locator("input[name=planned_start]").fill(start.isoformat())
    form.locator("textarea[name=prediction]").fill("30 → 8 min")
    for suffix in ("ACT", "ERR"):
        form.locator("tr", has_text=f"{prefix}-{suffix}").locator("input[name=kpi_ids]").check()
    form.locator("tr", has_text=f"{prefix}-ACT").locator("input[name^=expected_]").fill("8")
    for _, name in PEOPLE:
        row = form.locator(".pilot-people tr", has_text=name)
        row.locator("input[name=member_ids]").check()
        row.locator("input[type=date]").fill(start.isoformat())
    # A bad line first: the message at the field, in place.
    form.locator("textarea[name=scope_labels]").fill("team A")
    mark_document(page)
    form.locator("button[type=submit]").click()
    htmx_idle(page)
    expect(page.locator("#scope_labels-error")).to_be_visible()
    assert not_reloaded(page)
    _shot(page, f"plan-{locale}")
    page.locator("#new-pilot textarea[name=scope_labels]").fill("team=A")
    page.locator("#new-pilot button[type=submit]").click()
    page.wait_for_url(re.compile(r"/pilots/\d+$"))
    pilot_url = page.url
    expect(page.locator(".flash-ok")).to_be_visible()
    expect(page.locator("#overview .tag")).to_have_text("team=A")
    expect(page.locator("#people table.people-list tbody tr")).to_have_count(3)

    # The actual start: the plan shows it running; the evaluation loads again on its own.
    mark_document(page)
    overview = page.locator("#overview")
    overview.locator("input[name=actual_start]").fill(start.isoformat())
    overview.locator(".pilot-dates button[type=submit]").click()
    expect(overview.locator(".badge-pilot-running")).to_be_visible()
    htmx_idle(page)

    # The daily log: an entry with a problem, promoted to a problem of the initiative.
    log = page.locator("#log")
    log.locator("textarea[name=progress]").fill("40 activations with the automatic check")
    log.locator("textarea[name=problems]").fill("新系统不熟悉 New system unfamiliar")
    log.locator("form.log-form button[type=submit]").click()
    entry = log.locator("ol.pilot-log li").first
    expect(entry).to_contain_text("新系统不熟悉")
    htmx_idle(page)
    entry.locator("form button[type=submit]").click()
    expect(log.locator("ol.pilot-log li").first.locator("a[href^='/issues/']")).to_be_visible()
    htmx_idle(page)

    # A retrospective with an action and its owner.
    retros = page.locator("#retros")
    new = retros.locator("#new-retro")
    new.locator("input[name=held_on]").fill((start + timedelta(days=6)).isoformat())
    new.locator("textarea[name=went_well]").fill("The checklist works")
    new.locator("textarea[name=went_badly]").fill("SMS codes late")
    new.locator("input[name=action_text]").first.fill("Ask the SMS vendor")
    new.locator("select[name=action_owner]").first.select_option(label=next(
        t for t in new.locator("select[name=action_owner]").first.locator("option").all_inner_texts()
        if PEOPLE[1][1] in t))
    new.locator("button[type=submit]").click()
    expect(retros.locator("article.retro")).to_have_count(1)
    expect(retros.locator("#open-actions")).to_contain_text("Ask the SMS vendor")
    htmx_idle(page)

    # An unmet problem and its cause, for Table 3.
    unmet = page.locator("#unmet")
    unmet.locator("input[name=problem]").fill("部分用户反馈手机号验证码收不到")
    unmet.locator("input[name=cause]").fill("短信通道")
    unmet.locator("input[name=change]").fill("短信通道需优化")
    unmet.locator("form button[type=submit]").last.click()
    expect(unmet.locator("tbody tr")).to_have_count(1)
    htmx_idle(page)

    # The end: the decision's form appears without a reload.
    overview.locator("input[name=actual_end]").fill(today().isoformat())
    overview.locator(".pilot-dates button[type=submit]").click()
    expect(overview.locator(".badge-pilot-finished")).to_be_visible()
    expect(page.locator("#decision form.decision-form")).to_be_visible()
    assert not_reloaded(page)

    # The survey, by the pilot's three people.
    for n, ((email, _), (easier, risk)) in enumerate(zip(PEOPLE, SCORES, strict=True), 1):
        _as(page, locale, email, PEOPLE_PASSWORD)
        page.goto(pilot_url)
        survey = page.locator("#survey")
        survey.locator(f"input[name=easier][value='{easier}']").check()
        survey.locator(f"input[name=risk_controlled][value='{risk}']").check()
        survey.locator("textarea[name=comment]").fill("好用 Easier")
        survey.locator("form.answer-form button[type=submit]").click()
        expect(survey.locator(".flash-ok")).to_be_visible()
        expect(survey.locator("form.answer-form")).to_have_count(0)
        htmx_idle(page)
        expect(page.locator("#people .badge-ok")).to_have_count(n)  # the people section loaded again

    # The evaluation, as the leader: team A only, 30 -> 8 min, a chart per KPI.
    _as(page, locale, *LEAD)
    page.goto(pilot_url)
    evaluation = page.locator("#evaluation")
    expect(evaluation.locator("table.evaluation")).to_contain_text("-73.3 %")
    expect(evaluation.locator("table.evaluation")).to_contain_text("n = 40")
    expect(evaluation.locator(".too-few-warning")).to_contain_text("30")
    expect(evaluation.locator(".pilot-chart canvas")).to_have_count(2)
    expect(page.locator("#survey .survey-stats")).to_contain_text("4.5")
    _shot(page, f"pilot-{locale}")

    # Decide: adopt.
    decision = page.locator("#decision")
    decision.locator("input[name=decision][value=adopt]").check()
    decision.locator("textarea[name=reason]").fill("-73 %, satisfaction 4.5")
    decision.locator("form.decision-form button[type=submit]").click()
    expect(page.locator("#decision .badge-decision-adopt")).to_be_visible()
    expect(page.locator(".flash-ok")).to_be_visible()
    expect(page.locator("#log form.log-form")).to_have_count(0)  # decided: it no longer changes
    _shot(page, f"pilot-decided-{locale}")

    # Table 3 in the reader's language.
    page.locator(".pilot-head a[href$='/table3']").click()
    expect(page.locator("#table3 thead th").first).to_have_text("试点流程" if locale == "zh_CN" else "Piloted process")
    expect(page.locator("#table3 tbody tr")).to_have_count(2)
    expect(page.locator("#table3 tbody tr").first).to_contain_text("-73.3 %")
    expect(page.locator("#table3 tbody tr").first).to_contain_text("部分用户反馈手机号验证码收不到 → 短信通道需优化")
    _shot(page, f"table3-{locale}")

    # The initiative's gate to rollout: the pilot criterion is met.
    page.goto(f"/initiatives/{initiative_id}")
    expect(page.locator("#gate li.gate-met").filter(has_text="adopt" if locale == "en" else "采纳")).to_have_count(1)
    expect(page.locator("#gate li.gate-unmet")).to_have_count(0)
