"""A process's feedback as CSV and XLSX, column names and values in English or Chinese. An anonymous feedback's
sender column says so; nothing else about the sender exists to export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from app.core.spreadsheets import csv_bytes, table_xlsx
from app.feedback.schemas import FeedbackRead

Lang = Literal["en", "zh_CN"]

COLUMNS: list[tuple[str, str]] = [
    ("No.", "编号"), ("Received on", "提交日期"), ("Category", "类别"), ("Step", "步骤"), ("Feedback", "反馈内容"),
    ("Sender", "反馈人"), ("Status", "状态"), ("Overdue", "是否超期"), ("Replies", "回复"), ("Close reason", "关闭原因"),
    ("Problem", "转成的问题"),
]
TITLE = {"en": "Feedback", "zh_CN": "反馈记录"}
CATEGORY = {"en": {"efficiency": "Efficiency", "quality": "Quality", "collaboration": "Collaboration", "risk": "Risk",
                   "suggestion": "Suggestion"},
            "zh_CN": {"efficiency": "效率", "quality": "质量", "collaboration": "协同", "risk": "风险", "suggestion": "建议"}}
STATUS = {"en": {"new": "New", "acknowledged": "Acknowledged", "promoted": "Made a problem", "closed": "Closed"},
          "zh_CN": {"new": "新反馈", "acknowledged": "已确认", "promoted": "已转为问题", "closed": "已关闭"}}
ANONYMOUS = {"en": "anonymous", "zh_CN": "匿名"}
YES_NO = {"en": ("yes", "no"), "zh_CN": ("是", "否")}


def export_rows(items: list[FeedbackRead], lang: Lang) -> Iterator[list[Any]]:
    i = 1 if lang == "zh_CN" else 0
    yes, no = YES_NO[lang]
    yield [c[i] for c in COLUMNS]
    for f in items:
        yield [f.id, f.received_on.isoformat(), CATEGORY[lang][f.category.value], f.step_name or "", f.text,
               ANONYMOUS[lang] if f.anonymous else (f.author.display_name if f.author else ""),
               STATUS[lang][f.status.value], yes if f.overdue else no, "\n".join(r.text for r in f.replies),
               f.close_reason or "", f.issue_id or ""]


def to_csv(items: list[FeedbackRead], lang: Lang) -> bytes:
    return csv_bytes(export_rows(items, lang))


def to_xlsx(items: list[FeedbackRead], lang: Lang, title: str) -> bytes:
    return table_xlsx(TITLE[lang], f"{TITLE[lang]} - {title}", export_rows(items, lang),
                      [8, 12, 12, 20, 48, 16, 14, 10, 40, 30, 10], wrap=lambda c: c in (5, 9, 10))
