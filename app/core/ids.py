"""Record ids as requests may give them: whole numbers from 1 up to what the id columns hold.

Without the bound, a long number (`/issues/100000000000000000000`) reached the database and failed there
with a 500: SQLite's integers are 64-bit and PostgreSQL's `integer` id columns 32-bit. With it, the
request is a 422 naming the field, the same on both databases, and OpenAPI shows the range.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

# PostgreSQL `integer` (the id columns, positions and other whole-number columns); SQLite holds more.
INT_MAX = 2**31 - 1
# PostgreSQL `bigint` (the KPI observations' ids).
BIGINT_MAX = 2**63 - 1

Id = Annotated[int, Interval(ge=1, le=INT_MAX)]
BigId = Annotated[int, Interval(ge=1, le=BIGINT_MAX)]
# A 1-based place in a list (survey steps, RACI roles and activities); past the end means last.
Position = Id


def parse_id(text: str) -> int | None:
    """The id (or version) in a form field, a query or an ETag, or None when the text holds none: only
    the digits 0-9 count ("²" is a digit to `str.isdigit()` but `int()` refuses it) and only in range."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(INT_MAX)):
        value = int(text)
        return value if 1 <= value <= INT_MAX else None
    return None
