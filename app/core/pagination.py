"""Keyset pagination: opaque cursors, `next_cursor` in the body and an RFC 8288 `Link` header."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError

from app.core.errors import RuleViolation

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last item of a page; the next page starts after it."""

    keys: tuple[str, ...]
    values: tuple[Any, ...]

    def encode(self) -> str:
        raw = json.dumps({"k": list(self.keys), "v": list(self.values)}, separators=(",", ":"), default=str)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, keys: Sequence[str], types: Sequence[Any]) -> Cursor:
        """The cursor of `token`, made for `keys`, its values validated as `types` (`str`, `date`,
        `app.core.ids.Id`, ...): a tampered cursor is a 422, never a database error."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            got_keys, values = tuple(data["k"]), data["v"]
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_cursor() from exc
        if got_keys != tuple(keys) or not isinstance(values, list) or len(values) != len(keys):
            raise bad_cursor("The cursor belongs to another sort order; start again without it.")
        try:
            return cls(got_keys, _values_of(tuple(types)).validate_json(json.dumps(values), strict=True))
        except ValidationError as exc:
            raise bad_cursor() from exc


@lru_cache
def _values_of(types: tuple[Any, ...]) -> TypeAdapter[tuple[Any, ...]]:
    return TypeAdapter(tuple[types])  # type: ignore[valid-type]


def bad_cursor(detail: str = "The cursor is not valid.") -> RuleViolation:
    return RuleViolation(
        detail, errors=[{"loc": ["query", "cursor"], "field": "cursor", "message": detail, "type": "cursor"}]
    )


def page_window(rows: list[T], limit: int, cursor_of: Callable[[T], Cursor]) -> tuple[list[T], str | None]:
    """`rows` were fetched with `limit + 1`: cut to `limit` and say where the next page starts."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, cursor_of(rows[-1]).encode()
    return rows, None


def set_link_header(request: Request, response: Response, next_cursor: str | None) -> None:
    """`Link: <...>; rel="next"` with a relative reference (RFC 8288 allows one; it is resolved against the
    request's URL): the path and the query with the next cursor. Never the request's `Host`, which the
    client chose (a forged one would be echoed into the link), nor a scheme a proxy may have changed."""
    if next_cursor is None:
        return
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", next_cursor))
    path = quote(request.scope["path"])
    if path.startswith("//"):  # would be read as a host (a network-path reference)
        path = "/%2F" + path[2:]
    response.headers["Link"] = f'<{path}?{urlencode(params)}>; rel="next"'
