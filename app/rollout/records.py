"""The training record (培训记录) of a plan, per wave and department, as CSV and XLSX with column names and values
in English or Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel

from app.core.spreadsheets import csv_bytes, table_xlsx

Lang = Literal["en", "zh_CN"]

COLUMNS: list[tuple[str, str]] = [
    ("Wave", "批次"),
    ("Department", "部门"),
    ("Person", "人员"),
    ("Email", "邮箱"),
    ("Sessions attended", "参加培训次数"),
    ("Attempts", "测试次数"),
    ("Best score", "最高分"),
    ("Passed", "是否通过"),
    ("Retraining", "需重新培训"),
    ("Acknowledged", "阅读确认"),
]
TITLE = {"en": "Training record", "zh_CN": "培训记录"}
YES_NO = {"en": ("yes", "no"), "zh_CN": ("是", "否")}


class RecordRow(BaseModel):
    wave: str
    department: str
    person: str
    email: str
    attended: int
    attempts: int
    best_score: int | None
    passed: bool
    retraining: bool
    acknowledged: str  # the local date and time, "" when not


def export_rows(rows: list[RecordRow], lang: Lang) -> Iterator[list[Any]]:
    i = 1 if lang == "zh_CN" else 0
    yes, no = YES_NO[lang]
    yield [c[i] for c in COLUMNS]
    for r in rows:
        yield [r.wave, r.department, r.person, r.email, r.attended, r.attempts,
               "" if r.best_score is None else r.best_score, yes if r.passed else no, yes if r.retraining else no,
               r.acknowledged]


def to_csv(rows: list[RecordRow], lang: Lang) -> bytes:
    return csv_bytes(export_rows(rows, lang))


def to_xlsx(rows: list[RecordRow], lang: Lang, title: str) -> bytes:
    return table_xlsx(TITLE[lang], f"{TITLE[lang]} - {title}", export_rows(rows, lang),
                      [20, 18, 18, 26, 12, 10, 10, 10, 12, 20], wrap=lambda _c: False)
