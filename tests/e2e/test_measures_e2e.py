"""Table 2 in a real browser: add a countermeasure from a problem's page, see it in table 2, edit the row
in place (htmx swap, no reload)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fill_form, login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


def test_add_a_countermeasure_to_a_problem_and_see_it_in_table2(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/initiatives")
    page.locator("#initiative-rows a", has_text="Activation in 5 minutes").click()
    page.get_by_role("link", name="Problems", exact=True).click()
    page.locator("#issue-rows a", has_text="No alert when activation fails").click()
    expect(page.locator("#countermeasures")).to_contain_text("No countermeasure planned yet.")
    page.locator("#countermeasures").get_by_role("link", name="Add a countermeasure").click()
    expect(page).to_have_url(re.compile(r"/initiatives/\d+/measures\?issue=\d+"))

    what = f"Alert the on-call engineer when activation fails {uuid.uuid4().hex[:6]}"
    form = page.locator("#new-measure form")
    expect(form.locator("select[name=issue_ids] option[selected]")).to_contain_text("No alert when activation")
    fill_form(form, {
        "goal": "No failed activation unnoticed",
        "description": what,
        "type": "alert",
        "department": "technology",
        "due_date": "2030-01-31",
        "effect_metric": "Unnoticed failures",
        "effect_baseline": "12",
        "effect_target": "0",
        "effect_unit": "per week",
        "effect_direction": "lower_is_better",
    })
    form.get_by_role("button", name="Add the countermeasure").click()

    row = page.locator("#table2 tbody tr", has_text=what)
    expect(row).to_contain_text("No alert when activation fails")
    expect(row).to_contain_text("Technology")
    expect(row).to_contain_text("Unnoticed failures: 12 -> 0 per week")
    # The demo's example row is there too.
    expect(page.locator("#table2")).to_contain_text("Build an automatic check against the 3 systems")

    # Edit the row in place.
    page.evaluate("window.__e2eNoReload = true")
    row.get_by_role("link", name="Edit").click()
    editing = page.locator("#table2 tr.editing")
    editing.locator("select[name=status]").select_option("in_progress")
    editing.locator("textarea[name=progress_notes]").fill("Webhook to the on-call channel")
    editing.get_by_role("button", name="Save").click()
    row = page.locator("#table2 tbody tr", has_text=what)
    expect(row).to_contain_text("In progress")
    expect(row).to_contain_text("Webhook to the on-call channel")
    assert page.evaluate("window.__e2eNoReload === true")

    # The problem lists it.
    row.get_by_role("link", name="No alert when activation fails").click()
    expect(page.locator("#countermeasures")).to_contain_text(what)
