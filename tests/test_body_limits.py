"""Request bodies are bounded before they are read, and uploads want a credential before theirs
(app/core/limits.py, app/core/middleware.py `BodyLimit`).

Most tests call the ASGI app directly with a `receive` that counts the bytes the app pulled; the last ones
talk to a live uvicorn over a raw socket (a declared length the server never gets, a chunked body)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.core.config import get_settings
from app.core.limits import FORM_ROOM, MIB, OBSERVATIONS_MAX_BYTES, limit_for
from app.core.security import create_access_token
from app.metrics.schemas import MAX_BATCH_ROWS
from tests.helpers import run_in_own_loop

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024
GIB = 1024 * MIB
DEFAULT = 1 * MIB


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pulled: int = 0  # bytes of the request body the app received

    def json(self) -> dict:
        return json.loads(self.body)


def call(app, method: str, path: str, *, headers: dict[str, str] | None = None, size: int = 0,  # noqa: ANN001
         declare: bool = True, prefix: bytes = b"") -> Answer:
    """One request straight into the ASGI app: a body of `size` bytes (`prefix`, then "x"s) in 64 KiB
    messages, offered only as fast as the app asks for it; `declare=False` sends no Content-Length (a
    chunked body)."""
    answer = Answer()
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if declare:
        raw.append((b"content-length", str(size).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": raw, "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}

    async def receive() -> dict:
        if answer.pulled >= size and size:
            await asyncio.sleep(3600)  # all sent; a real client would now wait for the answer
        n = min(CHUNK, size - answer.pulled)
        body = (prefix + b"x" * n)[:n] if answer.pulled == 0 else b"x" * n
        answer.pulled += n
        return {"type": "http.request", "body": body, "more_body": answer.pulled < size}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    run_in_own_loop(asyncio.wait_for(app(scope, receive, send), timeout=30))
    return answer


def bearer(user_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_access_token(str(user_id))}"}


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}
FILE_PART = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="log.csv"\r\n\r\n'
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# ---------------------------------------------------------------- the table

def test_limits_by_route() -> None:
    settings = get_settings()
    assert settings.body_max_bytes == DEFAULT
    assert limit_for("POST", "/api/v1/processes").max_bytes == DEFAULT
    assert limit_for("POST", "/initiatives/new").max_bytes == DEFAULT
    for path in ("/api/v1/event-logs", "/event-logs"):
        limit = limit_for("POST", path)
        assert (limit.max_bytes, limit.shown) == (settings.eventlog_max_bytes + FORM_ROOM, settings.eventlog_max_bytes)
        assert limit.upload and limit.needs_credential
    assert limit_for("GET", "/api/v1/event-logs").max_bytes == DEFAULT
    assert limit_for("POST", "/api/v1/observations/csv").max_bytes == 8 * MIB
    assert limit_for("POST", "/api/v1/initiatives/7/survey/import").shown == 2 * MIB
    assert limit_for("POST", "/initiatives/7/raci/import").shown == 1 * MIB
    assert limit_for("POST", "/initiatives/7/raci/import").needs_credential
    assert not limit_for("POST", "/api/v1/processes").needs_credential


def _batch(labels: dict[str, str]) -> bytes:
    row = {"kpi": "YH-LC01-ACT", "ts": "2025-03-03T09:30:00+08:00", "value": 8.5, "labels": labels}
    return json.dumps({"source": "crm", "observations": [row] * MAX_BATCH_ROWS}).encode()


def test_a_full_observation_batch_fits_its_own_limit_not_the_default() -> None:
    """10,000 rows as the README sends them are ~1 MB; with ten labels 4.4 MB: over the default, well
    within the route's own 16 MiB."""
    limit = limit_for("POST", "/api/v1/observations")
    assert limit.max_bytes == OBSERVATIONS_MAX_BYTES == 16 * MIB
    ten_labels = _batch({f"label_{i}": f"value_{i}_abcdefghij" for i in range(10)})
    chinese = _batch({"team": "华东客服一组", "channel": "手机应用", "department": "运营部", "region": "华东区"})
    assert DEFAULT < len(ten_labels) < limit.max_bytes / 3
    assert DEFAULT < len(chinese) < limit.max_bytes


# ---------------------------------------------------------------- declared lengths: answered at once

def test_declared_length_over_the_default_is_413_before_a_byte_is_read(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/api/v1/processes", headers=JSON, size=400 * MIB)
    assert a.status == 413 and a.pulled == 0
    assert a.headers["content-type"].startswith("application/problem+json")
    body = a.json()
    assert body["status"] == 413 and body["max_bytes"] == DEFAULT
    assert "1 MiB" in body["detail"]
    assert a.headers["x-content-type-options"] == "nosniff"  # inside SecurityHeaders


def test_a_gigabyte_declared_is_413_without_reading(app) -> None:  # noqa: ANN001
    a = call(app, "PATCH", "/api/v1/processes/1", headers={**JSON, **bearer()}, size=GIB)
    assert (a.status, a.pulled) == (413, 0)


def test_a_body_within_the_limit_is_read(app) -> None:  # noqa: ANN001
    """Anonymous, so the handler answers 401 after FastAPI read the JSON body: all of it arrived."""
    a = call(app, "POST", "/api/v1/processes", headers=JSON, size=DEFAULT)
    assert a.status != 413 and a.pulled == DEFAULT


# ---------------------------------------------------------------- chunked: cut off at the limit

def test_chunked_json_over_the_limit_is_cut_off(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/api/v1/processes", headers=JSON, size=50 * MIB, declare=False)
    assert a.status == 413, a.body
    assert a.json()["max_bytes"] == DEFAULT
    assert a.pulled <= DEFAULT + CHUNK


def test_chunked_form_over_the_limit_is_cut_off(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/initiatives/new", headers=FORM, size=5 * MIB, declare=False)
    assert a.status == 413 and a.pulled <= DEFAULT + CHUNK
    assert a.headers["content-type"].startswith("text/html")


def test_chunked_upload_over_its_limit_is_cut_off(app, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(get_settings(), "eventlog_max_bytes", 2 * MIB)
    a = call(app, "POST", "/api/v1/event-logs", headers={**MULTIPART, **bearer()}, size=20 * MIB, declare=False,
             prefix=FILE_PART)
    assert a.status == 413
    assert a.json()["max_bytes"] == 2 * MIB + FORM_ROOM
    assert a.pulled <= 2 * MIB + FORM_ROOM + CHUNK


# ---------------------------------------------------------------- uploads want a credential first

@pytest.mark.parametrize("path", ["/api/v1/event-logs", "/api/v1/observations", "/api/v1/observations/csv",
                                  "/api/v1/initiatives/1/survey/import", "/api/v1/initiatives/1/raci/import"])
def test_anonymous_upload_is_401_before_its_body(app, path: str) -> None:  # noqa: ANN001
    for declare in (True, False):
        a = call(app, "POST", path, headers=MULTIPART, size=GIB if declare else 100 * MIB, declare=declare)
        assert (a.status, a.pulled) == (401, 0), (path, declare)
        assert a.json()["status"] == 401 and a.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize("authorization", [
    "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer pco_short", "Bearer pco_" + "!" * 43,
    "Bearer " + create_access_token("1", minutes=1).rsplit(".", 1)[0] + ".forged-signature",
])
def test_a_bad_credential_is_401_before_the_body(app, authorization: str) -> None:  # noqa: ANN001
    a = call(app, "POST", "/api/v1/event-logs", headers={**MULTIPART, "Authorization": authorization}, size=GIB)
    assert (a.status, a.pulled) == (401, 0)


def test_an_upload_page_without_login_goes_to_login_before_the_body(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/event-logs", headers={**MULTIPART, "Cookie": "procopt_session=stale"}, size=GIB)
    assert (a.status, a.pulled) == (303, 0)
    assert a.headers["location"] == "/login?next=/event-logs"
    a = call(app, "POST", "/event-logs", headers={**MULTIPART, "HX-Request": "true"}, size=10 * MIB)
    assert (a.status, a.pulled) == (204, 0) and a.headers["hx-redirect"] == "/login?next=/event-logs"


def test_a_well_formed_credential_lets_the_upload_through_to_its_limit(app) -> None:  # noqa: ANN001
    """A verified JWT (an unknown account: that is the handler's check, after the body) or a well-formed
    service token pass; the declared size is then checked against the upload's own limit."""
    over = get_settings().eventlog_max_bytes + FORM_ROOM + 1
    for headers in (bearer(), {"Authorization": "Bearer pco_" + "a" * 43}):
        a = call(app, "POST", "/api/v1/event-logs", headers={**MULTIPART, **headers}, size=over)
        assert (a.status, a.pulled) == (413, 0)
        assert a.json()["max_bytes"] == over - 1


# ---------------------------------------------------------------- pages: the reader's language

def test_an_oversized_form_is_an_error_page_in_the_readers_language(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/initiatives/new", headers=FORM, size=5 * MIB)
    assert (a.status, a.pulled) == (413, 0)
    html = a.body.decode()
    assert "This form is too large (at most 1 MiB). Shorten the longest text and send it again." in html
    a = call(app, "POST", "/initiatives/new", headers={**FORM, "Accept-Language": "zh-CN,zh;q=0.9"}, size=5 * MIB)
    assert a.status == 413
    assert "表单内容过大（最多 1 MiB）" in a.body.decode()


def test_an_oversized_htmx_form_gets_a_message_in_the_form(app) -> None:  # noqa: ANN001
    headers = {**FORM, "HX-Request": "true", "HX-Target": "initiative-form", "Cookie": "procopt_lang=zh_CN"}
    a = call(app, "POST", "/initiatives/new", headers=headers, size=5 * MIB)
    assert (a.status, a.pulled) == (413, 0)
    assert a.headers["hx-retarget"] == "#initiative-form" and a.headers["hx-reswap"] == "afterbegin"
    html = a.body.decode()
    assert "表单内容过大" in html and "<html" not in html
    assert 'hx-swap-oob="delete:#initiative-form .field-error"' in html  # the last answer's errors go
    # No target id (or an odd one): the page's message area, as other htmx errors.
    a = call(app, "POST", "/initiatives/new", headers={**FORM, "HX-Request": "true", "HX-Target": "a b"}, size=5 * MIB)
    assert a.headers["hx-retarget"] == "#messages" and "hx-swap-oob" not in a.body.decode()


def test_an_oversized_upload_page_says_file(app) -> None:  # noqa: ANN001
    a = call(app, "POST", "/metrics/upload", headers={**MULTIPART, **bearer()}, size=9 * MIB)
    assert (a.status, a.pulled) == (413, 0)
    assert "This file is too large (at most 8 MiB)" in a.body.decode()


# ---------------------------------------------------------------- within the limits, with the database

def test_a_full_observation_batch_gets_through(client, factory) -> None:  # noqa: ANN001
    """2.8 MB of JSON reaches the handler, which judges the rows (an unknown KPI: 422, not 413)."""
    token = factory.service_token(["metrics:write"])
    body = _batch({"team": "customer_service_east", "channel": "mobile_app", "department": "operations",
                   "region": "east_china", "product": "premium_plan"})
    assert len(body) > DEFAULT
    r = client.post("/api/v1/observations", content=body,
                    headers={**JSON, "Authorization": f"Bearer {token}"})
    assert r.status_code == 422, r.text[:500]


# ---------------------------------------------------------------- a live server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, int]]:
    """uvicorn with the app on an empty SQLite file: what is tested here is refused before any query."""
    tmp = Path(tempfile.mkdtemp(prefix="procopt-limits-"))
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'x.db'}", "LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answer_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_live_declared_gigabyte_is_answered_at_once(live) -> None:  # noqa: ANN001
    with socket.create_connection(live, timeout=5) as s:
        s.sendall(b"POST /api/v1/processes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1073741824\r\n\r\n")
        started = time.monotonic()
        answer = b""
        while chunk := s.recv(65536):  # until the server closes the connection: no gigabyte to drain
            answer += chunk
        assert time.monotonic() - started < 5
        assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
        assert b"\r\nconnection: close\r\n" in answer.lower()


def test_live_anonymous_upload_is_401_without_its_body(live) -> None:  # noqa: ANN001
    with socket.create_connection(live, timeout=5) as s:
        s.sendall(b"POST /api/v1/event-logs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n")
        assert _answer_line(s) == "HTTP/1.1 401 Unauthorized"  # no 100 Continue: nothing was asked for


def test_live_chunked_body_is_cut_off(live) -> None:  # noqa: ANN001
    host, port = live

    def body() -> Iterator[bytes]:
        for _ in range(200):  # 12.5 MiB, far more than the limit
            yield b"x" * CHUNK

    r = httpx.post(f"http://{host}:{port}/api/v1/processes", content=body(), headers=JSON, timeout=10)
    assert r.status_code == 413 and r.json()["max_bytes"] == DEFAULT


# ---------------------------------------------------------------- a field over its own limit names it

def test_a_field_over_its_max_length_names_the_limit_in_both_languages() -> None:
    from pydantic import BaseModel, Field

    from app.core.forms import parse_form
    from app.core.i18n import gettext_for

    class Form(BaseModel):
        title: str = Field(max_length=200)
        goal: str = Field("", max_length=10_000)

    _, errors = parse_form(Form, {"title": "x" * 201, "goal": "x" * 10_001}, gettext_for("en"))
    assert errors == {"title": "At most 200 characters.", "goal": "At most 10,000 characters."}
    _, errors = parse_form(Form, {"title": "x" * 201}, gettext_for("zh_CN"))
    assert errors == {"title": "最多 200 个字符。"}
