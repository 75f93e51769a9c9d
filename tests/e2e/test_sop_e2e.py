"""An SOP's whole life in a real browser, in English and in Chinese: "Draft the SOP" on an initiative in the
design phase, edit it (htmx, no reload), submit it, a reviewer comments and requests changes, a change starts
round 2, the reviewers approve, the leader signs and publishes V1.0, starts V1.1, changes a step, publishes it,
and the comparison shows the change.

Each run has its own process and initiative, made through the API (a lead with two team members). With
`SOP_SCREENSHOTS=<folder>` every page is also saved there as a PNG.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, htmx_idle, mark_document, not_reloaded
from tests.e2e.server import ADMIN, LEAD

pytestmark = pytest.mark.e2e
MEMBER = ("member@example.com", "demo-member-2026")
IT = ("it@example.com", "demo-member-2026")
SHOTS = os.environ.get("SOP_SCREENSHOTS")


def _api(base: str, who: tuple[str, str]) -> httpx.Client:
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": who[0], "password": who[1]}).json()
    return httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token['access_token']}"})


def _ok(r: httpx.Response) -> Any:
    assert r.is_success, r.text
    return r.json()


def _initiative_in_design(base: str) -> tuple[int, str]:
    """A new process with two surveyed steps and its initiative in the design phase (led by the demo lead,
    with the demo member and IT engineer on the team)."""
    users = {u["email"]: u["id"] for u in _ok(_api(base, ADMIN).get("/users", params={"limit": 100}))["items"]}
    lead = _api(base, LEAD)
    code = f"E2E-{uuid.uuid4().hex[:6].upper()}"
    process = _ok(lead.post("/processes", json={"code": code, "name": f"SOP flow {code}",
                                                "departments": ["operations", "technology"]}))
    ini = _ok(lead.post("/initiatives", json={
        "process_id": process["id"], "title": f"Faster {code}", "trigger": "inefficiency",
        "team": [{"user_id": users[MEMBER[0]], "project_role": "business"},
                 {"user_id": users[IT[0]], "project_role": "it"}]}))
    for name, dept, minutes in (("Fill in the form", "operations", 3), ("Manual review", "operations", 30),
                                ("Activate the account", "technology", 2)):
        _ok(lead.post(f"/initiatives/{ini['id']}/survey/steps",
                      json={"name": name, "department": dept, "minutes": minutes}))
    for _ in range(2):
        _ok(lead.post(f"/initiatives/{ini['id']}/advance", json={"override_reason": "The browser test's shortcut"}))
    return ini["id"], code


def _person(browser, base: str, who: tuple[str, str], locale: str, console: list[str]):  # noqa: ANN001, ANN202
    context = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(8000)
    page = context.new_page()
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("console", lambda m: console.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None)
    page.goto(f"/lang?set={locale}&next=/login")
    page.fill("input[name=email]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/processes$"))
    return page


def _shot(page, name: str, locale: str) -> None:  # noqa: ANN001
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"sop-{name}-{locale}.png"), full_page=True, caret="initial")


def _save_section(page, section: str) -> None:  # noqa: ANN001
    page.locator(f"#form-{section} button.primary").click()
    htmx_idle(page)
    expect(page.locator(f"#sec-{section} .flash-ok")).to_be_visible()


def _review_round(lead, reviewers, vid: int) -> None:  # noqa: ANN001
    """Every reviewer approves; the leader signs."""
    for r in reviewers:
        r.goto(f"/sop-versions/{vid}")
        r.locator("#vote-form button[value=approve]").click()
        expect(r.locator(".sop-reviewers")).to_be_visible()
    lead.goto(f"/sop-versions/{vid}")
    lead.locator("#sign-form button").click()
    expect(lead.locator("#publish-form")).to_be_visible()
    expect(lead.locator(".sop-signature")).to_contain_text("sha256")


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_sop_from_draft_to_v1_1_and_the_diff(browser, live_url: str, locale: str) -> None:  # noqa: ANN001
    console: list[str] = []
    ini_id, code = _initiative_in_design(live_url)
    lead = _person(browser, live_url, LEAD, locale, console)
    member = _person(browser, live_url, MEMBER, locale, console)
    it = _person(browser, live_url, IT, locale, console)

    # Draft the SOP from the initiative: the editor opens with the surveyed steps.
    lead.goto(f"/initiatives/{ini_id}")
    _shot(lead, "initiative", locale)
    lead.locator(f"form[action='/initiatives/{ini_id}/sop/draft'] button").click()
    lead.wait_for_url(re.compile(r"/sop-versions/\d+/edit$"))
    vid = int(re.search(r"/sop-versions/(\d+)/edit", lead.url).group(1))
    steps = lead.locator("#form-steps")
    expect(steps.locator("input[name=name]").nth(1)).to_have_value("Manual review")
    _shot(lead, "editor", locale)

    # The business member opens the editor too, before the leader's changes.
    member.goto(f"/sop-versions/{vid}/edit")
    # Edit in place: the purpose, then a step's instructions (the purpose's save did not make it stale).
    mark_document(lead)
    lead.locator("#form-purpose textarea[name=text]").fill("Activate users within 5 minutes")
    lead.locator("#form-purpose input[name=target]").fill("5")
    _save_section(lead, "purpose")
    lead.locator("#form-steps textarea[name=instructions]").nth(1).fill("Check CRM, KYC and Billing at once")
    _save_section(lead, "steps")
    # The member saves the steps from the older page: refused, their text kept beside what is saved now.
    member.locator("#form-steps textarea[name=inputs]").nth(0).fill("Phone number and ID card")
    member.locator("#form-steps button.primary").click()
    htmx_idle(member)
    expect(member.locator("#sec-steps .sop-stale")).to_contain_text("Check CRM, KYC and Billing at once")
    expect(member.locator("#form-steps textarea[name=inputs]").nth(0)).to_have_value("Phone number and ID card")
    _shot(member, "stale", locale)
    member.locator("#form-steps textarea[name=instructions]").nth(1).fill("Check CRM, KYC and Billing at once")
    _save_section(member, "steps")  # saved on purpose, with the leader's instruction typed in again
    lead.reload()
    mark_document(lead)
    expect(lead.locator("#form-steps textarea[name=inputs]").nth(0)).to_have_value("Phone number and ID card")
    # Move the third step up and back down (htmx, saved each time).
    lead.locator("#form-steps button[value='up:2']").click()
    htmx_idle(lead)
    expect(lead.locator("#form-steps input[name=name]").nth(1)).to_have_value("Activate the account")
    lead.locator("#form-steps button[value='down:1']").click()
    htmx_idle(lead)
    expect(lead.locator("#form-steps input[name=name]").nth(1)).to_have_value("Manual review")
    # A step without a name: the error at its field, nothing saved.
    lead.locator("#form-steps input[name=name]").nth(0).fill("")
    lead.locator("#form-steps button.primary").click()
    htmx_idle(lead)
    expect(lead.locator("#sec-steps [id='steps.0.name-error']")).to_be_visible()
    _shot(lead, "editor-error", locale)
    lead.locator("#form-steps input[name=name]").nth(0).fill("Fill in the form")
    _save_section(lead, "steps")
    assert not_reloaded(lead)

    # Submit to the two reviewers.
    lead.goto(f"/sop-versions/{vid}")
    lead.locator("#submit-form input[name=reviewer]").first.wait_for()
    for name in ("Zhang Wei", "Chen Jie"):
        lead.locator("#submit-form label.check", has_text=name).locator("input").check()
    lead.locator("#submit-form button.primary").click()
    expect(lead.locator("#sign-form")).to_be_visible()

    # A reviewer comments on a step and requests changes.
    member.goto(f"/sop-versions/{vid}")
    member.locator("#section-steps .sop-comment-new summary").click()
    form = member.locator("#section-steps .sop-comment-form")
    form.locator("select[name=step_id]").select_option(label="Manual review")
    form.locator("textarea[name=text]").fill("Name the three systems in the step")
    form.locator("button").click()
    expect(member.locator("#section-steps .sop-thread")).to_contain_text("Name the three systems in the step")
    member.locator("#vote-form button[value=request_changes]").click()
    expect(member.locator(".sop-vote-request_changes")).to_be_visible()
    _shot(member, "review", locale)

    # The leader cannot sign yet; a change to the draft starts round 2; the comment is answered and resolved.
    lead.goto(f"/sop-versions/{vid}")
    lead.locator("#sign-form button").click()
    expect(lead.locator("#sign-form .flash-error")).to_be_visible()
    lead.goto(f"/sop-versions/{vid}/edit")
    lead.locator("#form-steps input[name=system_path]").nth(1).fill("CRM › KYC › Billing")
    _save_section(lead, "steps")
    lead.goto(f"/sop-versions/{vid}")
    thread = lead.locator("#section-steps .sop-thread").first
    thread.locator("textarea[name=text]").fill("Added the system path")
    thread.locator(".sop-reply-form button").click()
    thread = lead.locator("#section-steps .sop-thread").first
    expect(thread.locator(".sop-reply")).to_contain_text("Added the system path")
    thread.locator("form.inline button").click()
    expect(lead.locator("#section-steps .sop-thread.resolved")).to_have_count(1)
    expect(lead.locator(".sop-summary")).to_contain_text("2")  # round 2

    # Approve, sign, publish V1.0.
    _review_round(lead, (member, it), vid)
    _shot(lead, "signed", locale)
    lead.locator("#publish-form button.primary").click()
    expect(lead.locator("#version-h")).to_contain_text("V1.0")
    expect(lead.locator("#next-form")).to_be_visible()
    sop_id = int(re.search(r"/sops/(\d+)", lead.locator("nav.sop-tabs a").first.get_attribute("href")).group(1))

    # V1.1: a copy; change a step's minutes; review, sign, publish with a summary.
    lead.locator("#next-form button").click()
    lead.wait_for_url(re.compile(r"/sop-versions/\d+/edit$"))
    nid = int(re.search(r"/sop-versions/(\d+)/edit", lead.url).group(1))
    lead.locator("#form-steps input[name=minutes]").nth(1).fill("5")
    lead.locator("#form-steps textarea[name=instructions]").nth(1).fill("Automatic check of CRM, KYC and Billing")
    _save_section(lead, "steps")
    lead.goto(f"/sop-versions/{nid}")
    for name in ("Zhang Wei", "Chen Jie"):
        lead.locator("#submit-form label.check", has_text=name).locator("input").check()
    lead.locator("#submit-form button.primary").click()
    _review_round(lead, (member, it), nid)
    expect(lead.locator("#publish-form input[name=bump][value=minor]")).to_be_checked()  # the suggestion
    lead.locator("#publish-form button.primary").click()
    expect(lead.locator("#publish-form [id=change_summary-error]")).to_be_visible()  # required from V1.1 on
    lead.locator("#publish-form textarea[name=change_summary]").fill("自动校验三个系统，审核 5 分钟")
    lead.locator("#publish-form button.primary").click()
    expect(lead.locator("#version-h")).to_contain_text("V1.1")
    _shot(lead, "version", locale)

    # The SOP page leads with V1.1; V1.0 is superseded; Table 4 has both rows; the diff shows the change.
    lead.goto(f"/sops/{sop_id}")
    expect(lead.locator(".sop-summary h2")).to_contain_text("V1.1")
    _shot(lead, "sop", locale)
    lead.goto(f"/sop-versions/{vid}")
    expect(lead.locator(".sop-superseded")).to_be_visible()
    _shot(lead, "superseded", locale)
    lead.goto(f"/sops/{sop_id}/table4")
    expect(lead.locator("#table4 tbody tr")).to_have_count(2)
    expect(lead.locator("#table4")).to_contain_text(code)
    _shot(lead, "table4", locale)
    lead.locator("#table4 a[href*='/diff']").click()
    expect(lead.locator("ins").first).to_be_visible()
    expect(lead.locator("del").first).to_be_visible()
    expect(lead.locator("#diff-steps")).to_contain_text("Automatic")
    _shot(lead, "diff", locale)
    for p in (lead, member, it):
        p.context.close()
    assert not console, console
