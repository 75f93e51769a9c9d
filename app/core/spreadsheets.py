"""CSV and XLSX exports that Excel and WPS open as people expect (shared by tables 1 and 2 and RACI)."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Iterable
from typing import Any

# Text starting with one of these is read as a formula by spreadsheet programs (CSV injection).
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = "DDE7F3"


class ExportFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class ExportLang(enum.StrEnum):
    """Language of an export's column names and values."""

    en = "en"
    zh_CN = "zh_CN"


def neutralised(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_bytes(rows: Iterable[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel and WPS open Chinese text correctly; no formulas."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralised(v) if isinstance(v, str) else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def cell_text(value: Any) -> Any:
    """A value as an XLSX cell can hold it: text without the C0 control characters XML 1.0 forbids (all
    but tab, line feed and carriage return; openpyxl refuses to write them, so one such character made the
    whole export fail). New text with them is refused at input (`app.core.db`); this is for text stored
    before. Every cell and title of tables 1 and 2 and the RACI matrix is written through it."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # openpyxl's own test, imported with openpyxl

        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def write_table(ws: Any, title: str | None, rows: Iterable[list[Any]], widths: list[int],
                wrap: Callable[[int], bool] = lambda _column: True) -> int:
    """A bold title line (when given), a shaded header row, then the rows; text never becomes a formula and
    loses the characters a cell cannot hold (`cell_text`). Returns the number of the header row."""
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is read or written, not at start-up
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header = 1
    if title is not None:
        ws.append([cell_text(title)])
        ws["A1"].font = Font(bold=True, size=13)
        header = 2
    fill = PatternFill("solid", fgColor=HEADER_FILL)
    for r, row in enumerate(rows, start=header):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=cell_text(value))
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            if r == header:
                cell.font = Font(bold=True)
                cell.fill = fill
                cell.alignment = Alignment(wrap_text=True, vertical="center")
            elif wrap(c):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w
    return header


def workbook_bytes(wb: Any) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_xlsx(sheet: str, title: str, rows: Iterable[list[Any]], widths: list[int],
               wrap: Callable[[int], bool] = lambda _column: True) -> bytes:
    """A one-sheet workbook: `write_table` with its title line, the header row frozen."""
    from openpyxl import Workbook  # ~0.1 s to import: loaded when a spreadsheet is written

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = sheet[:31]
    write_table(ws, title, rows, widths, wrap=wrap)
    ws.freeze_panes = "A3"
    return workbook_bytes(wb)
