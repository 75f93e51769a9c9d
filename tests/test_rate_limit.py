"""Failed-login rate limiting, per account and per client address, on the API and the login page."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.auth.models import LoginFailure
from app.auth.service import authenticate
from app.core.audit import AuditRecord
from app.core.config import get_settings
from app.core.errors import NotAuthenticated, TooManyRequests
from app.users.models import Role, User
from tests.factories import PASSWORD, Factory
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


def test_a_noisy_address_does_not_lock_out_the_accounts_behind_it(app, client, factory):
    """20 failures for made-up emails from one address (someone guessing, or anyone behind the same proxy):
    the address's wrong passwords now get 429, but a real account that is not itself locked still logs
    in from there with its password, on the API and the page, again and again."""
    user, locked = factory.user(), factory.user()
    limit = get_settings().login_max_failures_per_address
    assert limit > get_settings().login_max_failures_per_account
    for _ in range(limit):  # each account stays under its own limit
        assert_401(api_login(client, unknown_email(), "wrong"))
    r = api_login(client, unknown_email(), "wrong")
    assert_problem(r, 429)
    retry_after(r)
    for _ in range(3):  # the right password from that address gets in, every time
        r = api_login(client, user.email, PASSWORD)
        assert r.status_code == 200, r.text
        assert page_login(client, user.email, PASSWORD).status_code == 303
        client.cookies.clear()
    # a wrong one for the same account is a 429 too, and counts for the account
    assert_problem(api_login(client, user.email, "wrong"), 429)
    # an account that is itself locked stays locked, from there and from anywhere
    for _ in range(get_settings().login_max_failures_per_account):
        assert_problem(api_login(client, locked.email, "wrong"), 429)
    assert_problem(api_login(client, locked.email, PASSWORD), 429)
    with other_client(app, client=("192.0.2.7", 40000)) as elsewhere:
        assert_problem(api_login(elsewhere, locked.email, PASSWORD), 429)
        # another address is not noisy: its wrong passwords are a 401
        assert_401(api_login(elsewhere, unknown_email(), "wrong"))


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


def test_login_page_answers_a_noisy_address_with_429_but_lets_the_right_password_in(client, factory):
    user = factory.user()
    for _ in range(get_settings().login_max_failures_per_address):
        assert page_login(client, unknown_email(), "wrong").status_code == 401
    r = page_login(client, unknown_email(), "wrong")
    assert r.status_code == 429
    assert "text/html" in r.headers["content-type"]
    retry_after(r)
    assert not client.cookies.get(COOKIE)
    assert page_login(client, user.email, PASSWORD).status_code == 303
    assert client.get("/api/v1/users/me").status_code == 200


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


# --- concurrent attempts (real transactions on PostgreSQL) -----------------------------------------

def _attempt_all_at_once(engine, email: str, passwords: list[str], address: str) -> list[int]:  # noqa: ANN001
    """Each password in a thread with a session of its own, started together; the answers' statuses."""
    start = threading.Barrier(len(passwords))
    outcome: list[int] = []

    def attempt(password: str) -> None:
        with Session(engine, expire_on_commit=False) as s:
            start.wait(10)
            try:
                authenticate(s, email, password, address)
                outcome.append(200)
            except TooManyRequests:
                outcome.append(429)
            except NotAuthenticated:
                outcome.append(401)
            s.commit()  # as the unit of work does, after a 200 and a 401 alike

    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcome) == len(passwords)
    return outcome


@pytest.mark.usefixtures("committed_departments_removed")
def test_parallel_wrong_passwords_get_exactly_the_limit_through(backend, engine):
    """40 wrong passwords for one account at once (each in its own transaction, as in 40 workers): exactly
    the account's limit reach the password check (401); the others are refused (429), and the account is
    locked afterwards, for the right password too."""
    if backend != "postgresql":
        pytest.skip("needs concurrent transactions (SQLite has a single writer)")
    limit = get_settings().login_max_failures_per_account
    with Session(engine, expire_on_commit=False) as s:
        user = Factory(s).user(Role.member)
        s.commit()
    address = f"198.51.100.{next(_n) % 250 + 1}"
    try:
        outcome = _attempt_all_at_once(engine, user.email, [f"wrong-{i}" for i in range(40)], address)
        assert outcome.count(401) == limit, outcome
        assert outcome.count(401) + outcome.count(429) == 40, outcome
        with engine.connect() as conn:  # the refused attempts left no failure behind
            left = conn.execute(sa.select(sa.func.count()).select_from(LoginFailure)
                                .where(LoginFailure.key == f"acct:{user.email_norm}")).scalar_one()
        assert left == limit
        assert _attempt_all_at_once(engine, user.email, [PASSWORD], "198.51.100.251") == [429]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(LoginFailure).where(LoginFailure.key.in_(
                [f"acct:{user.email_norm}", f"addr:{address}", "addr:198.51.100.251"])))
            conn.execute(sa.delete(AuditRecord).where(AuditRecord.entity_type == "user",
                                                      AuditRecord.entity_id == user.id))
            conn.execute(sa.delete(User).where(User.id == user.id))
