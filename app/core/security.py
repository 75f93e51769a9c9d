"""Passwords, JWT access tokens, CSRF tokens and service-token secrets.

All JWT handling lives here: HS256 only, `algorithms=["HS256"]` always passed, `exp`, `iat`,
`sub`, `iss` and `aud` required, any `crit` header refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import get_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
SERVICE_TOKEN_PREFIX = "pco_"  # noqa: S105 - a prefix, not a secret

_password_hash = PasswordHash((Argon2Hasher(),))  # argon2id
# A hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _password_hash.hash(secrets.token_urlsafe(16))


class InvalidToken(Exception):
    """The token cannot be trusted."""


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        _password_hash.verify(password, _DUMMY_HASH)
        return False
    try:
        return _password_hash.verify(password, hashed)
    except Exception:  # malformed stored hash
        return False


def create_access_token(subject: str, *, generation: int = 0, minutes: int | None = None,
                        extra: dict[str, Any] | None = None) -> str:
    """A token for account `subject`, valid while the account's `token_generation` is `generation`."""
    settings = get_settings()
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes or settings.access_token_minutes)).timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": secrets.token_urlsafe(12),
        "gen": generation,
    }
    if extra:
        claims.update(extra)
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(token: str) -> dict[str, Any]:
    """The claims of a valid token; `InvalidToken` otherwise.

    A token that verified once is remembered (per process, bounded) with the key and claims it was
    checked against, so the next request with it skips the signature check; its expiry is checked every
    time. Account state (disabled, deleted, its token generation) is never cached: app/auth/deps.py reads
    it from the account's row per request and compares the token's `gen` with it.
    """
    settings = get_settings()
    claims = _verified(token, settings.secret_key, settings.jwt_issuer, settings.jwt_audience)
    if claims["exp"] <= datetime.now(UTC).timestamp():
        raise InvalidToken("Signature has expired.")
    return dict(claims)


@lru_cache(maxsize=4096)
def _verified(token: str, secret_key: str, issuer: str, audience: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unsupported algorithm")
    if "crit" in header:
        raise InvalidToken("critical header extensions are not supported")
    try:
        claims: Any = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_iss": True,
                "require_aud": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
                "verify_signature": True,
                "leeway": 0,
            },
        )
    except JWTError as exc:
        raise InvalidToken(str(exc)) from exc
    except (TypeError, ValueError, OverflowError) as exc:  # python-jose's int() of an odd `exp`, `iat`, `nbf`
        raise InvalidToken("malformed time claim") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("the payload is not an object")
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise InvalidToken(f"missing claims: {', '.join(missing)}")
    _check_claim_types(claims)
    return claims


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_claim_types(claims: dict[str, Any]) -> None:
    """python-jose checks a time claim by calling `int()` on it and hands back the payload unchanged: an
    `exp` of "99999999999" passed and then failed our own comparison (a 500). Times must be JSON numbers,
    `jti` text and `gen` (the account's token generation; absent: 0) a whole number."""
    for name in ("exp", "iat", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"`{name}` is not a number")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidToken("`jti` is not a string")
    gen = claims.get("gen", 0)
    if isinstance(gen, bool) or not isinstance(gen, int) or gen < 0:
        raise InvalidToken("`gen` is not a whole number")


def csrf_token_for(session_id: str) -> str:
    """A CSRF token bound to one login session (the JWT's `jti`)."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def csrf_token_valid(session_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token_for(session_id), token)


def new_service_token() -> str:
    return SERVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_service_token(token: str) -> str:
    """Service tokens are 256-bit random values: SHA-256 is enough to store them (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
