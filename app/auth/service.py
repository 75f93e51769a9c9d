"""Login with rate limiting, and service tokens."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.models import LoginFailure, ServiceToken
from app.auth.schemas import ServiceTokenCreate
from app.core.audit import record
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Forbidden, NotAuthenticated, NotFound, RuleViolation, TooManyRequests
from app.core.security import hash_service_token, new_service_token, verify_password
from app.users.models import Role, User
from app.users.service import get_by_email, normalize_email

KEY_MAX = 300  # LoginFailure.key's column width


def _key(kind: str, value: str) -> str:
    key = f"{kind}:{value}"
    if len(key) <= KEY_MAX:
        return key
    # Whatever was typed into the email field is counted, however long: hashed to fit the column.
    return f"{kind}#sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def _keys(email: str, address: str) -> tuple[str, str]:
    return _key("acct", normalize_email(email)), _key("addr", address)


def _check_rate_limit(session: Session, email: str, address: str) -> None:
    settings = get_settings()
    now = utcnow()
    since = now - timedelta(seconds=settings.login_window_seconds)
    acct, addr = _keys(email, address)
    for key, limit in ((acct, settings.login_max_failures_per_account),
                       (addr, settings.login_max_failures_per_address)):
        count, oldest = session.exec(
            select(sa.func.count(), sa.func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at > since
            )
        ).one()
        if count >= limit:
            retry = max(1, math.ceil((oldest + timedelta(seconds=settings.login_window_seconds) - now)
                                     .total_seconds()))
            raise TooManyRequests("Too many failed logins; try again later.", retry_after=retry)


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """Check a password login. Failures are recorded and must be committed by the caller
    even though it answers with an error (see `auth.api.issue_token`)."""
    _check_rate_limit(session, email, address)
    user = get_by_email(session, email)
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        for key in _keys(email, address):
            session.add(LoginFailure(key=key))
        session.flush()
        raise NotAuthenticated("Incorrect email or password.")
    # A success clears the account's failures; the address keeps its count.
    session.exec(sa.delete(LoginFailure).where(LoginFailure.key == _keys(email, address)[0]))
    _prune(session)
    return user


def _prune(session: Session) -> None:
    cutoff = utcnow() - timedelta(seconds=get_settings().login_window_seconds)
    session.exec(sa.delete(LoginFailure).where(LoginFailure.at <= cutoff))


def _require_admin(actor: User) -> None:
    if actor.role != Role.admin:
        raise Forbidden("Only administrators manage service tokens.")


def create_service_token(session: Session, data: ServiceTokenCreate, actor: User) -> tuple[ServiceToken, str]:
    _require_admin(actor)
    if data.expires_at is not None:
        if data.expires_at.tzinfo is None:
            raise RuleViolation("expires_at needs a time zone.",
                                errors=[{"loc": ["body", "expires_at"], "field": "expires_at",
                                         "message": "timezone required", "type": "timezone"}])
        if data.expires_at <= utcnow():
            raise RuleViolation("expires_at is in the past.",
                                errors=[{"loc": ["body", "expires_at"], "field": "expires_at",
                                         "message": "must be in the future", "type": "past"}])
    secret = new_service_token()
    token = ServiceToken(
        name=data.name,
        token_hash=hash_service_token(secret),
        prefix=secret[:10],
        scopes=sorted(set(data.scopes)),
        created_by_id=actor.id,
        expires_at=data.expires_at,
    )
    session.add(token)
    session.flush()
    record(session, actor, "create", "service_token", token.id, None,
           {"name": token.name, "scopes": token.scopes})
    return token, secret


def list_service_tokens(session: Session, actor: User) -> list[ServiceToken]:
    _require_admin(actor)
    return list(session.exec(select(ServiceToken).order_by(ServiceToken.id)))


def revoke_service_token(session: Session, token_id: int, actor: User) -> ServiceToken:
    _require_admin(actor)
    token = session.get(ServiceToken, token_id)
    if token is None:
        raise NotFound(f"Service token {token_id} not found.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
        record(session, actor, "revoke", "service_token", token.id, {"revoked_at": None},
               {"revoked_at": token.revoked_at.isoformat()})
    return token
