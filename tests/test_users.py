"""Account administration: `GET/POST /api/v1/users`, `GET/PATCH /api/v1/users/{id}`, the shell command, audit."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session, select

from app import cli
from app.core import db as core_db
from app.core.audit import history
from app.core.config import get_settings
from app.core.migrate import upgrade
from app.core.security import hash_password, verify_password
from app.users.models import Role, User
from tests.factories import PASSWORD
from tests.helpers import (  # noqa: F401
    api_login,
    assert_401,
    assert_problem,
    bearer_for,
    csrf_tokens,
    fast_hashing,
    page_login,
    sqlite_transaction,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
URL = "/api/v1/users"


def new_user(**overrides) -> dict:  # noqa: ANN003
    body = {"email": "new.person@example.com", "display_name": "New Person", "department": "technology",
            "role": "member", "password": "a long enough password"}
    body.update(overrides)
    return body


@pytest.fixture
def admin(factory):  # noqa: ANN001, ANN201
    return factory.user(Role.admin)


@pytest.fixture
def admin_headers(factory, admin):  # noqa: ANN001, ANN201
    return factory.bearer(admin)


# --- create ---------------------------------------------------------------------------------------

def test_admin_creates_a_user_who_can_log_in(client, admin_headers):
    r = client.post(URL, json=new_user(email="Jane.Doe@Example.com", role="lead"), headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"].lower() == "jane.doe@example.com"
    assert body["role"] == "lead"
    assert body["department"] == "technology"
    assert body["is_active"] is True
    assert not {k for k in body if "password" in k or "hash" in k}
    assert r.headers["location"].endswith(f"/{body['id']}")
    got = client.get(f"{URL}/{body['id']}", headers=admin_headers)
    assert got.status_code == 200 and got.json() == body
    token = api_login(client, "JANE.DOE@example.com", "a long enough password")
    assert token.status_code == 200
    me = client.get(f"{URL}/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["id"] == body["id"]


def test_role_defaults_to_member_and_department_is_optional(client, admin_headers):
    body = new_user()
    del body["role"], body["department"]
    r = client.post(URL, json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "member"
    assert r.json()["department"] is None


@pytest.mark.parametrize("role", [Role.lead, Role.member, Role.viewer])
def test_only_admins_create_users(client, factory, role):
    headers = factory.bearer(factory.user(role))
    assert_problem(client.post(URL, json=new_user(), headers=headers), 403)
    admin = factory.user(Role.admin)
    emails = [u["email"] for u in client.get(URL, headers=factory.bearer(admin)).json()["items"]]
    assert "new.person@example.com" not in emails


def test_anonymous_gets_401(client, factory):
    user = factory.user()
    assert_401(client.get(URL))
    assert_401(client.post(URL, json=new_user()))
    assert_401(client.get(f"{URL}/{user.id}"))
    assert_401(client.patch(f"{URL}/{user.id}", json={"display_name": "x"}))


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@EXAMPLE.COM", "Taken@Example.Com"])
def test_duplicate_email_is_409(client, factory, admin_headers, email):
    factory.user(email="taken@example.com")
    body = assert_problem(client.post(URL, json=new_user(email=email), headers=admin_headers), 409)
    assert "taken@example.com" in body["detail"].lower()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"is_admin": True}, "is_admin"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "1234567"}, "password"),
    ({"department": "no-such-dept"}, "department"),
    ({"role": "superuser"}, "role"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "   "}, "display_name"),
])
def test_bad_input_is_422(client, admin_headers, overrides, field):
    body = assert_problem(client.post(URL, json=new_user(**overrides), headers=admin_headers), 422)
    assert body["errors"]
    assert any(field in [str(p) for p in e["loc"]] for e in body["errors"]), body["errors"]


def test_missing_fields_are_422(client, admin_headers):
    body = assert_problem(client.post(URL, json={"email": "x@example.com"}, headers=admin_headers), 422)
    fields = {e["loc"][-1] for e in body["errors"]}
    assert {"display_name", "password"} <= fields


def test_bad_input_creates_nothing(client, admin_headers):
    client.post(URL, json=new_user(department="no-such-dept"), headers=admin_headers)
    emails = [u["email"] for u in client.get(URL, headers=admin_headers).json()["items"]]
    assert "new.person@example.com" not in emails


# --- list and read --------------------------------------------------------------------------------

def test_admins_and_leads_list_users(client, factory, admin):
    lead = factory.user(Role.lead)
    member = factory.user(Role.member)
    for actor in (admin, lead):
        r = client.get(URL, headers=factory.bearer(actor))
        assert r.status_code == 200
        ids = [u["id"] for u in r.json()["items"]]
        assert {admin.id, lead.id, member.id} <= set(ids)
        assert ids == sorted(ids)
        assert "password" not in r.text and "argon2" not in r.text


@pytest.mark.parametrize("role", [Role.member, Role.viewer])
def test_members_and_viewers_cannot_list(client, factory, role):
    assert_problem(client.get(URL, headers=factory.bearer(factory.user(role))), 403)


def test_list_pages(client, factory, admin, admin_headers):
    for _ in range(3):
        factory.user()
    seen: list[int] = []
    url = f"{URL}?limit=2"
    while True:
        r = client.get(url, headers=admin_headers)
        assert r.status_code == 200
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [u["id"] for u in page["items"]]
        if not page["next_cursor"]:
            break
        url = f"{URL}?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == 4


def test_reading_one_user(client, factory, admin_headers):
    lead = factory.user(Role.lead)
    member = factory.user(Role.member)
    other = factory.user(Role.member)
    assert client.get(f"{URL}/{member.id}", headers=factory.bearer(lead)).json()["id"] == member.id
    assert client.get(f"{URL}/{member.id}", headers=factory.bearer(member)).json()["id"] == member.id
    assert_problem(client.get(f"{URL}/{other.id}", headers=factory.bearer(member)), 403)
    assert_problem(client.get(f"{URL}/987654321", headers=admin_headers), 404)
    assert_problem(client.get(f"{URL}/not-a-number", headers=admin_headers), 422)


# --- update ---------------------------------------------------------------------------------------

def test_admin_updates_a_user(client, factory, admin_headers):
    user = factory.user(Role.member)
    r = client.patch(f"{URL}/{user.id}", headers=admin_headers,
                     json={"display_name": "Renamed", "role": "lead", "department": "legal"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["display_name"], body["role"], body["department"]) == ("Renamed", "lead", "legal")
    assert body["email"] == user.email
    assert client.get(f"{URL}/{user.id}", headers=admin_headers).json() == body
    # a lead may now list users (after logging in again: the role change ended the member's tokens)
    assert client.get(URL, headers=bearer_for(client, user.email, PASSWORD)).status_code == 200


def test_admin_resets_a_password(client, factory, admin_headers):
    user = factory.user()
    r = client.patch(f"{URL}/{user.id}", headers=admin_headers, json={"password": "a brand new password"})
    assert r.status_code == 200, r.text
    assert_401(api_login(client, user.email, PASSWORD))
    assert api_login(client, user.email, "a brand new password").status_code == 200


@pytest.mark.parametrize("role", [Role.lead, Role.member, Role.viewer])
def test_only_admins_update_users(client, factory, admin_headers, role):
    actor = factory.user(role)
    target = factory.user(Role.viewer)
    headers = factory.bearer(actor)
    assert_problem(client.patch(f"{URL}/{target.id}", headers=headers, json={"display_name": "Hacked"}), 403)
    # nor themselves into an administrator
    assert_problem(client.patch(f"{URL}/{actor.id}", headers=headers, json={"role": "admin"}), 403)
    assert client.get(f"{URL}/{target.id}", headers=admin_headers).json()["display_name"] == target.display_name
    assert client.get(f"{URL}/{actor.id}", headers=admin_headers).json()["role"] == role.value


@pytest.mark.parametrize("body", [
    {"email": "changed@example.com"},
    {"password": "short"},
    {"role": "superuser"},
    {"department": "no-such-dept"},
    {"display_name": None},
    {"role": None},
    {"is_active": None},
    {"is_active": "perhaps"},
])
def test_bad_update_is_422(client, factory, admin_headers, body):
    user = factory.user()
    before = client.get(f"{URL}/{user.id}", headers=admin_headers).json()
    problem = assert_problem(client.patch(f"{URL}/{user.id}", headers=admin_headers, json=body), 422)
    assert "errors" not in problem or all("loc" in e for e in problem["errors"])
    assert client.get(f"{URL}/{user.id}", headers=admin_headers).json() == before


def test_update_unknown_user_is_404(client, admin_headers):
    assert_problem(client.patch(f"{URL}/987654321", headers=admin_headers, json={"display_name": "x"}), 404)


@pytest.mark.parametrize("body", [{"role": "lead"}, {"role": "member"}, {"role": "viewer"}, {"is_active": False},
                                  {"role": "member", "is_active": True}])
def test_admin_cannot_demote_or_disable_self(client, admin, admin_headers, body):
    r = client.patch(f"{URL}/{admin.id}", headers=admin_headers, json=body)
    assert r.status_code in (403, 409, 422)
    assert_problem(r, r.status_code)
    me = client.get(f"{URL}/me", headers=admin_headers)
    assert me.status_code == 200
    assert me.json()["role"] == "admin" and me.json()["is_active"] is True


def test_admin_may_edit_own_name(client, admin, admin_headers):
    r = client.patch(f"{URL}/{admin.id}", headers=admin_headers, json={"display_name": "Boss", "role": "admin"})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Boss"


def test_one_admin_may_demote_another(client, factory, admin_headers):
    other = factory.user(Role.admin)
    r = client.patch(f"{URL}/{other.id}", headers=admin_headers, json={"role": "member"})
    assert r.status_code == 200
    assert r.json()["role"] == "member"


def test_disabled_user_token_stops_working(client, factory, admin_headers):
    user = factory.user(Role.lead)
    headers = factory.bearer(user)
    assert client.get(f"{URL}/me", headers=headers).status_code == 200
    r = client.patch(f"{URL}/{user.id}", headers=admin_headers, json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert_401(client.get(f"{URL}/me", headers=headers))
    assert_401(client.get(URL, headers=headers))
    assert_401(api_login(client, user.email, PASSWORD))
    # re-enabled, the token from before stays ended (tests/test_sessions_end.py); a new login works
    assert client.patch(f"{URL}/{user.id}", headers=admin_headers, json={"is_active": True}).status_code == 200
    assert_401(client.get(f"{URL}/me", headers=headers))
    assert client.get(f"{URL}/me", headers=bearer_for(client, user.email, PASSWORD)).status_code == 200


# --- audit ----------------------------------------------------------------------------------------

def test_creating_and_updating_a_user_is_audited(client, session, admin, admin_headers):
    created = client.post(URL, json=new_user(), headers=admin_headers).json()
    r = client.patch(f"{URL}/{created['id']}", headers=admin_headers,
                     json={"display_name": "Changed Name", "role": "viewer", "password": "another good password"})
    assert r.status_code == 200
    session.expire_all()
    records = history(session, "user", created["id"])  # newest first
    assert [r.action for r in records] == ["update", "create"]
    update, create = records
    for rec in records:
        assert rec.actor_id == admin.id
        assert rec.actor_label == admin.email
        assert rec.at is not None
        text = repr(rec.before) + repr(rec.after)
        assert "password" not in text and "argon2" not in text
    assert create.before is None
    assert create.after["email"] == created["email"]
    assert create.after["display_name"] == "New Person"
    assert create.after["role"] == "member"
    assert update.before["display_name"] == "New Person" and update.before["role"] == "member"
    assert update.after["display_name"] == "Changed Name" and update.after["role"] == "viewer"


def test_refused_changes_are_not_audited(client, session, factory, admin_headers):
    user = factory.user()
    member_headers = factory.bearer(factory.user())
    client.patch(f"{URL}/{user.id}", headers=member_headers, json={"display_name": "x"})
    client.patch(f"{URL}/{user.id}", headers=admin_headers, json={"department": "no-such-dept"})
    session.expire_all()
    assert [r.action for r in history(session, "user", user.id)] == ["create"]


# --- the shell ------------------------------------------------------------------------------------

@pytest.fixture
def cli_database(tmp_path):  # noqa: ANN001, ANN201
    """A migrated SQLite database the CLI is pointed at; everything is put back afterwards."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    saved_url, saved_engine = os.environ.get("DATABASE_URL"), core_db._engine
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    core_db.set_engine(None)
    try:
        yield url
    finally:
        if core_db._engine is not None and core_db._engine is not saved_engine:
            core_db._engine.dispose()
        if saved_url is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved_url
        get_settings.cache_clear()
        core_db.set_engine(saved_engine)


def cli_users(url: str) -> list[User]:
    engine = core_db.make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            return list(s.exec(select(User)))
    finally:
        engine.dispose()


def test_create_user_from_the_shell(cli_database, capsys):
    cli.main(["create-user", "--email", "Root@Example.com", "--password", "shell password 123", "--role", "admin"])
    out = capsys.readouterr().out
    assert "root@example.com" in out.lower()
    assert "admin" in out
    [user] = cli_users(cli_database)
    assert user.email_norm == "root@example.com"
    assert user.role == Role.admin and user.is_active
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password("shell password 123", user.password_hash)
    assert not verify_password("shell password 12", user.password_hash)


@pytest.mark.parametrize("args", [
    ["--email", "ROOT@example.com", "--password", "another password"],  # taken, in any case
    ["--email", "short@example.com", "--password", "short"],
    ["--email", "not-an-email", "--password", "long enough password"],
    ["--email", "dept@example.com", "--password", "long enough password", "--department", "nope"],
])
def test_create_user_from_the_shell_refuses_bad_input(cli_database, args):
    engine = core_db.make_engine(cli_database)
    try:
        with Session(engine) as s:
            s.add(User(email="root@example.com", email_norm="root@example.com", display_name="Root",
                       role=Role.admin, password_hash=hash_password("shell password 123")))
            s.commit()
    finally:
        engine.dispose()
    with pytest.raises(SystemExit) as exc:
        cli.main(["create-user", *args])
    assert exc.value.code not in (0, None)
    assert isinstance(exc.value.code, str) and exc.value.code.startswith("procopt:")
    assert [u.email_norm for u in cli_users(cli_database)] == ["root@example.com"]


def test_create_user_from_the_shell_rejects_an_unknown_role(cli_database):
    with pytest.raises(SystemExit) as exc:
        cli.main(["create-user", "--email", "x@example.com", "--password", "long enough password",
                  "--role", "superuser"])
    assert exc.value.code not in (0, None)
    assert cli_users(cli_database) == []


# --- pages ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.lead, Role.member, Role.viewer])
def test_account_pages_are_for_admins_only(client, factory, role):
    target = factory.user(Role.member, email="secret.person@example.com")
    actor = factory.user(role)
    assert page_login(client, actor.email, PASSWORD).status_code == 303
    token, _ = csrf_tokens(client.get("/processes").text)
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{target.id}/edit"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "secret.person@example.com" not in r.text
    r = client.post(f"/admin/users/{target.id}/edit", follow_redirects=False,
                    data={"csrf_token": token, "display_name": "Hacked", "role": "admin", "is_active": "on"})
    assert r.status_code == 403
    assert "secret.person@example.com" not in r.text
    r = client.post("/admin/users/new", follow_redirects=False, data={
        "csrf_token": token, "email": "made.by.page@example.com", "display_name": "X", "role": "admin",
        "password": "long enough password"})
    assert r.status_code == 403
    admin_headers = factory.bearer(factory.user(Role.admin))
    assert client.get(f"{URL}/{target.id}", headers=admin_headers).json()["display_name"] != "Hacked"
    emails = [u["email"] for u in client.get(URL, headers=admin_headers).json()["items"]]
    assert "made.by.page@example.com" not in emails
