"""Form field helpers for the initiative, survey, issue and measure pages (parsing itself: app.core.forms)."""

from __future__ import annotations

import re
from typing import Any

LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def number(raw: Any) -> Any:
    """A whole number from a form field when it is one; anything else goes to the schema as given."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if text.isdigit() else (text or None)


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
