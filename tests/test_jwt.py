"""Access tokens that must not be accepted: every one gets 401 problem+json.

Each forged token is built next to a positive control made the same way, so a 401 means the
check under test refused it, not that the test built a broken token.
"""

from __future__ import annotations

import contextlib
import hashlib
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from app.core.config import get_settings
from app.users.models import Role
from tests.helpers import (  # noqa: F401
    COOKIE,
    assert_401,
    b64url,
    b64url_json,
    fast_hashing,
    hmac_jwt,
    sqlite_transaction,
    valid_claims,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
ME = "/api/v1/users/me"
HEADER = {"alg": "HS256", "typ": "JWT"}


def secret() -> str:
    return get_settings().secret_key


def me(client, token: str):  # noqa: ANN001, ANN201
    return client.get(ME, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def user(factory):  # noqa: ANN001, ANN201
    return factory.user(Role.member)


def test_controls_hand_built_and_jose_tokens_are_accepted(client, user):
    r = me(client, hmac_jwt(HEADER, valid_claims(user.id), secret()))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == user.id
    r = me(client, jwt.encode(valid_claims(user.id), secret(), algorithm="HS256"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(client, user, alg):
    claims = valid_claims(user.id)
    unsigned = f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(claims)}."
    assert_401(me(client, unsigned))
    # the same, with the HS256 signature of the unsigned input attached
    signed = hmac_jwt({"alg": alg, "typ": "JWT"}, claims, secret())
    assert_401(me(client, signed))


def test_token_signed_with_another_key_is_refused(client, user):
    other = "another-key-of-at-least-thirty-two-bytes-0123456789"
    assert other != secret()
    assert_401(me(client, jwt.encode(valid_claims(user.id), other, algorithm="HS256")))
    assert_401(me(client, hmac_jwt(HEADER, valid_claims(user.id), other)))
    assert_401(me(client, hmac_jwt(HEADER, valid_claims(user.id), b"")))


def test_tampered_payload_is_refused(client, factory, user):
    admin = factory.user(Role.admin)
    token = jwt.encode(valid_claims(user.id), secret(), algorithm="HS256")
    header, _, signature = token.split(".")
    forged = f"{header}.{b64url_json(valid_claims(admin.id))}.{signature}"
    assert_401(me(client, forged))
    # flipping one signature character breaks it too
    last = "A" if signature[-2] != "A" else "B"
    assert_401(me(client, f"{header}.{token.split('.')[1]}.{signature[:-2]}{last}{signature[-1]}"))


def test_expired_token_is_refused(client, user):
    now = int(time.time())
    claims = valid_claims(user.id, iat=now - 3600, exp=now - 5)
    assert_401(me(client, hmac_jwt(HEADER, claims, secret())))
    assert_401(me(client, jwt.encode(claims, secret(), algorithm="HS256")))


def test_a_token_accepted_before_is_refused_once_it_expires(client, user):
    """Verified tokens are remembered; their expiry is still checked on every use."""
    now = int(time.time())
    token = hmac_jwt(HEADER, valid_claims(user.id, iat=now, exp=now + 2), secret())
    assert me(client, token).status_code == 200
    time.sleep(max(0.0, now + 2.05 - time.time()))
    assert_401(me(client, token))


def test_a_token_accepted_before_is_refused_under_a_new_key(client, user, monkeypatch):
    token = hmac_jwt(HEADER, valid_claims(user.id), secret())
    assert me(client, token).status_code == 200
    monkeypatch.setattr(get_settings(), "secret_key", "another key " + "x" * 40)
    assert_401(me(client, token))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_token_missing_a_required_claim_is_refused(client, user, claim):
    claims = valid_claims(user.id)
    del claims[claim]
    assert_401(me(client, hmac_jwt(HEADER, claims, secret())))


@pytest.mark.parametrize(("claim", "value"), [
    ("aud", "someone-else"),
    ("aud", ["someone-else"]),
    ("iss", "someone-else"),
    ("exp", "tomorrow"),
    ("sub", "not-a-number"),
    ("sub", 12),
    ("sub", "999999999"),
])
def test_token_with_a_wrong_claim_is_refused(client, user, claim, value):
    assert_401(me(client, hmac_jwt(HEADER, valid_claims(user.id, **{claim: value}), secret())))


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-custom"], []])
def test_crit_header_is_refused(client, user, crit):
    header = {**HEADER, "crit": crit}
    if crit:
        header[crit[0]] = False
    assert_401(me(client, hmac_jwt(header, valid_claims(user.id), secret())))
    assert_401(me(client, jwt.encode(valid_claims(user.id), secret(), algorithm="HS256",
                                     headers={"crit": crit})))


@pytest.mark.parametrize(("alg", "digest"), [("HS384", hashlib.sha384), ("HS512", hashlib.sha512)])
def test_other_hmac_algorithms_are_refused(client, user, alg, digest):
    assert_401(me(client, jwt.encode(valid_claims(user.id), secret(), algorithm=alg)))
    assert_401(me(client, hmac_jwt({"alg": alg, "typ": "JWT"}, valid_claims(user.id), secret(), digest)))


def test_rs_and_es_style_tokens_are_refused(client, user):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    assert_401(me(client, jwt.encode(valid_claims(user.id), pem, algorithm="RS256")))
    # algorithm confusion: an RS/ES/PS header over an HMAC signature made with the server's secret
    for alg in ("RS256", "ES256", "PS256"):
        assert_401(me(client, hmac_jwt({"alg": alg, "typ": "JWT"}, valid_claims(user.id), secret())))
    # a header carrying its own key
    jwk = {"kty": "oct", "k": b64url(b"attacker-key")}
    assert_401(me(client, hmac_jwt({**HEADER, "jwk": jwk}, valid_claims(user.id), b"attacker-key")))


@pytest.mark.parametrize("garbage", [
    "garbage",
    "a.b.c",
    "a.b",
    "....",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJIUzI1NiJ9..",
    "eyJhbGciOiJIUzI1NiJ9.e30.!!!",
    b64url(b"[1,2]") + "." + b64url_json({}) + ".sig",
    b64url(b"\xff\xfe") + "." + b64url_json({}) + ".sig",
    b64url_json({"alg": "HS256"}) + "." + b64url(b"not json") + ".sig",
    "x" * 5000,
])
def test_garbage_is_refused(client, user, garbage):
    assert_401(me(client, garbage))


def test_payload_that_is_not_an_object_is_refused(client, user):
    for payload in ([1, 2], "text", 42, None):
        assert_401(me(client, hmac_jwt(HEADER, payload, secret())))  # type: ignore[arg-type]


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer"])
def test_malformed_authorization_header_is_refused(client, user, header):
    assert_401(client.get(ME, headers={"Authorization": header}))


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:"])
def test_valid_token_under_another_scheme_is_refused(client, user, scheme):
    token = jwt.encode(valid_claims(user.id), secret(), algorithm="HS256")
    assert me(client, token).status_code == 200
    assert_401(client.get(ME, headers={"Authorization": f"{scheme} {token}"}))


def test_scheme_is_case_insensitive(client, user):
    token = jwt.encode(valid_claims(user.id), secret(), algorithm="HS256")
    assert client.get(ME, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_no_credentials_is_refused(client):
    assert_401(client.get(ME))


def test_token_of_a_disabled_or_deleted_user_is_refused(client, factory, session, user):
    token = jwt.encode(valid_claims(user.id), secret(), algorithm="HS256")
    assert me(client, token).status_code == 200
    user.is_active = False
    session.add(user)
    session.flush()
    assert_401(me(client, token))


def test_forged_cookie_is_not_a_session(client, user):
    claims = valid_claims(user.id)
    unsigned = f"{b64url_json({'alg': 'none'})}.{b64url_json(claims)}."
    for token in (unsigned, hmac_jwt(HEADER, claims, "wrong-key")):
        client.cookies.set(COOKIE, token)
        assert_401(client.get(ME))
    client.cookies.clear()
    # the control: a properly signed token in the cookie is accepted for a read
    client.cookies.set(COOKIE, hmac_jwt(HEADER, claims, secret()))
    assert client.get(ME).status_code == 200
    client.cookies.clear()


# --- odd claims in correctly signed tokens: a 401, never a 500 ---------------------------------------

ODD_CLAIMS = [
    ("exp", "99999999999"), ("exp", "tomorrow"), ("exp", [1]), ("exp", {"t": 1}), ("exp", True), ("exp", None),
    ("exp", 1e400), ("exp", -1e400),
    ("iat", "1"), ("iat", [1]), ("iat", 1e400), ("iat", False),
    ("nbf", "0"), ("nbf", [0]), ("nbf", 1e400),
    ("sub", "12345678901234567890"), ("sub", "2147483648"), ("sub", "0"), ("sub", "-1"), ("sub", "+1"),
    ("sub", " 1"), ("sub", "1.0"), ("sub", "²"), ("sub", "١"), ("sub", "9" * 5000), ("sub", ""), ("sub", None),
    ("sub", [1]), ("sub", 1.5),
    ("jti", [1]), ("jti", {"a": 1}), ("jti", 5),
    ("iss", ["procopt"]), ("iss", 5), ("aud", 5), ("aud", None), ("aud", {"a": 1}),
]


@pytest.mark.parametrize(("claim", "value"), ODD_CLAIMS)
def test_a_signed_token_with_an_odd_claim_is_a_401(client, user, claim, value):
    """Signed with the right key (by hand and by python-jose, as the app does): only the claim is odd.
    A 401 problem both as a Bearer token and, for a page, as the cookie (which then is no session)."""
    claims = valid_claims(user.id, **{claim: value})
    tokens = [hmac_jwt(HEADER, claims, secret())]
    with contextlib.suppress(TypeError, ValueError, OverflowError):  # python-jose refuses to sign some
        tokens.append(jwt.encode(claims, secret(), algorithm="HS256"))
    for token in tokens:
        for _ in range(2):  # the second use comes from the verified-token memo, if it got in
            assert_401(me(client, token))
        client.cookies.set(COOKIE, token)
        assert_401(client.get(ME))
        page = client.get("/processes", follow_redirects=False)
        assert page.status_code in (303, 401), page.text  # asked to log in, no 500
        client.cookies.clear()


@pytest.mark.parametrize(("claim", "value"), [("exp", 10**12), ("exp", float(10**11)), ("iat", 1.5e9),
                                              ("nbf", 1), ("jti", "text"), ("sub", "leading zeros")])
def test_numeric_dates_may_be_any_json_number(client, user, claim, value):
    """The controls: RFC 7519 NumericDates are JSON numbers, not only integers; a subject with leading
    zeros is still the digits of an id."""
    claims = valid_claims(user.id, **{claim: value})
    if claim == "sub":
        claims["sub"] = "0" * 6 + str(user.id)
    r = me(client, hmac_jwt(HEADER, claims, secret()))
    assert r.status_code == 200, r.text
