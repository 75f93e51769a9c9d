"""The business calendar: dates as the business sees them (`BUSINESS_TIMEZONE`)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.core.config import get_settings
from app.core.db import utcnow


def today() -> date:
    """Today in the business time zone (phases and countermeasures are planned in calendar days)."""
    return utcnow().astimezone(ZoneInfo(get_settings().business_timezone)).date()


def add_working_days(day: date, n: int) -> date:
    """The `n`th working day (Monday to Friday) after `day`; no holidays are known."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day
