"""C0 control characters other than tab, line feed and carriage return (#12, item 4).

They are refused at input like NUL (`app.core.db`, where every value going to the database is checked):
a 422 whose `errors[]` names the field and the character, on both databases, nothing written. Text stored
before the rule (put here straight into the database with SQL, past the check) still exports: every XLSX
cell is written through `app.core.spreadsheets.cell_text`, which drops what a cell cannot hold (openpyxl
refused it, and the export was a 500 for good).
"""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.db import CONTROL_CHARACTERS, control_message, no_nul
from app.core.spreadsheets import cell_text
from app.metrics.models import Observation
from app.processes.models import Process
from app.users.models import Role
from tests.helpers import assert_problem, fast_hashing  # noqa: F401 - a fixture
from tests.initiatives.factories import YH_STEPS, InitiativeFactory, add_issue, add_steps
from tests.measures.helpers import add_measure
from tests.metrics.helpers import bearer_token, make_kpi
from tests.test_process_pages import FORM, HTMX, login

API = "/api/v1"
BODY = {"code": "YH-CC01", "name": "Sign-up", "owner_department": "technology"}


def _counts(session) -> tuple[int, int]:  # noqa: ANN001
    return (session.exec(select(sa.func.count()).select_from(Process)).one(),
            session.exec(select(sa.func.count()).select_from(AuditRecord)).one())


def test_the_rule_is_the_set_openpyxl_refuses():
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    every = [chr(c) for c in range(0x100)]
    assert [c for c in every if CONTROL_CHARACTERS.search(c)] == [c for c in every if ILLEGAL_CHARACTERS_RE.search(c)]
    assert [ord(c) for c in every if CONTROL_CHARACTERS.search(c)] == [*range(0, 9), 11, 12, *range(14, 32)]
    assert control_message("a\x01") == "contains a control character (U+0001), which cannot be stored"
    assert control_message("a\x00") == "contains the NUL character (U+0000), which cannot be stored"
    assert control_message("tab\tline\nreturn\r\n 中文\u3000\x7f\u0085") is None
    with pytest.raises(ValueError, match=r"U\+001B"):
        no_nul("esc\x1b")


@pytest.mark.parametrize(("field", "char"), [("name", "\x01"), ("description", "\x01"), ("name", "\x0b"),
                                             ("description", "\x1f"), ("name", "\x08")])
def test_api_create_refuses_a_control_character_naming_the_field(client, factory, session, field, char):
    auth = factory.bearer(factory.user(Role.member))
    before = _counts(session)
    problem = assert_problem(client.post(f"{API}/processes", json={**BODY, field: f"a{char}b"}, headers=auth), 422)
    assert "control characters" in problem["detail"]
    [error] = problem["errors"]
    assert error["field"] == field and error["loc"] == ["body", field], problem
    assert f"U+{ord(char):04X}" in error["message"] and error["type"] == "control_character"
    assert _counts(session) == before
    assert client.post(f"{API}/processes", json=BODY, headers=auth).status_code == 201


def test_api_update_refuses_a_control_character_naming_the_field(client, factory, session):
    member = factory.user(Role.member)
    process = factory.process(member)
    auth = factory.bearer(member)
    url = f"{API}/processes/{process.id}"
    etag = client.get(url, headers=auth).headers["ETag"]
    problem = assert_problem(client.patch(url, json={"name": "Re\x0bview"}, headers={**auth, "If-Match": etag}), 422)
    assert [(e["field"], "U+000B" in e["message"]) for e in problem["errors"]] == [("name", True)]
    assert client.get(url, headers=auth).json()["name"] == process.name


def test_tab_line_feed_and_carriage_return_are_kept(client, factory):
    auth = factory.bearer(factory.user(Role.member))
    text = "line one\r\nline two\tend\n\x7f\u0085 中\u3000文"
    r = client.post(f"{API}/processes", json={**BODY, "description": text}, headers=auth)
    assert r.status_code == 201, r.text
    assert client.get(f"{API}/processes/{r.json()['id']}", headers=auth).json()["description"] == text


def test_a_search_with_a_control_character_is_422(client, factory):
    auth = factory.bearer(factory.user(Role.viewer))
    problem = assert_problem(client.get(f"{API}/processes", params={"q": "a\x01"}, headers=auth), 422)
    assert "U+0001" in problem["errors"][0]["message"]
    assert client.get(f"{API}/processes", params={"q": "a\tb"}, headers=auth).status_code == 200


def test_a_control_character_inside_a_json_column_is_refused(client, factory):
    team = InitiativeFactory(factory.session, factory).team()
    url = f"{API}/initiatives/{team.initiative.id}/survey/steps"
    auth = factory.bearer(team.leader)
    step = {"name": "Check ID", "kind": "activity", "department": "operations", "role": "Clerk", "minutes": 5}
    problem = assert_problem(client.post(url, json={**step, "systems": ["CRM\x02"]}, headers=auth), 422)
    assert "control characters" in problem["detail"] and "U+0002" in problem["errors"][0]["message"]
    assert client.get(url, headers=auth).json()["items"] == []


@pytest.mark.usefixtures("fast_hashing")
def test_a_form_with_a_control_character_is_refused_in_the_readers_language(client, factory, session):
    csrf = login(client, factory.user(Role.member))
    before = _counts(session)
    r = client.post("/processes/new", data={**FORM, "name": "Sign\x01up"},
                    headers={**HTMX, "X-CSRF-Token": csrf, "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "文本不能包含控制字符" in r.text and "<html" not in r.text
    assert _counts(session) == before


def test_a_kpi_csv_label_names_the_row_and_field(client, factory, session):
    kpi = make_kpi(session, factory.user(Role.admin))
    session.flush()
    data = f"kpi,ts,value,team,source\n{kpi.code},2025-03-03T09:30:00Z,1,A\x01,crm\n"
    r = client.post(f"{API}/observations/csv", content=data.encode(),
                    headers={**bearer_token(factory, ["metrics:write"]), "Content-Type": "text/csv"})
    problem = assert_problem(r, 422)
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [(1, "labels.team")], problem
    assert "U+0001" in problem["errors"][0]["message"]
    assert session.exec(select(sa.func.count()).select_from(Observation)).one() == 0


# ---------------------------------------------------------------- text stored before the rule exports

def _poison(session, table: str, column: str, row_id: int, text: str) -> None:  # noqa: ANN001
    """Store `text` as it may have been stored before: a literal in the SQL, which the check (it reads the
    statement's parameters) does not see."""
    assert "'" not in text and ":" not in text
    session.execute(sa.text(f"UPDATE {table} SET {column} = '{text}' WHERE id = :id"), {"id": row_id})  # noqa: S608
    session.flush()


def _xlsx_values(response) -> list:  # noqa: ANN001
    assert response.status_code == 200, response.text
    workbook = load_workbook(io.BytesIO(response.content))
    return [v for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for v in row]


def test_cell_text_keeps_tab_line_feed_and_carriage_return():
    assert cell_text("a\x00b\x01c\x0bd\x0ce\x1ff\tg\nh\ri") == "abcdef\tg\nh\ri"
    assert cell_text(5) == 5 and cell_text(None) is None


def test_table_1_exports_text_stored_with_control_characters(client, factory, session):
    team = InitiativeFactory(factory.session, factory).team()
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS[:2])
    _poison(session, "survey_steps", "name", steps[0].id, "Check\x01ID")
    _poison(session, "processes", "name", team.initiative.process_id, "Sign\x1bup")
    department = session.execute(sa.text("SELECT id FROM departments WHERE code = 'operations'")).scalar_one()
    _poison(session, "departments", "name_en", department, "Oper\x0bations")
    _poison(session, "departments", "name_zh", department, "运营\x0b部")
    for lang in ("en", "zh_CN"):
        values = _xlsx_values(client.get(f"{API}/initiatives/{team.initiative.id}/survey/export",
                                         params={"format": "xlsx", "lang": lang}, headers=factory.bearer(team.leader)))
        assert "CheckID" in values and ("Operations" if lang == "en" else "运营部") in values
        assert any(isinstance(v, str) and v.endswith(" - Signup") for v in values)  # the title line
        texts = [v for v in values if isinstance(v, str)]
        assert not [v for v in texts if CONTROL_CHARACTERS.search(v)]


def test_table_2_exports_text_stored_with_control_characters(client, factory, session):
    team = InitiativeFactory(factory.session, factory).team()
    issue = add_issue(session, team.initiative, team.leader, title="Slow review", impact=5, urgency=5)
    measure = add_measure(session, team.initiative.id, team.leader, [issue.id])
    _poison(session, "measures", "goal", measure.id, "Faster\x02review")
    _poison(session, "issues", "title", issue.id, "Slow\x1freview")
    values = _xlsx_values(client.get(f"{API}/initiatives/{team.initiative.id}/measures/export",
                                     params={"format": "xlsx", "lang": "en"}, headers=factory.bearer(team.leader)))
    assert "Fasterreview" in values and "Slowreview" in values
    assert not [v for v in values if isinstance(v, str) and CONTROL_CHARACTERS.search(v)]


def test_the_raci_matrix_exports_text_stored_with_control_characters(client, factory, session):
    team = InitiativeFactory(factory.session, factory).team()
    auth = factory.bearer(team.leader)
    url = f"{API}/initiatives/{team.initiative.id}/raci"
    role = client.post(f"{url}/roles", json={"name": "Clerk"}, headers=auth)
    activity = client.post(f"{url}/activities", json={"name": "Review"}, headers=auth)
    assert role.status_code == activity.status_code == 201, (role.text, activity.text)
    _poison(session, "raci_activities", "name", activity.json()["id"], "a\x01")
    _poison(session, "raci_roles", "name", role.json()["id"], "Cl\x0cerk")
    for lang in ("en", "zh_CN"):
        values = _xlsx_values(client.get(f"{url}/export", params={"format": "xlsx", "lang": lang}, headers=auth))
        assert "a" in values and "Clerk" in values
        assert not [v for v in values if isinstance(v, str) and CONTROL_CHARACTERS.search(v)]
