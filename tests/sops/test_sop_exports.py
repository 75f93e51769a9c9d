"""SOP files: a version as DOCX (python-docx reads it back), a published version as a PDF controlled copy
(pypdf reads its text and fonts), Table 4 as XLSX and CSV; who may have them.

Without WeasyPrint's libraries the PDF tests are skipped, unless CI or REQUIRE_BROWSER=1 is set, which makes
that a failure (as the browser tests do)."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook
from pypdf import PdfReader

from app.core.calendar import today
from app.core.openapi import PROBLEM_JSON
from app.core.spreadsheets import XLSX_TYPE
from app.sops import exports
from app.sops.schemas import Requirement
from tests.metrics.helpers import make_kpi
from tests.sops.helpers import API, design_story, ok, review_and_sign, send

ZH_HEADINGS = ["流程目的", "适用范围", "职责分工", "详细步骤", "关键节点说明", "表单/工具清单",
               "应急方案 / 特殊场景处理机制"]
EN_HEADINGS = ["Purpose", "Scope", "Responsibilities", "Detailed steps", "Key control points", "Forms and tools",
               "Contingency plan / special cases"]
ZH_TABLE4 = ["流程ID", "流程名称", "版本号", "生效日期", "修改内容摘要", "修改人", "审核人", "备注"]
EN_TABLE4 = ["Process ID", "Process name", "Version", "Effective date", "Change summary", "Changed by", "Reviewer",
             "Note"]


@pytest.fixture
def pdf_renderer() -> None:
    reason = exports.pdf_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"PDF rendering is mandatory here (CI or REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(reason)


def _draft(client, session, factory, team) -> tuple[Any, dict[str, Any]]:  # noqa: ANN001
    """The YH-LC01 draft from the initiative, with every section filled in (Chinese text)."""
    story = design_story(session, factory, team)
    v = ok(send(client, "POST", f"/initiatives/{team.initiative.id}/sop/draft", team.leader), 201)
    kpi = make_kpi(session, team.leader, name_zh="激活时长", name_en="Activation time")
    steps = v["content"]["steps"]
    steps[1].update(instructions="核对 CRM、KYC、计费三个系统\n不一致时退回", inputs="注册信息", outputs="审核结果")
    sections = {
        "purpose": {"text": "缩短用户注册激活时间", "kpi_id": kpi.id, "baseline": 30, "target": 5, "unit": "min"},
        "steps": steps,
        "control_points": [{"step_id": steps[1]["id"], "description": "金额 ≥ 10,000 需财务负责人审批",
                            "approver_role": "财务负责人"}],
        "forms": [{"name": "用户激活申请表", "kind": "form", "location": "OA › 表单"}],
        "contingencies": [
            {"situation": "系统宕机", "instead": "纸质登记", "approver": "运营主管", "backfill_hours": 24},
            {"situation": "紧急订单 ≥ 100,000", "instead": "跳过常规审批", "approver": "运营负责人",
             "backfill_hours": 24, "kind": "special_case"}],
    }
    for section, value in sections.items():
        v = ok(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/{section}", team.leader,
                    f'"sop-version-{v["id"]}-v{v["version"]}"', json=value))
    return story, v


def _publish(client, story, v) -> dict[str, Any]:  # noqa: ANN001
    review_and_sign(client, story, v["id"], story.team.member)
    return ok(send(client, "POST", f"/sop-versions/{v['id']}/publish", story.team.leader,
                   json={"effective_date": today().isoformat()}))


def _docx(client, user, vid: int, lang: str | None = None):  # noqa: ANN001, ANN202
    return send(client, "GET", f"/sop-versions/{vid}/docx", user, params={"lang": lang} if lang else None)


def _ok_bytes(response: Any) -> bytes:
    assert response.status_code == 200, response.text
    return response.content


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _tables(doc) -> list[list[list[str]]]:  # noqa: ANN001
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


def test_docx_of_a_draft_in_chinese(client, factory, team, session):
    _, v = _draft(client, session, factory, team)
    r = _docx(client, team.member, v["id"])  # zh_CN by default
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == exports.DOCX_TYPE
    assert f'filename="sop-{v["process"]["code"]}-draft-{v["id"]}-zh_CN.docx"' in r.headers["content-disposition"]
    doc = Document(io.BytesIO(r.content))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["版本信息", "签字确认", *(f"{n}. {h}" for n, h in enumerate(ZH_HEADINGS, start=1))]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "缩短用户注册激活时间" in text and "目标：激活时长：30 → 5 min" in text
    assert "合计：38.5 分钟" in text  # 5 + 30 + 2.5 + 1

    facts, signoff, raci, steps, controls, forms, contingencies = _tables(doc)
    assert dict(facts)["版本号"] == "草稿" and dict(facts)["状态"] == "草稿"
    assert dict(facts)["编写人"] == team.leader.display_name
    # The steps: a numbered table, one row per step after the header.
    assert steps[0][:2] == ["序号", "步骤名称"] and steps[0][-1] == "预计时长（分钟）"
    assert len(steps) == 1 + len(v["content"]["steps"])
    assert [row[0] for row in steps[1:]] == ["1", "2", "3", "4"]
    assert steps[2][1:] == ["Manual review", "运营部", "Operations specialist", "注册信息", "审核结果",
                            "核对 CRM、KYC、计费三个系统\n不一致时退回", "CRM › KYC › Billing", "30"]
    # RACI: activities by roles, the letters of the draft.
    cells = {(c["activity"], c["role"]): c["letters"] for c in v["content"]["raci"]["cells"]}
    assert raci[0] == ["活动", *v["content"]["raci"]["roles"]]
    assert {(row[0], role): letters for row in raci[1:] for role, letters in zip(raci[0][1:], row[1:], strict=True)
            if letters} == cells
    assert "RA" in {letters for row in raci[1:] for letters in row[1:]}
    assert controls[1] == ["1", "2. Manual review", "金额 ≥ 10,000 需财务负责人审批", "财务负责人"]
    assert forms[1] == ["1", "用户激活申请表", "表单", "OA › 表单"]
    assert contingencies[2] == ["2", "特殊场景", "紧急订单 ≥ 100,000", "跳过常规审批", "运营负责人", "24"]
    assert dict(signoff)["签字人"] == "—"


def test_numbers_print_as_people_write_them():
    assert [exports.num(x) for x in (30.0, 2.5, 0, 0.1 + 0.2, 1e6, None)] == ["30", "2.5", "0", "0.3", "1000000", ""]


def test_docx_names_the_east_asian_font(client, factory, team, session):
    _, v = _draft(client, session, factory, team)
    doc = Document(io.BytesIO(_docx(client, team.member, v["id"]).content))
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for fonts in (defaults.find(qn("w:rFonts")), doc.styles["Heading 1"].element.rPr.find(qn("w:rFonts"))):
        assert fonts.get(qn("w:eastAsia")) in (exports.BODY_CJK_FONT, exports.HEADING_CJK_FONT)
        assert fonts.get(qn("w:eastAsiaTheme")) is None  # a theme reference would win over the named font
    assert defaults.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"


def test_docx_in_english_after_sign_off(client, factory, team, session):
    story, v = _draft(client, session, factory, team)
    v = _publish(client, story, v)
    doc = Document(io.BytesIO(_ok_bytes(_docx(client, team.viewer, v["id"], "en"))))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings[2:] == [f"{n}. {h}" for n, h in enumerate(EN_HEADINGS, start=1)]
    facts, signoff, *_ = _tables(doc)
    assert dict(facts)["Version"] == "V1.0" and dict(facts)["Status"] == "Effective"
    assert dict(facts)["Effective date"] == today().isoformat()
    assert dict(facts)["Reviewers"] == f"{story.ops_reviewer.display_name} (Operations); {team.it.display_name} " \
                                       "(Technology)"
    sign = dict(signoff)
    assert sign["Signed by"] == team.leader.display_name and sign["Content signed (SHA-256)"] == v["signed_hash"]
    assert sign["Signed at"].startswith(v["signed_at"][:4])


def test_a_draft_is_read_by_its_team_only(client, factory, team, session):
    _, v = _draft(client, session, factory, team)
    for stranger in (team.outsider, team.viewer, team.other_lead):  # another team; a viewer; another lead
        r = _docx(client, stranger, v["id"])
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM_JSON
    assert _docx(client, team.admin, v["id"]).status_code == 200
    assert _docx(client, team.leader, v["id"], "fr").status_code == 422
    assert _docx(client, team.leader, 999_999).status_code == 404
    assert client.get(f"{API}/sop-versions/{v['id']}/docx").status_code == 401


def test_pdf_controlled_copy(client, factory, team, session, pdf_renderer):
    story, v = _draft(client, session, factory, team)
    steps = v["content"]["steps"]
    steps[0]["name"] = "<b>填写</b> & 提交"  # text, never markup
    v = ok(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/steps", team.leader,
                f'"sop-version-{v["id"]}-v{v["version"]}"', json=steps))
    url = f"/sop-versions/{v['id']}/pdf"
    r = send(client, "GET", url, team.leader)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM_JSON and "published" in r.json()["detail"]
    assert send(client, "GET", url, team.outsider).status_code == 403  # a draft is not even acknowledged

    v = _publish(client, story, v)
    r = send(client, "GET", url, team.outsider)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == exports.PDF_TYPE and r.content.startswith(b"%PDF")
    assert f"-V1.0-{v['id']}-zh_CN.pdf" in r.headers["content-disposition"]
    pdf = PdfReader(io.BytesIO(r.content))
    pages = [page.extract_text() for page in pdf.pages]
    text = _squeezed("".join(pages))  # table cells wrap lines where words had spaces
    for expected in ("V1.0", today().isoformat(), team.leader.display_name, v["signed_hash"], "缩短用户注册激活时间",
                     "<b>填写</b> & 提交", *ZH_HEADINGS):
        assert _squeezed(expected) in text, expected
    # On every page: the uncontrolled-copy line and "page / pages".
    for n, page in enumerate(pages, start=1):
        assert "打印件为非受控文件" in page and f"{n} / {len(pages)}" in page
    # The Chinese is drawn with an embedded CJK font, not missing-glyph boxes.
    fonts = {str(f.get_object()["/BaseFont"]) for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert any("Noto-Sans-CJK" in name or "NotoSansCJK" in name for name in fonts), fonts

    english = PdfReader(io.BytesIO(_ok_bytes(send(client, "GET", url, team.viewer, params={"lang": "en"}))))
    text = english.pages[0].extract_text()
    assert "Printed copies are uncontrolled" in text and "Controlled copy" in text and "1. Purpose" in text


def test_pdf_unavailable_says_why(client, factory, team, session, monkeypatch):
    story, v = _draft(client, session, factory, team)
    v = _publish(client, story, v)
    monkeypatch.setattr(exports, "pdf_unavailable_reason", lambda: "WeasyPrint cannot be loaded (OSError: no pango)")
    r = send(client, "GET", f"/sop-versions/{v['id']}/pdf", team.viewer)
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    problem = r.json()
    assert problem["type"] == "/problems/pdf-unavailable" and "no pango" in problem["detail"]
    assert _docx(client, team.viewer, v["id"]).status_code == 200  # the rest works


def test_table4_exports(client, factory, team, session):
    story, v = _draft(client, session, factory, team)
    v = _publish(client, story, v)
    nxt = ok(send(client, "POST", f"/sop-versions/{v['id']}/next", team.member,
                  json={"initiative_id": team.initiative.id}), 201)
    review_and_sign(client, story, nxt["id"], team.member)
    ok(send(client, "POST", f"/sop-versions/{nxt['id']}/publish", team.leader, json={
        "effective_date": today().isoformat(), "change_summary": "=新增短信通道优化步骤", "note": "解决验证码接收问题"}))
    url = f"/sops/{v['sop_id']}/table4/export"
    code = v["process"]["code"]

    r = send(client, "GET", url, team.outsider)  # xlsx in Chinese by default
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX_TYPE
    assert f'filename="table4-{code}-zh_CN.xlsx"' in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == f"流程优化记录表 - {v['process']['name']}"
    assert list(rows[1]) == ZH_TABLE4
    assert [row[2] for row in rows[2:]] == ["V1.0", "V1.1"]
    second = dict(zip(ZH_TABLE4, rows[3], strict=True))
    assert second["流程ID"] == code and second["修改内容摘要"] == "=新增短信通道优化步骤" and second["备注"] == "解决验证码接收问题"
    assert ws.cell(row=4, column=5).data_type == "s"  # text, never a formula
    assert second["修改人"] == team.member.display_name
    assert second["审核人"] == f"{story.ops_reviewer.display_name}；{team.it.display_name}"

    ws = load_workbook(io.BytesIO(_ok_bytes(send(client, "GET", url, team.viewer, params={"lang": "en"})))).active
    assert list(list(ws.iter_rows(values_only=True))[1]) == EN_TABLE4

    r = send(client, "GET", url, team.viewer, params={"format": "csv", "lang": "en"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == EN_TABLE4 and len(rows) == 3
    assert rows[2][4] == "'=新增短信通道优化步骤"  # a spreadsheet would run it as a formula
    assert rows[2][6] == f"{story.ops_reviewer.display_name}; {team.it.display_name}"
    zh = send(client, "GET", url, team.viewer, params={"format": "csv"}).content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(zh))) == ZH_TABLE4

    assert send(client, "GET", url, team.viewer, params={"format": "pdf"}).status_code == 422
    assert send(client, "GET", "/sops/999999/table4/export", team.viewer).status_code == 404
    assert client.get(f"{API}{url}").status_code == 401


# ---------------------------------------------------------------- the control points' rules

CONDITION = 'amount >= 10000.0 && channel != "internal"'
EXCEPTION = "amount >= 100000.0 && urgent"
EN_REQUIREMENT = "Finance approval by finance_head, before Ship, within 60 minutes of Review"
ZH_REQUIREMENT = "须由 finance_head 完成 Finance approval，在 Ship 之前，在 Review 后 60 分钟内"


def _with_rules(client, team, v) -> dict[str, Any]:  # noqa: ANN001
    """The draft with case attributes, a rule on its control point and a special case that is its exception."""
    steps = v["content"]["steps"]
    point = {"id": "9b2f7a52-3c1e-4d0a-9f4e-2f6a1c8d7e10", "step_id": steps[1]["id"],
             "description": "金额 ≥ 10,000 需财务负责人审批", "approver_role": "财务负责人",
             "rule": {"condition": CONDITION, "requirement": {
                 "activity": "Finance approval", "before": "Ship", "within_minutes": 60, "after": "Review",
                 "role": "finance_head"}}}
    contingencies = [*v["content"]["contingencies"],
                     {"situation": "紧急大额订单", "instead": "运营负责人审批", "kind": "special_case",
                      "control_point_id": point["id"], "condition": EXCEPTION}]
    attributes = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
                  {"name": "urgent", "type": "boolean"}]
    for section, value in (("attributes", attributes), ("control_points", [point]),
                           ("contingencies", contingencies)):
        v = ok(send(client, "PATCH", f"/sop-versions/{v['id']}/sections/{section}", team.leader,
                    f'"sop-version-{v["id"]}-v{v["version"]}"', json=value))
    return v


def test_requirements_read_as_sentences():
    def say(lang, **r) -> str:  # noqa: ANN001, ANN003
        t = {key: exports._in(lang, pair) for key, pair in exports.TEXT.items()}
        return exports.requirement_text(Requirement.model_validate(r), t)

    full = {"activity": "Finance approval", "before": "Ship", "within_minutes": 60, "after": "Review",
            "role": "finance_head"}
    assert say("en", **full) == EN_REQUIREMENT
    assert say("zh_CN", **full) == ZH_REQUIREMENT
    assert say("en", activity="Activate") == "Activate"
    assert say("zh_CN", activity="Activate") == "须完成 Activate"
    assert say("en", activity="Activate", within_minutes=2.5) == "Activate, within 2.5 minutes of the case's start"
    assert say("zh_CN", activity="Activate", within_minutes=5) == "须完成 Activate，在案件开始后 5 分钟内"


def test_docx_shows_rules_exceptions_and_attributes(client, factory, team, session):
    _, v = _draft(client, session, factory, team)
    v = _with_rules(client, team, v)
    doc = Document(io.BytesIO(_ok_bytes(_docx(client, team.member, v["id"]))))
    _, _, _, _, controls, attributes, _, contingencies = _tables(doc)
    assert controls[0] == ["序号", "所属步骤", "说明", "审批角色", "规则"]
    assert controls[1] == ["1", "2. Manual review", "金额 ≥ 10,000 需财务负责人审批", "财务负责人",
                           f"条件：{CONDITION}\n要求：{ZH_REQUIREMENT}"]
    # The condition in a monospace font, the rest in the body's.
    runs = doc.tables[4].rows[1].cells[4].paragraphs[0].runs
    assert [(r.text, r.font.name) for r in runs if r.font.name == exports.MONO_FONT] == [(CONDITION, "Consolas")]
    # The case attributes under the control points, one heading down.
    assert "案件属性" in [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert doc.styles["Heading 2"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == exports.HEADING_CJK_FONT
    assert attributes == [["序号", "名称", "类型"], ["1", "amount", "数字"], ["2", "channel", "文本"],
                          ["3", "urgent", "是/否"]]
    # Every special case gets the column; only the exception names its control point and condition.
    assert contingencies[0][-1] == "关键节点的例外"
    assert [row[-1] for row in contingencies[1:]] == [
        "", "", f"1. 金额 ≥ 10,000 需财务负责人审批\n条件：{EXCEPTION}"]

    english = Document(io.BytesIO(_ok_bytes(_docx(client, team.member, v["id"], "en"))))
    _, _, _, _, controls, attributes, _, contingencies = _tables(english)
    assert controls[0][-1] == "Rule" and controls[1][-1] == f"Condition: {CONDITION}\nRequirement: {EN_REQUIREMENT}"
    assert "Case attributes" in [p.text for p in english.paragraphs if p.style.name == "Heading 2"]
    assert attributes[0] == ["No.", "Name", "Type"] and attributes[3] == ["3", "urgent", "Yes or no"]
    assert contingencies[0][-1] == "Exception of control point"
    assert contingencies[3][-1] == f"1. 金额 ≥ 10,000 需财务负责人审批\nCondition: {EXCEPTION}"


def test_pdf_shows_the_rules(client, factory, team, session, pdf_renderer):
    story, v = _draft(client, session, factory, team)
    v = _publish(client, story, _with_rules(client, team, v))
    pdf = PdfReader(io.BytesIO(_ok_bytes(send(client, "GET", f"/sop-versions/{v['id']}/pdf", team.viewer))))
    text = _squeezed("".join(page.extract_text() for page in pdf.pages))
    for expected in ("规则", f"条件：{CONDITION}", f"要求：{ZH_REQUIREMENT}", "案件属性", "关键节点的例外",
                     f"条件：{EXCEPTION}", "是/否"):
        assert _squeezed(expected) in text, expected
    # The conditions are drawn in a monospace font.
    fonts = {str(f.get_object()["/BaseFont"]) for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert any("Mono" in name for name in fonts), fonts
