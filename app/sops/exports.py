"""SOP documents as files, in Simplified Chinese or English: any version as DOCX (python-docx), a published
version as a PDF controlled copy (WeasyPrint from `templates/sops_print/controlled_copy.html`), and Table 4
(流程优化记录表) as CSV and XLSX.

The DOCX and the PDF are drawn from one `Document`: the version block and the sign-off block, then the
method's seven sections as headings, lines and tables of text in the reader's language, so both files say
the same thing. The control points show their rules (the CEL condition in a monospace font, the requirement
as a sentence) and, below them, the case attributes the rules use; a special case that is an exception of a
control point names it and its condition.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.core.config import get_settings
from app.core.errors import AppError, Conflict
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, csv_bytes, workbook_bytes, write_table
from app.core.templating import templates
from app.departments.service import list_departments
from app.metrics.models import Kpi
from app.processes.service import get_process
from app.sops import service
from app.sops.models import SopState, SopStatus
from app.sops.schemas import (
    AttributeType,
    Contingency,
    ContingencyKind,
    ControlPoint,
    FormKind,
    Requirement,
    SopVersionRead,
    Table4Row,
)
from app.users.models import User

Lang = Literal["en", "zh_CN"]
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"
CSV_TYPE = "text/csv; charset=utf-8"
PDF_TEMPLATE = "sops_print/controlled_copy.html"
# Word and WPS have these everywhere; the East Asian font is set explicitly (w:eastAsia), not left to the
# theme, whose East Asian typeface is empty in python-docx's template.
LATIN_FONT, BODY_CJK_FONT, HEADING_CJK_FONT = "Calibri", "宋体", "黑体"
MONO_FONT = "Consolas"  # rules' conditions (CEL) and attributes' names; Office has it, else a monospace fallback


class PdfUnavailable(AppError):
    status, code, title = 503, "pdf-unavailable", "PDF rendering unavailable"


# key -> (English, Simplified Chinese); the section headings are the method's words.
TEXT: dict[str, tuple[str, str]] = {
    "title": ("Standard operating procedure", "标准化流程文档"),
    "purpose": ("Purpose", "流程目的"),
    "scope": ("Scope", "适用范围"),
    "raci": ("Responsibilities", "职责分工"),
    "steps": ("Detailed steps", "详细步骤"),
    "control_points": ("Key control points", "关键节点说明"),
    "forms": ("Forms and tools", "表单/工具清单"),
    "contingencies": ("Contingency plan / special cases", "应急方案 / 特殊场景处理机制"),
    "version_block": ("Version", "版本信息"),
    "process": ("Process", "流程"),
    "version": ("Version", "版本号"),
    "draft": ("Draft", "草稿"),
    "status": ("Status", "状态"),
    "effective_date": ("Effective date", "生效日期"),
    "author": ("Author", "编写人"),
    "reviewers": ("Reviewers", "审核人"),
    "signoff": ("Sign-off", "签字确认"),
    "signed_by": ("Signed by", "签字人"),
    "signed_at": ("Signed at", "签字时间"),
    "hash": ("Content signed (SHA-256)", "签字内容哈希（SHA-256）"),
    "none": ("(none)", "（无）"),
    "target": ("Target", "目标"),
    "scenarios": ("Business scenarios", "业务场景"),
    "departments": ("Departments", "涉及部门"),
    "roles": ("Roles", "涉及角色"),
    "activity": ("Activity", "活动"),
    "raci_legend": ("R responsible, A accountable, C consulted, I informed.", "R 负责，A 批准，C 咨询，I 知会。"),
    "no": ("No.", "序号"),
    "step": ("Step", "步骤名称"),
    "department": ("Department", "责任部门"),
    "role": ("Role", "责任角色"),
    "inputs": ("Inputs", "输入"),
    "outputs": ("Outputs", "输出"),
    "instructions": ("Instructions", "操作说明"),
    "system_path": ("System path", "系统操作路径"),
    "minutes": ("Minutes", "预计时长（分钟）"),
    "total_minutes": ("Total: {minutes} min", "合计：{minutes} 分钟"),
    "at_step": ("At step", "所属步骤"),
    "description": ("Description", "说明"),
    "approver_role": ("Approver", "审批角色"),
    "name": ("Name", "名称"),
    "kind": ("Kind", "类型"),
    "location": ("Link or location", "链接/位置"),
    "situation": ("Situation", "情形"),
    "instead": ("What to do instead", "替代做法"),
    "approver": ("Approved by", "审批人"),
    "backfill": ("Back-fill within (hours)", "补录时限（小时）"),
    "rule": ("Rule", "规则"),
    "condition": ("Condition", "条件"),
    "requirement": ("Requirement", "要求"),
    # The requirement as a sentence, its parts in this order: "Finance approval by finance_head, before Ship,
    # within 60 minutes of Review" / "须由 finance_head 完成 Finance approval，在 Ship 之前，在 Review 后 60 分钟内".
    "req_activity": ("{activity}", "须完成 {activity}"),
    "req_activity_by": ("{activity} by {role}", "须由 {role} 完成 {activity}"),
    "req_before": (", before {activity}", "，在 {activity} 之前"),
    "req_within": (", within {minutes} minutes of {activity}", "，在 {activity} 后 {minutes} 分钟内"),
    "req_within_start": (", within {minutes} minutes of the case's start", "，在案件开始后 {minutes} 分钟内"),
    "exception_of": ("Exception of control point", "关键节点的例外"),
    "attributes": ("Case attributes", "案件属性"),
    "type": ("Type", "类型"),
    "controlled_copy": ("Controlled copy", "受控副本"),
    "uncontrolled": ("Printed copies are uncontrolled", "打印件为非受控文件"),
}
STATUS_TEXT: dict[SopStatus, tuple[str, str]] = {
    SopStatus.draft: ("Draft", "草稿"),
    SopStatus.in_review: ("In review", "评审中"),
    SopStatus.approved: ("Approved", "已批准"),
    SopStatus.effective: ("Effective", "生效中"),
    SopStatus.superseded: ("Superseded", "已被替代"),
    SopStatus.withdrawn: ("Withdrawn", "已撤回"),
}
FORM_KIND_TEXT: dict[FormKind, tuple[str, str]] = {
    FormKind.form: ("Form", "表单"), FormKind.system: ("System", "系统"), FormKind.tool: ("Tool", "工具"),
    FormKind.script: ("Script", "脚本"),
}
ATTRIBUTE_TYPE_TEXT: dict[AttributeType, tuple[str, str]] = {
    AttributeType.number: ("Number", "数字"), AttributeType.text: ("Text", "文本"),
    AttributeType.boolean: ("Yes or no", "是/否"), AttributeType.date: ("Date", "日期"),
}
CONTINGENCY_TEXT: dict[ContingencyKind, tuple[str, str]] = {
    ContingencyKind.contingency: ("Contingency", "应急方案"),
    ContingencyKind.special_case: ("Special case", "特殊场景"),
}
# Table 4's columns (key, English, Simplified Chinese), in the method's order.
TABLE4_COLUMNS: list[tuple[str, str, str]] = [
    ("process_code", "Process ID", "流程ID"),
    ("process_name", "Process name", "流程名称"),
    ("version", "Version", "版本号"),
    ("effective_date", "Effective date", "生效日期"),
    ("change_summary", "Change summary", "修改内容摘要"),
    ("author", "Changed by", "修改人"),
    ("reviewers", "Reviewer", "审核人"),
    ("note", "Note", "备注"),
]
TABLE4_TITLE = {"en": "Change record (table 4)", "zh_CN": "流程优化记录表"}


def _in(lang: Lang, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "zh_CN" else pair[0]


def _sep(lang: Lang) -> str:
    return "；" if lang == "zh_CN" else "; "


def _colon(lang: Lang) -> str:
    return "：" if lang == "zh_CN" else ": "


def num(value: float | None) -> str:
    """30.0 -> "30", 2.5 -> "2.5", 0.1 + 0.2 -> "0.3", 1e6 -> "1000000"; "" for none."""
    return "" if value is None else format(Decimal(repr(round(value, 4))).normalize(), "f")


# ---------------------------------------------------------------- the document both files show

@dataclass(frozen=True)
class Run:
    """A piece of a table cell's text; `mono`: in a monospace font (a rule's condition)."""

    text: str
    mono: bool = False


Cell = str | list[Run]  # plain text, or runs of text some of which are code


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]
    widths: list[int] | None = None  # per cent of the page's width; none: as the content needs


@dataclass
class Part:
    """A heading with its lines of text and, when it has rows, a table; then its sub-parts (the case attributes
    under the control points), each a heading one level down."""

    key: str
    heading: str
    lines: list[str] = field(default_factory=list)
    table: Table | None = None
    parts: list[Part] = field(default_factory=list)


@dataclass
class Document:
    lang: Lang
    title: str
    process: str  # "YH-LC01 用户注册激活流程"
    number: str  # "V1.0", or "草稿" / "Draft"
    facts: list[tuple[str, str]]  # the version block
    signoff: list[tuple[str, str]]
    parts: list[Part]  # the seven sections
    text: dict[str, str]  # TEXT in the document's language

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.lang == "zh_CN" else "en"


def document(session: Session, v: SopVersionRead, lang: Lang) -> Document:
    t = {key: _in(lang, pair) for key, pair in TEXT.items()}
    departments = {d.code: d.label(lang) for d in list_departments(session)}
    dept = lambda code: departments.get(code, code) if code else ""  # noqa: E731
    number = v.number or t["draft"]
    process = f"{v.process.code} {v.process.name}"
    reviewers = _sep(lang).join(_with_department(r.user.display_name, dept(r.department), lang)
                                for r in v.reviewers)
    facts = [(t["process"], process), (t["version"], number), (t["status"], _in(lang, STATUS_TEXT[v.status])),
             (t["effective_date"], v.effective_date.isoformat() if v.effective_date else "—"),
             (t["author"], v.author.display_name if v.author else "—"), (t["reviewers"], reviewers or "—")]
    signoff = [(t["signed_by"], v.signed_by.display_name if v.signed_by else "—"),
               (t["signed_at"], _when(v.signed_at)), (t["hash"], v.signed_hash or "—")]
    parts = [_purpose(session, v, t, lang), _scope(v, t, dept, lang), _raci(v, t), _steps(v, t, dept),
             _control_points(v, t, lang), _forms(v, t, lang), _contingencies(v, t, lang)]
    for n, part in enumerate(parts, start=1):
        part.heading = f"{n}. {part.heading}"
        if part.table is None and not part.lines and not part.parts:
            part.lines.append(t["none"])
    return Document(lang=lang, title=f"{process} {t['title']}", process=process, number=number, facts=facts,
                    signoff=signoff, parts=parts, text=t)


def _with_department(name: str, department: str, lang: Lang) -> str:
    if not department:
        return name
    return f"{name}（{department}）" if lang == "zh_CN" else f"{name} ({department})"


def _when(at: datetime | None) -> str:
    if at is None:
        return "—"
    tz = get_settings().business_timezone
    return f"{at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} ({tz})"


def _table(header: list[str], rows: list[list[Cell]], widths: list[int] | None = None) -> Table | None:
    return Table(header, rows, widths) if rows else None


def _purpose(session: Session, v: SopVersionRead, t: dict[str, str], lang: Lang) -> Part:
    p = v.content.purpose
    lines = [p.text] if p.text else []
    if p.baseline is not None or p.target is not None:
        kpi = session.get(Kpi, p.kpi_id) if p.kpi_id else None
        name = (kpi.name_zh if lang == "zh_CN" else kpi.name_en) if kpi else ""
        unit = f" {p.unit}" if p.unit else ""
        what = f"{name}{_colon(lang)}" if name else ""
        change = f"{num(p.baseline) or '?'} → {num(p.target) or '?'}"
        lines.append(f"{t['target']}{_colon(lang)}{what}{change}{unit}")
    return Part("purpose", t["purpose"], lines)


def _scope(v: SopVersionRead, t: dict[str, str], dept: Any, lang: Lang) -> Part:
    s = v.content.scope
    lines = [f"{t[key]}{_colon(lang)}{_sep(lang).join(values)}" for key, values in (
        ("scenarios", s.scenarios), ("departments", [dept(c) for c in s.departments]), ("roles", s.roles))
        if values]
    return Part("scope", t["scope"], lines)


def _raci(v: SopVersionRead, t: dict[str, str]) -> Part:
    r = v.content.raci
    letters = {(c.activity, c.role): c.letters for c in r.cells}
    rows = [[a.name, *(letters.get((a.name, role), "") for role in r.roles)] for a in r.activities]
    table = _table([t["activity"], *r.roles], rows)
    return Part("raci", t["raci"], [t["raci_legend"]] if table else [], table)


def _steps(v: SopVersionRead, t: dict[str, str], dept: Any) -> Part:
    steps = v.content.steps
    rows = [[str(n), s.name, dept(s.department), s.role, s.inputs, s.outputs, s.instructions, s.system_path,
             num(s.minutes)] for n, s in enumerate(steps, start=1)]
    header = [t[k] for k in ("no", "step", "department", "role", "inputs", "outputs", "instructions",
                             "system_path", "minutes")]
    total = [t["total_minutes"].format(minutes=num(sum(s.minutes for s in steps)))] if steps else []
    return Part("steps", t["steps"], total, _table(header, rows, [5, 11, 7, 9, 10, 10, 30, 10, 8]))


def requirement_text(r: Requirement, t: dict[str, str]) -> str:
    """A rule's requirement as a sentence in the document's language (`t`: TEXT in it)."""
    text = t["req_activity_by" if r.role else "req_activity"].format(activity=r.activity, role=r.role)
    if r.before:
        text += t["req_before"].format(activity=r.before)
    if r.within_minutes is not None:
        text += t["req_within" if r.after else "req_within_start"].format(minutes=num(r.within_minutes),
                                                                           activity=r.after)
    return text


def _condition(condition: str, t: dict[str, str], lang: Lang) -> list[Run]:
    """"Condition: " and the CEL text, in a monospace font."""
    return [Run(f"{t['condition']}{_colon(lang)}"), Run(condition, mono=True)]


def _rule(c: ControlPoint, t: dict[str, str], lang: Lang) -> Cell:
    if c.rule is None:
        return ""
    sentence = f"\n{t['requirement']}{_colon(lang)}{requirement_text(c.rule.requirement, t)}"
    return [*_condition(c.rule.condition, t, lang), Run(sentence)]


def _control_points(v: SopVersionRead, t: dict[str, str], lang: Lang) -> Part:
    at = {s.id: f"{n}. {s.name}" for n, s in enumerate(v.content.steps, start=1)}
    points = v.content.control_points
    rows: list[list[Cell]] = [[str(n), at.get(c.step_id, "") if c.step_id else "", c.description, c.approver_role]
                              for n, c in enumerate(points, start=1)]
    header, widths = [t["no"], t["at_step"], t["description"], t["approver_role"]], [6, 24, 50, 20]
    if any(c.rule for c in points):  # a column for the rules only when there are any
        for row, c in zip(rows, points, strict=True):
            row.append(_rule(c, t, lang))
        header, widths = [*header, t["rule"]], [5, 15, 30, 14, 36]
    attributes = [[str(n), [Run(a.name, mono=True)], _in(lang, ATTRIBUTE_TYPE_TEXT[a.type])]
                  for n, a in enumerate(v.content.attributes, start=1)]
    sub = [Part("attributes", t["attributes"], table=_table([t["no"], t["name"], t["type"]], attributes,
                                                            [6, 47, 47]))] if attributes else []
    return Part("control_points", t["control_points"], table=_table(header, rows, widths), parts=sub)


def _forms(v: SopVersionRead, t: dict[str, str], lang: Lang) -> Part:
    rows = [[str(n), f.name, _in(lang, FORM_KIND_TEXT[f.kind]), f.location]
            for n, f in enumerate(v.content.forms, start=1)]
    header = [t["no"], t["name"], t["kind"], t["location"]]
    return Part("forms", t["forms"], table=_table(header, rows, [6, 34, 14, 46]))


def _exception(c: Contingency, points: dict[Any, str], t: dict[str, str], lang: Lang) -> Cell:
    """A special case of a control point: which one (its number and description), and the condition."""
    if c.control_point_id is None or c.condition is None:
        return ""
    return [Run(f"{points.get(c.control_point_id, str(c.control_point_id))}\n"),
            *_condition(c.condition, t, lang)]


def _contingencies(v: SopVersionRead, t: dict[str, str], lang: Lang) -> Part:
    cases = v.content.contingencies
    rows: list[list[Cell]] = [[str(n), _in(lang, CONTINGENCY_TEXT[c.kind]), c.situation, c.instead, c.approver,
                               "" if c.backfill_hours is None else str(c.backfill_hours)]
                              for n, c in enumerate(cases, start=1)]
    header = [t[k] for k in ("no", "kind", "situation", "instead", "approver", "backfill")]
    widths = [6, 12, 24, 30, 16, 12]
    if any(c.control_point_id for c in cases):  # a column for the exceptions only when there are any
        points = {c.id: f"{n}. {c.description}" for n, c in enumerate(v.content.control_points, start=1) if c.id}
        for row, c in zip(rows, cases, strict=True):
            row.append(_exception(c, points, t, lang))
        header, widths = [*header, t["exception_of"]], [5, 10, 17, 22, 12, 9, 25]
    return Part("contingencies", t["contingencies"], table=_table(header, rows, widths))


def file_name(v: SopVersionRead, lang: Lang, ext: str) -> str:
    return f"sop-{v.process.code}-{v.number or 'draft'}-{v.id}-{lang}.{ext}"


# ---------------------------------------------------------------- DOCX

def to_docx(doc: Document) -> bytes:
    return docx_bytes(doc.title, doc.lang, [(doc.text["version_block"], doc.facts), (doc.text["signoff"], doc.signoff)],
                      doc.parts)


def docx_bytes(title: str, lang: Lang, blocks: list[tuple[str, list[tuple[str, str]]]], parts: list[Part]) -> bytes:
    """A Word document: the title, blocks of facts (a heading over a two-column table each), then the parts (a
    heading, lines, a table, sub-parts), in fonts that show Chinese in Word and WPS. The SOP and the quarterly
    review are written with it."""
    # python-docx loads lxml and its template package (~0.1 s): imported when a document is written
    from docx import Document as new_docx
    from docx.shared import Pt

    d = new_docx()
    _fonts(d, lang)
    d.styles["Table Grid"].font.size = Pt(9)
    d.core_properties.title = title
    d.core_properties.language = "zh-CN" if lang == "zh_CN" else "en"
    d.add_heading(title, 0)
    for heading, facts in blocks:
        d.add_heading(heading, 1)
        _facts(d, facts)
    for part in parts:
        _docx_part(d, part, 1)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _docx_part(d: Any, part: Part, level: int) -> None:
    d.add_heading(part.heading, level)
    for line in part.lines:
        d.add_paragraph(line)
    if part.table is not None:
        _docx_table(d, part.table.header, part.table.rows)
    for sub in part.parts:
        _docx_part(d, sub, level + 1)


def _fonts(d: Any, lang: Lang) -> None:
    """Latin and East Asian fonts named outright (w:ascii, w:hAnsi, w:eastAsia) in the defaults and the
    heading styles, their theme references removed (a theme attribute wins over a named font), and the East
    Asian language set, so Word and WPS show the Chinese text in a Chinese font."""
    # loaded with python-docx, when a document is written (to_docx)
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    defaults = d.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _name_fonts(defaults.get_or_add_rFonts(), BODY_CJK_FONT)
    lang_el = defaults.find(qn("w:lang"))
    if lang_el is None:
        lang_el = OxmlElement("w:lang")
        defaults.append(lang_el)
    lang_el.set(qn("w:val"), "zh-CN" if lang == "zh_CN" else "en-US")
    lang_el.set(qn("w:eastAsia"), "zh-CN")
    for name in ("Title", "Heading 1", "Heading 2"):
        _name_fonts(d.styles[name].element.get_or_add_rPr().get_or_add_rFonts(), HEADING_CJK_FONT)


def _name_fonts(fonts: Any, cjk: str) -> None:
    from docx.oxml.ns import qn  # loaded with python-docx, when a document is written (to_docx)

    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), cjk)


def _facts(d: Any, facts: list[tuple[str, str]]) -> None:
    table = d.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in facts:
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(label).bold = True
        cells[1].paragraphs[0].add_run(value)


def _docx_table(d: Any, header: list[str], rows: list[list[Cell]]) -> None:
    # loaded with python-docx, when a document is written (to_docx)
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    table = d.add_table(rows=1 + len(rows), cols=len(header))  # made at once: faster than row by row
    table.style = "Table Grid"
    head, *body = table.rows
    repeat = OxmlElement("w:tblHeader")  # the header row again on every page
    repeat.set(qn("w:val"), "true")
    head._tr.get_or_add_trPr().append(repeat)
    # A new cell holds one empty paragraph: a run added to it is faster than setting `cell.text`.
    for cell, text in zip(head.cells, header, strict=True):
        cell.paragraphs[0].add_run(text).bold = True
    for row, texts in zip(body, rows, strict=True):
        for cell, text in zip(row.cells, texts, strict=True):
            if isinstance(text, str):
                cell.paragraphs[0].add_run(text)
                continue
            for run in text:  # a run's "\n" is a line break (python-docx)
                r = cell.paragraphs[0].add_run(run.text)
                if run.mono:
                    r.font.name = MONO_FONT


# ---------------------------------------------------------------- PDF

@functools.cache
def pdf_unavailable_reason() -> str | None:
    """Why this machine cannot render PDFs (WeasyPrint not installed, or Pango and its libraries missing), or
    None when it can. Asked once per process: the answer does not change while it runs."""
    try:
        # WeasyPrint takes ~0.8 s to import and loads Pango: imported on the first PDF, not at start-up
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"WeasyPrint cannot be loaded ({type(exc).__name__}: {exc})"
    return None


def to_pdf(doc: Document) -> bytes:
    # imported after `pdf_unavailable_reason` said it loads (~0.8 s, Pango): not at start-up
    from weasyprint import HTML

    html = templates.env.get_template(PDF_TEMPLATE).render(doc=doc)
    return HTML(string=html).write_pdf()


# ---------------------------------------------------------------- the files the API sends

def docx_file(session: Session, version_id: int, lang: Lang, actor: User) -> tuple[bytes, str]:
    """The DOCX of a version the actor may read, and its file name."""
    v = service.to_read(session, service.read_version(session, version_id, actor))
    return to_docx(document(session, v, lang)), file_name(v, lang, "docx")


def pdf_file(session: Session, version_id: int, lang: Lang, actor: User) -> tuple[bytes, str]:
    """The controlled copy of a published version, and its file name; 409 for any other version, 503 where
    PDFs cannot be rendered."""
    version = service.read_version(session, version_id, actor)
    if version.state != SopState.published:
        state = version.state.value
        raise Conflict(f"Only a published version has a controlled copy (PDF); this one is {state}. "
                       "Download its DOCX instead.", state=state)
    reason = pdf_unavailable_reason()
    if reason is not None:
        raise PdfUnavailable(f"PDF rendering is unavailable on this server: {reason}. The DOCX works.")
    v = service.to_read(session, version)
    return to_pdf(document(session, v, lang)), file_name(v, lang, "pdf")


def table4_rows(rows: list[Table4Row], lang: Lang) -> Iterator[list[Any]]:
    yield [zh if lang == "zh_CN" else en for _, en, zh in TABLE4_COLUMNS]
    for r in rows:
        yield [r.process_code, r.process_name, r.version, r.effective_date.isoformat(), r.change_summary,
               r.author, _sep(lang).join(r.reviewers), r.note]


def table4_file(session: Session, sop_id: int, fmt: ExportFormat, lang: Lang) -> tuple[bytes, str, str]:
    """Table 4 of an SOP as CSV (UTF-8 with BOM) or XLSX: body, media type, file name."""
    rows = service.table4(session, sop_id)
    process = get_process(session, service.get_sop(session, sop_id).process_id)
    name = f"table4-{process.code}-{lang}.{fmt.value}"
    if fmt == ExportFormat.csv:
        return csv_bytes(table4_rows(rows, lang)), CSV_TYPE, name
    return _table4_xlsx(rows, lang, process.name), XLSX_TYPE, name


def _table4_xlsx(rows: list[Table4Row], lang: Lang, process_name: str) -> bytes:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is written, not at start-up
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = TABLE4_TITLE[lang]
    write_table(ws, f"{TABLE4_TITLE[lang]} - {process_name}", table4_rows(rows, lang),
                [12, 24, 10, 12, 40, 16, 24, 30])
    ws.freeze_panes = "A3"
    if rows:
        ws.auto_filter.ref = f"A2:{get_column_letter(len(TABLE4_COLUMNS))}{len(rows) + 2}"
    return workbook_bytes(wb)
