"""The RACI API: matrix, roles, activities, cells (all or none), check, CSV/XLSX and CSV import."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.helpers import assert_problem


def _url(grid, tail=""):  # noqa: ANN001, ANN202
    return f"/api/v1/initiatives/{grid['ini']}/raci{tail}"


def test_matrix_roles_activities_and_cells(client, factory, team, grid):
    h = factory.bearer(team.member)
    r = client.get(_url(grid), headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [x["name"] for x in body["roles"]] == ["Operations specialist", "Operations manager", "IT engineer"]
    assert [x["name"] for x in body["activities"]][1] == "Manual review"
    assert all(x["survey_step_id"] for x in body["activities"]) and body["cells"] == []
    ops, mgr, it = grid["roles"]
    a1, a2 = grid["acts"][:2]
    r = client.put(_url(grid, "/cells"), json={"activity_id": a1, "role_id": ops, "letters": "ar"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["cells"] == [{"activity_id": a1, "role_id": ops, "letters": "RA"}]
    r = client.put(_url(grid, "/cells"), json={"cells": [
        {"activity_id": a1, "role_id": ops, "letters": ["R"]},
        {"activity_id": a1, "role_id": mgr, "letters": "A"},
        {"activity_id": a2, "role_id": it, "letters": " i"}]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["cells"] == [{"activity_id": a1, "role_id": ops, "letters": "R"},
                                 {"activity_id": a1, "role_id": mgr, "letters": "A"},
                                 {"activity_id": a2, "role_id": it, "letters": "I"}]
    # A cell holds one letter or RA: "A and C" in one cell is refused, naming the rule.
    for combo in ("A, C", "CI", "RACI"):
        r = client.put(_url(grid, "/cells"), json={"activity_id": a2, "role_id": it, "letters": combo}, headers=h)
        assert r.status_code == 422 and "a cell holds one of R, A, C, I, or RA" in r.text, r.text
    r = client.put(_url(grid, "/cells"), json={"activity_id": a2, "role_id": it, "letters": ""}, headers=h)
    assert len(r.json()["cells"]) == 2
    # Add at a position, rename, reorder, remove.
    r = client.post(_url(grid, "/roles"), json={"name": "Customer service", "position": 1,
                                                "member_user_id": team.member.id}, headers=h)
    assert r.status_code == 201 and r.json()["position"] == 1 and r.json()["member_user_id"] == team.member.id
    cs = r.json()["id"]
    r = client.patch(_url(grid, f"/roles/{cs}"), json={"name": "客服"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "客服"
    r = client.post(_url(grid, "/roles/reorder"), json={"ids": [ops, mgr, it, cs]}, headers=h)
    assert [x["id"] for x in r.json()] == [ops, mgr, it, cs] and r.json()[-1]["position"] == 4
    r = client.delete(_url(grid, f"/roles/{ops}"), headers=h)
    assert r.status_code == 204
    body = client.get(_url(grid), headers=h).json()
    assert [x["position"] for x in body["roles"]] == [1, 2, 3]
    assert body["cells"] == [{"activity_id": a1, "role_id": mgr, "letters": "A"}]
    r = client.post(_url(grid, "/activities"), json={"name": "Archive the form", "position": 2}, headers=h)
    assert r.status_code == 201 and r.json()["survey_step_id"] is None
    new = r.json()["id"]
    assert [x["id"] for x in client.get(_url(grid), headers=h).json()["activities"]][1] == new
    r = client.patch(_url(grid, f"/activities/{new}"), json={"name": "Archive"}, headers=h)
    assert r.json()["name"] == "Archive"
    ids = [new, *grid["acts"]]
    r = client.post(_url(grid, "/activities/reorder"), json={"ids": ids[::-1]}, headers=h)
    assert [x["id"] for x in r.json()] == ids[::-1]
    assert client.delete(_url(grid, f"/activities/{new}"), headers=h).status_code == 204
    # From survey again: every step is already there.
    r = client.post(_url(grid, "/activities/from-survey"), headers=h)
    assert r.status_code == 201 and r.json() == []


def test_bad_input_is_422_and_changes_nothing(client, factory, team, grid, session):
    from app.raci.schemas import RoleCreate
    from app.raci.service import activities_from_survey, create_role
    from tests.initiatives.factories import YH_STEPS, add_steps

    h = factory.bearer(team.member)
    ops, mgr, _ = grid["roles"]
    a1 = grid["acts"][0]
    client.put(_url(grid, "/cells"), json={"activity_id": a1, "role_id": ops, "letters": "R"}, headers=h)
    before = client.get(_url(grid), headers=h).json()
    add_steps(session, team.other, team.other_lead, YH_STEPS[:1])
    foreign_role = create_role(session, team.other.id, RoleCreate(name="Elsewhere"), team.other_lead)
    foreign_act = activities_from_survey(session, team.other.id, team.other_lead)[0]
    session.flush()
    for body in (
        {"activity_id": a1, "role_id": mgr, "letters": "X"},
        {"activity_id": a1, "role_id": mgr, "letters": "AA"},
        {"activity_id": a1, "role_id": mgr, "letters": ["A", 3]},
        {"activity_id": a1, "role_id": mgr, "letters": 5},
        {"cells": [{"activity_id": a1, "role_id": mgr, "letters": "A"},
                   {"activity_id": a1, "role_id": ops, "letters": "RQ"}]},
        {"cells": [{"activity_id": a1, "role_id": mgr, "letters": "A"},
                   {"activity_id": a1, "role_id": foreign_role.id, "letters": "R"}]},
        {"cells": [{"activity_id": a1, "role_id": mgr, "letters": "A"},
                   {"activity_id": foreign_act.id, "role_id": ops, "letters": "R"}]},
        {"cells": []},
    ):
        r = client.put(_url(grid, "/cells"), json=body, headers=h)
        assert_problem(r, 422)
    r = client.put(_url(grid, "/cells"), json={"cells": [{"activity_id": a1, "role_id": foreign_role.id,
                                                           "letters": "R"}]}, headers=h)
    assert r.json()["errors"][0]["field"] == "cells.0.role_id"
    for method, tail, body in (
        ("POST", "/roles", {"name": ""}),
        ("POST", "/roles", {"name": "x", "member_user_id": team.outsider.id}),
        ("POST", "/activities", {"name": "x", "survey_step_id": foreign_act.survey_step_id}),
        ("POST", "/roles/reorder", {"ids": [ops]}),
        ("POST", "/activities/reorder", {"ids": [*grid["acts"], foreign_act.id]}),
        ("PATCH", f"/roles/{ops}", {"name": None}),
    ):
        assert_problem(client.request(method, _url(grid, tail), json=body, headers=h), 422)
    assert client.get(_url(grid), headers=h).json() == before
    # Another initiative's role or activity by path: not found here.
    assert_problem(client.patch(_url(grid, f"/roles/{foreign_role.id}"), json={"name": "y"}, headers=h), 404)
    assert_problem(client.delete(_url(grid, f"/activities/{foreign_act.id}"), headers=h), 404)
    assert_problem(client.get("/api/v1/initiatives/999999/raci", headers=h), 404)


def test_check_endpoint_and_language(client, factory, team, grid):
    h = factory.bearer(team.member)
    ops, mgr, it = grid["roles"]
    a1 = grid["acts"][0]
    cells = [{"activity_id": a, "role_id": mgr, "letters": "A"} for a in grid["acts"]] + \
            [{"activity_id": a, "role_id": ops, "letters": "R"} for a in grid["acts"]]
    client.put(_url(grid, "/cells"), json={"cells": cells}, headers=h)
    r = client.get(_url(grid, "/check"), headers=h)
    assert r.json() == [{"role_id": it, "rule": "role_idle", "severity": "warning",
                         "message": "“IT engineer” is neither R nor A anywhere: is the role needed?"}]
    client.put(_url(grid, "/cells"), json={"activity_id": a1, "role_id": it, "letters": "A"}, headers=h)
    r = client.get(_url(grid, "/check"), headers={**h, "Accept-Language": "en"})
    found = r.json()
    assert found[0] == {"activity_id": a1, "rule": "multiple_accountable", "severity": "error",
                        "message": "“User fills in information” has 2 A (accountable): exactly one role may hold "
                                   "the A."}
    assert [v["rule"] for v in found] == ["multiple_accountable", "everyone_involved"]
    zh = client.get(_url(grid, "/check"), headers={**h, "Accept-Language": "zh-CN"}).json()
    assert [v["rule"] for v in zh] == [v["rule"] for v in found]
    assert zh[0]["message"] != found[0]["message"] and "User fills in information" in zh[0]["message"]


def test_csv_round_trip_and_xlsx(client, factory, team, grid):
    h = factory.bearer(team.member)
    ops, mgr, it = grid["roles"]
    acts = grid["acts"]
    cells = [{"activity_id": acts[0], "role_id": ops, "letters": "RA"},
             {"activity_id": acts[1], "role_id": mgr, "letters": "A"},
             {"activity_id": acts[1], "role_id": ops, "letters": "C"},
             {"activity_id": acts[2], "role_id": it, "letters": "RA"}]
    client.put(_url(grid, "/cells"), json={"cells": cells}, headers=h)
    before = client.get(_url(grid), headers=h).json()
    r = client.get(_url(grid, "/export?format=csv"), headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Activity,Operations specialist,Operations manager,IT engineer"
    assert text.splitlines()[2] == "Manual review,C,A,"
    # Re-import into an emptied matrix: the same cells.
    client.put(_url(grid, "/cells"), json={"cells": [{**c, "letters": ""} for c in cells]}, headers=h)
    r = client.post(_url(grid, "/import"), files={"file": ("raci.csv", r.content)}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"roles_created": 0, "activities_created": 0, "cells_set": 4}
    assert client.get(_url(grid), headers=h).json() == before
    # New names are added; letters are normalised.
    r = client.post(_url(grid, "/import"), files={"file": ("raci.csv", "活动,Legal\nManual review,i\nNew step,RA\n"
                                                            .encode())}, headers=h)
    assert r.json() == {"roles_created": 1, "activities_created": 1, "cells_set": 2}
    after = client.get(_url(grid), headers=h).json()
    assert after["roles"][-1]["name"] == "Legal" and after["activities"][-1]["name"] == "New step"
    r = client.get(_url(grid, "/export?format=xlsx&lang=zh_CN"), headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws["A1"].value == "活动" and ws["B1"].value == "Operations specialist"
    assert ws["A3"].value == "Manual review" and ws["B3"].value == "C" and ws["E3"].value == "I"


def test_import_reports_a_bad_letter_and_imports_nothing(client, factory, team, grid):
    h = factory.bearer(team.member)
    before = client.get(_url(grid), headers=h).json()
    bad = b"Activity,Operations specialist,Ops lead\nManual review,R,A\nNew step,RX,A\nOther,,Z\n"
    r = client.post(_url(grid, "/import"), files={"file": ("raci.csv", bad)}, headers=h)
    body = assert_problem(r, 422)
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "Operations specialist"), (4, "Ops lead")]
    assert "X" in body["errors"][0]["message"]
    assert client.get(_url(grid), headers=h).json() == before
    r = client.post(_url(grid, "/import"), files={"file": ("raci.csv", b"\xff\xfe\x00bad")}, headers=h)
    assert_problem(r, 422)
    r = client.post(_url(grid, "/import"), files={"file": ("raci.csv", b"Activity\n")}, headers=h)
    assert_problem(r, 422)
