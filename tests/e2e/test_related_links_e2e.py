"""Related pages link to each other in a real browser (#20 item 6): from process YH-LC01 to its initiative and
its KPI YH-LC01-ACT, from the KPI back to the initiative, from the initiative's overview to its KPIs; the new-KPI
form offers the initiative in a select (narrowed by htmx when the process changes) and a KPI made with it
belongs to it."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill_form, htmx_idle, login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e
INITIATIVE = "Activation in 5 minutes"


def _process_page(page) -> None:  # noqa: ANN001
    page.goto("/processes?q=YH-LC01")
    page.locator("a.code", has_text=re.compile(r"^YH-LC01$")).click()
    expect(page).to_have_url(re.compile(r"/processes/\d+$"))


def test_process_initiative_and_kpis_link_each_other(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    _process_page(page)
    process_url = page.url
    initiatives = page.locator("#related-initiatives")
    expect(initiatives).to_contain_text(INITIATIVE)
    expect(page.locator("#related-kpis")).to_contain_text("YH-LC01-ACT")
    expect(page.locator("#related-logs")).to_be_visible()

    initiatives.get_by_role("link", name=re.compile(INITIATIVE)).click()
    expect(page).to_have_url(re.compile(r"/initiatives/\d+$"))
    expect(page.locator("h1")).to_contain_text(INITIATIVE)

    # The overview lists the initiative's KPIs (the demo's are its own).
    kpis = page.locator("#related-kpis")
    expect(kpis).to_contain_text("YH-LC01-ERR")
    kpis.locator("a", has_text="YH-LC01-ERR").click()
    expect(page.locator("h1")).to_contain_text("YH-LC01-ERR")
    page.go_back()
    kpis.get_by_role("link", name="Open the dashboard").first.click()
    expect(page).to_have_url(re.compile(r"/metrics\?initiative=\d+$"))

    page.goto(process_url)
    page.locator("#related-kpis a", has_text="YH-LC01-ACT").click()
    expect(page).to_have_url(re.compile(r"/metrics/kpis/\d+$"))
    expect(page.locator("h1")).to_contain_text("YH-LC01-ACT")
    expect(page.locator("main")).not_to_contain_text(re.compile(r"Initiative\s*#\d"))
    page.locator(".related-crumbs").get_by_role("link", name=re.compile(INITIATIVE)).click()  # its initiative
    expect(page.locator("h1")).to_contain_text(INITIATIVE)
    page.go_back()
    page.locator(".related-crumbs").get_by_role("link", name=re.compile("YH-LC01")).click()
    expect(page).to_have_url(process_url)


def test_new_kpi_chooses_its_initiative_from_a_select(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/initiatives")
    page.locator("#initiative-rows a", has_text=INITIATIVE).click()
    initiative_url = page.url
    page.locator("#related-kpis").get_by_role("link", name="New KPI").click()
    expect(page).to_have_url(re.compile(r"/metrics/kpis/new\?process_id=\d+&initiative_id=\d+$"))
    form = page.locator("#kpi-form")
    expect(form.locator("input[name=initiative_id]")).to_have_count(0)
    choice = form.locator("select[name=initiative_id]")
    expect(choice.locator("option:checked")).to_contain_text(INITIATIVE)

    # Another process: the choice narrows to its initiatives (none of YH-LC01's); back again.
    process = form.locator("select[name=process_id]")
    chosen_process = process.input_value()
    process.select_option(process.locator("option", has_text="YH-LC02").get_attribute("value"))
    htmx_idle(page)
    expect(form.locator("select[name=initiative_id] option", has_text=INITIATIVE)).to_have_count(0)
    process.select_option(chosen_process)
    htmx_idle(page)
    choice = form.locator("select[name=initiative_id]")
    expect(choice.locator("option", has_text=INITIATIVE)).to_have_count(1)
    choice.select_option(choice.locator("option", has_text=INITIATIVE).get_attribute("value"))

    code = f"YH-LC01-E2E{uuid.uuid4().hex[:4].upper()}"
    fill_form(form, {"code": code, "name_en": "Review wait", "name_zh": "审核等待", "unit": "min"})
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/metrics/kpis/\d+$"))
    expect(page.locator("h1")).to_contain_text(code)
    page.locator(".related-crumbs").get_by_role("link", name=re.compile(INITIATIVE)).click()
    expect(page).to_have_url(initiative_url)
    # ... and the overview now lists it among the initiative's own KPIs, a click away.
    page.locator("#related-kpis .related-list").first.locator("a", has_text=code).click()
    expect(page.locator("h1")).to_contain_text(code)
