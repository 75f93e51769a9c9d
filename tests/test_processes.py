"""The process registry API: `/api/v1/processes`.

Users here are inserted directly (no password hashing): the API is called with Bearer tokens.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import random
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.audit import AuditRecord
from app.core.config import get_settings
from app.core.errors import PreconditionFailed
from app.processes.models import Process, ProcessStatus
from app.processes.schemas import ProcessPage, ProcessUpdate
from app.processes.service import update_process
from app.users.models import Role, User
from tests.factories import Factory
from tests.helpers import wait_until_blocked

API = "/api/v1/processes"
PROBLEM = "application/problem+json"
_n = itertools.count(1)


def person(factory: Factory, role: Role = Role.member, *, active: bool = True) -> User:
    """An account without a usable password (cheap: no argon2)."""
    depts = factory.departments()
    n = next(_n)
    user = User(email=f"api{n}@example.com", email_norm=f"api{n}@example.com", display_name=f"Api {n}",
                department_id=depts["operations"].id, role=role, password_hash="!", is_active=active)
    factory.session.add(user)
    factory.session.flush()
    return user


def count(session: Session, model: type = Process) -> int:
    return session.exec(select(sa.func.count()).select_from(model)).one()


def assert_problem(r, status: int) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status
    return body


def payload(**fields: object) -> dict:
    data = {"code": "YH-LC01", "name": "用户注册流程", "description": "Sign-up, e-mail check, activation",
            "owner_department": "operations", "departments": ["technology", "operations"]}
    data.update(fields)
    return data


# --- create ---------------------------------------------------------------------------------------


def test_create_returns_201_with_location_and_etag(client, factory, session):
    member = person(factory)
    r = client.post(API, json=payload(), headers=factory.bearer(member))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "YH-LC01" and body["name"] == "用户注册流程"
    assert body["owner"] == {"id": member.id, "display_name": member.display_name}
    assert body["owner_department"] == "operations"
    assert body["departments"] == ["operations", "technology"]
    assert body["status"] == "active" and body["version"] == 1
    assert r.headers["Location"] == f"{API}/{body['id']}"
    assert r.headers["ETag"]

    again = client.get(r.headers["Location"], headers=factory.bearer(member))
    assert again.status_code == 200
    assert again.json() == body
    assert again.headers["ETag"] == r.headers["ETag"]
    assert count(session) == 1


def test_code_is_unique_case_insensitively(client, factory, session):
    member = person(factory)
    assert client.post(API, json=payload(code="YH-LC01"), headers=factory.bearer(member)).status_code == 201
    r = client.post(API, json=payload(code="yh-lc01", name="Other"), headers=factory.bearer(member))
    body = assert_problem(r, 409)
    assert [e["field"] for e in body["errors"]] == ["code"]
    assert count(session) == 1


def test_create_trims_whitespace(client, factory):
    r = client.post(API, json=payload(code="  YH-LC07 ", name="  Trimmed  "), headers=factory.bearer(person(factory)))
    assert r.status_code == 201
    assert (r.json()["code"], r.json()["name"]) == ("YH-LC07", "Trimmed")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"code": "YH LC01"}, "code"),
        ({"code": "-YH"}, "code"),
        ({"code": "Y" * 41}, "code"),
        ({"code": "流程01"}, "code"),
        ({"owner_department": "nowhere"}, "owner_department"),
        ({"departments": ["operations", "nowhere"]}, "departments"),
        ({"version": 3}, "version"),
    ],
)
def test_create_rejects_invalid_input_and_writes_nothing(client, factory, session, fields, field):
    member = person(factory)
    before = (count(session), count(session, AuditRecord))
    r = client.post(API, json=payload(**fields), headers=factory.bearer(member))
    body = assert_problem(r, 422)
    assert field in [e["field"] for e in body["errors"]]
    assert (count(session), count(session, AuditRecord)) == before


def test_create_without_code_or_name_is_422(client, factory, session):
    r = client.post(API, json={"departments": []}, headers=factory.bearer(person(factory)))
    body = assert_problem(r, 422)
    assert {"code", "name"} <= {e["field"] for e in body["errors"]}
    assert count(session) == 0


# --- list: filters and search ---------------------------------------------------------------------


def codes(r) -> list[str]:  # noqa: ANN001
    assert r.status_code == 200, r.text
    return [p["code"] for p in r.json()["items"]]


def test_filter_by_status_and_department(client, factory):
    owner = person(factory)
    factory.process(owner, code="A-1", owner_department="legal", departments=[])
    factory.process(owner, code="A-2", owner_department="operations", departments=["legal", "finance"])
    factory.process(owner, code="A-3", owner_department="technology", departments=["technology"])
    factory.process(owner, code="A-4", owner_department=None, departments=[])
    auth = factory.bearer(owner)
    assert client.post(f"{API}/{_id(client, auth, 'A-3')}/archive", headers=auth).status_code == 200

    assert codes(client.get(API, headers=auth)) == ["A-1", "A-2", "A-3", "A-4"]
    assert codes(client.get(API, params={"status": "active"}, headers=auth)) == ["A-1", "A-2", "A-4"]
    assert codes(client.get(API, params={"status": "archived"}, headers=auth)) == ["A-3"]
    # owning or involved
    assert codes(client.get(API, params={"department": "legal"}, headers=auth)) == ["A-1", "A-2"]
    assert codes(client.get(API, params={"department": "finance"}, headers=auth)) == ["A-2"]
    assert codes(client.get(API, params={"department": "technology", "status": "active"}, headers=auth)) == []
    # an unknown department matches nothing (not the processes without an owning department)
    assert codes(client.get(API, params={"department": "nowhere"}, headers=auth)) == []
    assert_problem(client.get(API, params={"status": "deleted"}, headers=auth), 422)


def test_list_items_have_the_shape_of_a_read(client, factory):
    """The list is serialised from its query's rows without a model: each item must equal the process read
    on its own (which goes through `ProcessRead`) and the page must validate as a `ProcessPage`."""
    owner = person(factory)
    factory.process(owner, code="S-1", owner_department="legal", departments=["technology", "finance", "legal"])
    factory.process(owner, code="S-2", owner_department=None, departments=[])
    auth = factory.bearer(owner)
    page = client.get(API, headers=auth).json()
    assert ProcessPage.model_validate(page).next_cursor is None
    assert [p["departments"] for p in page["items"]] == [["finance", "legal", "technology"], []]
    assert [p["owner_department"] for p in page["items"]] == ["legal", None]
    for item in page["items"]:
        assert item == client.get(f"{API}/{item['id']}", headers=auth).json()
        assert item["owner"] == {"id": owner.id, "display_name": owner.display_name}


def _id(client, auth, code: str) -> int:  # noqa: ANN001
    r = client.get(API, params={"q": code}, headers=auth)
    return next(p["id"] for p in r.json()["items"] if p["code"] == code)


@pytest.fixture
def searchable(factory):  # noqa: ANN201
    owner = person(factory)
    for code, name in [("YH-LC01", "用户注册流程"), ("YH-LC02", "Invoice 100% Check"),
                       ("YH-LC03", "under_score name"), ("AB-X9", "Ruse"), ("CD.20", "Back\\slash")]:
        factory.process(owner, code=code, name=name)
    return factory.bearer(owner)


SEARCHES = [
    ("lc0", ["YH-LC01", "YH-LC02", "YH-LC03"]),  # code, case-insensitive
    ("yh-LC02", ["YH-LC02"]),
    ("invoice", ["YH-LC02"]),  # name, case-insensitive
    ("CHECK", ["YH-LC02"]),
    ("注册", ["YH-LC01"]),  # Chinese name
    ("用户注册流程", ["YH-LC01"]),
    ("%", ["YH-LC02"]),  # LIKE wildcards are literal
    ("100%", ["YH-LC02"]),
    ("_", ["YH-LC03"]),
    ("r_s", ["YH-LC03"]),  # unescaped, `_` would also match "Ruse"
    ("\\", ["CD.20"]),
    (".2", ["CD.20"]),
    ("  x9 ", ["AB-X9"]),
    ("nothing like it", []),
]


def test_text_search(client, searchable):
    for q, expected in SEARCHES:
        assert codes(client.get(API, params={"q": q}, headers=searchable)) == expected, q


def test_search_combines_with_filters(client, factory, searchable):
    lc02 = _id(client, searchable, "YH-LC02")
    assert client.post(f"{API}/{lc02}/archive", headers=searchable).status_code == 200
    assert codes(client.get(API, params={"q": "lc", "status": "active"}, headers=searchable)) == ["YH-LC01", "YH-LC03"]


# --- list: sorting and keyset paging --------------------------------------------------------------

SORTS = ["code", "-code", "name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]
NAMES = ["alpha", "Beta", "gamma", "ALPHA", "beta", "delta", "Alpha", "epsilon", "流程", "Gamma"]
BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def many(factory, session):  # noqa: ANN201
    """23 processes with ties on every sort key but code, created in neither code nor name order."""
    owner = person(factory)
    numbers = list(range(1, 24))
    random.Random(7).shuffle(numbers)
    expected: list[dict] = []
    for i, n in enumerate(numbers):
        code = f"p-{n:02d}" if n % 2 else f"P-{n:02d}"
        p = factory.process(owner, code=code, name=NAMES[i % len(NAMES)], departments=[])
        created = BASE + timedelta(seconds=i % 4)  # ties: ids break them
        updated = BASE + timedelta(days=1, microseconds=(i * 7) % 5)
        p.created_at, p.updated_at = created, updated
        session.add(p)
        expected.append({"id": p.id, "code": code, "name": NAMES[i % len(NAMES)],
                         "created_at": created, "updated_at": updated})
    session.flush()
    return factory.bearer(owner), expected


def _expected_order(rows: list[dict], sort: str) -> list[int]:
    key = sort.lstrip("-")
    norm = {"code": str.upper, "name": str.casefold}.get(key, lambda v: v)
    ordered = sorted(rows, key=lambda r: (norm(r[key]), r["id"]), reverse=sort.startswith("-"))
    return [r["id"] for r in ordered]


def _next_link(r) -> str | None:  # noqa: ANN001
    link = r.headers.get("Link")
    if link is None:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, link
    return m.group(1)


def _page_through(client, auth: dict, sort: str) -> list[int]:  # noqa: ANN001
    url: str | None = f"{API}?sort={sort}&limit=5"
    seen: list[int] = []
    pages = 0
    while url:
        r = client.get(url, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert 1 <= len(body["items"]) <= 5, sort
        seen += [p["id"] for p in body["items"]]
        link = _next_link(r)
        if body["next_cursor"] is None:
            assert link is None, sort
        else:
            query = parse_qs(urlsplit(link).query)
            assert query["cursor"] == [body["next_cursor"]]
            assert query["sort"] == [sort] and query["limit"] == ["5"]
        url = link
        assert pages <= 10, sort
    assert pages == math.ceil(len(seen) / 5), sort
    return seen


def test_keyset_paging_returns_every_process_once_in_order(client, many):
    """Follow `Link: rel=next` with limit 5 for every sort order (one data set for all: it is costly)."""
    auth, rows = many
    for sort in SORTS:
        assert _page_through(client, auth, sort) == _expected_order(rows, sort), sort


def test_exactly_full_page_has_no_next_cursor(client, many):
    auth, rows = many
    r = client.get(API, params={"limit": len(rows)}, headers=auth)
    assert len(r.json()["items"]) == len(rows)
    assert r.json()["next_cursor"] is None and "Link" not in r.headers
    r = client.get(API, params={"limit": len(rows) - 1}, headers=auth)
    assert r.json()["next_cursor"] is not None
    last = client.get(API, params={"limit": len(rows) - 1, "cursor": r.json()["next_cursor"]}, headers=auth)
    assert len(last.json()["items"]) == 1 and last.json()["next_cursor"] is None


def test_paging_keeps_the_filters(client, many):
    auth, rows = many
    wanted = sorted((r for r in rows if "alpha" in r["name"].casefold()), key=lambda r: (r["code"].upper(), r["id"]))
    first = client.get(API, params={"q": "ALPHA", "limit": 2}, headers=auth)
    second = client.get(_next_link(first), headers=auth)
    got = [p["code"] for p in first.json()["items"] + second.json()["items"]]
    assert got == [r["code"] for r in wanted][:4]


def test_limit_is_capped_at_page_size_max(client, factory, session):
    owner = person(factory)
    cap = get_settings().page_size_max
    assert cap == 200
    session.add_all(Process(code=f"B-{i:04d}", code_norm=f"B-{i:04d}", name=f"Bulk {i}", name_norm=f"bulk {i}",
                            owner_id=owner.id) for i in range(cap + 1))
    session.flush()
    r = client.get(API, params={"limit": 1000}, headers=factory.bearer(owner))
    assert r.status_code == 200
    assert len(r.json()["items"]) == cap and r.json()["next_cursor"] is not None
    assert len(client.get(API, params={"limit": 1000, "cursor": r.json()["next_cursor"]},
                          headers=factory.bearer(owner)).json()["items"]) == 1
    assert_problem(client.get(API, params={"limit": 0}, headers=factory.bearer(owner)), 422)


def _token(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("code", "not a cursor!"),
        ("code", "eyJrIjpb"),  # truncated JSON
        ("code", _token(["code", "id"])),
        ("code", _token({"k": ["code", "id"], "v": ["P-01"]})),
        ("code", _token({"k": ["code", "id"], "v": [17, 3]})),  # wrong value types
        ("code", _token({"k": ["code", "id"], "v": ["P-01", "3; drop table processes"]})),
        ("code", _token({"k": ["code", "id"], "v": [["P-01"], 3]})),
        ("name", _token({"k": ["name", "id"], "v": ["alpha", True]})),
        ("created_at", _token({"k": ["created_at", "id"], "v": ["yesterday", 3]})),
        ("created_at", _token({"k": ["created_at", "id"], "v": ["2026-03-01T08:00:00", 3]})),  # naive
        ("-updated_at", _token({"k": ["updated_at", "id"], "v": [1700000000, 3]})),
    ],
)
def test_bad_cursor_is_422(client, factory, sort, cursor):
    auth = factory.bearer(person(factory))
    body = assert_problem(client.get(API, params={"sort": sort, "cursor": cursor}, headers=auth), 422)
    assert "cursor" in body["detail"]


def test_cursor_from_another_sort_is_422(client, many):
    auth, _ = many
    pairs = [("code", "name"), ("name", "-created_at"), ("created_at", "updated_at"), ("updated_at", "code"),
             ("code", "-code"), ("-name", "name"), ("-updated_at", "updated_at")]  # the direction counts too
    for made_with, used_with in pairs:
        cursor = client.get(API, params={"sort": made_with, "limit": 3}, headers=auth).json()["next_cursor"]
        assert cursor
        assert_problem(client.get(API, params={"sort": used_with, "cursor": cursor}, headers=auth), 422)
        assert client.get(API, params={"sort": made_with, "cursor": cursor}, headers=auth).status_code == 200


# --- read, ETag and PATCH -------------------------------------------------------------------------


@pytest.fixture
def owned(client, factory):  # noqa: ANN201
    """A member, their process (as read through the API) and their credentials."""
    member = person(factory)
    auth = factory.bearer(member)
    r = client.post(API, json=payload(), headers=auth)
    assert r.status_code == 201
    return member, auth, r.json(), r.headers["ETag"]


def test_read_has_etag_and_404_for_unknown(client, owned):
    _, auth, process, etag = owned
    r = client.get(f"{API}/{process['id']}", headers=auth)
    assert r.status_code == 200 and r.headers["ETag"] == etag
    assert_problem(client.get(f"{API}/{process['id'] + 1000}", headers=auth), 404)


def test_patch_without_if_match_is_428(client, owned, session):
    _, auth, process, _ = owned
    r = client.patch(f"{API}/{process['id']}", json={"name": "New"}, headers=auth)
    assert_problem(r, 428)
    assert session.get(Process, process["id"]).name == process["name"]


def test_patch_with_right_etag_bumps_version_and_etag(client, owned):
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"
    r = client.patch(url, json={"name": "Registration v2", "departments": ["finance"]},
                     headers={**auth, "If-Match": etag})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Registration v2" and body["departments"] == ["finance"]
    assert body["version"] == process["version"] + 1
    assert body["code"] == process["code"] and body["description"] == process["description"]
    assert r.headers["ETag"] != etag
    read = client.get(url, headers=auth)
    assert read.headers["ETag"] == r.headers["ETag"] and read.json() == body
    assert read.json()["updated_at"] >= process["updated_at"]


def test_patch_with_stale_etag_is_412_and_changes_nothing(client, owned):
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"
    first = client.patch(url, json={"name": "First writer"}, headers={**auth, "If-Match": etag})
    assert first.status_code == 200
    r = client.patch(url, json={"name": "Second writer", "description": "lost?"}, headers={**auth, "If-Match": etag})
    assert_problem(r, 412)
    now = client.get(url, headers=auth).json()
    assert now == first.json()


def test_patch_with_another_records_etag_is_412(client, factory, owned):
    member, auth, process, _ = owned
    other = factory.process(member)
    r = client.patch(f"{API}/{process['id']}", json={"name": "x"},
                     headers={**auth, "If-Match": client.get(f"{API}/{other.id}", headers=auth).headers["ETag"]})
    assert_problem(r, 412)


def test_patch_keeps_some_departments_and_adds_others(client, owned):
    _, auth, process, etag = owned
    r = client.patch(f"{API}/{process['id']}", json={"departments": ["operations", "legal", "legal"]},
                     headers={**auth, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["departments"] == ["legal", "operations"]
    r = client.patch(f"{API}/{process['id']}", json={"departments": []},
                     headers={**auth, "If-Match": r.headers["ETag"]})
    assert r.json()["departments"] == []


def _joined_codes(connection: sa.Connection, process_id: int) -> str:
    return ",".join(connection.execute(sa.text(
        "SELECT d.code FROM process_departments pd JOIN departments d ON d.id = pd.department_id "
        "WHERE pd.process_id = :p ORDER BY d.code"), {"p": process_id}).scalars())


def test_the_rows_copy_of_the_department_codes_follows_every_change(client, connection, owned):
    """The list reads the involved departments from `processes.department_codes`, a copy of
    `process_departments` (the filter's table): create and every change keep the two the same."""
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"

    def copy() -> str:
        return connection.execute(sa.text("SELECT department_codes FROM processes WHERE id = :p"),
                                  {"p": process["id"]}).scalar_one()

    assert copy() == _joined_codes(connection, process["id"]) != ""
    for departments, expected in ((["technology", "finance", "legal"], "finance,legal,technology"),
                                  (["operations"], "operations"), ([], "")):
        r = client.patch(url, json={"departments": departments}, headers={**auth, "If-Match": etag})
        assert r.status_code == 200, r.text
        etag = r.headers["ETag"]
        assert copy() == _joined_codes(connection, process["id"]) == expected
        assert r.json()["departments"] == (expected.split(",") if expected else [])
    r = client.patch(url, json={"name": "renamed"}, headers={**auth, "If-Match": etag})  # untouched
    assert r.status_code == 200 and copy() == ""


@pytest.mark.parametrize(
    "change",
    [{"code": "YH-LC99"}, {"status": "archived"}, {"version": 9}, {"name": None}, {"description": None},
     {"departments": None}, {"owner_id": None}, {"name": ""}, {"owner_department": "nowhere"},
     {"departments": ["nowhere"]}, {"name": "fine", "departments": ["nowhere"]}],
)
def test_patch_rejects_invalid_changes(client, owned, change):
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"
    assert_problem(client.patch(url, json=change, headers={**auth, "If-Match": etag}), 422)
    r = client.get(url, headers=auth)
    assert r.json() == process and r.headers["ETag"] == etag


def test_patch_can_clear_the_owner_department(client, owned):
    _, auth, process, etag = owned
    r = client.patch(f"{API}/{process['id']}", json={"owner_department": None}, headers={**auth, "If-Match": etag})
    assert r.status_code == 200 and r.json()["owner_department"] is None


# --- archive / restore ----------------------------------------------------------------------------


def test_archive_and_restore(client, owned):
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"
    r = client.post(f"{url}/archive", headers=auth)  # If-Match is optional
    assert r.status_code == 200
    assert r.json()["status"] == "archived" and r.json()["version"] == process["version"] + 1
    assert r.headers["ETag"] != etag
    assert [p["id"] for p in client.get(API, params={"status": "archived"}, headers=auth).json()["items"]] == [
        process["id"]]
    # archiving again changes nothing
    again = client.post(f"{url}/archive", headers=auth)
    assert again.status_code == 200 and again.json()["version"] == r.json()["version"]

    restored = client.post(f"{url}/restore", headers={**auth, "If-Match": r.headers["ETag"]})
    assert restored.status_code == 200
    assert restored.json()["status"] == "active" and restored.json()["version"] == process["version"] + 2


def test_archive_and_restore_honour_a_stale_if_match(client, owned):
    _, auth, process, etag = owned
    url = f"{API}/{process['id']}"
    moved = client.patch(url, json={"name": "moved on"}, headers={**auth, "If-Match": etag})
    assert moved.status_code == 200
    assert_problem(client.post(f"{url}/archive", headers={**auth, "If-Match": etag}), 412)
    assert client.get(url, headers=auth).json()["status"] == "active"
    archived = client.post(f"{url}/archive", headers={**auth, "If-Match": moved.headers["ETag"]})
    assert archived.status_code == 200
    assert_problem(client.post(f"{url}/restore", headers={**auth, "If-Match": moved.headers["ETag"]}), 412)
    assert client.get(url, headers=auth).json()["status"] == "archived"


def test_archive_unknown_is_404(client, owned):
    _, auth, process, _ = owned
    assert_problem(client.post(f"{API}/{process['id'] + 1000}/archive", headers=auth), 404)


# --- authorization --------------------------------------------------------------------------------


def test_viewer_reads_only(client, factory, session):
    viewer, member = person(factory, Role.viewer), person(factory)
    p = factory.process(member)
    auth = factory.bearer(viewer)
    assert client.get(API, headers=auth).status_code == 200
    r = client.get(f"{API}/{p.id}", headers=auth)
    assert r.status_code == 200
    etag = r.headers["ETag"]
    before = count(session)
    assert_problem(client.post(API, json=payload(), headers=auth), 403)
    assert_problem(client.patch(f"{API}/{p.id}", json={"name": "v"}, headers={**auth, "If-Match": etag}), 403)
    assert_problem(client.post(f"{API}/{p.id}/archive", headers=auth), 403)
    assert_problem(client.post(f"{API}/{p.id}/restore", headers=auth), 403)
    assert_problem(client.get(f"{API}/{p.id}/history", headers=auth), 403)
    assert count(session) == before
    session.refresh(p)
    assert (p.name, p.status, p.version) == (r.json()["name"], ProcessStatus.active, 1)


def test_member_edits_own_but_not_anothers(client, factory, session):
    alice, bob = person(factory), person(factory)
    mine, theirs = factory.process(alice), factory.process(bob)
    auth = factory.bearer(alice)

    def etag(pid: int) -> str:
        return client.get(f"{API}/{pid}", headers=auth).headers["ETag"]

    assert client.patch(f"{API}/{mine.id}", json={"name": "mine"},
                        headers={**auth, "If-Match": etag(mine.id)}).status_code == 200
    assert_problem(client.patch(f"{API}/{theirs.id}", json={"name": "theirs"},
                                headers={**auth, "If-Match": etag(theirs.id)}), 403)
    assert_problem(client.post(f"{API}/{theirs.id}/archive", headers=auth), 403)
    assert_problem(client.get(f"{API}/{mine.id}/history", headers=auth), 403)
    # a member may not hand a process to someone else, nor create one for someone else
    assert_problem(client.patch(f"{API}/{mine.id}", json={"name": "handed over", "owner_id": bob.id},
                                headers={**auth, "If-Match": etag(mine.id)}), 403)
    assert_problem(client.post(API, json=payload(owner_id=bob.id), headers=auth), 403)
    r = client.post(API, json=payload(owner_id=alice.id), headers=auth)
    assert r.status_code == 201 and r.json()["owner"]["id"] == alice.id
    session.refresh(theirs)
    session.refresh(mine)
    assert (theirs.version, theirs.status) == (1, ProcessStatus.active)
    assert (mine.name, mine.owner_id, mine.version) == ("mine", alice.id, 2)  # the refused PATCH left nothing


@pytest.mark.parametrize("role", [Role.lead, Role.admin])
def test_leads_and_admins_edit_anything_and_assign_owners(client, factory, role):
    boss, member, inactive = person(factory, role), person(factory), person(factory, active=False)
    p = factory.process(member)
    factory.session.flush()  # the factory leaves the audit record of the creation unflushed
    auth = factory.bearer(boss)
    url = f"{API}/{p.id}"
    etag = client.get(url, headers=auth).headers["ETag"]
    r = client.patch(url, json={"name": "by the boss", "owner_id": boss.id}, headers={**auth, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["owner"]["id"] == boss.id and r.json()["name"] == "by the boss"
    assert client.post(f"{url}/archive", headers=auth).json()["status"] == "archived"
    assert client.post(f"{url}/restore", headers=auth).json()["status"] == "active"
    created = client.post(API, json=payload(owner_id=member.id), headers=auth)
    assert created.status_code == 201 and created.json()["owner"]["id"] == member.id
    # the owner must be an active account
    assert_problem(client.post(API, json=payload(code="YH-LC02", owner_id=inactive.id), headers=auth), 422)
    assert_problem(client.post(API, json=payload(code="YH-LC03", owner_id=10**6), headers=auth), 422)
    history = client.get(f"{url}/history", headers=auth)
    assert history.status_code == 200
    assert [h["action"] for h in history.json()] == ["restore", "archive", "update", "create"]


def test_history_of_unknown_process_is_404_for_admins(client, factory):
    assert_problem(client.get(f"{API}/999999/history", headers=factory.bearer(person(factory, Role.admin))), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", ""), ("POST", ""), ("GET", "/1"), ("PATCH", "/1"), ("POST", "/1/archive"),
     ("POST", "/1/restore"), ("GET", "/1/history")],
)
def test_unauthenticated_is_401(client, method, path):
    r = client.request(method, API + path, json={} if method in ("POST", "PATCH") else None)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == "Bearer"


def test_bad_bearer_is_401(client):
    assert_problem(client.get(API, headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(client.get(API, params={"limit": "0"}), 401)  # the caller before the query
    assert_problem(client.get(API, headers={"Authorization": "Bearer pco_unknown"}), 401)


def test_the_list_refuses_a_disabled_or_unknown_account(client, factory, session):
    """The list checks the caller's account like every endpoint (`CurrentActor`): Bearer and cookie."""
    member = person(factory)
    factory.process(person(factory), code="YH-LC60")
    auth = factory.bearer(member)
    client.cookies.set("procopt_session", auth["Authorization"].removeprefix("Bearer "))
    assert codes(client.get(API)) == codes(client.get(API, headers=auth)) == ["YH-LC60"]
    member.is_active = False
    session.add(member)
    session.flush()
    assert_problem(client.get(API, headers=auth), 401)
    assert_problem(client.get(API), 401)  # the cookie too
    client.cookies.clear()
    session.delete(member)
    session.flush()
    assert_problem(client.get(API, headers=auth), 401)


@pytest.mark.parametrize(("name", "value"), [("limit", "0"), ("limit", "many"), ("status", "deleted"),
                                             ("sort", "owner"), ("q", "x" * 201), ("department", "d" * 41)])
def test_list_query_errors_name_the_parameter(client, factory, name, value):
    problem = assert_problem(client.get(API, params={name: value}, headers=factory.bearer(person(factory))), 422)
    assert [(e["loc"], e["field"]) for e in problem["errors"]] == [(["query", name], name)]
    assert name in problem["detail"]


def test_the_list_documents_its_query_parameters(client):
    operation = client.get("/openapi.json").json()["paths"][API]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert list(parameters) == ["status", "department", "q", "sort", "limit", "cursor"]
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    assert parameters["status"]["schema"]["anyOf"][0]["enum"] == ["active", "archived"]
    assert "-updated_at" in parameters["sort"]["schema"]["enum"]
    assert parameters["sort"]["schema"]["default"] == "code"
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["q"]["description"] == "Text search in code and name"
    assert "$ref" not in json.dumps(operation["parameters"])  # inlined: valid without the model's $defs
    assert {"200", "403", "422"} <= set(operation["responses"])


def test_service_token_scopes(client, factory, session):
    admin = person(factory, Role.admin)
    factory.process(admin, code="YH-LC50")
    reader = {"Authorization": f"Bearer {factory.service_token(['read'], owner=admin)}"}
    writer = {"Authorization": f"Bearer {factory.service_token(['write'], owner=admin)}"}
    metrics = {"Authorization": f"Bearer {factory.service_token(['metrics:read'], owner=admin)}"}

    assert codes(client.get(API, headers=reader)) == ["YH-LC50"]
    before = count(session)
    assert_problem(client.post(API, json=payload(), headers=reader), 403)
    assert count(session) == before
    assert_problem(client.get(API, headers=metrics), 403)
    r = client.post(API, json=payload(code="YH-LC51"), headers=writer)
    assert r.status_code == 201 and r.json()["owner"]["id"] == admin.id
    assert_problem(client.get(API, headers=writer), 403)


# --- concurrent writers ---------------------------------------------------------------------------


@pytest.mark.usefixtures("committed_departments_removed")
def test_concurrent_changes_with_the_same_if_match_cannot_both_win(backend, engine):
    """Two changes made with the same version: the second waits for the first and then gets a 412, it
    does not overwrite the first (a lost update). Real transactions on PostgreSQL, cleaned up after."""
    if backend != "postgresql":
        pytest.skip("needs concurrent transactions (SQLite has a single writer)")
    tag = uuid.uuid4().hex[:8]
    with Session(engine, expire_on_commit=False) as s:
        factory = Factory(s)
        owner = person(factory, Role.admin)
        process = factory.process(owner, code=f"RACE-{tag}", name="original")
        s.commit()
    pid, owner_id = process.id, owner.id
    outcome: dict[str, object] = {}
    try:
        with Session(engine, expire_on_commit=False) as first:
            update_process(first, pid, ProcessUpdate(name="first"), first.get(User, owner_id), expected_version=1)
            first.flush()  # the row is now locked by this open transaction

            def second_writer() -> None:
                with Session(engine, expire_on_commit=False) as second:
                    try:
                        update_process(second, pid, ProcessUpdate(name="second"), second.get(User, owner_id),
                                       expected_version=1)
                        second.commit()
                        outcome["second"] = "committed"
                    except PreconditionFailed:
                        second.rollback()
                        outcome["second"] = 412

            thread = threading.Thread(target=second_writer)
            thread.start()
            wait_until_blocked(engine, thread, "processes")
            first.commit()
        thread.join(10)
        assert outcome == {"second": 412}
        with Session(engine) as s:
            final = s.get(Process, pid)
            assert (final.name, final.version) == ("first", 2)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(AuditRecord).where(AuditRecord.entity_type == "process",
                                                      AuditRecord.entity_id == pid))
            conn.execute(sa.text("DELETE FROM process_departments WHERE process_id = :p"), {"p": pid})
            conn.execute(sa.delete(Process).where(Process.id == pid))
            conn.execute(sa.delete(AuditRecord).where(AuditRecord.actor_id == owner_id))
            conn.execute(sa.delete(User).where(User.id == owner_id))
