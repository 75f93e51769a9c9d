"""Ids out of the database's range are a 422 naming the field, never a database error (500).

SQLite's integers are 64-bit and PostgreSQL's id columns 32-bit: before `app.core.ids.Id`, a number past
either reached the database, through a path, a body, a form or a cursor, and failed there.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.ids import INT_MAX
from app.users.models import Role
from tests.helpers import assert_problem
from tests.initiatives.factories import YH_STEPS, InitiativeFactory, add_issue, add_steps

TOO_BIG = [INT_MAX + 1, 10**20]
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """(method, path, names of its integer path parameters) of every route with one, API and pages."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.route
        if not isinstance(route, APIRoute):
            continue
        ints = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        found += [(method, ctx.path, ints) for method in sorted(ctx.methods or ()) if ints]
    return found


def _fill(path: str, ints: list[str], value: int, big: str) -> str:
    """`path` with `big` for the parameter named so, `value` for its other integers, "x" for the rest."""
    return PARAM.sub(lambda m: str(value) if m[1] == big else ("1" if m[1] in ints else "x"), path)


@pytest.mark.parametrize("value", TOO_BIG)
def test_every_id_in_a_path_is_bounded(app, client, factory, value):
    auth = factory.bearer(factory.user(Role.admin))
    routes = _routes(app)
    assert len(routes) > 150  # the sweep sees the API and the pages
    failures = []
    for method, path, ints in routes:
        for name in ints:
            url = _fill(path, ints, value, name)
            r = client.request(method, url, headers={**auth, "If-Match": '"1"'})
            if r.status_code != 422:
                failures.append((method, url, r.status_code))
            elif path.startswith("/api/"):
                locs = [e["loc"] for e in r.json()["errors"]]
                if ["path", name] not in locs:
                    failures.append((method, url, locs))
    assert not failures, failures


def test_openapi_shows_the_range(client):
    spec = client.get("/openapi.json").json()
    param = next(p for p in spec["paths"]["/api/v1/processes/{process_id}"]["get"]["parameters"]
                 if p["name"] == "process_id")
    assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, INT_MAX)


@pytest.mark.parametrize("value", TOO_BIG)
def test_ids_in_a_body_are_bounded(client, factory, value):
    """Id lists and single ids alike; nothing is written."""
    team = InitiativeFactory(factory.session, factory).team()
    auth = factory.bearer(team.leader)
    url = f"/api/v1/initiatives/{team.initiative.id}"
    cases = [
        (f"{url}/research-records", {"method": "interview", "conducted_on": "2026-03-03", "participants": "A",
                                     "findings": "B", "step_ids": [value]}, ["body", "step_ids", "0"]),
        (f"{url}/issues", {"title": "Slow", "category": "efficiency", "source": "interview", "owner_id": value}, ["body", "owner_id"]),
        (f"{url}/raci/roles", {"name": "IT", "member_user_id": value}, ["body", "member_user_id"]),
        (f"{url}/raci/activities", {"name": "Check", "position": value}, ["body", "position"]),
    ]
    for path, body, loc in cases:
        problem = assert_problem(client.post(path, json=body, headers=auth), 422)
        assert loc in [e["loc"] for e in problem["errors"]], (path, problem)
    for path, *_ in cases[:2]:
        assert client.get(path, headers=auth).json()["items"] == []


def test_an_id_too_big_in_a_form_is_refused_inline(client, factory):
    team = InitiativeFactory(factory.session, factory).team()
    add_steps(factory.session, team.initiative, team.leader, YH_STEPS[:1])
    factory.session.flush()
    r = client.post(f"/initiatives/{team.initiative.id}/research",
                    headers={**factory.bearer(team.member), "HX-Request": "true"},
                    data={"method": "interview", "conducted_on": "2026-03-03", "participants": "Zhang Wei",
                          "findings": "Checks by hand", "step_ids": [str(INT_MAX + 1)]})
    assert r.status_code == 422, r.text
    assert 'class="field-error"' in r.text and "Zhang Wei" in r.text


def _cursor(keys: list[str], values: list[Any]) -> str:
    raw = json.dumps({"k": keys, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("values", [[10**20], [INT_MAX + 1], ["7"], [True], [None], [1.5]])
@pytest.mark.parametrize("url", ["/api/v1/users", "/api/v1/initiatives", "/api/v1/event-logs", "/api/v1/alerts"])
def test_an_id_cursor_out_of_range_or_type_is_422(client, factory, url, values):
    auth = factory.bearer(factory.user(Role.admin))
    body = assert_problem(client.get(url, params={"cursor": _cursor(["id"], values)}, headers=auth), 422)
    assert body["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("cursor", [
    (["conducted_on", "id"], ["2026-03-03", 10**20]),
    (["conducted_on", "id"], ["March", 3]),
    (["conducted_on", "id"], [20260303, 3]),
])
def test_a_dated_cursor_is_checked(client, factory, cursor):
    team = InitiativeFactory(factory.session, factory).team()
    url = f"/api/v1/initiatives/{team.initiative.id}/research-records"
    assert_problem(client.get(url, params={"cursor": _cursor(*cursor)}, headers=factory.bearer(team.member)), 422)


def test_ids_in_a_pages_query_are_bounded(client, factory):
    team = InitiativeFactory(factory.session, factory).team()
    issue = add_issue(factory.session, team.initiative, team.leader, title="Duplicate entry")
    factory.session.flush()
    auth = factory.bearer(team.member)
    ini = team.initiative.id
    for url, name in [(f"/issues/{issue.id}", "move"), (f"/issues/{issue.id}", "why"),
                      (f"/initiatives/{ini}/survey", "edit"), (f"/initiatives/{ini}/survey", "edit_record"),
                      (f"/initiatives/{ini}/measures", "issue"), (f"/initiatives/{ini}/measures", "edit")]:
        assert client.get(url, headers=auth).status_code == 200, url
        for value in TOO_BIG:
            assert client.get(url, params={name: value}, headers=auth).status_code == 422, (url, name, value)
    assert client.get(f"/issues/{issue.id}", params={"move": 0}, headers=auth).status_code == 200  # "Cancel"


@pytest.mark.parametrize("text", ["²", "١٢", str(INT_MAX + 1), "9" * 20])
def test_numbers_read_from_text_take_only_digits_in_range(client, factory, text):
    """Forms, queries and ETags that carry a number: "²" and "١٢" are digits to `str.isdigit()` but `int()`
    refuses "²" (a 500 before); too big a number is no id either. None of them is looked up."""
    member = factory.user(Role.member)
    auth = factory.bearer(member)
    process = factory.process(member)
    etag = f'"process-{process.id}-v{text}"'  # as a server reads header bytes: latin-1 ("²" is b"\xb2")
    r = client.patch(f"/api/v1/processes/{process.id}", json={"name": "Renamed"},
                     headers={**auth, "If-Match": etag.encode("latin-1" if etag.isascii() or text == "²" else "utf-8")})
    assert_problem(r, 412)
    assert client.get("/metrics", params={"process": text, "initiative": text}, headers=auth).status_code == 200
    files = {"file": ("log.csv", b"case,activity,timestamp\nc1,A,2026-03-02T09:00:00+08:00\n", "text/csv")}
    r = client.post("/event-logs", data={"process_id": text, "initiative_id": text}, files=files, headers=auth)
    assert r.status_code == 422 and "Choose a process." in r.text


def test_a_page_with_a_bad_id_says_so_in_the_readers_language(client, factory):
    auth = factory.bearer(factory.user(Role.member))
    r = client.get(f"/processes/{INT_MAX + 1}", headers=auth)
    assert r.status_code == 422 and "<html" in r.text and "This address is not valid" in r.text
    r = client.get(f"/processes/{INT_MAX + 1}", headers={**auth, "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "网址无效" in r.text and "Input should be" not in r.text
    r = client.get(f"/processes/{INT_MAX + 1}", headers={**auth, "HX-Request": "true"})
    assert r.status_code == 422 and "<html" not in r.text and r.headers["HX-Retarget"] == "#messages"
