"""Pure ASGI middleware (no per-request task overhead): security headers, a last-resort error answer
inside them so that even a 500 carries the headers, and the request-body limits inside that."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, NotAuthenticated
from app.core.limits import BodyTooLarge, limit_for
from app.core.security import SERVICE_TOKEN_PREFIX

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CatchAll:
    """Answers an unhandled exception with `handler`'s response when nothing was sent yet."""

    def __init__(self, app: ASGIApp, handler: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = await self.handler(Request(scope), exc)
            await response(scope, receive, send)


# What `app.core.security.new_service_token` makes: the prefix and URL-safe base64 (43 characters today).
SERVICE_TOKEN_FORMAT = re.compile(re.escape(SERVICE_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{32,128}")


def credential_refusal(request: Request) -> NotAuthenticated | None:
    """Why a request that wants a credential before its body (an upload, `app.core.limits`) is refused, or
    None: a credential must be presented (Bearer header or the session cookie), and a person's JWT must
    verify (signature, claims, expiry: no database).

    A service token (`pco_...`) is only checked for its format here. Knowing whether it is still valid
    takes a database lookup (its hash, revocation, expiry, its owner's state), which the handler does
    anyway before anything is stored; doing it here too would cost every upload a thread-pool trip and a
    connection outside the worker's database slots (`app.core.db.database_slots`), and a last-use write
    outside its unit of work. What a well-formed but unknown token can still make the server read is
    bounded by the route's limit, as for any account (so is a disabled person's valid JWT)."""
    # The handler's own reading of the credential (app.auth builds on core, so imported on first use).
    from app.auth.deps import read_credential

    try:
        credential = read_credential(request)
    except NotAuthenticated as exc:
        return exc
    if credential is None:
        return NotAuthenticated()
    if credential.secret is not None and not SERVICE_TOKEN_FORMAT.fullmatch(credential.secret):
        return NotAuthenticated("Invalid, expired or revoked service token.")
    return None


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None  # the server refuses a malformed one itself
    return None


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if (key == b"content-length" and value != b"0") or key == b"transfer-encoding":
            return True
    return False


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


class BodyLimit:
    """Bounds every request body by its route's limit (`app.core.limits`) before it is read.

    - A route that wants a credential first (uploads) and has none, or an invalid one, is answered 401
      before a byte of the body is read (`credential_refusal`).
    - A declared `Content-Length` over the limit is answered 413 at once; the body is never read.
    - A body without one (chunked) is counted as the app reads it: when it passes the limit the 413 is
      sent, and the app, still reading, is told the client went away (`http.disconnect`); whatever it
      does about that, its answer goes nowhere.

    A refusal of a request with a body closes the connection after the answer (`Connection: close`).

    `answer` renders the refusals (problem+json under /api, pages otherwise): `http_errors.problem_response`.
    """

    def __init__(self, app: ASGIApp, answer: Callable[[Request, AppError], Response]) -> None:
        self.app = app
        self.answer = answer

    async def _refuse(self, scope: Scope, send: Send, exc: AppError) -> None:
        response = self.answer(Request(scope), exc)  # headers and cookies only, never the body
        if _has_body(scope):
            # Else uvicorn keeps the connection and reads the rest of the body to throw it away: a client
            # would go on sending its gigabyte. Closed, the client stops at the answer.
            response.headers["Connection"] = "close"
        await response(scope, _nothing, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] in ("GET", "HEAD") and not _has_body(scope)):
            # a read without a body (nearly every request): nothing to bound, no lookup, no wrapping
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["method"], scope["path"])
        if limit.needs_credential and (refusal := credential_refusal(Request(scope))) is not None:
            await self._refuse(scope, send, refusal)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await self._refuse(scope, send, BodyTooLarge(limit))
            return

        received = 0
        started = answered = False

        async def limited_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    if not started:  # else a response is under way: only the body is cut off
                        answered = True
                        await self._refuse(scope, send, BodyTooLarge(limit))
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's answer to the body it did not get: the 413 went out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not answered:
                raise
            # The app failed over the cut-off body (Starlette's ClientDisconnect): the 413 is the answer.
