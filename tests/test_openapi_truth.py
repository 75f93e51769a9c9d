"""The OpenAPI document says what the API does (#12, item 10): `If-Match` where a handler reads it, `ETag`
and `Link` where one is set, `application/problem+json` for every error (the 422 of validation too), and
the 405's `Allow` names every method of the path."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest

from app.core.openapi import PROBLEM_JSON
from app.users.models import Role
from tests.helpers import assert_problem
from tests.initiatives.factories import InitiativeFactory

# PATCH operations that change records without a version (RACI roles and activities have no `version`
# column; an account's PATCH is last-write-wins): they do not read If-Match, so the document does not
# claim it. Every other PATCH requires it.
UNVERSIONED_PATCHES = {
    "/api/v1/users/{user_id}",
    "/api/v1/initiatives/{initiative_id}/raci/roles/{role_id}",
    "/api/v1/initiatives/{initiative_id}/raci/activities/{activity_id}",
}


@pytest.fixture(scope="module")
def spec(app: Any) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]):  # noqa: ANN202
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _if_match(operation: dict[str, Any]) -> dict[str, Any] | None:
    return next((p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "If-Match"),
                None)


def _resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_versioned_patch_declares_a_required_if_match(spec):
    patches = {path: op for path, method, op in _operations(spec) if method == "patch"}
    assert len(patches) == 25
    assert set(patches) >= UNVERSIONED_PATCHES
    missing = [path for path, op in patches.items() if path not in UNVERSIONED_PATCHES
               and not (_if_match(op) or {}).get("required")]
    assert missing == []
    assert [path for path in UNVERSIONED_PATCHES if _if_match(patches[path])] == []


def test_operations_that_honour_if_match_declare_it_optional(spec):
    for path in ("/api/v1/processes/{process_id}/archive", "/api/v1/processes/{process_id}/restore",
                 "/api/v1/alerts/{alert_id}/acknowledge", "/api/v1/initiatives/{initiative_id}/advance"):
        parameter = _if_match(spec["paths"][path]["post"])
        assert parameter is not None and parameter["required"] is False, path
    assert _if_match(spec["paths"]["/api/v1/processes"]["post"]) is None


def test_what_the_document_says_of_if_match_is_what_the_api_does(client, factory):
    """A declared required If-Match is required (428); an unversioned PATCH works without one."""
    member = factory.user(Role.member)
    process = factory.process(member)
    auth = factory.bearer(member)
    url = f"/api/v1/processes/{process.id}"
    assert_problem(client.patch(url, json={"name": "Renamed"}, headers=auth), 428)
    etag = client.get(url, headers=auth).headers["ETag"]
    assert client.patch(url, json={"name": "Renamed"}, headers={**auth, "If-Match": etag}).status_code == 200

    team = InitiativeFactory(factory.session, factory).team()
    raci = f"/api/v1/initiatives/{team.initiative.id}/raci"
    lead = factory.bearer(team.leader)
    role = client.post(f"{raci}/roles", json={"name": "Clerk"}, headers=lead)
    assert role.status_code == 201, role.text
    r = client.patch(f"{raci}/roles/{role.json()['id']}", json={"name": "Senior clerk"}, headers=lead)
    assert r.status_code == 200, r.text


def test_every_error_response_is_problem_json(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    item = _resolve(spec, problem["properties"]["errors"]["items"]["$ref"])
    assert {"loc", "field", "message", "type"} <= set(item["properties"])
    wrong = []
    for path, method, operation in _operations(spec):
        if not path.startswith("/api/"):
            continue  # the probes answer JSON of their own
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        assert errors, f"{method} {path} declares no error"
        for code, response in errors.items():
            if set(response.get("content", {})) != {PROBLEM_JSON} or \
                    response["content"][PROBLEM_JSON]["schema"] != {"$ref": "#/components/schemas/Problem"}:
                wrong.append(f"{method.upper()} {path} {code}")
    assert wrong == []
    assert "HTTPValidationError" not in str(spec)


def test_operations_that_need_a_credential_declare_401(spec):
    missing = [f"{m} {p}" for p, m, op in _operations(spec)
               if p.startswith("/api/v1/") and op.get("security") != [] and "401" not in op["responses"]]
    assert missing == []


def test_a_real_422_is_what_the_schema_describes(client, factory, spec):
    auth = factory.bearer(factory.user(Role.member))
    body = assert_problem(client.post("/api/v1/processes", json={"code": "X"}, headers=auth), 422)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(body) <= set(problem["properties"]) and set(problem["required"]) <= set(body)
    item = spec["components"]["schemas"]["ProblemError"]
    assert body["errors"] and all(set(item["required"]) <= set(e) for e in body["errors"])
    assert "name" in {e["field"] for e in body["errors"]}


def test_etag_and_link_headers_are_declared(spec):
    read = spec["paths"]["/api/v1/processes/{process_id}"]
    assert "ETag" in read["get"]["responses"]["200"]["headers"]
    assert "ETag" in read["patch"]["responses"]["200"]["headers"]
    assert "ETag" in spec["paths"]["/api/v1/measures/{measure_id}"]["get"]["responses"]["200"]["headers"]
    for path in ("/api/v1/processes", "/api/v1/users", "/api/v1/initiatives", "/api/v1/kpis"):
        assert "Link" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path
    assert "headers" not in spec["paths"]["/api/v1/initiatives/{initiative_id}/measures"]["get"]["responses"]["200"]


def test_a_405_allows_every_method_of_the_path(client, factory, spec):
    process = factory.process()
    r = client.put(f"/api/v1/processes/{process.id}", json={}, headers=factory.bearer(factory.user(Role.admin)))
    assert_problem(r, 405)
    allowed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed
    assert allowed == {m.upper() for m in spec["paths"]["/api/v1/processes/{process_id}"]}
    r = client.delete("/api/v1/processes")
    assert r.status_code == 405 and {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "POST"}


def test_the_link_header_is_relative_and_ignores_the_host(client, factory):
    admin = factory.user(Role.admin)
    codes = {factory.process(admin, code=f"LNK-{n}").code for n in range(3)}
    auth = factory.bearer(admin)
    r = client.get("/api/v1/processes", params={"limit": 2, "q": "LNK"},
                   headers={**auth, "Host": "evil.example"})
    assert r.status_code == 200, r.text
    link = r.headers["Link"]
    assert "evil.example" not in link and "testserver" not in link
    target, rel = link.split(";", 1)
    assert rel.strip() == 'rel="next"' and target.startswith("</api/v1/processes?") and target.endswith(">")
    nxt = urljoin(str(r.request.url), target[1:-1])  # what a client does with it (RFC 3986, 5)
    assert nxt.startswith("http://testserver/api/v1/processes?limit=2&q=LNK&cursor=")
    follow = client.get(nxt, headers=auth)
    assert follow.status_code == 200, follow.text
    seen = [p["code"] for p in r.json()["items"]] + [p["code"] for p in follow.json()["items"]]
    assert sorted(seen) == sorted(codes) and "Link" not in follow.headers
