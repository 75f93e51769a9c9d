"""Table 3 (试点效果评估表, the pilot's evaluation) as CSV and XLSX, column names in English or Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from app.core.spreadsheets import csv_bytes, workbook_bytes, write_table
from app.pilots.schemas import Table3Row

Lang = Literal["en", "zh_CN"]

# The method's eight columns, in its order: (English, Simplified Chinese).
COLUMNS: list[tuple[str, str]] = [
    ("Piloted process", "试点流程"),
    ("Pilot scope", "试点范围"),
    ("Key indicator", "关键指标"),
    ("Before", "优化前数据"),
    ("After", "优化后数据"),
    ("Difference rate", "差异率"),
    ("Satisfaction (1-5)", "满意度(1-5分)"),
    ("Unmet problems and causes", "未达标问题及原因"),
]
TITLE = {"en": "Pilot evaluation (table 3)", "zh_CN": "试点效果评估表"}


def figure(value: float | None, unit: str) -> str:
    """30.0 min -> "30 min"; a rate (%) is shown as a percentage; "" for none."""
    if value is None:
        return ""
    if unit == "%":
        return f"{value * 100:.1f} %"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def rate(value: float | None) -> str:
    """-0.7333 -> "-73.3 %"."""
    return "" if value is None else f"{value * 100:+.1f} %".replace("+-", "-")


def export_rows(rows: list[Table3Row], lang: Lang) -> Iterator[list[Any]]:
    i = 1 if lang == "zh_CN" else 0
    sep = "；" if lang == "zh_CN" else "; "
    yield [c[i] for c in COLUMNS]
    for r in rows:
        yield [r.process, r.scope, r.kpi, figure(r.before, r.unit), figure(r.after, r.unit), rate(r.diff_rate),
               "" if r.satisfaction is None else f"{r.satisfaction:.1f}", sep.join(r.unmet)]


def to_csv(rows: list[Table3Row], lang: Lang) -> bytes:
    return csv_bytes(export_rows(rows, lang))


def to_xlsx(rows: list[Table3Row], lang: Lang, process: str) -> bytes:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is written, not at start-up
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = TITLE[lang][:31]
    write_table(ws, f"{TITLE[lang]} - {process}", export_rows(rows, lang), [24, 16, 24, 14, 14, 12, 12, 40])
    ws.freeze_panes = "A3"
    return workbook_bytes(wb)
