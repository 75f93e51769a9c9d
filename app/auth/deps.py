"""Who is calling: people by JWT (Bearer header or cookie), machines by service token.

Cookie-authenticated unsafe requests must carry the CSRF token (header `X-CSRF-Token`, or the
form field `csrf_token` for plain forms); Bearer requests are exempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from app.auth.models import ServiceToken
from app.core.db import SessionDep, best_effort, end_read, utcnow
from app.core.errors import Forbidden, NotAuthenticated
from app.core.ids import INT_MAX
from app.core.security import (
    SERVICE_TOKEN_PREFIX,
    InvalidToken,
    csrf_token_valid,
    decode_access_token,
    hash_service_token,
)
from app.users.models import Role, User

COOKIE_NAME = "procopt_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_SCOPES = ("read", "write", "metrics:read", "metrics:write", "controls:check")
# Writes to a token's last-used time are coalesced to one per minute per token.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    user: User
    via: str  # "bearer" | "cookie" | "service_token"
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SCOPES))
    session_id: str | None = None
    token: ServiceToken | None = None

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == Role.admin

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("Authorization header must be `Bearer <token>`.")
    return value.strip()


@dataclass(frozen=True)
class Credential:
    """What a request presents, checked as far as possible without the database: a JWT's signature and
    claims (people), or a service token's secret (machines, looked up by `load_actor`)."""

    via: str  # "bearer" | "cookie" | "service_token"
    user_id: int | None = None
    session_id: str | None = None
    secret: str | None = None
    generation: int = 0  # a JWT's `gen`: the account's token generation when it was issued


def _person(token: str, via: str) -> Credential:
    try:
        claims = decode_access_token(token)
    except InvalidToken as exc:
        raise NotAuthenticated("Invalid or expired token.") from exc
    user_id = _subject_id(claims["sub"])
    if user_id is None:
        raise NotAuthenticated("Invalid token subject.")
    return Credential(via=via, user_id=user_id, session_id=str(claims.get("jti") or claims["iat"]),
                      generation=claims.get("gen", 0))


def _subject_id(sub: object) -> int | None:
    """A JWT's `sub` as an account id: the digits 0-9 only, within the id columns' range (a 20-digit
    subject reached the database and failed there with a 500)."""
    if isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= len(str(INT_MAX)):
        user_id = int(sub)
        return user_id if 1 <= user_id <= INT_MAX else None
    return None


def read_credential(request: Request) -> Credential | None:
    """The request's credential, or None without one (or with a stale cookie: the page asks to log in).
    A malformed or invalid Bearer token is a 401."""
    bearer = _bearer(request)
    if bearer is not None:
        if bearer.startswith(SERVICE_TOKEN_PREFIX):
            return Credential(via="service_token", secret=bearer)
        return _person(bearer, "bearer")
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    try:
        return _person(cookie, "cookie")
    except NotAuthenticated:
        return None


_TOKEN_USED = (sa.update(ServiceToken).where(ServiceToken.id == sa.bindparam("token_id"))
               .values(last_used_at=sa.bindparam("now")))


def _check_token(revoked_at: datetime | None, expires_at: datetime | None, owner_active: bool,
                 now: datetime) -> None:
    if revoked_at is not None or (expires_at is not None and expires_at <= now):
        raise NotAuthenticated("Invalid, expired or revoked service token.")
    if not owner_active:
        raise NotAuthenticated("The service token's owner is disabled.")


def _last_use_due(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_GRANULARITY


def _actor_from_service_token(session: Session, secret: str) -> Actor:
    found = session.exec(
        select(ServiceToken, User).join(User, User.id == ServiceToken.created_by_id)
        .where(ServiceToken.token_hash == hash_service_token(secret))
    ).first()
    if found is None:
        raise NotAuthenticated("Invalid, expired or revoked service token.")
    token, user = found
    now = utcnow()
    _check_token(token.revoked_at, token.expires_at, user.is_active, now)
    if _last_use_due(token.last_used_at, now):
        with best_effort(session):  # a read request must not fail over it (SQLite, see app.core.db)
            session.connection().execute(_TOKEN_USED, {"token_id": token.id, "now": now})
        set_committed_value(token, "last_used_at", now)
    return Actor(user=user, via="service_token", scopes=frozenset(token.scopes), token=token)


def load_actor(session: Session, credential: Credential) -> Actor | None:
    """The account behind a credential, checked against the database (active, token not revoked; a JWT
    issued before the account's last password or role change, deactivation or logout has ended)."""
    if credential.secret is not None:
        return _actor_from_service_token(session, credential.secret)
    user = session.get(User, credential.user_id)
    if user is None or not user.is_active or user.token_generation != credential.generation:
        if credential.via == "cookie":
            return None  # the page asks to log in again
        if user is not None and user.is_active:
            raise NotAuthenticated("This session has ended; log in again.")
        raise NotAuthenticated("Account unknown or disabled.")
    return Actor(user=user, via=credential.via, session_id=credential.session_id)


async def _check_csrf(request: Request, session_id: str) -> None:
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not csrf_token_valid(session_id, supplied):
        raise Forbidden("Missing or invalid CSRF token.", code_hint="csrf")


async def _check_csrf_of_cookie(request: Request, via: str, session_id: str | None) -> None:
    """Unsafe requests authenticated by the cookie must carry the CSRF token."""
    if via == "cookie" and request.method not in SAFE_METHODS:
        await _check_csrf(request, session_id or "")


def _resolve_actor(request: Request, session: SessionDep) -> Actor | None:
    """Database work runs here, in the threadpool (a sync dependency)."""
    credential = read_credential(request)
    actor = None if credential is None else load_actor(session, credential)
    end_read(session)
    return actor


async def optional_actor(
    request: Request, actor: Annotated[Actor | None, Depends(_resolve_actor)]
) -> Actor | None:
    if actor is not None:
        await _check_csrf_of_cookie(request, actor.via, actor.session_id)
    request.state.actor = actor
    return actor


async def current_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise NotAuthenticated()
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def _check_scope(scopes: frozenset[str] | list[str], scope: str) -> None:
    if scope not in scopes:
        raise Forbidden(f"This token lacks the `{scope}` scope.")


def require_scope(scope: str):  # noqa: ANN201
    """Route dependency: the caller's credential must carry `scope` (people carry all scopes)."""

    async def check(actor: CurrentActor) -> None:  # async: no thread-pool hop for a set lookup
        _check_scope(actor.scopes, scope)

    return Depends(check)


def require_any_scope(*scopes: str):  # noqa: ANN201
    """Route dependency: the credential carries at least one of `scopes` (people carry all scopes)."""

    async def check(actor: CurrentActor) -> None:
        if not any(actor.has_scope(s) for s in scopes):
            raise Forbidden(f"This token lacks the {' or '.join(f'`{s}`' for s in scopes)} scope.")

    return Depends(check)


def require_person():  # noqa: ANN201
    """Route dependency: people only (service tokens cannot administer accounts or tokens)."""

    async def check(actor: CurrentActor) -> None:
        if actor.token is not None:
            raise Forbidden("Service tokens cannot do this; log in as a person.")

    return Depends(check)
