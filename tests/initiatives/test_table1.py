"""Table 1 import and export: CSV and XLSX, zh-CN and en column names, all-or-nothing imports."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.initiatives.factories import YH_STEPS, add_steps

API = "/api/v1"


def _export(client, h, ini_id, fmt, lang):  # noqa: ANN001, ANN202
    r = client.get(f"{API}/initiatives/{ini_id}/survey/export", params={"format": fmt, "lang": lang}, headers=h)
    assert r.status_code == 200, r.text
    return r


def _import(client, h, ini_id, name, content, mode="append"):  # noqa: ANN001, ANN202
    return client.post(f"{API}/initiatives/{ini_id}/survey/import", params={"mode": mode},
                       files={"file": (name, content)}, headers=h)


def _steps(client, h, ini_id):  # noqa: ANN001, ANN202
    return client.get(f"{API}/initiatives/{ini_id}/survey/steps", headers=h).json()["items"]


def test_csv_export_in_english_and_chinese(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    h = factory.bearer(team.viewer)
    r = _export(client, h, team.initiative.id, "csv", "en")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="table1-' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel and WPS read UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["No.", "Process name", "Departments involved", "Current step", "Step type",
                       "Responsible department", "Responsible role", "Minutes", "Waiting minutes",
                       "Systems used", "Problems", "Problem description"]
    assert rows[2][0] == "2" and rows[2][3] == "Manual review" and rows[2][5] == "Operations"
    assert rows[2][7] == "30" and rows[2][8] == "60" and rows[2][9] == "CRM, KYC, Billing"
    assert rows[2][10] == "Low efficiency, Hard collaboration"
    assert rows[3][7] == "2.5"
    zh = list(csv.reader(io.StringIO(_export(client, h, team.initiative.id, "csv", "zh_CN").content
                                     .decode("utf-8-sig"))))
    assert zh[0][:4] == ["序号", "流程名称", "涉及部门", "现有步骤"] and zh[0][7] == "耗时（分钟）"
    assert zh[2][4] == "活动" and zh[2][5] == "运营部" and zh[2][10] == "效率低、协同难"
    assert zh[1][2] == "运营部、技术部"


def test_xlsx_export_opens_with_a_totals_sheet(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    r = _export(client, factory.bearer(team.member), team.initiative.id, "xlsx", "zh_CN")
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.worksheets[0]
    assert ws.title == "现状调研表"
    assert ws["A1"].value.startswith("运营流程现状调研表")
    assert ws["D2"].value == "现有步骤" and ws["D4"].value == "Manual review"
    assert ws["H4"].value == 30 and ws["H5"].value == 2.5  # numbers, not text
    totals = wb.worksheets[1]
    assert totals.title == "汇总"
    rows = list(totals.iter_rows(values_only=True))
    assert rows[1][:2] == ("运营部", 2) and rows[3][0] == "合计" and rows[3][4] == 99


def test_round_trip_xlsx_and_csv(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    src = _steps(client, factory.bearer(team.leader), team.initiative.id)
    target = team.other.id
    h = factory.bearer(team.outsider)
    keys = ("name", "kind", "department", "role", "minutes", "waiting_minutes", "systems", "problem_flags",
            "description")
    for fmt, lang in (("xlsx", "zh_CN"), ("csv", "en"), ("csv", "zh_CN"), ("xlsx", "en")):
        content = _export(client, h, team.initiative.id, fmt, lang).content
        r = _import(client, h, target, f"t.{fmt}", content, mode="replace")
        assert r.status_code == 200, (fmt, lang, r.text)
        assert r.json()["imported"] == 4
        got = _steps(client, h, target)
        assert [{k: s[k] for k in keys} for s in got] == [{k: s[k] for k in keys} for s in src], (fmt, lang)
    r = _import(client, h, target, "t.xlsx", _export(client, h, team.initiative.id, "xlsx", "en").content)
    assert r.status_code == 200 and len(_steps(client, h, target)) == 8  # append


def test_bad_rows_are_reported_with_row_numbers_and_nothing_is_imported(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS[:1])
    h = factory.bearer(team.member)
    text = (
        "序号,现有步骤,步骤类型,责任部门,耗时（分钟）,存在问题\n"
        "1,用户填写信息,输入,运营部,5,\n"
        "2,人工审核,活动,运营部,-30,效率低\n"        # row 3: negative minutes
        "3,系统激活,循环,技术部,2,\n"              # row 4: unknown type
        ",,,,,\n"                                   # blank rows are skipped
        "4,短信发送,输出,市场部,1,太贵\n"           # row 6: unknown department and problem
        "5,,活动,运营部,1,\n"                       # row 7: no step name
        "6,审批,决策,运营部,,\n"                    # row 8: no minutes
    )
    r = _import(client, h, team.initiative.id, "t.csv", text.encode("utf-8"), mode="replace")
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert sorted({e["row"] for e in errors}) == [3, 4, 6, 7, 8]
    by_row = {(e["row"], e["column"]) for e in errors}
    assert (3, "耗时（分钟）") in by_row and (4, "步骤类型") in by_row
    assert (6, "责任部门") in by_row and (6, "存在问题") in by_row and (7, "现有步骤") in by_row
    assert "row 3" in r.json()["detail"]
    assert [s["name"] for s in _steps(client, h, team.initiative.id)] == ["User fills in information"]


def test_import_reads_gb18030_semicolons_and_guards_formulas(client, factory, team, session):
    h = factory.bearer(team.member)
    text = "现有步骤;耗时（分钟）;使用系统;存在问题\n=SUM(A1);3;CRM，OA;质量差、风险\n"
    r = _import(client, h, team.initiative.id, "t.csv", text.encode("gb18030"))
    assert r.status_code == 200, r.text
    (step,) = r.json()["steps"]
    assert step["name"] == "=SUM(A1)" and step["systems"] == ["CRM", "OA"]
    assert step["problem_flags"] == ["quality", "risk"] and step["kind"] == "activity"
    exported = _export(client, h, team.initiative.id, "csv", "en").content.decode("utf-8-sig")
    assert "'=SUM(A1)" in exported
    wb = load_workbook(io.BytesIO(_export(client, h, team.initiative.id, "xlsx", "en").content))
    cell = wb.worksheets[0]["D3"]
    assert cell.value == "=SUM(A1)" and cell.data_type == "s"


def test_unreadable_files(client, factory, team):
    h = factory.bearer(team.member)
    ini = team.initiative.id
    r = _import(client, h, ini, "t.csv", b"name,foo\nx,1\n")
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 1
    r = _import(client, h, ini, "t.csv", b"Current step,Role\nx,y\n")
    assert r.status_code == 422 and "minutes" in r.json()["detail"].lower()
    assert _import(client, h, ini, "t.xlsx", b"PK\x03\x04 not really a zip").status_code == 422
    assert _import(client, h, ini, "t.csv", b"Current step,Minutes\n").status_code == 422
    assert _import(client, h, ini, "t.csv", b"x" * (2 * 1024 * 1024 + 1)).status_code == 413
    assert client.post(f"{API}/initiatives/{ini}/survey/import", params={"mode": "merge"},
                       files={"file": ("t.csv", b"Current step,Minutes\nx,1\n")}, headers=h).status_code == 422
    assert _steps(client, h, ini) == []
