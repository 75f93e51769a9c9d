"""Table 2 as CSV and XLSX: the method's columns in Chinese or English; openpyxl reads the file back."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.initiatives.factories import add_issue
from tests.measures.helpers import API, add_measure

ZH_METHOD_COLUMNS = ["优化目标", "对应问题", "具体措施", "责任部门", "完成时间", "预期效果"]


def _setup(session, team):  # noqa: ANN001, ANN202
    issue = add_issue(session, team.initiative, team.leader, title="审核慢 Slow review", impact=5, urgency=5)
    add_measure(session, team.initiative.id, team.leader, [issue.id], goal="=激活 ≤ 5 分钟",
                due_date="2030-01-31")
    return issue


def test_xlsx_round_trip_zh(client, factory, team, session):
    _setup(session, team)
    r = client.get(f"{API}/initiatives/{team.initiative.id}/measures/export",
                   params={"format": "xlsx", "lang": "zh_CN"}, headers=factory.bearer(team.viewer))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "table2-" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert "流程优化方案设计表" in rows[0][0]
    header = list(rows[1])
    assert header[1:7] == ZH_METHOD_COLUMNS
    row = dict(zip(header, rows[2], strict=True))
    assert row["优化目标"] == "=激活 ≤ 5 分钟"
    assert ws.cell(row=3, column=2).data_type == "s"  # text, never a formula
    assert row["对应问题"] == "审核慢 Slow review"
    assert row["具体措施"] == "Build an automatic check against the 3 systems"
    assert row["责任部门"] == "技术部"
    assert row["完成时间"] == "2030-01-31"
    assert row["预期效果"] == "Activation time: 30 -> 5 min（越低越好）"
    assert row["措施类型"] == "自动化" and row["状态"] == "计划中"


def test_csv_en(client, factory, team, session):
    _setup(session, team)
    r = client.get(f"{API}/initiatives/{team.initiative.id}/measures/export",
                   params={"format": "csv", "lang": "en"}, headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["No.", "Goal", "Problem", "Measures", "Responsible department", "Completion date",
                           "Expected effect"]
    assert rows[1][4] == "Technology" and rows[1][6] == "Activation time: 30 -> 5 min (lower is better)"
    assert len(rows) == 2


def test_empty_export_and_bad_params(client, factory, team):
    h = factory.bearer(team.viewer)
    url = f"{API}/initiatives/{team.initiative.id}/measures/export"
    r = client.get(url, params={"format": "xlsx", "lang": "en"}, headers=h)
    assert r.status_code == 200
    assert len(list(load_workbook(io.BytesIO(r.content)).active.iter_rows())) == 2
    assert client.get(url, params={"format": "pdf"}, headers=h).status_code == 422
    assert client.get(url, params={"lang": "fr"}, headers=h).status_code == 422
