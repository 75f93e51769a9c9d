"""Translatable labels and messages of the metrics pages (extracted by `make i18n` through `N_`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.numbers import format_decimal, format_percent

from app.core.labels import FLASH, N_

METRIC_LABELS: dict[str, dict[str, str]] = {
    "direction": {
        "lower_is_better": N_("Lower is better"),
        "higher_is_better": N_("Higher is better"),
    },
    "aggregation": {
        "mean": N_("Mean"),
        "sum": N_("Sum"),
        "rate": N_("Rate"),
        "p50": N_("Median (p50)"),
        "p95": N_("95th percentile (p95)"),
    },
    "grain": {
        "day": N_("Day"),
        "week": N_("Week"),
        "month": N_("Month"),
        "quarter": N_("Quarter"),
    },
    "alert_kind": {
        "target_breach": N_("Target missed"),
        "worsening": N_("Worsening"),
    },
    "alert_status": {
        "open": N_("Open"),
        "acknowledged": N_("Acknowledged"),
        "resolved": N_("Resolved"),
    },
}

# Flash messages after a redirect; registered beside the core ones (the lead may move them into
# app/core/labels.py).
FLASH.update({
    "kpi_created": N_("KPI created."),
    "kpi_updated": N_("KPI saved."),
    "alert_acknowledged": N_("Alert acknowledged."),
    "rule_created": N_("Alert rule added."),
    "rule_updated": N_("Alert rule saved."),
})

MESSAGES = {
    "target_breach": N_("%(value)s misses the target %(target)s."),
    "worsening": N_("%(value)s is %(change)s worse than the mean of the previous %(periods)s periods "
                    "(%(reference)s)."),
}


def mlabel(kind: str, value: object, gettext: Callable[[str], str]) -> str:
    raw = getattr(value, "value", value)
    msgid = METRIC_LABELS.get(kind, {}).get(str(raw))
    return gettext(msgid) if msgid else str(raw)


def fmt_value(value: float | None, unit: str, is_rate: bool, locale: str) -> str:
    """A KPI value for people: rates as percentages, others with at most two decimals and the unit."""
    if value is None:
        return "—"
    if is_rate:
        return format_percent(value, "#,##0.#%", locale=locale)
    text = format_decimal(value, "#,##0.##", locale=locale)
    return f"{text}{unit}" if unit.startswith("/") else f"{text} {unit}".strip()


def fmt_rate(rate: float | None, locale: str) -> str:
    """A difference rate, signed: -0.733 -> "-73.3 %"."""
    if rate is None:
        return "—"
    return format_percent(rate, "+#,##0.#%;-#,##0.#%", locale=locale)


def alert_message(alert: Any, unit: str, is_rate: bool, locale: str, gettext: Callable[[str], str]) -> str:
    params = alert.params or {}

    def v(x: float | None) -> str:
        return fmt_value(x, unit, is_rate, locale)

    if alert.kind.value == "worsening":
        change = params.get("change_percent")
        return gettext(MESSAGES["worsening"]) % {
            "value": v(alert.value), "reference": v(alert.reference), "periods": params.get("periods", "?"),
            "change": format_percent((change or 0) / 100, "#,##0.#%", locale=locale)}
    return gettext(MESSAGES["target_breach"]) % {"value": v(alert.value), "target": v(alert.reference)}
