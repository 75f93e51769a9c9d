"""Cookie sessions from the login page, and CSRF protection of cookie-authenticated unsafe requests."""

from __future__ import annotations

import itertools

import pytest

from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import (  # noqa: F401
    COOKIE,
    assert_problem,
    bearer_for,
    cookie_attributes,
    csrf_tokens,
    fast_hashing,
    other_client,
    page_login,
    set_cookie_header,
    sqlite_transaction,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
_codes = itertools.count(1)


def process_body() -> dict:
    n = next(_codes)
    return {"code": f"CSRF-{n:03d}", "name": f"CSRF check {n}", "owner_department": "operations",
            "departments": ["operations"]}


def login(client, user) -> str:  # noqa: ANN001
    """Log in through the page; returns the CSRF token rendered into the next page."""
    r = page_login(client, user.email, PASSWORD)
    assert r.status_code == 303, r.text
    assert client.cookies.get(COOKIE)
    page = client.get("/processes")
    assert page.status_code == 200, page.text
    header_token, field_tokens = csrf_tokens(page.text)
    assert header_token, "no hx-headers CSRF token in <body>"
    assert field_tokens, "no hidden csrf_token field"
    assert set(field_tokens) == {header_token}
    return header_token


def test_login_sets_an_httponly_samesite_lax_cookie(client, factory):
    user = factory.user()
    r = page_login(client, user.email, PASSWORD)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/")
    value, attrs = cookie_attributes(set_cookie_header(r))
    assert value
    assert "httponly" in attrs
    assert attrs.get("samesite", "").lower() == "lax"
    assert "secure" not in attrs  # plain http
    assert attrs.get("path") == "/"
    # the cookie carries a working session
    assert client.get("/api/v1/users/me").json()["id"] == user.id


def test_cookie_is_secure_over_https(app, client, factory):
    user = factory.user()
    with other_client(app, base_url="https://testserver") as https:
        r = page_login(https, user.email, PASSWORD)
        assert r.status_code == 303
        _, attrs = cookie_attributes(set_cookie_header(r))
        assert "secure" in attrs
        assert "httponly" in attrs
        assert attrs.get("samesite", "").lower() == "lax"
        assert https.get("/api/v1/users/me").json()["id"] == user.id


def test_wrong_password_on_the_login_page_sets_no_cookie(client, factory):
    user = factory.user()
    r = page_login(client, user.email, PASSWORD + "!")
    assert r.status_code == 401
    assert "text/html" in r.headers["content-type"]
    assert not [h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    assert not client.cookies.get(COOKIE)


def test_unsafe_api_request_by_cookie_needs_the_csrf_header(client, factory):
    user = factory.user(Role.member)
    token = login(client, user)
    r = client.post("/api/v1/processes", json=process_body())
    body = assert_problem(r, 403)
    assert "csrf" in body["detail"].lower()
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": ""})
    assert_problem(r, 403)
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": token[:-1]})
    assert_problem(r, 403)
    # the refused requests wrote nothing
    listed = client.get("/api/v1/processes").json()["items"]
    assert listed == []
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    assert r.json()["owner"]["id"] == user.id


def test_safe_requests_by_cookie_need_no_csrf_token(client, factory):
    user = factory.user()
    login(client, user)
    assert client.get("/api/v1/users/me").status_code == 200
    assert client.get("/api/v1/processes").status_code == 200


def test_csrf_token_of_another_login_session_is_refused(app, client, factory):
    user = factory.user(Role.member)
    first = login(client, user)
    second = login(client, user)  # a new session for the same person
    assert first != second
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": first})
    assert_problem(r, 403)
    # another person's token is refused too
    other = factory.user(Role.member)
    with other_client(app) as c2:
        theirs = login(c2, other)
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": theirs})
    assert_problem(r, 403)
    r = client.post("/api/v1/processes", json=process_body(), headers={"X-CSRF-Token": second})
    assert r.status_code == 201, r.text


def test_bearer_requests_need_no_csrf_token(client, factory):
    user = factory.user(Role.member)
    headers = bearer_for(client, user.email, PASSWORD)
    r = client.post("/api/v1/processes", json=process_body(), headers=headers)
    assert r.status_code == 201, r.text


def test_bearer_with_a_stale_cookie_needs_no_csrf_token(client, factory):
    user = factory.user(Role.member)
    login(client, user)  # the browser's cookie is there too
    headers = bearer_for(client, user.email, PASSWORD)
    r = client.post("/api/v1/processes", json=process_body(), headers=headers)
    assert r.status_code == 201, r.text


def test_logout_needs_the_csrf_token_and_clears_the_cookie(client, factory):
    user = factory.user()
    token = login(client, user)
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/api/v1/users/me").status_code == 200  # still logged in
    r = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    value, attrs = cookie_attributes(set_cookie_header(r))
    assert value == "" or attrs.get("max-age") == "0"
    assert attrs.get("max-age") == "0" or "expires" in attrs
    assert not client.cookies.get(COOKIE)
    r = client.get("/api/v1/users/me")
    assert r.status_code == 401


def test_logout_with_the_header_token(client, factory):
    user = factory.user()
    token = login(client, user)
    r = client.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert not client.cookies.get(COOKIE)


def test_page_form_posts_accept_the_hidden_field(client, factory):
    user = factory.user(Role.member)
    token = login(client, user)
    form = {"code": "CSRF-FORM", "name": "Form post", "owner_department": "operations",
            "departments": "operations"}
    r = client.post("/processes/new", data=form, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/processes/new", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_csrf_token_rendered_on_pages_matches_the_session(client, factory):
    """Any page rendered for a logged-in person carries the token; the login page has none."""
    user = factory.user(Role.admin)
    anonymous_header, anonymous_fields = csrf_tokens(client.get("/login").text)
    assert not anonymous_header
    assert not [f for f in anonymous_fields if f]
    token = login(client, user)
    for path in ("/processes", "/admin/users", "/admin/tokens"):
        page = client.get(path)
        assert page.status_code == 200, path
        header_token, _ = csrf_tokens(page.text)
        assert header_token == token, path
