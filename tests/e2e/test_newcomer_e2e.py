"""What a new operations lead ran into (issue 20), in a real browser: saving a section of the initiative
page shows the change at once; filling in a form does not fire the list's filter; the as-is map and the
priority matrix download as files, and the gate says "no problems yet"; the monitoring phase can be closed
where its gate says so."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill_form, htmx_idle, login, mark_document
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e

VIEWER = ("viewer@example.com", "demo-viewer-2026")


class Api:
    """The JSON API as the lead (Bearer token: no cookie, no CSRF), to set up what a test needs."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.request = page.context.request
        r = self.request.post("/api/v1/auth/token", form={"username": LEAD[0], "password": LEAD[1]})
        assert r.ok, r.text()
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def get(self, url: str) -> Any:
        r = self.request.get(url, headers=self.headers)
        assert r.ok, r.text()
        return r.json()

    def post(self, url: str, data: dict[str, Any]) -> Any:
        r = self.request.post(url, headers=self.headers, data=data)
        assert r.ok, r.text()
        return r.json()

    def initiative(self, title: str, *, advance: int = 0) -> int:
        """A new initiative on YH-LC02 led by the lead, moved on `advance` phases by override."""
        process = next(p for p in self.get("/api/v1/processes?q=YH-LC02")["items"] if p["code"] == "YH-LC02")
        ini = self.post("/api/v1/initiatives", {"process_id": process["id"], "title": title,
                                                "trigger": "inefficiency", "goal": "Fewer late orders"})
        for _ in range(advance):
            self.post(f"/api/v1/initiatives/{ini['id']}/advance", {"override_reason": "Set up by the test"})
        return ini["id"]


def _title() -> str:
    return f"Newcomer {uuid.uuid4().hex[:6]}"


# ------------------------------------------------------------------ item 1: saving shows what changed

def test_team_and_phase_changes_show_at_once(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    ini = Api(page).initiative(_title())
    page.goto(f"/initiatives/{ini}")
    mark_document(page)
    team = page.locator("#team")
    picker = team.locator("select[name=user_id]")
    option = picker.locator("option:not([value=''])").first
    person, user_id = option.inner_text().strip(), option.get_attribute("value")
    picker.select_option(user_id)
    team.locator("form.add-member select[name=project_role]").select_option("it")
    team.get_by_role("button", name="Add", exact=True).click()

    # The person is in the table and no longer offered in "Add a member", without reloading by hand.
    row = team.locator("tbody tr", has_text=person)
    expect(row).to_have_count(1)
    expect(picker.locator(f"option[value='{user_id}']")).to_have_count(0)
    expect(team.locator("[role=status]")).to_contain_text("Team saved.")
    htmx_idle(page)

    # Removing (after the confirmation) takes them out again.
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Remove").click()
    expect(team.locator("tbody tr", has_text=person)).to_have_count(0)
    expect(picker.locator(f"option[value='{user_id}']")).to_have_count(1)
    htmx_idle(page)

    # A phase's planned dates: the phase bar in the header follows, and the page says it saved.
    phases = page.locator("#phases")
    diagnosis = phases.locator("form.dates-form").first
    diagnosis.locator("input[name=planned_end]").fill("2031-07-19")
    diagnosis.locator("input[name=planned_start]").fill("2031-07-01")
    diagnosis.get_by_role("button", name="Save").click()
    expect(phases.locator("[role=status]")).to_contain_text("Dates saved.")
    expect(page.locator(".phase-bar .phase-dates").first).to_have_text("07-01 – 07-19")
    htmx_idle(page)
    # Saving again (the form is bound to the new version) works too.
    diagnosis = phases.locator("form.dates-form").first
    diagnosis.locator("input[name=planned_end]").fill("2031-07-24")
    diagnosis.get_by_role("button", name="Save").click()
    expect(page.locator(".phase-bar .phase-dates").first).to_have_text("07-01 – 07-24")
    assert page.evaluate("window.__e2eNoReload === true")  # swapped in place, not reloaded


def test_without_javascript_a_saved_section_loads_the_page(browser, live_url) -> None:  # noqa: ANN001
    """A plain post is answered by a redirect the browser really follows (`?saved=team#team`)."""
    context = browser.new_context(base_url=live_url, java_script_enabled=False, locale="en-US")
    try:
        page = context.new_page()
        login(page, *LEAD)
        ini = Api(page).initiative(_title())
        page.goto(f"/initiatives/{ini}")
        team = page.locator("#team")
        option = team.locator("select[name=user_id] option:not([value=''])").first
        person = option.inner_text().strip()
        team.locator("select[name=user_id]").select_option(option.get_attribute("value"))
        team.get_by_role("button", name="Add", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/initiatives/{ini}\?saved=team#team$"))
        expect(team.locator("tbody tr", has_text=person)).to_have_count(1)
        expect(team.locator("[role=status]")).to_contain_text("Team saved.")
    finally:
        context.close()


# ------------------------------------------------------------------ item 2: a form is not a filter

def _watch_filter(page, path: str) -> list[str]:  # noqa: ANN001
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "GET" and r.url.split("?")[0].endswith(path)
            and r.headers.get("hx-request") == "true" else None)
    return sent


def test_filling_in_a_form_does_not_filter_the_list(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    ini = Api(page).initiative(_title())
    page.goto(f"/initiatives/{ini}/issues")
    page.wait_for_load_state("load")
    sent = _watch_filter(page, f"/initiatives/{ini}/issues")
    before = page.evaluate("history.length")
    form = page.locator("#new-issue form")
    fill_form(form, {
        "title": "Orders wait for the credit check",
        "category": "efficiency",
        "source": "feedback",
        "impact": "4",
        "urgency": "3",
        "status": "analysing",
    })
    form.locator("select[name=owner_id]").select_option(index=1)
    page.wait_for_timeout(300)
    assert sent == [], f"the filter fired: {sent}"
    assert page.evaluate("history.length") == before
    # The filter still reacts to its own controls.
    page.locator("form.filters select[name=category]").select_option("quality")
    expect(page).to_have_url(re.compile(r"category=quality"))
    assert len(sent) == 1
    assert page.evaluate("history.length") == before + 1

    page.goto(f"/initiatives/{ini}/measures")
    page.wait_for_load_state("load")
    sent = _watch_filter(page, f"/initiatives/{ini}/measures")
    before = page.evaluate("history.length")
    form = page.locator("#new-measure form")
    fill_form(form, {"goal": "Credit check within 5 minutes", "type": "automate", "department": "finance"})
    form.locator("select[name=owner_id]").select_option(index=1)
    form.locator("select[name=status]").select_option("in_progress")
    form.locator("select[name=effect_direction]").select_option("lower_is_better")
    page.wait_for_timeout(300)
    assert sent == [], f"the filter fired: {sent}"
    assert page.evaluate("history.length") == before
    page.locator("form.filters select[name=status]").select_option("done")
    expect(page).to_have_url(re.compile(r"status=done"))
    assert len(sent) == 1


def test_initiative_list_filter_reacts_to_its_own_controls(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/initiatives")
    page.wait_for_load_state("load")
    sent = _watch_filter(page, "/initiatives")
    page.locator("form.filters select[name=status]").select_option("active")
    expect(page).to_have_url(re.compile(r"status=active"))
    htmx_idle(page)
    page.locator("form.filters input[name=q]").fill("Activation")
    expect(page).to_have_url(re.compile(r"q=Activation"))
    expect(page.locator("#initiative-rows")).to_contain_text("Activation in 5 minutes")
    htmx_idle(page)
    assert len(sent) == 2, sent


# ------------------------------------------------------------------ item 9: exports and the gate message

def test_map_and_matrix_download_and_gate_says_no_problems_yet(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    api = Api(page)
    ini = api.initiative(_title(), advance=1)  # root cause: no problems yet
    page.goto(f"/initiatives/{ini}")
    gate = page.locator("#gate")
    expect(gate).to_contain_text("No problems yet.")
    expect(gate).not_to_contain_text("not scored")

    # The demo initiative has steps and scored problems.
    page.goto("/initiatives")
    page.locator("#initiative-rows a", has_text="Activation in 5 minutes").click()
    demo = page.url.rstrip("/")
    page.goto(demo + "/map")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download SVG").click()
    download = info.value
    assert re.fullmatch(r"asis-map-YH-LC01-\d+-en\.svg", download.suggested_filename)
    svg = open(download.path(), encoding="utf-8").read()  # noqa: SIM115, PTH123
    assert svg.startswith("<?xml") and "<svg" in svg and "</svg>" in svg
    assert "<style" in svg and "lane-label" in svg  # styled on its own, lanes labelled

    page.goto(demo + "/matrix")
    first = page.locator(".quadrant-do_first .issue-card header a").first.inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV · English").click()
    download = info.value
    assert download.suggested_filename.endswith("-en.csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))  # noqa: SIM115, PTH123
    assert rows[0] == ["Quadrant", "Rank", "Problem", "Category", "Impact", "Urgency", "Score", "Status"]
    assert rows[1][:3] == ["Do first", "1", first]
    with page.expect_download() as info:
        page.get_by_role("link", name="XLSX · 中文").click()
    assert info.value.suggested_filename.endswith("-zh_CN.xlsx")


# ------------------------------------------------------------------ item 10: closing where the gate says so

def test_monitoring_phase_is_closed_from_the_gate(page, browser, live_url) -> None:  # noqa: ANN001
    login(page, *LEAD)
    title = _title()
    ini = Api(page).initiative(title, advance=5)  # monitoring
    # Others do not get the button.
    viewer_ctx = browser.new_context(base_url=live_url, locale="en-US")
    try:
        viewer = viewer_ctx.new_page()
        login(viewer, *VIEWER)
        viewer.goto(f"/initiatives/{ini}")
        expect(viewer.locator("#gate")).to_contain_text("close the initiative when it is done")
        expect(viewer.get_by_role("button", name="Close the initiative")).to_have_count(0)
    finally:
        viewer_ctx.close()

    page.goto(f"/initiatives/{ini}")
    gate = page.locator("#gate")
    last = gate.locator("li", has_text="close the initiative when it is done")
    button = last.get_by_role("button", name="Close the initiative")
    expect(button).to_be_visible()
    messages: list[str] = []

    def dismiss(d) -> None:  # noqa: ANN001
        messages.append(d.message)
        d.dismiss()

    page.once("dialog", dismiss)
    button.click()
    page.wait_for_timeout(200)
    assert messages and "Close" in messages[0]
    expect(page.locator(".ini-badges")).to_contain_text("Active")  # dismissed: nothing happened
    page.once("dialog", lambda d: d.accept())
    button.click()
    expect(page.locator("#messages")).to_contain_text("Initiative closed.")
    expect(page.locator(".ini-badges")).to_contain_text("Completed")
    expect(page.get_by_role("button", name="Close the initiative")).to_have_count(0)
