"""Table 1 (运营流程现状调研表, the current-state survey) as CSV and XLSX, both ways.

Column names follow the method, in English or Simplified Chinese; an import accepts either
(and the machine keys), finds the header row within the first rows (an exported XLSX has a
title above it), and is all-or-nothing: every bad row is reported with its spreadsheet row
number and nothing is imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError

from app.core.db import control_message
from app.core.forms import split
from app.core.spreadsheets import FORMULA_START, cell_text, csv_bytes, workbook_bytes, write_table
from app.departments.models import Department
from app.survey.models import ProblemCategory, StepKind
from app.survey.schemas import StepCreate, StepRead, SurveySummary

Lang = Literal["en", "zh_CN"]
MAX_ROWS = 500
MAX_BYTES = 2 * 1024 * 1024
HEADER_SCAN_ROWS = 10

# (key, English, Simplified Chinese): the method's table 1 columns, plus what procopt adds.
COLUMNS: list[tuple[str, str, str]] = [
    ("no", "No.", "序号"),
    ("process", "Process name", "流程名称"),
    ("departments_involved", "Departments involved", "涉及部门"),
    ("step", "Current step", "现有步骤"),
    ("kind", "Step type", "步骤类型"),
    ("department", "Responsible department", "责任部门"),
    ("role", "Responsible role", "责任岗位"),
    ("minutes", "Minutes", "耗时（分钟）"),
    ("waiting_minutes", "Waiting minutes", "等待时间（分钟）"),
    ("systems", "Systems used", "使用系统"),
    ("problems", "Problems", "存在问题"),
    ("description", "Problem description", "问题描述"),
]
# Other spellings seen in the method and in hand-made sheets.
ALIASES: dict[str, list[str]] = {
    "step": ["步骤", "现有步骤（按顺序）", "steps", "step"],
    "minutes": ["耗时", "各步骤耗时（分钟）", "耗时(分钟)", "minutes per step", "time (min)"],
    "waiting_minutes": ["等待时间", "等待（分钟）", "waiting", "wait (min)"],
    "role": ["责任岗位/角色", "role"],
    "department": ["部门", "department"],
    "problems": ["问题", "存在问题（多选）", "problem flags"],
    "description": ["description", "说明"],
}
KIND_LABELS: dict[StepKind, tuple[str, str]] = {
    StepKind.input: ("Input", "输入"),
    StepKind.activity: ("Activity", "活动"),
    StepKind.decision: ("Decision", "决策"),
    StepKind.output: ("Output", "输出"),
}
FLAG_LABELS: dict[ProblemCategory, tuple[str, str]] = {
    ProblemCategory.efficiency: ("Low efficiency", "效率低"),
    ProblemCategory.quality: ("Poor quality", "质量差"),
    ProblemCategory.collaboration: ("Hard collaboration", "协同难"),
    ProblemCategory.risk: ("High risk", "风险高"),
}
FLAG_ALIASES: dict[str, ProblemCategory] = {
    "效率": ProblemCategory.efficiency, "质量": ProblemCategory.quality, "协同": ProblemCategory.collaboration,
    "风险": ProblemCategory.risk, "低效": ProblemCategory.efficiency,
}
SHEET_TITLE = {"en": "Table 1 current state", "zh_CN": "现状调研表"}
SUMMARY_TITLE = {"en": "Totals", "zh_CN": "汇总"}


def _norm(text: object) -> str:
    s = str(text or "").strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", " ", s)


def _header_index() -> dict[str, str]:
    out: dict[str, str] = {}
    for key, en, zh in COLUMNS:
        for name in (key, en, zh, *ALIASES.get(key, [])):
            out[_norm(name)] = key
    return out


HEADERS = _header_index()


def _choice_index(labels: dict[Any, tuple[str, str]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value, (en, zh) in labels.items():
        for name in (value.value, en, zh):
            out[_norm(name)] = value
    for name, value in (extra or {}).items():
        out[_norm(name)] = value
    return out


KINDS = _choice_index(KIND_LABELS)
FLAGS = _choice_index(FLAG_LABELS, FLAG_ALIASES)


def column_title(key: str, lang: Lang) -> str:
    for k, en, zh in COLUMNS:
        if k == key:
            return zh if lang == "zh_CN" else en
    return key


# ---------------------------------------------------------------- export

@dataclass
class ExportContext:
    process_name: str
    departments_involved: list[str]
    department_labels: dict[str, str]  # code -> label in the export's language
    lang: Lang


def export_rows(steps: list[StepRead], ctx: ExportContext) -> Iterator[list[Any]]:
    i = 1 if ctx.lang == "zh_CN" else 0
    sep = "、" if ctx.lang == "zh_CN" else ", "
    yield [column_title(k, ctx.lang) for k, _, _ in COLUMNS]
    involved = sep.join(ctx.department_labels.get(c, c) for c in ctx.departments_involved)
    for s in steps:
        yield [
            s.position,
            ctx.process_name,
            involved,
            s.name,
            KIND_LABELS[s.kind][i],
            ctx.department_labels.get(s.department, s.department) if s.department else "",
            s.role,
            _number(s.minutes),
            _number(s.waiting_minutes),
            sep.join(s.systems),
            sep.join(FLAG_LABELS[f][i] for f in s.problem_flags),
            s.description,
        ]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def to_csv(steps: list[StepRead], ctx: ExportContext) -> bytes:
    return csv_bytes(export_rows(steps, ctx))


def to_xlsx(steps: list[StepRead], ctx: ExportContext, summary: SurveySummary) -> bytes:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is read or written, not at start-up
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE[ctx.lang]
    title = ("运营流程现状调研表" if ctx.lang == "zh_CN" else "Current-state survey (table 1)") + \
        f" - {ctx.process_name}"
    write_table(ws, title, export_rows(steps, ctx), [6, 24, 22, 28, 10, 16, 18, 12, 14, 22, 24, 44],
                wrap=lambda c: c in (4, 12))
    ws.freeze_panes = "A3"
    if steps:
        ws.auto_filter.ref = f"A2:{get_column_letter(len(COLUMNS))}{len(steps) + 2}"

    zh = ctx.lang == "zh_CN"
    sm = wb.create_sheet(SUMMARY_TITLE[ctx.lang])
    sm.append(["部门" if zh else "Department", "步骤数" if zh else "Steps", "耗时（分钟）" if zh else "Minutes",
               "等待时间（分钟）" if zh else "Waiting minutes", "合计（分钟）" if zh else "Total minutes"])
    for d in summary.departments:
        label = ctx.department_labels.get(d.department, d.department) if d.department else \
            ("未指定" if zh else "Unassigned")
        sm.append([cell_text(label), d.steps, _number(d.minutes), _number(d.waiting_minutes),
                   _number(d.total_minutes)])
    sm.append(["合计" if zh else "Total", summary.steps, _number(summary.minutes),
               _number(summary.waiting_minutes), _number(summary.total_minutes)])
    sm.append([])
    sm.append(["等待时间占比" if zh else "Share of waiting time",
               summary.waiting_share if summary.waiting_share is not None else ""])
    if summary.waiting_share is not None:
        sm.cell(row=sm.max_row, column=2).number_format = "0.0%"
    for c in range(1, 6):
        sm.cell(row=1, column=c).font = Font(bold=True)
        sm.column_dimensions[get_column_letter(c)].width = 18
    return workbook_bytes(wb)


# ---------------------------------------------------------------- import

@dataclass
class ParsedTable:
    rows: list[tuple[int, StepCreate]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class TableFormatError(ValueError):
    """The file cannot be read as a table at all."""


def read_rows(content: bytes, filename: str) -> list[list[Any]]:
    if len(content) > MAX_BYTES:
        raise TableFormatError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        return _xlsx_rows(content)
    return _csv_rows(content)


def _csv_rows(content: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise TableFormatError("The file is neither UTF-8 nor GB18030 text.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise TableFormatError(f"The CSV file cannot be read: {exc}") from exc


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is read or written, not at start-up
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise TableFormatError("The XLSX file cannot be read.") from exc
    try:
        ws = wb.worksheets[0]
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + HEADER_SCAN_ROWS + 1:
                break
        return rows
    finally:
        wb.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]  # our own CSV-injection guard
    return text


def _split(value: Any) -> list[str]:
    return split(_text(value))


def _minutes(value: Any) -> Decimal | str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    text = _text(value)
    if not text:
        return Decimal(0)
    try:
        return Decimal(text)
    except InvalidOperation:
        return text  # pydantic reports it


def parse(rows: list[list[Any]], departments: Iterable[Department]) -> ParsedTable:
    """Rows of a sheet -> validated steps, or the errors of every bad row (1-based row numbers)."""
    result = ParsedTable()
    header_at, columns = None, {}
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        found = {HEADERS[_norm(v)]: c for c, v in enumerate(row) if _norm(v) in HEADERS}
        if "step" in found:
            header_at, columns = i, found
            break
    if header_at is None:
        result.errors.append(_error(1, None, "No header row with a step column (e.g. 'Current step' or '现有步骤')."))
        return result
    if "minutes" not in columns:
        result.errors.append(_error(header_at + 1, None, "The minutes column ('Minutes' or '耗时（分钟）') is missing."))
        return result
    dept_index: dict[str, str] = {}
    for d in departments:
        for name in (d.code, d.name_en, d.name_zh):
            dept_index[_norm(name)] = d.code
    data_rows = [(i + 1, row) for i, row in enumerate(rows) if i > header_at and any(_text(v) for v in row)]
    if len(data_rows) > MAX_ROWS:
        result.errors.append(_error(data_rows[MAX_ROWS][0], None, f"At most {MAX_ROWS} steps per import."))
        return result
    header_row = rows[header_at]

    def cell(row: list[Any], key: str) -> Any:
        c = columns.get(key)
        return row[c] if c is not None and c < len(row) else None

    def title(key: str) -> str:
        return _text(header_row[columns[key]]) if key in columns else key

    for number, row in data_rows:
        errors: list[dict[str, Any]] = [_error(number, title(key), f"The cell {message}.") for key in columns
                                        if (message := control_message(_text(cell(row, key))))]
        kind_text = _text(cell(row, "kind"))
        kind = KINDS.get(_norm(kind_text), None) if kind_text else StepKind.activity
        if kind is None:
            errors.append(_error(number, title("kind"), f"Unknown step type: {kind_text}."))
        dept_text = _text(cell(row, "department"))
        dept = dept_index.get(_norm(dept_text)) if dept_text else None
        if dept_text and dept is None:
            errors.append(_error(number, title("department"), f"Unknown department: {dept_text}."))
        flags = []
        for token in _split(cell(row, "problems")):
            flag = FLAGS.get(_norm(token))
            if flag is None:
                errors.append(_error(number, title("problems"), f"Unknown problem category: {token}."))
            else:
                flags.append(flag)
        values = {
            "name": _text(cell(row, "step")),
            "kind": kind or StepKind.activity,
            "department": dept,
            "role": _text(cell(row, "role")),
            "minutes": _minutes(cell(row, "minutes")) if _text(cell(row, "minutes")) else None,
            "waiting_minutes": _minutes(cell(row, "waiting_minutes")),
            "systems": _split(cell(row, "systems")),
            "problem_flags": flags,
            "description": _text(cell(row, "description")),
        }
        try:
            step = StepCreate.model_validate(values)
        except ValidationError as exc:
            field_to_key = {"name": "step", "waiting_minutes": "waiting_minutes", "minutes": "minutes",
                            "role": "role", "systems": "systems", "description": "description"}
            for err in exc.errors():
                key = field_to_key.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else None
                message = "This field is required." if err["type"] in ("missing", "string_too_short",
                                                                        "decimal_type") else err["msg"]
                errors.append(_error(number, title(key) if key else None, message))
        else:
            if not errors:
                result.rows.append((number, step))
        result.errors.extend(errors)
    return result


def _error(row: int, column: str | None, message: str) -> dict[str, Any]:
    return {"loc": ["file", str(row)] + ([column] if column else []), "field": "file", "row": row,
            "column": column, "message": message, "type": "import_row"}
