"""A process's risk register as CSV and XLSX, column names and values in English or Chinese: a seeded risk's texts
in the export's language (the method's, translated by the catalog; an edited text as written). No cell is ever a
formula (`app.core.spreadsheets`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from app.core.i18n import gettext_for
from app.core.spreadsheets import csv_bytes, table_xlsx
from app.risks.schemas import RiskRead

Lang = Literal["en", "zh_CN"]

COLUMNS: list[tuple[str, str]] = [
    ("No.", "编号"), ("Initiative", "优化项目"), ("Risk", "风险描述"), ("How it shows", "风险表现"),
    ("Likelihood", "可能性"), ("Impact", "影响程度"), ("Score", "风险值"), ("Level", "风险等级"), ("Owner", "责任人"),
    ("Response", "应对措施"), ("Status", "状态"), ("Review date", "复核日期"), ("Review due", "是否到期复核"),
    ("Control points", "关联关键节点"), ("Threshold (%)", "合规率阈值（%）"), ("Flagged", "是否预警"),
    ("Why flagged", "预警原因"),
]
TITLE = {"en": "Risk register", "zh_CN": "风险登记表"}
STATUS = {"en": {"open": "Open", "mitigating": "Mitigating", "accepted": "Accepted", "closed": "Closed"},
          "zh_CN": {"open": "未处理", "mitigating": "应对中", "accepted": "已接受", "closed": "已关闭"}}
BAND = {"en": {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"},
        "zh_CN": {"low": "低", "medium": "中", "high": "高", "critical": "极高"}}
YES_NO = {"en": ("yes", "no"), "zh_CN": ("是", "否")}
NOT_IN_FORCE = {"en": "not in the SOP in force", "zh_CN": "现行SOP中已无此节点"}
POINT = {"en": "CP{n}", "zh_CN": "关键节点{n}"}
BELOW = {"en": "CP{n} {description}: {rate} in the week of {week}", "zh_CN": "关键节点{n}“{description}”：{week}当周合规率{rate}"}


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def export_rows(items: list[RiskRead], lang: Lang) -> Iterator[list[Any]]:
    i = 1 if lang == "zh_CN" else 0
    yes, no = YES_NO[lang]
    gettext = gettext_for(lang)

    def text(r: RiskRead, value: str) -> str:
        return gettext(value) if r.seed and value else value

    yield [c[i] for c in COLUMNS]
    for r in items:
        points = [POINT[lang].format(n=p.number) + (f" {p.description}" if p.description else "") if p.in_force
                  else f"{p.id} ({NOT_IN_FORCE[lang]})" for p in r.control_points]
        reasons = [BELOW[lang].format(n=f.number, description=f.description, rate=_percent(f.rate),
                                      week=f.week.isoformat()) for f in r.flag_reasons]
        yield [r.id, r.initiative_id or "", text(r, r.description), text(r, r.signs), r.likelihood, r.impact, r.score,
               BAND[lang][r.band.value], r.owner.display_name if r.owner else "", text(r, r.response),
               STATUS[lang][r.status.value], r.review_date.isoformat() if r.review_date else "",
               yes if r.review_due else no, "\n".join(points), r.compliance_threshold, yes if r.flagged else no,
               "\n".join(reasons)]


def to_csv(items: list[RiskRead], lang: Lang) -> bytes:
    return csv_bytes(export_rows(items, lang))


def to_xlsx(items: list[RiskRead], lang: Lang, title: str) -> bytes:
    return table_xlsx(TITLE[lang], f"{TITLE[lang]} - {title}", export_rows(items, lang),
                      [8, 10, 36, 36, 8, 8, 8, 10, 16, 48, 10, 12, 10, 36, 10, 8, 40],
                      wrap=lambda c: c in (3, 4, 10, 14, 17))
