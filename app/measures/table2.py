"""Table 2 (流程优化方案设计表, the optimization plan) as CSV and XLSX, column names in English or Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from app.core.spreadsheets import csv_bytes, workbook_bytes, write_table
from app.measures.models import EffectDirection, MeasureStatus, MeasureType
from app.measures.schemas import MeasureRead

Lang = Literal["en", "zh_CN"]

# (key, English, Simplified Chinese): the method's six columns, then what procopt adds.
COLUMNS: list[tuple[str, str, str]] = [
    ("no", "No.", "序号"),
    ("goal", "Goal", "优化目标"),
    ("problems", "Problem", "对应问题"),
    ("description", "Measures", "具体措施"),
    ("department", "Responsible department", "责任部门"),
    ("due_date", "Completion date", "完成时间"),
    ("effect", "Expected effect", "预期效果"),
    ("type", "Type", "措施类型"),
    ("owner", "Owner", "负责人"),
    ("status", "Status", "状态"),
    ("overdue", "Overdue", "逾期"),
    ("progress_notes", "Progress notes", "进展说明"),
]
TYPE_LABELS: dict[MeasureType, tuple[str, str]] = {
    MeasureType.remove_step: ("Remove a step", "删除步骤"),
    MeasureType.automate: ("Automate", "自动化"),
    MeasureType.parallelize: ("Run in parallel", "并行处理"),
    MeasureType.standard: ("Standard", "标准化"),
    MeasureType.validation: ("Validation", "校验"),
    MeasureType.training: ("Training / SOP", "培训 / SOP"),
    MeasureType.raci: ("RACI / responsibility", "RACI / 职责"),
    MeasureType.communication: ("Communication", "沟通机制"),
    MeasureType.compliance_clause: ("Compliance clause", "合规条款"),
    MeasureType.alert: ("Alert", "预警"),
}
STATUS_LABELS: dict[MeasureStatus, tuple[str, str]] = {
    MeasureStatus.planned: ("Planned", "计划中"),
    MeasureStatus.in_progress: ("In progress", "进行中"),
    MeasureStatus.done: ("Done", "已完成"),
    MeasureStatus.dropped: ("Dropped", "已放弃"),
}
SHEET_TITLE = {"en": "Table 2 optimization plan", "zh_CN": "流程优化方案设计表"}


@dataclass
class ExportContext:
    process_name: str
    department_labels: dict[str, str]  # code -> label in the export's language
    lang: Lang


def num(value: Decimal | None) -> str:
    """30.0000 -> "30", 1.5000 -> "1.5"; "" for none."""
    return "" if value is None else format(value.normalize(), "f")


def effect_text(m: MeasureRead, lang: Lang = "en") -> str:
    """E.g. "Activation time: 30 -> 5 min (lower is better)"."""
    if m.effect_baseline is None and m.effect_target is None and not m.effect_metric:
        return ""
    parts = [f"{m.effect_metric}: " if m.effect_metric else ""]
    base = num(m.effect_baseline) if m.effect_baseline is not None else "?"
    target = num(m.effect_target) if m.effect_target is not None else "?"
    parts.append(f"{base} -> {target}")
    if m.effect_unit:
        parts.append(f" {m.effect_unit}")
    if m.effect_direction is not None:
        zh = lang == "zh_CN"
        text = {EffectDirection.lower_is_better: ("lower is better", "越低越好"),
                EffectDirection.higher_is_better: ("higher is better", "越高越好")}[m.effect_direction][int(zh)]
        parts.append(f"（{text}）" if zh else f" ({text})")
    return "".join(parts)


def column_title(key: str, lang: Lang) -> str:
    return next(zh if lang == "zh_CN" else en for k, en, zh in COLUMNS if k == key)


def export_rows(measures: list[MeasureRead], ctx: ExportContext) -> Iterator[list[Any]]:
    i = 1 if ctx.lang == "zh_CN" else 0
    sep = "；" if ctx.lang == "zh_CN" else "; "
    yield [column_title(k, ctx.lang) for k, _, _ in COLUMNS]
    for n, m in enumerate(measures, start=1):
        yield [
            n,
            m.goal,
            sep.join(p.title for p in m.issues),
            m.description,
            ctx.department_labels.get(m.department, m.department) if m.department else "",
            m.due_date.isoformat() if m.due_date else "",
            effect_text(m, ctx.lang),
            TYPE_LABELS[m.type][i],
            m.owner.display_name if m.owner else "",
            STATUS_LABELS[m.status][i],
            ("是" if i else "yes") if m.overdue else "",
            m.progress_notes,
        ]


def to_csv(measures: list[MeasureRead], ctx: ExportContext) -> bytes:
    return csv_bytes(export_rows(measures, ctx))


def to_xlsx(measures: list[MeasureRead], ctx: ExportContext) -> bytes:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is read or written, not at start-up
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE[ctx.lang]
    title = ("流程优化方案设计表" if ctx.lang == "zh_CN" else "Optimization plan (table 2)") + \
        f" - {ctx.process_name}"
    write_table(ws, title, export_rows(measures, ctx), [6, 24, 28, 40, 16, 12, 30, 14, 16, 10, 8, 30])
    ws.freeze_panes = "A3"
    if measures:
        ws.auto_filter.ref = f"A2:{get_column_letter(len(COLUMNS))}{len(measures) + 2}"
    return workbook_bytes(wb)
