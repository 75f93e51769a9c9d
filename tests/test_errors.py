"""Errors as RFC 9457 problem details, health probes and security headers."""

from __future__ import annotations

import re

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from app.main import create_app
from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import PROBLEM_JSON, assert_problem, fast_hashing, page_login, sqlite_transaction  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
SECRET_MESSAGE = "db password is hunter2 at /srv/secret/path.py"


def test_unknown_api_route_is_404(client, factory):
    headers = factory.bearer(factory.user())
    for path in ("/api/v1/no-such-thing", "/api/v2/users", "/api/v1/users/me/extra"):
        body = assert_problem(client.get(path, headers=headers), 404)
        assert body["instance"] == path
    assert_problem(client.get("/api/v1/no-such-thing"), 404)


def test_wrong_method_is_405_with_allow(client):
    r = client.put("/api/v1/auth/token", data={"username": "a", "password": "b"})
    assert_problem(r, 405)
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert "POST" in allowed and "PUT" not in allowed
    r = client.delete("/healthz")
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"]


def test_validation_error_is_422_with_locations(client, factory):
    headers = factory.bearer(factory.user(Role.admin))
    r = client.post("/api/v1/users", headers=headers,
                    json={"email": "not-an-email", "display_name": "X", "password": "short", "bogus": 1})
    body = assert_problem(r, 422)
    assert isinstance(body["errors"], list) and len(body["errors"]) >= 3
    locations = [tuple(e["loc"]) for e in body["errors"]]
    for field in ("email", "password", "bogus"):
        assert any(loc[-1] == field for loc in locations), locations
    assert all(isinstance(e["loc"], list) and e["loc"] for e in body["errors"])


def test_malformed_json_is_422(client, factory):
    headers = {**factory.bearer(factory.user(Role.admin)), "Content-Type": "application/json"}
    body = assert_problem(client.post("/api/v1/users", headers=headers, content=b"{not json"), 422)
    assert body["errors"]


def test_bad_query_parameter_is_422(client, factory):
    headers = factory.bearer(factory.user(Role.admin))
    body = assert_problem(client.get("/api/v1/users?limit=0", headers=headers), 422)
    assert any(e["loc"][-1] == "limit" for e in body["errors"])


def test_conflict_is_409(client, factory):
    admin = factory.user(Role.admin)
    body = assert_problem(client.post("/api/v1/users", headers=factory.bearer(admin), json={
        "email": admin.email.upper(), "display_name": "Dup", "password": "long enough password"}), 409)
    assert body["detail"]


def test_401_is_problem_json(client):
    r = client.get("/api/v1/users/me")
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert r.json()["status"] == 401


@pytest.fixture(scope="module")
def boom_app():  # noqa: ANN201
    app = create_app()

    @app.get("/api/v1/boom")
    def boom() -> dict:
        raise RuntimeError(SECRET_MESSAGE)

    @app.get("/boom")
    def boom_page() -> dict:
        raise ZeroDivisionError(SECRET_MESSAGE)

    @app.get("/api/v1/http-429")
    def http_429() -> dict:
        raise HTTPException(429, "Slow down.", headers={"Retry-After": "7"})

    @app.get("/api/v1/http-401")
    def http_401() -> dict:
        raise HTTPException(401, "Who are you?")

    @app.get("/api/v1/http-418")
    def http_418() -> dict:
        raise HTTPException(418, "Short and stout.")

    return app


def test_http_exceptions_become_problems_keeping_their_headers(boom_app):
    """Any `HTTPException` raised by a route (FastAPI's own or ours) keeps its status and headers."""
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/http-429")
        body = assert_problem(r, 429)
        assert body["detail"] == "Slow down."
        assert r.headers["retry-after"] == "7"
        r = c.get("/api/v1/http-401")
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].lower().startswith("bearer")
        r = c.get("/api/v1/http-418")
        body = assert_problem(r, 418)
        assert "bad-request" not in body["type"]
        assert body["detail"] == "Short and stout."


def test_unexpected_exception_is_a_generic_500(boom_app, caplog):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    body = assert_problem(r, 500)
    text = r.text
    assert SECRET_MESSAGE not in text
    assert "hunter2" not in text
    assert "Traceback" not in text and "RuntimeError" not in text and ".py" not in text
    assert set(body) <= {"type", "title", "status", "detail", "instance"}
    # but it is logged for the operators
    assert any(SECRET_MESSAGE in (rec.getMessage() + str(rec.exc_info)) for rec in caplog.records)


def test_unexpected_exception_on_a_page_is_a_generic_500(boom_app):
    with TestClient(boom_app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert "hunter2" not in r.text
    assert "Traceback" not in r.text and "ZeroDivisionError" not in r.text


def test_error_pages_for_a_logged_in_person(client, factory):
    """Error pages render the page shell (name, menu) for the person, after the request's
    database session has rolled back."""
    member = factory.user(Role.member)
    assert page_login(client, member.email, PASSWORD).status_code == 303
    for path, status in (("/processes/987654321", 404), ("/admin/users", 403), ("/admin/tokens", 403)):
        r = client.get(path)
        assert r.status_code == status, (path, r.text[-500:])
        assert "text/html" in r.headers["content-type"]
        assert member.display_name in r.text, path
        assert_secure_page(r)
    r = client.get("/processes/987654321", headers={"HX-Request": "true"})
    assert r.status_code == 404


def test_error_pages_for_anonymous_visitors(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    r = client.get("/processes", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


def test_the_shared_app_has_no_boom_route(client):
    assert_problem(client.get("/api/v1/boom"), 404)


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["status"] == "ok"


def test_readyz(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migration"] == body["head"]


# --- security headers -----------------------------------------------------------------------------

def csp(response) -> dict[str, list[str]]:  # noqa: ANN001
    header = response.headers["content-security-policy"]
    out: dict[str, list[str]] = {}
    for directive in header.split(";"):
        parts = directive.split()
        if parts:
            out[parts[0].lower()] = parts[1:]
    return out


def assert_secure_page(response) -> None:  # noqa: ANN001
    policy = csp(response)
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None, policy
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert "*" not in scripts and "data:" not in scripts
    if "script-src-elem" in policy:
        assert "'unsafe-inline'" not in policy["script-src-elem"]
    assert policy.get("frame-ancestors") in (["'none'"], ["'self'"])
    assert policy.get("object-src") == ["'none'"] or "object-src" not in policy and "default-src" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def assert_no_inline_script(html: str) -> None:
    """Under that policy inline code would not run anyway; pages must not depend on it."""
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>(?!\s*</script>)", html, flags=re.I), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"
    assert "javascript:" not in html.lower()


def test_security_headers_on_pages(client, factory):
    r = client.get("/login")
    assert r.status_code == 200
    assert_secure_page(r)
    assert_no_inline_script(r.text)
    admin = factory.user(Role.admin)
    assert page_login(client, admin.email, PASSWORD).status_code == 303
    for path in ("/processes", "/admin/users", "/admin/tokens", "/processes/new"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert_secure_page(r)
        assert_no_inline_script(r.text)


def test_security_headers_on_errors_and_api(client):
    for r in (client.get("/api/v1/users/me"), client.get("/api/v1/nope"), client.get("/healthz")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors" in r.headers["content-security-policy"]


def test_hsts_only_over_https(app, client):
    assert "strict-transport-security" not in client.get("/login").headers
    with TestClient(app, base_url="https://testserver") as https:
        assert "max-age=" in https.get("/login").headers["strict-transport-security"]
