"""Failed-login rate limiting, per account and per client address, on the API and the login page."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.models import LoginFailure
from app.core.config import get_settings
from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import (  # noqa: F401
    COOKIE,
    api_login,
    assert_401,
    assert_problem,
    fast_hashing,
    other_client,
    page_login,
    sqlite_transaction,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
_n = itertools.count(1)


def retry_after(response) -> int:  # noqa: ANN001
    value = int(response.headers["retry-after"])
    assert 0 < value <= get_settings().login_window_seconds
    return value


def unknown_email() -> str:
    return f"nobody{next(_n)}@example.com"


def test_defaults():
    settings = get_settings()
    assert settings.login_max_failures_per_account == 5
    assert settings.login_max_failures_per_address == 20
    assert settings.login_window_seconds == 900


# --- API ------------------------------------------------------------------------------------------

def test_api_blocks_an_account_after_repeated_failures(client, factory):
    user = factory.user()
    bystander = factory.user()
    limit = get_settings().login_max_failures_per_account
    for i in range(limit):
        # the account is matched case-insensitively
        email = user.email.upper() if i % 2 else user.email
        assert_401(api_login(client, email, f"wrong-{i}"))
    r = api_login(client, user.email, "wrong-again")
    assert_problem(r, 429)
    retry_after(r)
    # the right password does not get through while blocked
    r = api_login(client, user.email, PASSWORD)
    assert_problem(r, 429)
    assert "access_token" not in r.json()
    retry_after(r)
    r = api_login(client, user.email.upper(), PASSWORD)
    assert_problem(r, 429)
    # another account from the same address is not affected
    assert api_login(client, bystander.email, PASSWORD).status_code == 200


def test_api_failures_below_the_limit_do_not_block(client, factory):
    user = factory.user()
    for i in range(get_settings().login_max_failures_per_account - 1):
        assert_401(api_login(client, user.email, f"wrong-{i}"))
    assert api_login(client, user.email, PASSWORD).status_code == 200


def test_api_blocks_an_account_from_any_address(app, client, factory):
    user = factory.user()
    limit = get_settings().login_max_failures_per_account
    for i in range(limit):
        with other_client(app, client=(f"10.0.0.{i + 1}", 40000)) as c:
            assert_401(api_login(c, user.email, "wrong"))
    with other_client(app, client=("10.0.1.1", 40000)) as c:
        r = api_login(c, user.email, PASSWORD)
    assert_problem(r, 429)
    retry_after(r)


def test_unknown_accounts_are_limited_too(client):
    email = unknown_email()
    for _ in range(get_settings().login_max_failures_per_account):
        assert_401(api_login(client, email, "whatever"))
    assert_problem(api_login(client, email, "whatever"), 429)


def test_api_blocks_an_address_after_repeated_failures(app, client, factory):
    user = factory.user()
    limit = get_settings().login_max_failures_per_address
    assert limit > get_settings().login_max_failures_per_account
    for _ in range(limit):  # each account stays under its own limit
        assert_401(api_login(client, unknown_email(), "wrong"))
    r = api_login(client, unknown_email(), "wrong")
    assert_problem(r, 429)
    retry_after(r)
    # a real account with the right password from that address is refused as well
    r = api_login(client, user.email, PASSWORD)
    assert_problem(r, 429)
    assert "access_token" not in r.json()
    # the same account from another address gets in: it was the address that was blocked
    with other_client(app, client=("192.0.2.7", 40000)) as elsewhere:
        assert api_login(elsewhere, user.email, PASSWORD).status_code == 200


def test_inactive_account_logins_count_as_failures(client, factory):
    user = factory.user(active=False)
    for _ in range(get_settings().login_max_failures_per_account):
        assert_401(api_login(client, user.email, PASSWORD))
    assert_problem(api_login(client, user.email, PASSWORD), 429)


# --- login page -----------------------------------------------------------------------------------

def test_login_page_blocks_an_account_after_repeated_failures(client, factory):
    user = factory.user()
    limit = get_settings().login_max_failures_per_account
    for i in range(limit):
        r = page_login(client, user.email, f"wrong-{i}")
        assert r.status_code == 401
        assert "text/html" in r.headers["content-type"]
    r = page_login(client, user.email, "wrong-again")
    assert r.status_code == 429
    assert "text/html" in r.headers["content-type"]
    retry_after(r)
    r = page_login(client, user.email, PASSWORD)
    assert r.status_code == 429
    retry_after(r)
    assert not [h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    assert not client.cookies.get(COOKIE)
    assert client.get("/api/v1/users/me").status_code == 401


def test_login_page_blocks_an_address_after_repeated_failures(app, client, factory):
    user = factory.user()
    for _ in range(get_settings().login_max_failures_per_address):
        assert page_login(client, unknown_email(), "wrong").status_code == 401
    r = page_login(client, user.email, PASSWORD)
    assert r.status_code == 429
    retry_after(r)
    assert not client.cookies.get(COOKIE)
    with other_client(app, client=("192.0.2.8", 40000)) as elsewhere:
        assert page_login(elsewhere, user.email, PASSWORD).status_code == 303


def test_api_and_page_failures_add_up(client, factory):
    user = factory.user(Role.viewer)
    limit = get_settings().login_max_failures_per_account
    for i in range(limit):
        if i % 2:
            assert page_login(client, user.email, "wrong").status_code == 401
        else:
            assert_401(api_login(client, user.email, "wrong"))
    assert page_login(client, user.email, PASSWORD).status_code == 429
    assert_problem(api_login(client, user.email, PASSWORD), 429)


@pytest.mark.parametrize("username", ["a" * 400 + "@example.com", "x" * 5000])
def test_absurdly_long_usernames_are_counted_not_crashed_on(client, username):
    for _ in range(get_settings().login_max_failures_per_account):
        assert_401(api_login(client, username, "whatever"))
    assert_problem(api_login(client, username, "whatever"), 429)
    assert page_login(client, username + "y", "whatever").status_code == 401


def age_failures(session, seconds: int) -> None:  # noqa: ANN001
    """Move every recorded failure `seconds` into the past."""
    rows = list(session.exec(sa.select(LoginFailure)).scalars())
    assert rows
    for row in rows:
        row.at -= timedelta(seconds=seconds)
        session.add(row)
    session.flush()


def test_retry_after_counts_down_to_the_end_of_the_window(client, factory, session):
    user = factory.user()
    settings = get_settings()
    for _ in range(settings.login_max_failures_per_account):
        assert_401(api_login(client, user.email, "wrong"))
    assert retry_after(api_login(client, user.email, PASSWORD)) > settings.login_window_seconds - 60
    age_failures(session, settings.login_window_seconds - 100)
    r = api_login(client, user.email, PASSWORD)
    assert_problem(r, 429)
    assert retry_after(r) <= 100


def test_failures_older_than_the_window_no_longer_count(client, factory, session):
    user = factory.user()
    settings = get_settings()
    for _ in range(settings.login_max_failures_per_account):
        assert_401(api_login(client, user.email, "wrong"))
    assert_problem(api_login(client, user.email, PASSWORD), 429)
    age_failures(session, settings.login_window_seconds + 1)
    assert api_login(client, user.email, PASSWORD).status_code == 200
