"""`POST /api/v1/auth/token` (OAuth2 password flow), `GET /api/v1/users/me`, password storage."""

from __future__ import annotations

import pytest
from jose import jwt

from app.core.config import get_settings
from app.users.models import Role, User
from tests.factories import PASSWORD
from tests.helpers import TOKEN_URL, api_login, assert_401, assert_problem, fast_hashing, sqlite_transaction  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")


def test_token_for_email_and_password(client, factory):
    user = factory.user(Role.lead)
    r = api_login(client, user.email, PASSWORD)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    # expires_in tells the truth about the token it comes with
    claims = jwt.get_unverified_claims(body["access_token"])
    assert abs((claims["exp"] - claims["iat"]) - body["expires_in"]) <= 1
    assert claims["sub"] == str(user.id)
    # and the token works
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == user.email


def test_token_responses_are_not_cached(client, factory):
    """RFC 6749 5.1: responses carrying tokens must say `Cache-Control: no-store`."""
    user = factory.user()
    r = api_login(client, user.email, PASSWORD)
    assert r.status_code == 200
    assert "no-store" in r.headers.get("cache-control", "")


def test_standard_oauth2_clients_are_understood(client, factory):
    """Clients such as Swagger UI also send `grant_type` and `scope`."""
    user = factory.user()
    r = client.post(TOKEN_URL, data={"grant_type": "password", "username": user.email, "password": PASSWORD,
                                     "scope": ""})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"


def test_each_login_gets_a_distinct_token(client, factory):
    user = factory.user()
    first = api_login(client, user.email, PASSWORD).json()["access_token"]
    second = api_login(client, user.email, PASSWORD).json()["access_token"]
    assert first != second


def test_username_is_case_insensitive(client, factory):
    user = factory.user(email="Mary.Major@Example.COM")
    for username in ("mary.major@example.com", "MARY.MAJOR@EXAMPLE.COM", "  Mary.Major@example.com "):
        r = api_login(client, username, PASSWORD)
        assert r.status_code == 200, (username, r.text)
        claims = jwt.get_unverified_claims(r.json()["access_token"])
        assert claims["sub"] == str(user.id)


def test_wrong_password_unknown_email_and_inactive_account_get_the_same_401(client, factory):
    user = factory.user()
    inactive = factory.user(active=False)
    wrong = assert_401(api_login(client, user.email, PASSWORD + "x"))
    unknown = assert_401(api_login(client, "nobody@example.com", PASSWORD))
    disabled = assert_401(api_login(client, inactive.email, PASSWORD))
    # the answers do not tell which of the three it was
    for body in (wrong, unknown, disabled):
        assert "access_token" not in body
        assert {k: v for k, v in body.items() if k != "instance"} == \
            {k: v for k, v in wrong.items() if k != "instance"}


def test_password_is_case_sensitive_and_not_trimmed(client, factory):
    user = factory.user()
    assert_401(api_login(client, user.email, PASSWORD.upper()))
    assert_401(api_login(client, user.email, PASSWORD + " "))
    assert_401(api_login(client, user.email, " " + PASSWORD))
    empty = api_login(client, user.email, "")
    assert empty.status_code in (401, 422)
    assert "access_token" not in empty.json()


def test_missing_form_fields_get_422(client):
    body = assert_problem(client.post(TOKEN_URL, data={"username": "a@example.com"}), 422)
    assert any(e["loc"][-1] == "password" for e in body["errors"])
    body = assert_problem(client.post(TOKEN_URL, json={"username": "a@example.com", "password": "x"}), 422)
    assert body["errors"]


def test_long_passwords_are_not_truncated(client, factory):
    long_pw = "".join(chr(ord("a") + i % 26) for i in range(100))
    user = factory.user(password=long_pw)
    sixty_four = "Z" * 63 + "!"
    user64 = factory.user(password=sixty_four)
    assert api_login(client, user.email, long_pw).status_code == 200
    assert api_login(client, user64.email, sixty_four).status_code == 200
    # differs only at character 80 (index 79)
    changed = long_pw[:79] + ("#" if long_pw[79] != "#" else "$") + long_pw[80:]
    assert len(changed) == 100 and changed != long_pw
    assert_401(api_login(client, user.email, changed))
    # prefixes that a truncating hash (bcrypt: 72 bytes) would accept
    assert_401(api_login(client, user.email, long_pw[:72]))
    assert_401(api_login(client, user.email, long_pw[:99]))
    assert_401(api_login(client, user64.email, sixty_four[:63]))


def test_non_ascii_password(client, factory):
    password = "密码-Пароль-κωδικός-🔑" * 3
    user = factory.user(password=password)
    assert api_login(client, user.email, password).status_code == 200
    assert_401(api_login(client, user.email, password[:-1]))


def test_argon2id_hash_is_stored(client, factory, session):
    admin = factory.user(Role.admin)
    headers = {"Authorization": f"Bearer {api_login(client, admin.email, PASSWORD).json()['access_token']}"}
    r = client.post("/api/v1/users", headers=headers, json={
        "email": "hash.check@example.com", "display_name": "Hash", "password": "a fine password 1"})
    assert r.status_code == 201, r.text
    stored = session.get(User, r.json()["id"])
    session.refresh(stored)
    assert stored.password_hash.startswith("$argon2id$")
    assert "a fine password 1" not in stored.password_hash
    # salted: the same password twice gives two different hashes
    other = factory.user(password="a fine password 1")
    assert other.password_hash.startswith("$argon2id$")
    assert other.password_hash != stored.password_hash


def test_me(client, factory):
    user = factory.user(Role.viewer, department="finance")
    headers = {"Authorization": f"Bearer {api_login(client, user.email, PASSWORD).json()['access_token']}"}
    r = client.get("/api/v1/users/me", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == user.id
    assert body["email"] == user.email
    assert body["display_name"] == user.display_name
    assert body["role"] == "viewer"
    assert body["department"] == "finance"
    assert body["is_active"] is True
    assert not {k for k in body if "password" in k or "hash" in k}


def test_me_requires_authentication(client):
    assert_401(client.get("/api/v1/users/me"))


def test_token_lifetime_follows_settings(client, factory):
    user = factory.user()
    body = api_login(client, user.email, PASSWORD).json()
    assert body["expires_in"] == get_settings().access_token_minutes * 60
