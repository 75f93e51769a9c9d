"""Form field helpers for the initiative, survey, issue and measure pages (parsing itself: app.core.forms)."""

from __future__ import annotations

import re
from typing import Any

LIST_SPLIT = re.compile(r"[,，、;；\n]+")


# An id or count from a form has at most this many digits: more would not fit the database's integers.
MAX_DIGITS = 18


def number(raw: Any) -> Any:
    """A whole number from a form field when it is one; anything else goes to the schema as given (and is
    refused there with a message): other digits than 0-9 ("²") and numbers too long to be an id."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS else (text or None)


def as_list(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    return raw if isinstance(raw, list) else [raw]


def split(raw: Any) -> list[str]:
    return [p.strip() for p in LIST_SPLIT.split(str(raw or "")) if p.strip()]


def version(form: dict[str, Any]) -> int:
    try:
        return int(form.get("version", ""))
    except (TypeError, ValueError):
        return -1
