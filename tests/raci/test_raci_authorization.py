"""Every RACI endpoint: who may do what (as for the initiative's other content).

Everyone signed in reads; the team's members (not viewers) and administrators write; another team's
member, a lead not on the team and a viewer get 403 on writes; no credentials get 401; a read-only
service token cannot write.
"""

from __future__ import annotations

import pytest

from tests.helpers import fill

EDIT, READ = "edit", "read"
CSV = "Activity,Operations manager\nManual review,A\n"
ENDPOINTS: list[tuple[str, str, object, str]] = [
    ("GET", "", None, READ),
    ("GET", "/check", None, READ),
    ("GET", "/export?format=csv", None, READ),
    ("GET", "/export?format=xlsx", None, READ),
    ("PUT", "/cells", {"activity_id": "{act}", "role_id": "{role}", "letters": "RA"}, EDIT),
    ("PUT", "/cells", {"cells": [{"activity_id": "{act}", "role_id": "{role}", "letters": "A"}]}, EDIT),
    ("POST", "/roles", {"name": "Compliance"}, EDIT),
    ("PATCH", "/roles/{role}", {"name": "Ops lead"}, EDIT),
    ("DELETE", "/roles/{role}", None, EDIT),
    ("POST", "/roles/reorder", {"ids": "{roles_rev}"}, EDIT),
    ("POST", "/activities", {"name": "Archive"}, EDIT),
    ("POST", "/activities/from-survey", None, EDIT),
    ("PATCH", "/activities/{act}", {"name": "Review"}, EDIT),
    ("DELETE", "/activities/{act}", None, EDIT),
    ("POST", "/activities/reorder", {"ids": "{acts_rev}"}, EDIT),
    ("POST", "/import", "file", EDIT),
]
IDS = [f"{m} {u or '/'} {i}" for i, (m, u, _, _) in enumerate(ENDPOINTS)]


@pytest.fixture
def objects(grid):  # noqa: ANN001, ANN201
    return {"ini": grid["ini"], "role": grid["roles"][0], "act": grid["acts"][0],
            "roles_rev": grid["roles"][::-1], "acts_rev": grid["acts"][::-1]}


def _call(client, method, url, body, objects, headers):  # noqa: ANN001, ANN202
    path = f"/api/v1/initiatives/{objects['ini']}/raci" + fill(url, objects)
    if body == "file":
        return client.request(method, path, files={"file": ("raci.csv", CSV.encode())}, headers=headers)
    return client.request(method, path, json=fill(body, objects) if body else None, headers=headers)


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_unauthenticated_is_401(client, objects, method, url, body, who):  # noqa: ANN001
    r = _call(client, method, url, body, objects, {})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_outsiders_and_viewers_cannot_write(client, factory, team, objects, method, url, body, who):  # noqa: ANN001
    for user in ([team.outsider, team.other_lead, team.viewer] if who == EDIT else []):
        r = _call(client, method, url, body, objects, factory.bearer(user))
        assert r.status_code == 403, (user.role, r.text)
        assert r.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(("method", "url", "body", "who"), ENDPOINTS, ids=IDS)
def test_allowed_callers_succeed(client, factory, team, objects, method, url, body, who):  # noqa: ANN001
    users = [team.viewer, team.outsider, team.member] if who == READ else [team.it]
    for user in users:
        r = _call(client, method, url, body, objects, factory.bearer(user))
        assert r.status_code < 300, (method, url, r.status_code, r.text)


@pytest.mark.parametrize(("method", "url", "body", "who"), [e for e in ENDPOINTS if e[3] == EDIT],
                         ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if e[3] == EDIT])
def test_admins_write_and_read_tokens_do_not(client, factory, team, objects, method, url, body, who):  # noqa: ANN001
    token = factory.service_token(["read"], owner=team.admin)
    r = _call(client, method, url, body, objects, {"Authorization": f"Bearer {token}"})
    assert r.status_code == 403, r.text
    r = _call(client, method, url, body, objects, factory.bearer(team.admin))
    assert r.status_code < 300, r.text


def test_read_token_reads(client, factory, team, objects):
    token = factory.service_token(["read"], owner=team.admin)
    r = _call(client, "GET", "", None, objects, {"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and len(r.json()["roles"]) == 3
