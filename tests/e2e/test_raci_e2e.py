"""The RACI grid in a real browser: fill a row by click and keyboard, see a two-A error appear on the row
and disappear again, without a reload."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import htmx_idle, login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


def test_fill_the_grid_and_watch_the_two_a_error(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/initiatives")
    page.locator("#initiative-rows a", has_text="Activation in 5 minutes").click()
    page.get_by_role("link", name="RACI matrix").click()
    expect(page).to_have_url(re.compile(r"/initiatives/\d+/raci$"))
    page.wait_for_load_state("load")  # htmx (deferred) has taken over the forms before we use them
    # The demo: one A per step, no errors.
    expect(page.locator("tr.raci-row-error")).to_have_count(0)
    page.evaluate("window.__e2eNoReload = true")

    name = f"Archive the form {uuid.uuid4().hex[:6]}"
    page.fill("input[name=name][placeholder=Activity]", name)
    page.get_by_role("button", name="Add activity").click()
    row = page.locator("#raci-grid tbody tr", has_text=name)
    expect(row).to_have_class(re.compile("raci-row-error"))  # no A, no R yet
    expect(row).to_contain_text("has no A")
    htmx_idle(page)

    # Keyboard: R of the first role with space, then arrow keys to the second role's A and Enter.
    buttons = row.locator("button.raci-letter")
    buttons.nth(0).focus()
    page.keyboard.press("Space")
    expect(row.locator("button.raci-letter").nth(0)).to_have_attribute("aria-pressed", "true")
    expect(row.locator("button.raci-letter").nth(0)).to_be_focused()  # focus kept after the swap
    htmx_idle(page)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(row.locator("button.raci-letter").nth(5)).to_be_focused()
    page.keyboard.press("Enter")
    expect(row).not_to_have_class(re.compile("raci-row-error"))
    htmx_idle(page)

    # A second A (click): the error appears on the row, then goes away again.
    row.locator("button.raci-letter").nth(9).click()  # the third role's A
    expect(row).to_have_class(re.compile("raci-row-error"))
    expect(row).to_contain_text("has 2 A")
    htmx_idle(page)
    row.locator("button.raci-letter").nth(9).click()
    expect(row).not_to_have_class(re.compile("raci-row-error"))
    expect(row).not_to_contain_text("has 2 A")
    assert page.evaluate("window.__e2eNoReload === true")

    # The export, as the person downloads it, carries the row with its letters.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = download.value.path().read_text(encoding="utf-8-sig")
    line = next(row for row in exported.splitlines() if name in row)
    assert ",R," in line + "," and ",A," in line + ","

    # Clean up: remove the activity (confirmed).
    page.once("dialog", lambda d: d.accept())
    page.locator("#raci .raci-manage li", has=page.locator(f"input[value='{name}']")) \
        .get_by_role("button", name="Remove").click()
    expect(page.locator("#raci-grid tbody tr", has_text=name)).to_have_count(0)
