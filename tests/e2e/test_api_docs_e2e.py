"""The API reference (/api/docs, vendored Swagger UI) in Chromium: it renders under the app's CSP, and
"Authorize" (OAuth2 password flow) plus "Try it out" call the API with a Bearer token."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.server import ADMIN

pytestmark = pytest.mark.e2e

# Recorded by the page itself: every `securitypolicyviolation` event, before any of its scripts run.
RECORD_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
LIST_PROCESSES = "#operations-processes-list_processes_api_v1_processes_get"


def assert_every_tag_renders(page) -> None:  # noqa: ANN001
    """Swagger UI (5.3x) virtualises the operation list once it holds 150 tags and operations: only what
    is near the viewport is in the DOM. Scrolled from top to bottom, every tag of the document shows up."""
    document = page.request.get("/openapi.json").json()
    tags = {tag for item in document["paths"].values() for op in item.values() for tag in op.get("tags", [])}
    seen: set[str] = set()
    for _ in range(400):
        seen.update(page.eval_on_selector_all(".opblock-tag[data-tag]", "els => els.map(e => e.dataset.tag)"))
        if page.evaluate("window.innerHeight + window.scrollY >= document.body.scrollHeight - 2"):
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(20)
    assert seen == tags, f"never rendered: {tags - seen}"
    page.evaluate("window.scrollTo(0, 0)")


def test_swagger_ui_authorizes_and_tries_an_operation(page, console) -> None:  # noqa: ANN001
    page.add_init_script(RECORD_CSP)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/api/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("procopt")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    operation = page.locator(LIST_PROCESSES)
    expect(operation).to_be_visible()
    expect(operation.locator(".opblock-summary-path")).to_have_text("/api/v1/processes")
    assert_every_tag_renders(page)

    # Authorize: the OAuth2 password flow against /api/v1/auth/token.
    page.locator(".auth-wrapper button.authorize").click()
    oauth = page.locator(".auth-container").filter(has_text="OAuth2PasswordBearer")
    expect(oauth.locator("code").filter(has_text="/api/v1/auth/token")).to_be_visible()
    oauth.locator("#oauth_username").fill(ADMIN[0])
    oauth.locator("#oauth_password").fill(ADMIN[1])
    with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/token")) as token:
        oauth.locator("button.authorize").click()
    assert token.value.status == 200, token.value.text()
    assert token.value.request.method == "POST"
    assert token.value.request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    expect(oauth.locator("button", has_text="Logout")).to_be_visible()
    expect(oauth).to_contain_text("Authorized")
    oauth.locator("button.btn-done").click()
    expect(page.locator(".modal-ux")).to_have_count(0)
    expect(page.locator(".auth-wrapper button.authorize")).to_have_class("btn authorize locked")

    # Try it out + Execute on GET /api/v1/processes: sent with the Bearer token, answered 200.
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: "/api/v1/processes" in r.url and r.request.method == "GET") as listed:
        operation.get_by_role("button", name="Execute").click()
    assert listed.value.status == 200
    assert listed.value.request.headers.get("authorization", "").startswith("Bearer ey")
    live = operation.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    expect(live.locator(".response-col_description")).to_contain_text("YH-LC01")
    assert any(item["code"] == "YH-LC01" for item in json.loads(listed.value.text())["items"])

    assert page.evaluate("window.__cspViolations") == []
    assert not [m for m in console if m.startswith("error")], console
    outside = [u for u in requests if not u.startswith(page.url.split("/api/docs")[0])]
    assert outside == [], f"requests outside the app: {outside}"
