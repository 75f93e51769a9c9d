"""Service tokens: machine credentials created by administrators, hashed at rest, scoped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.auth.models import ServiceToken
from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import (  # noqa: F401
    assert_401,
    assert_problem,
    csrf_tokens,
    fast_hashing,
    page_login,
    sqlite_transaction,
)

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")
URL = "/api/v1/service-tokens"


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(factory):  # noqa: ANN001, ANN201
    return factory.user(Role.admin)


@pytest.fixture
def admin_headers(factory, admin):  # noqa: ANN001, ANN201
    return factory.bearer(admin)


def create(client, headers, **body):  # noqa: ANN001, ANN003, ANN201
    body.setdefault("name", "Power BI")
    body.setdefault("scopes", ["read"])
    return client.post(URL, json=body, headers=headers)


def test_create_returns_the_secret_once(client, admin, admin_headers, session):
    r = create(client, admin_headers, name="Power BI refresh", scopes=["metrics:read", "read"])
    assert r.status_code == 201, r.text
    body = r.json()
    secret = body["token"]
    assert secret.startswith("pco_")
    assert len(secret) >= 4 + 32  # plenty of randomness after the prefix
    assert body["name"] == "Power BI refresh"
    assert sorted(body["scopes"]) == ["metrics:read", "read"]
    assert body["created_by_id"] == admin.id
    assert body["revoked_at"] is None and body["last_used_at"] is None
    assert r.headers["location"].endswith(f"/{body['id']}")
    assert "no-store" in r.headers.get("cache-control", "")
    # not shown by the shown-once prefix
    assert body["prefix"] != secret and secret.startswith(body["prefix"])
    # the list never shows it
    listed = client.get(URL, headers=admin_headers)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert secret not in listed.text
    assert "token" not in listed.json()[0] and "token_hash" not in listed.json()[0]
    # two tokens never share a secret
    again = create(client, admin_headers).json()["token"]
    assert again != secret


def test_the_database_keeps_no_secret(client, admin_headers, session):
    body = create(client, admin_headers, scopes=["read"]).json()
    secret = body["token"]
    row = session.exec(sa.select(ServiceToken.__table__).where(ServiceToken.id == body["id"])).one()
    values = [str(v) for v in row._mapping.values() if v is not None]
    assert values
    assert not any(secret in v for v in values)
    assert not any(secret[4:] in v for v in values)  # nor the random part without the prefix
    # the token still works, so something verifiable was stored
    assert client.get("/api/v1/processes", headers=auth(secret)).status_code == 200


def test_revoke_stops_the_token(client, admin_headers):
    body = create(client, admin_headers, scopes=["read"]).json()
    secret = body["token"]
    assert client.get("/api/v1/processes", headers=auth(secret)).status_code == 200
    r = client.delete(f"{URL}/{body['id']}", headers=admin_headers)
    assert r.status_code == 204
    assert_401(client.get("/api/v1/processes", headers=auth(secret)))
    assert_401(client.get("/api/v1/users/me", headers=auth(secret)))
    listed = {t["id"]: t for t in client.get(URL, headers=admin_headers).json()}
    assert listed[body["id"]]["revoked_at"] is not None
    # revoking twice is harmless; an unknown id is 404
    assert client.delete(f"{URL}/{body['id']}", headers=admin_headers).status_code == 204
    assert_problem(client.delete(f"{URL}/987654321", headers=admin_headers), 404)


def test_last_used_at_is_recorded(client, admin_headers, session):
    body = create(client, admin_headers, scopes=["read"]).json()
    before = datetime.now(UTC)
    assert client.get("/api/v1/processes", headers=auth(body["token"])).status_code == 200
    after = datetime.now(UTC)
    listed = {t["id"]: t for t in client.get(URL, headers=admin_headers).json()}
    used = listed[body["id"]]["last_used_at"]
    assert used is not None
    used_at = datetime.fromisoformat(used.replace("Z", "+00:00"))
    assert used_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= used_at <= after + timedelta(seconds=1)


@pytest.mark.parametrize("path", ["/api/v1/processes", "/api/v1/departments"])
def test_last_use_is_written_at_most_once_a_minute(client, admin_headers, session, path):
    """The list and another endpoint, both through `load_actor`: the same rule."""
    body = create(client, admin_headers, scopes=["read"]).json()

    def used_at(ago: timedelta | None = None) -> datetime | None:
        if ago is not None:
            session.execute(sa.update(ServiceToken).where(ServiceToken.id == body["id"])
                            .values(last_used_at=datetime.now(UTC) - ago))
            session.flush()
        session.expire_all()
        return session.get(ServiceToken, body["id"]).last_used_at

    recent = used_at(timedelta(seconds=30))
    assert client.get(path, headers=auth(body["token"])).status_code == 200
    assert used_at() == recent  # within the minute: not written again
    stale = used_at(timedelta(minutes=2))
    assert client.get(path, headers=auth(body["token"])).status_code == 200
    assert datetime.now(UTC) - used_at() < timedelta(seconds=30) < datetime.now(UTC) - stale


def test_unknown_token_is_refused(client):
    assert_401(client.get("/api/v1/processes", headers=auth("pco_" + "x" * 43)))
    assert_401(client.get("/api/v1/processes", headers=auth("pco_")))


def test_read_scope(client, factory, admin, admin_headers):
    factory.process(owner=admin, code="ST-READ")
    secret = create(client, admin_headers, scopes=["read"]).json()["token"]
    r = client.get("/api/v1/processes", headers=auth(secret))
    assert r.status_code == 200
    assert [p["code"] for p in r.json()["items"]] == ["ST-READ"]
    r = client.post("/api/v1/processes", headers=auth(secret),
                    json={"code": "ST-W1", "name": "x", "owner_department": "operations"})
    assert_problem(r, 403)
    # the refused write left nothing behind
    codes = [p["code"] for p in client.get("/api/v1/processes", headers=admin_headers).json()["items"]]
    assert codes == ["ST-READ"]


def test_write_scope_can_write(client, admin_headers):
    secret = create(client, admin_headers, scopes=["read", "write"]).json()["token"]
    r = client.post("/api/v1/processes", headers=auth(secret),
                    json={"code": "ST-W2", "name": "x", "owner_department": "operations"})
    assert r.status_code == 201, r.text


def test_metrics_scope_cannot_use_processes(client, admin_headers):
    secret = create(client, admin_headers, scopes=["metrics:read"]).json()["token"]
    assert_problem(client.get("/api/v1/processes", headers=auth(secret)), 403)
    assert_problem(client.post("/api/v1/processes", headers=auth(secret),
                               json={"code": "ST-W3", "name": "x"}), 403)
    secret = create(client, admin_headers, scopes=["metrics:read", "metrics:write"]).json()["token"]
    assert_problem(client.get("/api/v1/processes", headers=auth(secret)), 403)


def test_service_token_cannot_administer(client, admin_headers):
    secret = create(client, admin_headers, scopes=["read", "write", "metrics:read", "metrics:write"]).json()["token"]
    headers = auth(secret)
    assert_problem(create(client, headers, scopes=["read"]), 403)
    assert_problem(client.get(URL, headers=headers), 403)
    assert_problem(client.post("/api/v1/users", headers=headers, json={
        "email": "machine-made@example.com", "display_name": "M", "password": "long enough pw"}), 403)
    first = client.get(URL, headers=admin_headers).json()[0]["id"]
    assert_problem(client.delete(f"{URL}/{first}", headers=headers), 403)
    assert client.get(URL, headers=admin_headers).json()[0]["revoked_at"] is None


@pytest.mark.parametrize("role", [Role.lead, Role.member, Role.viewer])
def test_non_admins_cannot_manage_tokens(client, factory, admin_headers, role):
    existing = create(client, admin_headers).json()
    headers = factory.bearer(factory.user(role))
    assert_problem(create(client, headers), 403)
    assert_problem(client.get(URL, headers=headers), 403)
    assert_problem(client.delete(f"{URL}/{existing['id']}", headers=headers), 403)
    assert [t["id"] for t in client.get(URL, headers=admin_headers).json()] == [existing["id"]]


def test_anonymous_cannot_manage_tokens(client):
    assert_401(client.get(URL))
    assert_401(client.post(URL, json={"name": "x", "scopes": ["read"]}))


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": ["admin"]},
    {"name": "x", "scopes": ["read", "everything"]},
    {"name": "x", "scopes": ["READ"]},
    {"name": "x", "scopes": []},
    {"name": "x", "scopes": "read"},
    {"name": "", "scopes": ["read"]},
    {"scopes": ["read"]},
    {"name": "x", "scopes": ["read"], "owner": 1},
    {"name": "x", "scopes": ["read"], "expires_at": "2000-01-01T00:00:00Z"},
    {"name": "x", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00"},
])
def test_invalid_input_gets_422(client, admin_headers, body):
    problem = assert_problem(client.post(URL, json=body, headers=admin_headers), 422)
    assert problem["errors"] and all("loc" in e for e in problem["errors"])
    assert client.get(URL, headers=admin_headers).json() == []


def test_expired_token_is_refused(client, admin_headers, session):
    soon = datetime.now(UTC) + timedelta(hours=1)
    body = create(client, admin_headers, scopes=["read"], expires_at=soon.isoformat()).json()
    returned = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(returned - soon) < timedelta(seconds=1)
    secret = body["token"]
    assert client.get("/api/v1/processes", headers=auth(secret)).status_code == 200
    session.execute(sa.update(ServiceToken).where(ServiceToken.id == body["id"])
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.flush()
    assert_401(client.get("/api/v1/processes", headers=auth(secret)))


def test_token_of_a_disabled_owner_stops_working(client, factory, admin_headers, session):
    owner = factory.user(Role.admin)
    secret = create(client, factory.bearer(owner), scopes=["read"]).json()["token"]
    assert client.get("/api/v1/processes", headers=auth(secret)).status_code == 200
    r = client.patch(f"/api/v1/users/{owner.id}", json={"is_active": False}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert_401(client.get("/api/v1/processes", headers=auth(secret)))


def test_tokens_page_shows_the_secret_once_uncached(client, factory, admin):
    assert page_login(client, admin.email, PASSWORD).status_code == 303
    header_token, _ = csrf_tokens(client.get("/admin/tokens").text)
    r = client.post("/admin/tokens", data={"name": "Page token", "scopes": ["read", "metrics:read"],
                                           "csrf_token": header_token})
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers.get("cache-control", "")
    [secret] = set(re.findall(r"pco_[A-Za-z0-9_-]{20,}", r.text))
    assert client.get("/api/v1/processes", headers=auth(secret)).status_code == 200
    assert secret not in client.get("/admin/tokens").text
