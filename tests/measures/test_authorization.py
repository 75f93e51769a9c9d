"""Every measure endpoint: who may do what, as for the initiative's other content.

Team members edit; everyone else reads (viewers read only); administrators do everything. Another
team's member, a lead who is not on the team and a viewer get 403 on writes; no credentials get 401;
a read-only service token cannot write.
"""

from __future__ import annotations

import pytest

from tests.initiatives.factories import add_issue
from tests.measures.helpers import add_measure, body

EDIT, READ = "edit", "read"
ENDPOINTS: list[tuple[str, str, object, str]] = [
    ("GET", "/initiatives/{ini}/measures", None, READ),
    ("POST", "/initiatives/{ini}/measures", "new", EDIT),
    ("GET", "/initiatives/{ini}/measures/export?format=csv&lang=en", None, READ),
    ("GET", "/initiatives/{ini}/measures/export?format=xlsx", None, READ),
    ("GET", "/measures/{measure}", None, READ),
    ("PATCH", "/measures/{measure}", {"status": "in_progress"}, EDIT),
    ("DELETE", "/measures/{measure}", None, EDIT),
    ("GET", "/issues/{issue}/measures", None, READ),
]
IDS = [f"{m} {u}" for m, u, _, _ in ENDPOINTS]


@pytest.fixture
def objects(team, session):  # noqa: ANN001, ANN201
    issue = add_issue(session, team.initiative, team.leader, impact=4, urgency=4)
    measure = add_measure(session, team.initiative.id, team.leader, [issue.id])
    return {"ini": team.initiative.id, "issue": issue.id, "measure": measure.id}


def _call(client, method, url, data, objects, headers):  # noqa: ANN001, ANN202
    headers = dict(headers)
    if method == "PATCH":
        headers["If-Match"] = f'"measure-{objects["measure"]}-v1"'
    payload = body([objects["issue"]]) if data == "new" else data
    return client.request(method, "/api/v1" + url.format(**objects), json=payload, headers=headers)


@pytest.mark.parametrize(("method", "url", "data", "who"), ENDPOINTS, ids=IDS)
def test_unauthenticated_is_401(client, objects, method, url, data, who):  # noqa: ANN001
    r = _call(client, method, url, data, objects, {})
    assert r.status_code == 401, r.text


@pytest.mark.parametrize(("method", "url", "data", "who"), ENDPOINTS, ids=IDS)
def test_outsiders_are_refused_writes(client, factory, team, objects, method, url, data, who):  # noqa: ANN001
    refused = [team.outsider, team.other_lead, team.viewer] if who == EDIT else []
    for user in refused:
        r = _call(client, method, url, data, objects, factory.bearer(user))
        assert r.status_code == 403, (user.role, r.text)
        assert r.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(("method", "url", "data", "who"), ENDPOINTS, ids=IDS)
def test_allowed_callers_succeed(client, factory, team, objects, method, url, data, who):  # noqa: ANN001
    user = {READ: team.viewer, EDIT: team.it}[who]
    r = _call(client, method, url, data, objects, factory.bearer(user))
    assert r.status_code < 300, (method, url, r.status_code, r.text)


@pytest.mark.parametrize(("method", "url", "data", "who"), [e for e in ENDPOINTS if e[3] == EDIT],
                         ids=[i for i, e in zip(IDS, ENDPOINTS, strict=True) if e[3] == EDIT])
def test_read_tokens_may_not_write_and_admins_may(client, factory, team, objects, method, url, data, who):  # noqa: ANN001
    token = factory.service_token(["read"], owner=team.admin)
    r = _call(client, method, url, data, objects, {"Authorization": f"Bearer {token}"})
    assert r.status_code == 403, r.text
    r = _call(client, method, url, data, objects, factory.bearer(team.admin))
    assert r.status_code < 300, r.text


def test_read_token_may_read(client, factory, team, objects):  # noqa: ANN001
    token = factory.service_token(["read"], owner=team.admin)
    r = client.get(f"/api/v1/initiatives/{objects['ini']}/measures", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_unknown_measure_is_404(client, factory, team):  # noqa: ANN001
    assert client.get("/api/v1/measures/999999", headers=factory.bearer(team.leader)).status_code == 404
