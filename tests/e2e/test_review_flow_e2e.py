"""Phase 6 end to end in a real browser, in both languages: an anonymous feedback (zh-CN) with its receipt code,
the owner's reply and the feedback made a problem (en), the sender reading the reply by the code without logging
in, the quarterly review showing the feedback and the problem (zh-CN), its meeting record deciding a new round
(en), and that round opened as an initiative at design with the finding as its problem. On SQLite, and on
PostgreSQL when TEST_DATABASE_URL is set (a server of its own)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.core.calendar import today
from app.reviews import service
from tests.e2e.conftest import DESKTOP, login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def flow(request, browser, console):  # noqa: ANN001, ANN201
    """A page on the server of the database asked for, and that server's URL."""
    base = request.getfixturevalue("live_url" if request.param == "sqlite" else "live_url_postgres")
    context = browser.new_context(base_url=base, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(5000)
    p = context.new_page()
    p.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    p.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    yield p, base
    context.close()


def _lang(page, base: str, locale: str) -> None:  # noqa: ANN001
    """The language a person chooses (the switcher's cookie), for the whole site."""
    page.context.add_cookies([{"name": "procopt_lang", "value": locale, "url": base + "/"}])


def test_anonymous_feedback_to_a_new_round_through_the_quarterly_review(flow, console) -> None:  # noqa: ANN001
    page, live_url = flow
    text = "高峰期人工审核排队太久，客户在群里投诉 (e2e 复盘)"
    login(page, "member@example.com", "demo-member-2026")
    _lang(page, live_url, "zh_CN")
    page.goto("/feedback/new")
    process = page.locator("select[name=process] option", has_text="YH-LC01").get_attribute("value")
    page.select_option("select[name=process]", process)
    page.locator("select[name=process]").locator("xpath=ancestor::form").locator("button").click()  # its steps
    page.select_option("select[name=category]", "efficiency")
    page.fill("textarea[name=text]", text)
    page.locator("button[formaction='/feedback/anonymous']").click()
    code = page.locator("#receipt-code").inner_text()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # The process's owner replies and makes it a problem of the initiative (in English).
    page.context.clear_cookies()
    login(page, *LEAD)
    _lang(page, live_url, "en")
    page.goto(f"/processes/{process}/feedback?status=new")
    item = page.locator("article.fb-item", has_text=text)
    item.locator("summary", has_text="Reply").click()
    item.locator("form[action$='/replies'] textarea[name=text]").fill("Thank you: the peak queue is on the agenda.")
    item.get_by_role("button", name="Send the reply").click()
    item = page.locator("article.fb-item", has_text=text)
    item.locator("summary", has_text="Make it a problem of an initiative").click()
    promote = item.locator("form[action$='/promote']")
    promote.locator("select[name=initiative_id]").select_option(index=1)
    promote.get_by_role("button", name="Make it a problem").click()
    item = page.locator("article.fb-item", has_text=text)
    expect(item.get_by_role("link", name="The problem it became")).to_be_visible()

    # The sender follows it by the code, without an account.
    page.context.clear_cookies()
    _lang(page, live_url, "zh_CN")
    page.goto("/feedback/receipt")
    page.fill("input[name=code]", code)
    page.locator("form button[type=submit]").first.click()
    expect(page.locator("main")).to_contain_text("Thank you: the peak queue is on the agenda.")

    # The quarterly review of this quarter shows it (zh-CN) ...
    login(page, *LEAD)
    _lang(page, live_url, "zh_CN")
    page.goto(f"/processes/{process}/reviews")
    year, quarter = service.quarter_of(today())
    page.get_by_role("link", name=f"{year} Q{quarter}").click()
    review_url = page.url
    expect(page.locator("#feedback")).to_contain_text(text[:20])
    expect(page.locator("#feedback")).to_contain_text("已转为问题")
    expect(page.locator("#problems")).to_contain_text(text[:20])

    # ... and its record decides a new round (en), which opens an initiative at design.
    _lang(page, live_url, "en")
    page.reload()
    record = page.locator("#record form")
    record.locator("select[name=participant_ids]").select_option(label="Wang Li 王丽 (ops manager)")
    record.locator("input[name=findings-0-text]").fill("Approval became a bottleneck again as volume grew")
    record.locator("select[name=decisions-0-kind]").select_option("new_round")
    record.locator("input[name=decisions-0-text]").fill("Automatic checks, people only for exceptions")
    record.locator("select[name=decisions-0-owner_id]").select_option(label="Wang Li 王丽 (ops manager)")
    record.get_by_role("button", name="Save the meeting record").click()
    expect(page.locator(".flash-ok")).to_contain_text("The meeting record is saved.")
    rounds = page.locator("#rounds")
    rounds.get_by_role("button", name="Open the new round").click()
    expect(page).to_have_url(re.compile(r"/initiatives/\d+"))
    initiative = re.search(r"/initiatives/(\d+)", page.url).group(1)
    expect(page.locator("main")).to_contain_text("Automatic checks, people only for exceptions")
    page.goto(f"/initiatives/{initiative}/issues")
    expect(page.locator("main")).to_contain_text("Approval became a bottleneck again as volume grew")
    page.goto(review_url)
    expect(page.locator("#rounds").get_by_role("link", name="Open the initiative of the new round")).to_be_visible()
    assert console.csp_violations() == [] and console.script_errors() == []
