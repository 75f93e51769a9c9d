"""My work in a real browser: a reviewer finds the SOP waiting for their review, follows the link to it and
approves; then nothing is left on My work."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.server import ADMIN

pytestmark = pytest.mark.e2e

PASSWORD = "review-it-carefully-2026"


def _as_admin(page):  # noqa: ANN001, ANN202
    """A JSON API call as the administrator (Bearer token), to set up what the test needs."""
    request = page.context.request
    token = request.post("/api/v1/auth/token", form={"username": ADMIN[0], "password": ADMIN[1]}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    def send(method: str, url: str, data: Any = None, etag: str | None = None) -> Any:
        r = request.fetch(url, method=method, data=data, headers={**bearer, **({"If-Match": etag} if etag else {})})
        assert r.ok, r.text()
        return r
    return send


def _sop_in_review(send, reviewer_email: str) -> tuple[str, int]:  # noqa: ANN001
    """A new process with a standalone SOP draft (the administrator's) submitted to a new reviewer."""
    n = uuid.uuid4().hex[:6].upper()
    reviewer = send("POST", "/api/v1/users", {"email": reviewer_email, "display_name": f"Reviewer {n}",
                                              "role": "member", "password": PASSWORD}).json()
    process = send("POST", "/api/v1/processes", {"code": f"MW-{n}", "name": f"Refund approval {n}"}).json()
    r = send("POST", f"/api/v1/processes/{process['code']}/sop")
    vid = r.json()["id"]
    r = send("PATCH", f"/api/v1/sop-versions/{vid}/sections/steps", [{"name": "Check the refund request", "minutes": 5}],
             etag=r.headers["etag"])
    send("POST", f"/api/v1/sop-versions/{vid}/submit", {"reviewers": [{"user_id": reviewer["id"]}]})
    return process["code"], vid


def test_a_reviewer_finds_the_review_on_my_work_and_opens_it(page) -> None:  # noqa: ANN001
    email = f"reviewer-{uuid.uuid4().hex[:8]}@example.com"
    code, vid = _sop_in_review(_as_admin(page), email)
    login(page, email, PASSWORD)
    page.goto("/my-work")
    reviews = page.locator("#related-sop_review")
    expect(reviews.get_by_role("heading")).to_contain_text("SOP reviews to do")
    expect(reviews.locator(".related-count")).to_have_text("1")
    expect(page.locator("section.related")).to_have_count(1)  # nothing else waits for a new account
    reviews.get_by_role("link", name=re.compile(code)).click()
    expect(page).to_have_url(re.compile(rf"/sop-versions/{vid}$"))
    expect(page.locator("main")).to_contain_text(code)

    # Approving there is the review done: My work has nothing left.
    page.locator("#vote-form").get_by_role("button", name="Approve").click()
    expect(page.locator("#vote-form")).to_contain_text("Your vote now: Approved")
    page.goto("/my-work")
    expect(page.locator("section.related")).to_have_count(0)
    expect(page.locator("main .empty")).to_be_visible()
