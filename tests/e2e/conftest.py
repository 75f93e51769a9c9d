"""Browser tests: a live server in a subprocess (demo data) and headless Chromium via Playwright.

Without /usr/bin/chromium (or the playwright package) the tests are skipped, unless
REQUIRE_BROWSER=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import worker_database
from tests.e2e.server import chromium_missing_reason, launch_browser, live_server

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def _browser_available() -> None:
    reason = chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_url(_browser_available: None) -> Iterator[str]:
    with live_server() as base:
        yield base


@pytest.fixture(scope="session")
def live_url_postgres(_browser_available: None) -> Iterator[str]:
    """A second live server on PostgreSQL (a database of its own beside TEST_DATABASE_URL's, dropped after), for
    the flows that must hold on both databases; skipped without TEST_DATABASE_URL."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set")
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    url = url.set(database=f"{url.database}_e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    rendered = url.render_as_string(hide_password=False)
    worker_database(rendered, create=True)
    try:
        with live_server(database_url=rendered) as base:
            yield base
    finally:
        worker_database(rendered, create=False)


@pytest.fixture(scope="session")
def browser(_browser_available: None):  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_browser(pw)
        yield b
        b.close()


class Console(list):
    """What the page reported: console messages (`type: text`) and uncaught errors (`pageerror: ...`)."""

    def csp_violations(self) -> list[str]:
        return [m for m in self if "Content Security Policy" in m]

    def script_errors(self) -> list[str]:
        return [m for m in self if m.startswith("pageerror")]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser, live_url: str, console: Console):  # noqa: ANN001, ANN201
    """A fresh browser context (no cookies) on the live server; fails on CSP violations or script errors."""
    context = browser.new_context(base_url=live_url, viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(5000)
    p = context.new_page()
    p.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    p.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    yield p
    context.close()
    assert not console.csp_violations(), f"Content Security Policy violations: {console.csp_violations()}"
    assert not console.script_errors(), f"script errors: {console.script_errors()}"


def login(page, email: str, password: str) -> None:  # noqa: ANN001
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"/processes$"))


def htmx_idle(page) -> None:  # noqa: ANN001
    """Wait until htmx has swapped and bound the latest content (it binds new elements after a short
    settle step; a test acting faster than a person could otherwise hit a not-yet-bound form)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")).to_have_count(0)
    page.wait_for_timeout(30)  # htmx's settle delay is 20 ms


def fill_form(form, values: dict[str, str]) -> None:  # noqa: ANN001
    """Fill a form's fields by name as a person would: type into inputs and text areas, choose in selects."""
    for name, value in values.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def mark_document(page) -> None:  # noqa: ANN001
    """A flag that only survives as long as the page is not reloaded (see `not_reloaded`)."""
    page.wait_for_load_state("load")  # htmx (deferred) has taken over the page
    page.evaluate("window.__e2eNoReload = true")


def not_reloaded(page) -> bool:  # noqa: ANN001
    """The page changed in place (htmx), it was not loaded again since `mark_document`."""
    return page.evaluate("window.__e2eNoReload === true")
