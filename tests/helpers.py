"""Shared helpers for the accounts and authentication tests.

`fast_hashing` swaps the argon2id cost parameters for cheap ones (still argon2id, still salted and
verified for real) so tests that log in many times stay fast; `test_config` checks the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core import security
from app.core.config import get_settings

PROBLEM_JSON = "application/problem+json"
COOKIE = "procopt_session"
TOKEN_URL = "/api/v1/auth/token"


def fill(value: Any, ids: dict[str, Any]) -> Any:
    """A templated URL or body of an endpoint table filled in: `"{name}"` alone becomes `ids[name]` itself (an
    id stays a number in a JSON body), other strings are formatted with `ids`, dicts and lists filled through."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def run_in_own_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """`asyncio.run` in a thread of its own: the browser tests leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(security, "_password_hash", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash("not-a-real-password"))


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An RFC 9457 problem response with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str) and body[key], body
    return body


def assert_401(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    return body


def other_client(app: Any, **kwargs: Any) -> TestClient:
    """Another client on the same app (and the `client` fixture's database overrides)."""
    kwargs.setdefault("raise_server_exceptions", False)
    return TestClient(app, **kwargs)


def api_login(client: TestClient, email: str, password: str) -> Any:
    return client.post(TOKEN_URL, data={"username": email, "password": password})


def bearer_for(client: TestClient, email: str, password: str) -> dict[str, str]:
    r = api_login(client, email, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def page_login(client: TestClient, email: str, password: str) -> Any:
    return client.post("/login", data={"email": email, "password": password}, follow_redirects=False)


def set_cookie_header(response: Any, name: str = COOKIE) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.split("=", 1)[0].strip() == name:
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    """(value, {lower-cased attribute: value}) of one Set-Cookie header."""
    first, *attrs = [p.strip() for p in header.split(";")]
    value = first.split("=", 1)[1].strip('"')
    out: dict[str, str] = {}
    for attr in attrs:
        key, _, val = attr.partition("=")
        out[key.strip().lower()] = val.strip()
    return value, out


def csrf_tokens(html: str) -> tuple[str | None, list[str]]:
    """The token in `<body hx-headers=...>` and the values of hidden `csrf_token` fields."""
    body = re.search(r"<body\b[^>]*>", html)
    header_token = None
    if body:
        attr = re.search(r"hx-headers\s*=\s*'([^']*)'", body.group(0)) or re.search(
            r'hx-headers\s*=\s*"([^"]*)"', body.group(0))
        if attr:
            header_token = json.loads(attr.group(1).replace("&#34;", '"').replace("&quot;", '"'))["X-CSRF-Token"]
    fields = re.findall(r'<input[^>]*name="csrf_token"[^>]*value="([^"]*)"', html)
    fields += re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="csrf_token"', html)
    return header_token, fields


# --- JWTs built by hand ---------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def hmac_jwt(header: dict[str, Any], claims: dict[str, Any], key: str | bytes, digest: Any = hashlib.sha256) -> str:
    key_bytes = key.encode() if isinstance(key, str) else key
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = hmac.new(key_bytes, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def valid_claims(user_id: int, **overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + 600,
                              "iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    claims.update(overrides)
    return claims


@pytest.fixture
def sqlite_transaction(connection: Any) -> None:
    """Open the test's SQLite transaction for real before the first request.

    pysqlite (legacy transaction control) emits no BEGIN until a DML statement; a request's
    SAVEPOINT issued before that is a top-level transaction and its RELEASE commits for good,
    so the test's final rollback would not undo it. A no-op DELETE opens the transaction.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DELETE FROM login_failures WHERE 0 = 1")


def wait_until_blocked(engine: sa.Engine, thread: threading.Thread, table: str, timeout: float = 5.0) -> None:
    """Until another session of this PostgreSQL database waits for a lock in a statement on `table`
    (or the thread has finished): the moment to let the first of two racing transactions commit."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE :pattern"), {"pattern": f"%{table}%"}).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)


def field_errors(html: str) -> dict[str, str]:
    """A page form's field messages by field name (`components/field_error.html`)."""
    return {m.group(1): unescape(m.group(2))
            for m in re.finditer(r'<p class="field-error" id="([\w.-]+)-error">([^<]*)</p>', html)}
