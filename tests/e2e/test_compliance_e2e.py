"""Control-point compliance in a real browser, in English and in Chinese: the demo's YH-LC02 order log checked
against its SOP's rules on the log's page and the SOP's page (loaded by htmx), and the violating cases filtered
in place, with their traces."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import htmx_idle, login, mark_document, not_reloaded

pytestmark = pytest.mark.e2e
VIEWER = ("viewer@example.com", "demo-viewer-2026")
WORDS = {"en": ("Control points", "Too late", "Compliance in the event logs"),
         "zh_CN": ("关键节点", "超时", "事件日志中的合规情况")}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_order_logs_compliance_on_the_log_page_and_the_sop_page(page, locale):  # noqa: ANN001
    heading, too_late, sop_heading = WORDS[locale]
    page.goto(f"/lang?set={locale}&next=/login")
    login(page, *VIEWER)
    page.goto("/event-logs")
    page.click("a:has-text('Order system export')")
    section = page.locator("#compliance")
    expect(section.locator("h2")).to_have_text(heading)
    rows = section.locator("table.compliance tbody tr")
    expect(rows).to_have_count(2)  # loaded by htmx: the two rules of YH-LC02's V1.0
    rate = rows.first.locator(".rate").inner_text()
    assert re.fullmatch(r"\d{1,3}\.\d %", rate), rate
    expect(section.locator("a[href^='/sop-versions/']")).to_have_text("SOP V1.0")

    section.locator("a:has-text('Violating cases'), a:has-text('违规案件')").click()
    cases = page.locator("#compliance-cases")
    expect(cases.locator("li.case").first).to_be_visible()
    mark_document(page)
    cases.locator("select[name=reason]").select_option("too_late")
    htmx_idle(page)
    items = page.locator("#compliance-cases li.case")
    expect(items).to_have_count(1)
    expect(items.first.locator(".badge")).to_have_text(too_late)
    expect(items.first.locator("ol.trace li")).not_to_have_count(0)
    assert not_reloaded(page)

    page.goto("/processes?q=YH-LC02")
    page.click("a:text('YH-LC02')")
    page.click("a[href^='/sops/']")
    sop = page.locator("section.sop-compliance")
    expect(sop.locator("h2")).to_have_text(sop_heading)
    expect(sop.locator("table.compliance tbody tr")).to_have_count(2)
    assert sop.locator(".rate").first.inner_text() == rate  # the same log, the same version: the same figure
