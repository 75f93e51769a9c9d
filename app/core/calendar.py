"""The business calendar: dates as the business sees them (`BUSINESS_TIMEZONE`)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from app.core.config import get_settings
from app.core.db import utcnow


def today() -> date:
    """Today in the business time zone (phases and countermeasures are planned in calendar days)."""
    return utcnow().astimezone(ZoneInfo(get_settings().business_timezone)).date()
