"""Login with rate limiting, and service tokens."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from app.auth.models import LoginFailure, ServiceToken
from app.auth.schemas import ServiceTokenCreate
from app.core.audit import record
from app.core.config import get_settings
from app.core.db import lock_key, utcnow
from app.core.errors import Forbidden, NotAuthenticated, NotFound, RuleViolation, TooManyRequests
from app.core.labels import N_
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


def _retry_after(oldest: datetime, now: datetime) -> int:
    window = timedelta(seconds=get_settings().login_window_seconds)
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def _counts(session: Session, keys: tuple[str, str], now: datetime) -> dict[str, tuple[int, datetime]]:
    """Attempts per key within the window, with the oldest one's time."""
    since = now - timedelta(seconds=get_settings().login_window_seconds)
    rows = session.exec(
        select(LoginFailure.key, sa.func.count(), sa.func.min(LoginFailure.at))
        .where(LoginFailure.key.in_(keys), LoginFailure.at > since).group_by(LoginFailure.key)
    ).all()
    return {key: (count, oldest) for key, count, oldest in rows}


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """Check a password login, limited per account and per client address (`LoginFailure` rows, shared by
    all workers).

    The attempt is recorded first, as a failure of the account and of the address, under a lock on the
    account (`core.db.lock_key`: one attempt of an account at a time, in however many workers); then the
    account's attempts in the window are counted, its own among them, and the lock is released with the
    commit. So each attempt sees all earlier ones: exactly the first `limit` attempts of a burst reach the
    password check and the rest are refused. A refused attempt's rows are removed again (they were no
    failures), a successful login removes the account's failures and its own address row.

    A locked account (too many failures) is refused even with the right password. A noisy address (too
    many failures, e.g. everyone behind one proxy, or someone trying made-up emails) is not: its wrong
    passwords get 429 instead of 401, but the right password of an account that is not itself locked gets
    in, so one address cannot lock everyone out. Guessing stays bounded per account.

    This commits the request's session (the attempt, before the password is checked, so that neither the
    lock nor SQLite's write lock is held during argon2) and the caller commits the rest, also
    when it answers with an error (see `auth.api.issue_token`)."""
    settings = get_settings()
    acct, addr = _keys(email, address)
    now = utcnow()
    attempt = [LoginFailure(key=acct, at=now), LoginFailure(key=addr, at=now)]
    lock_key(session, acct)
    session.add_all(attempt)
    session.flush()
    attempt_ids = [row.id for row in attempt]
    counts = _counts(session, (acct, addr), now)
    acct_count, acct_oldest = counts.get(acct, (1, now))
    addr_count, addr_oldest = counts.get(addr, (1, now))
    if acct_count > settings.login_max_failures_per_account:
        session.exec(sa.delete(LoginFailure).where(LoginFailure.id.in_(attempt_ids)))
        session.commit()
        raise TooManyRequests("Too many failed logins; try again later.", retry_after=_retry_after(acct_oldest, now))
    user = get_by_email(session, email)
    session.commit()  # the attempt counted; nothing held while the password is checked
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        if addr_count > settings.login_max_failures_per_address:
            raise TooManyRequests("Too many failed logins; try again later.",
                                  retry_after=_retry_after(addr_oldest, now))
        raise NotAuthenticated("Incorrect email or password.")
    # A success clears the account's failures; the address keeps its count, less this attempt.
    session.exec(sa.delete(LoginFailure).where(sa.or_(LoginFailure.key == acct, LoginFailure.id == attempt_ids[1])))
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
        raise NotFound(N_("Service token {token_id} not found."), params={"token_id": token_id})
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
        record(session, actor, "revoke", "service_token", token.id, {"revoked_at": None},
               {"revoked_at": token.revoked_at.isoformat()})
    return token
