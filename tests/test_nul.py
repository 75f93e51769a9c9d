"""Text with the NUL character is refused with a 422 on both databases, whatever carries it.

PostgreSQL cannot store U+0000 in text or `jsonb` (it was a 500); SQLite could, so the rule is the same
on both. The check sits where values go to the database (`app.core.db`), so every field, form, search and
import meets it, and the unit of work leaves nothing half-written.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.core.audit import AuditRecord
from app.metrics.models import Observation
from app.processes.models import Process
from app.users.models import Role
from tests.helpers import assert_problem, fast_hashing  # noqa: F401 - a fixture
from tests.initiatives.factories import InitiativeFactory
from tests.metrics.helpers import bearer_token, make_kpi
from tests.test_process_pages import FORM, HTMX, login

NUL_TEXT = "Sign\x00up"


def _counts(session) -> tuple[int, int]:  # noqa: ANN001
    return (session.exec(select(sa.func.count()).select_from(Process)).one(),
            session.exec(select(sa.func.count()).select_from(AuditRecord)).one())


@pytest.mark.parametrize("field", ["name", "description"])
def test_api_refuses_nul_and_writes_nothing(client, factory, session, field):
    auth = factory.bearer(factory.user(Role.member))
    before = _counts(session)
    body = {"code": "YH-LC01", "name": "Sign-up", "owner_department": "technology", field: NUL_TEXT}
    problem = assert_problem(client.post("/api/v1/processes", json=body, headers=auth), 422)
    assert "NUL" in problem["detail"]
    assert _counts(session) == before
    assert client.post("/api/v1/processes", json={**body, field: "Sign-up"}, headers=auth).status_code == 201


def test_a_search_with_nul_is_422(client, factory):
    auth = factory.bearer(factory.user(Role.viewer))
    assert_problem(client.get("/api/v1/processes", params={"q": "a\x00"}, headers=auth), 422)
    assert client.get("/api/v1/processes", params={"q": "a"}, headers=auth).status_code == 200


@pytest.mark.usefixtures("fast_hashing")
def test_a_form_with_nul_is_refused_and_writes_nothing(client, factory, session):
    csrf = login(client, factory.user(Role.member))
    before = _counts(session)
    r = client.post("/processes/new", data={**FORM, "name": NUL_TEXT}, headers={**HTMX, "X-CSRF-Token": csrf})
    assert r.status_code == 422
    assert "NUL" in r.text and "<html" not in r.text
    r = client.post("/processes/new", data={**FORM, "name": NUL_TEXT},
                    headers={**HTMX, "X-CSRF-Token": csrf, "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "文本不能包含空字符" in r.text
    assert _counts(session) == before


def test_nul_inside_a_json_column_is_refused(client, factory, session):
    """Survey step systems are a JSON list (`jsonb` on PostgreSQL): JSON escapes NUL, the rule holds."""
    team = InitiativeFactory(factory.session, factory).team()
    url = f"/api/v1/initiatives/{team.initiative.id}/survey/steps"
    auth = factory.bearer(team.leader)
    step = {"name": "Check ID", "kind": "activity", "department": "operations", "role": "Clerk", "minutes": 5}
    problem = assert_problem(client.post(url, json={**step, "systems": ["CRM\x00"]}, headers=auth), 422)
    assert "NUL" in problem["detail"]
    assert client.get(url, headers=auth).json()["items"] == []
    assert client.post(url, json={**step, "systems": ["CRM"]}, headers=auth).status_code == 201


def test_an_import_with_nul_is_refused_whole(client, factory):
    """One cell with NUL refuses the whole file, naming its row (the 2nd event)."""
    member = factory.user(Role.member)
    process = factory.process(member)
    auth = factory.bearer(member)
    csv = "case,activity,timestamp\nc1,Register,2026-03-02T09:00:00+08:00\nc1,Re\x00view,2026-03-02T10:00:00+08:00\n"
    r = client.post("/api/v1/event-logs", data={"process_id": str(process.id)}, headers=auth,
                    files={"file": ("log.csv", csv.encode(), "text/csv")})
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["row"] == 2 and "NUL" in problem["errors"][0]["message"], problem
    assert client.get("/api/v1/event-logs", headers=auth).json()["items"] == []


@pytest.mark.parametrize(("row", "column", "said"), [
    ("Review,activity,operations,30,C\x00RM", "Systems used", "NUL"),
    ("Re\x0bview,activity,operations,30,CRM", "Current step", "U+000B"),  # any control character
])
def test_a_survey_import_with_nul_names_the_row_and_column(client, factory, row, column, said):
    team = InitiativeFactory(factory.session, factory).team()
    auth = factory.bearer(team.leader)
    url = f"/api/v1/initiatives/{team.initiative.id}/survey"
    table = ("Current step,Step type,Responsible department,Minutes,Systems used\n"
             f"Fill in form,activity,operations,5,CRM\n{row}\n")
    r = client.post(f"{url}/import", files={"file": ("table1.csv", table.encode())}, headers=auth)
    problem = assert_problem(r, 422)
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(3, column)], problem
    assert said in problem["errors"][0]["message"]
    assert client.get(f"{url}/steps", headers=auth).json()["items"] == []


def test_a_raci_import_with_nul_names_the_row(client, factory):
    team = InitiativeFactory(factory.session, factory).team()
    auth = factory.bearer(team.leader)
    url = f"/api/v1/initiatives/{team.initiative.id}/raci"
    before = client.get(url, headers=auth).json()
    for content, where, said in (("Activity,Ops\x00lead\nReview,R\n", (1, ""), "NUL"),
                                 ("Activity,Ops lead\nReview,A\nRe\x00view,R\n", (3, "Activity"), "NUL"),
                                 ("Activity,Ops lead\nReview,A\nRe\x01view,R\n", (3, "Activity"), "U+0001")):
        problem = assert_problem(client.post(f"{url}/import", files={"file": ("raci.csv", content.encode())},
                                             headers=auth), 422)
        assert [(e["row"], e["column"]) for e in problem["errors"]] == [where], problem
        assert said in problem["errors"][0]["message"]
    assert client.get(url, headers=auth).json() == before


@pytest.mark.parametrize(("cells", "field"), [("A,cr\x00m", "source"), ("A\x00,crm", "labels.team")])
def test_a_kpi_csv_with_nul_names_the_row_and_field(client, factory, session, cells, field):
    kpi = make_kpi(session, factory.user(Role.admin))
    session.flush()
    data = f"kpi,ts,value,team,source\n{kpi.code},2025-03-03T09:30:00Z,1,A,crm\n{kpi.code},2025-03-03T09:31:00Z,2,{cells}\n"
    r = client.post("/api/v1/observations/csv", content=data.encode(),
                    headers={**bearer_token(factory, ["metrics:write"]), "Content-Type": "text/csv"})
    problem = assert_problem(r, 422)
    assert [(e["row"], e["line"], e["field"]) for e in problem["errors"]] == [(2, 3, field)], problem
    assert "NUL" in problem["errors"][0]["message"]
    assert session.exec(select(sa.func.count()).select_from(Observation)).one() == 0  # not even row 1


def test_a_login_with_nul_is_a_422_not_a_500(client) -> None:
    """PostgreSQL's insertmanyvalues hands the check one dict of several rows: its values are checked, not
    its keys (the login's attempt rows let NUL through to the database: a 500 found by schemathesis)."""
    r = client.post("/api/v1/auth/token", data={"username": "a\x00b@example.com", "password": "x"})
    assert r.status_code == 422, r.text
