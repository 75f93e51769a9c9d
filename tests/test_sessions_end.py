"""Sessions end when they should: a password reset or change, a role change, deactivation and logout end
every access token the account was issued before (its `token_generation`, carried as the JWT's `gen`).
The old token then gets a 401 (a stale cookie: the login page), a new login works."""

from __future__ import annotations

import pytest
from jose import jwt

from app.core import security
from app.core.config import get_settings
from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import (  # noqa: F401
    COOKIE,
    api_login,
    assert_401,
    bearer_for,
    csrf_tokens,
    fast_hashing,
    hmac_jwt,
    page_login,
    sqlite_transaction,
    valid_claims,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
ME = "/api/v1/users/me"
NEW_PASSWORD = "a brand new password 2"


def works(client, headers: dict[str, str]) -> bool:  # noqa: ANN001
    """The token works on an endpoint that loads the actor and on the process list."""
    me, listed = client.get(ME, headers=headers), client.get("/api/v1/processes", headers=headers)
    assert me.status_code == listed.status_code, (me.text, listed.text)
    if me.status_code == 401:
        assert_401(me)
        assert_401(listed)
        return False
    assert me.status_code == 200, me.text
    return True


@pytest.fixture
def admin(client, factory):  # noqa: ANN001, ANN201
    user = factory.user(Role.admin)
    return user, bearer_for(client, user.email, PASSWORD)


def patch_user(client, admin_headers, user_id: int, **changes: object):  # noqa: ANN001, ANN201
    r = client.patch(f"/api/v1/users/{user_id}", json=changes, headers=admin_headers)
    assert r.status_code == 200, r.text
    return r


def test_a_password_reset_ends_the_accounts_tokens(client, factory, admin):
    _, admin_headers = admin
    user = factory.user(Role.member)
    old = bearer_for(client, user.email, PASSWORD)
    other_device = bearer_for(client, user.email, PASSWORD)
    assert works(client, old) and works(client, old)  # the second use comes from the verified-token memo
    hits = security._verified.cache_info().hits
    patch_user(client, admin_headers, user.id, password=NEW_PASSWORD)
    assert not works(client, old)
    assert security._verified.cache_info().hits > hits  # the memo knew the token, and did not let it in
    assert not works(client, other_device)
    assert_401(api_login(client, user.email, PASSWORD))
    assert works(client, bearer_for(client, user.email, NEW_PASSWORD))
    assert not works(client, old)


def test_changing_ones_own_password_ends_ones_own_tokens(client, admin):
    me, headers = admin
    patch_user(client, headers, me.id, password=NEW_PASSWORD)
    assert not works(client, headers)
    assert works(client, bearer_for(client, me.email, NEW_PASSWORD))


def test_a_role_change_ends_the_accounts_tokens(client, factory, admin):
    _, admin_headers = admin
    user = factory.user(Role.member)
    old = bearer_for(client, user.email, PASSWORD)
    patch_user(client, admin_headers, user.id, role="viewer")
    assert not works(client, old)
    new = bearer_for(client, user.email, PASSWORD)
    assert client.get(ME, headers=new).json()["role"] == "viewer"
    # sent again unchanged, the role ends nothing; nor do a name or department change
    patch_user(client, admin_headers, user.id, role="viewer", display_name="Renamed", department="finance")
    assert works(client, new)


def test_deactivation_ends_the_tokens_for_good(client, factory, admin):
    _, admin_headers = admin
    user = factory.user(Role.member)
    old = bearer_for(client, user.email, PASSWORD)
    patch_user(client, admin_headers, user.id, is_active=False)
    assert not works(client, old)
    patch_user(client, admin_headers, user.id, is_active=True)
    assert not works(client, old)  # active again, the token from before stays ended
    assert works(client, bearer_for(client, user.email, PASSWORD))


def test_page_logout_ends_the_cookies_token_also_as_a_bearer_token(client, factory):
    user = factory.user(Role.member)
    api_token = bearer_for(client, user.email, PASSWORD)
    assert page_login(client, user.email, PASSWORD).status_code == 303
    cookie = client.cookies.get(COOKIE)
    as_bearer = {"Authorization": f"Bearer {cookie}"}
    assert works(client, as_bearer)
    csrf, _ = csrf_tokens(client.get("/processes").text)
    r = client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert not works(client, as_bearer)
    assert not works(client, api_token)  # the account's other sessions end too
    client.cookies.set(COOKIE, cookie)  # the old cookie put back: no session, the page asks to log in
    assert client.get("/processes", follow_redirects=False).status_code == 303
    assert_401(client.get(ME))
    client.cookies.clear()
    assert page_login(client, user.email, PASSWORD).status_code == 303
    assert client.get(ME).status_code == 200


def test_api_logout_ends_the_accounts_tokens(client, factory):
    user = factory.user(Role.viewer)
    headers = bearer_for(client, user.email, PASSWORD)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert not works(client, headers)
    assert_401(client.post("/api/v1/auth/logout", headers=headers))
    assert works(client, bearer_for(client, user.email, PASSWORD))


def test_api_logout_is_for_people(client, factory):
    token = factory.service_token(["read"])
    r = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_tokens_generation_must_be_the_accounts(client, factory, admin):
    """A token carries the generation it was issued in; tokens without `gen` (issued before the upgrade)
    count as generation 0. Any other generation, older or newer, is refused."""
    _, admin_headers = admin
    user = factory.user(Role.member)
    key = get_settings().secret_key

    def token(**claims: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt.encode(valid_claims(user.id, **claims), key, algorithm='HS256')}"}

    assert works(client, token()) and works(client, token(gen=0))
    assert not works(client, token(gen=1))
    patch_user(client, admin_headers, user.id, password=NEW_PASSWORD)
    assert not works(client, token()) and not works(client, token(gen=0))
    assert works(client, token(gen=1))
    for odd in (-1, "1", 1.0, True, None, [1]):
        assert not works(client, token(gen=odd)), odd
    assert jwt.get_unverified_claims(bearer_for(client, user.email, NEW_PASSWORD)["Authorization"][7:])["gen"] == 1
