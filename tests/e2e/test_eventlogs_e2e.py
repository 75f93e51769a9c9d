"""Event logs in a real browser: import a log with a bad row, fix it, read the flow map and filter it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e

GOOD = (
    "case,activity,timestamp\n"
    "A1,Fill in form,2026-05-04T09:00:00+08:00\nA1,Manual review,2026-05-04T09:30:00+08:00\n"
    "A1,Activate,2026-05-04T09:35:00+08:00\n"
    "A2,Fill in form,2026-05-05T10:00:00+08:00\nA2,Manual review,2026-05-05T10:40:00+08:00\n"
    "A2,Manual review,2026-05-05T11:00:00+08:00\nA2,Activate,2026-05-05T11:10:00+08:00\n"
)


def _upload(page, content: str, name: str) -> None:  # noqa: ANN001
    value = page.locator("#upload select[name=process_id] option", has_text="YH-LC01").get_attribute("value")
    page.select_option("#upload select[name=process_id]", value)
    page.fill("#upload input[name=name]", name)
    page.set_input_files("#upload input[type=file]", files=[{"name": f"{name}.csv", "mimeType": "text/csv",
                                                           "buffer": content.encode()}])
    page.click("#upload button[type=submit]")


def test_import_fix_and_analyse(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.get_by_role("link", name="Event logs").click()
    expect(page.locator("h1")).to_have_text("Event logs")

    _upload(page, GOOD + "A3,Activate,yesterday\n", "activation-bad")
    errors = page.locator("#upload .flash-error")
    expect(errors).to_contain_text("Nothing was imported")
    expect(errors).to_contain_text("Row 8")
    expect(page.get_by_role("link", name="activation-bad")).to_have_count(0)

    _upload(page, GOOD, "activation")
    expect(page).to_have_url(re.compile(r"/event-logs/\d+$"))
    expect(page.locator("h1")).to_have_text("activation")
    kpis = page.locator(".kpis")
    expect(kpis).to_contain_text("7")  # events
    expect(kpis.locator(".kpi").nth(1)).to_contain_text("2")  # cases
    flow = page.locator("svg.flowmap")
    for activity in ("Fill in form", "Manual review", "Activate"):
        expect(flow.locator(".node-name", has_text=activity)).to_have_count(1)
    expect(flow.locator("path.edge.back, path.edge")).not_to_have_count(0)
    expect(page.locator(".variant").first).to_contain_text("Manual review")

    # Filtering replaces the analysis without a reload.
    page.wait_for_load_state("load")
    page.evaluate("window.__e2eNoReload = true")
    page.select_option("select[name=activity]", "Activate")
    page.fill("input[name=from]", "2026-05-05")
    page.locator("input[name=from]").dispatch_event("change")
    expect(page.locator(".kpis .kpi").nth(1)).to_contain_text("1")
    assert page.evaluate("window.__e2eNoReload === true")

    page.locator(".langs").get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#analysis h2").first).not_to_have_text("Process flow")
