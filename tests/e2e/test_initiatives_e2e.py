"""Initiatives in a real browser: create one, survey its steps, see the map, record and score problems,
watch the priority matrix move a card, add a fishbone cause, and advance a phase after a refused gate."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill_form, htmx_idle, login, mark_document, not_reloaded
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


def _add_step(page, name: str, minutes: str, department: str, kind: str = "activity", flags=()) -> None:  # noqa: ANN001
    row = page.locator("tfoot tr.adding")
    fill_form(row, {"name": name, "kind": kind, "department": department, "minutes": minutes})
    for flag in flags:
        row.locator(f"input[name=problem_flags][value={flag}]").check()
    page.locator("#new-step button[type=submit]").click()
    expect(page.locator("#survey tbody")).to_contain_text(name)


def test_initiative_from_survey_to_matrix_and_gate(page) -> None:  # noqa: ANN001
    title = f"Faster order fulfilment {uuid.uuid4().hex[:6]}"
    login(page, *LEAD)

    # Create an initiative on YH-LC02.
    page.goto("/initiatives")
    page.get_by_role("link", name="New initiative").click()
    option = page.locator("select[name=process_id] option", has_text="YH-LC02")
    page.select_option("select[name=process_id]", option.get_attribute("value"))
    page.fill("input[name=title]", title)
    page.select_option("select[name=trigger]", "customer_feedback")
    page.fill("textarea[name=goal]", "Late fulfilment complaints down by half")
    page.click("#initiative-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/initiatives/\d+$"))
    expect(page.locator("#messages")).to_contain_text("Initiative created.")
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".phase-bar [aria-current=step]")).to_contain_text("Diagnosis")
    ini_url = page.url

    # Advancing now is refused, and the page says why (without a reload).
    mark_document(page)
    page.get_by_role("button", name="Advance to Root cause").click()
    gate = page.locator("#gate")
    expect(gate.locator(".flash-error")).to_contain_text("The gate does not hold yet")
    expect(gate.locator(".gate-unmet")).to_have_count(2)
    expect(gate).to_contain_text("Record the current process in the survey")
    expect(gate).to_contain_text("Record at least one interview")
    assert not_reloaded(page)
    expect(page.locator(".phase-bar [aria-current=step]")).to_contain_text("Diagnosis")

    # Survey: three steps added in place, totals follow.
    page.locator("nav.tabs").get_by_role("link", name="Current-state survey").click()
    mark_document(page)
    _add_step(page, "Order received", "2", "customer_service", kind="input")
    _add_step(page, "Credit and amount check", "45", "finance", kind="decision", flags=("efficiency",))
    _add_step(page, "Picking and shipping", "120.5", "operations", flags=("collaboration",))
    expect(page.locator("#survey tbody tr")).to_have_count(3)
    expect(page.locator(".totals")).to_contain_text("167.5")
    # A bad value is refused in place, and nothing is added.
    page.locator("tfoot input[name=name]").fill("Delivery confirmation")
    page.locator("tfoot input[name=minutes]").fill("-5")
    page.locator("#new-step button[type=submit]").click()
    expect(page.locator("tfoot .field-error")).to_be_visible()
    expect(page.locator("#survey tbody tr")).to_have_count(3)
    # Edit a step in place.
    page.locator("#survey tbody tr", has_text="Order received").get_by_role("link", name="Edit").click()
    editing = page.locator("#survey tr.editing")
    editing.locator("input[name=minutes]").fill("3")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator("#survey tr.editing")).to_have_count(0)
    expect(page.locator(".totals")).to_contain_text("168.5")
    assert not_reloaded(page)
    # A research record.
    research = page.locator("#research")
    fill_form(research, {
        "method": "interview",
        "conducted_on": "2026-03-02",
        "participants": "Warehouse team lead",
        "findings": "Picking waits for the credit check e-mail",
    })
    research.get_by_role("button", name="Add record").click()
    expect(research).to_contain_text("Warehouse team lead")

    # The as-is map draws the three steps in their lanes.
    page.locator("nav.tabs").get_by_role("link", name="As-is map").click()
    expect(page.locator("svg g.node")).to_have_count(3)
    expect(page.locator("svg g.node-decision polygon")).to_have_count(1)
    expect(page.locator(".map-lanes")).to_contain_text("Finance")

    # Problems: record two, scored.
    page.locator("nav.tabs").get_by_role("link", name="Problems").click()
    form = page.locator("#new-issue")
    fill_form(form, {
        "title": "Late fulfilment causes complaints",
        "category": "efficiency",
        "source": "feedback",
        "impact": "5",
        "urgency": "5",
    })
    form.get_by_role("button", name="Record the problem").click()
    expect(page).to_have_url(re.compile(r"/issues/\d+$"))
    expect(page.locator("#messages")).to_contain_text("Problem recorded.")

    # A fishbone cause on the method bone, marked as root cause.
    mark_document(page)
    cause = page.locator("#cause-form")
    cause.locator("select[name=category]").select_option("method")
    cause.locator("input[name=text]").fill("Credit check by e-mail")
    cause.locator("input[name=is_root]").check()
    cause.get_by_role("button", name="Add cause").click()
    expect(page.locator("#fishbone svg .fb-root")).to_contain_text("Credit check by e-mail")
    expect(page.locator("#fishbone svg .fb-bone-label")).to_have_count(5)
    # And a 5-Whys link.
    whys = page.locator("#whys")
    whys.locator("input[name=question]").fill("Why does picking wait?")
    whys.locator("input[name=answer]").fill("The credit check result comes by e-mail")
    whys.get_by_role("button", name="Add why").click()
    expect(whys.locator(".why")).to_have_count(1)
    assert not_reloaded(page)

    page.goto(ini_url + "/issues")
    form = page.locator("#new-issue")
    fill_form(form, {
        "title": "Report format tweak",
        "category": "quality",
        "source": "feedback",
        "impact": "1",
        "urgency": "1",
    })
    form.get_by_role("button", name="Record the problem").click()
    expect(page).to_have_url(re.compile(r"/issues/\d+$"))

    # The matrix: changing the scores moves the card to another quadrant at once.
    page.goto(ini_url + "/matrix")
    mark_document(page)
    defer = page.locator(".quadrant-defer")
    do_first = page.locator(".quadrant-do_first")
    expect(defer).to_contain_text("Report format tweak")
    expect(do_first).to_contain_text("Late fulfilment causes complaints")
    card = page.locator(".issue-card", has_text="Report format tweak")
    card.locator("select[name=impact]").select_option("4")
    expect(page.locator(".quadrant-quick_fix, .quadrant-schedule").filter(has_text="Report format tweak")) \
        .to_have_count(1)
    expect(page.locator(".quadrant-schedule")).to_contain_text("Report format tweak")
    htmx_idle(page)
    page.locator(".issue-card", has_text="Report format tweak").locator("select[name=urgency]").select_option("4")
    expect(do_first).to_contain_text("Report format tweak")
    expect(do_first.locator(".issue-card").first).to_contain_text("Late fulfilment")  # 25 before 16
    expect(defer.locator(".issue-card")).to_have_count(0)
    assert not_reloaded(page)

    # Now the diagnosis gate holds: advance.
    page.goto(ini_url)
    expect(page.locator("#gate .gate-unmet")).to_have_count(0)
    page.get_by_role("button", name="Advance to Root cause").click()
    expect(page.locator("#messages")).to_contain_text("Moved to the next phase.")
    expect(page.locator(".phase-bar [aria-current=step]")).to_contain_text("Root cause")
    expect(page.locator(".phase-bar .phase-done")).to_contain_text("Diagnosis")


def test_demo_initiative_in_chinese(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/lang?set=zh_CN&next=/initiatives")
    page.locator("#initiative-rows a", has_text="Activation in 5 minutes").click()
    expect(page.locator(".phase-bar [aria-current=step]")).to_contain_text("根因")
    page.locator("nav.tabs a").nth(3).click()
    page.locator("#issue-rows a", has_text="Manual review takes 30 minutes").click()
    labels = page.locator("#fishbone svg .fb-bone-label")
    expect(labels).to_have_count(5)
    expect(labels.first).not_to_have_text("Man")  # the bones are labelled in Chinese
    expect(page.locator("#whys .why-root")).to_contain_text("没有接口")
