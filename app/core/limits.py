"""How large a request body may be, per route: the one table `app.core.middleware.BodyLimit` enforces
before a body is read (a declared `Content-Length` over the limit is a 413 at once, a chunked body is cut
off with a 413 when it passes the limit).

Every route not listed takes `BODY_MAX_BYTES` (default 1 MiB): JSON bodies and forms, whose largest
legitimate instances are far smaller (a process description of 10,000 characters is at most 60 KB as
escaped JSON). The routes listed are the uploads, each allowed its file's own limit plus `FORM_ROOM` for
the multipart framing and the form's other fields, and two JSON bodies measured to need more:

- `POST /api/v1/observations`: 10,000 rows (`MAX_BATCH_ROWS`) measured 0.98 MB with one label per row (the
  README's example), 2.8 MB with five, 4.8 MB with ten short ASCII labels, 3.4 MB with five Chinese labels
  (escaped `\\uXXXX`, as `json.dumps` sends them). 16 MiB (1,600 bytes a row) leaves room for long labels; the
  theoretical maximum (ten 100-character escaped Chinese labels on every row, 67 MB) is no batch anyone
  sends: split it.
- `PUT /api/v1/event-logs/{id}/steps`: up to 1,000 links with 300-character activities, 1.85 MB escaped at
  most: 2 MiB.

A route allowed more than `BODY_MAX_BYTES` also wants a credential before its body (`needs_credential`):
an anonymous caller is refused with a 401 before anything is read or spooled to disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.config import get_settings
from app.core.errors import PayloadTooLarge

MIB = 1024 * 1024
# Room for a multipart upload's framing and its other fields beside the file.
FORM_ROOM = 64 * 1024
OBSERVATIONS_MAX_BYTES = 16 * MIB
STEP_LINKS_MAX_BYTES = 2 * MIB

_ID = r"[^/]+"  # a path id: its format is the route's business (a bad one is still a 422 there)


@dataclass(frozen=True)
class RouteLimit:
    max_bytes: int  # the body, framing included
    shown: int  # what the reader is told: the file's own limit for an upload
    upload: bool = False  # a file upload (a page says "this file", not "this form")
    needs_credential: bool = False


def route_limits() -> list[tuple[str, str, RouteLimit]]:
    """(method, path pattern, limit) of every route with a limit of its own (the settings as they are now;
    the patterns are compiled once, by `re`'s cache)."""
    # The domains' own constants: imported on first use, since the domains are built on core.
    from app.metrics.ingest import MAX_CSV_BYTES
    from app.raci.service import MAX_IMPORT_BYTES
    from app.survey.table1 import MAX_BYTES as TABLE1_MAX_BYTES

    settings = get_settings()

    def upload(file_bytes: int) -> RouteLimit:
        return RouteLimit(file_bytes + FORM_ROOM, file_bytes, upload=True)

    def json(max_bytes: int) -> RouteLimit:
        return RouteLimit(max_bytes, max_bytes)

    table = [
        ("POST", r"/api/v1/event-logs|/event-logs", upload(settings.eventlog_max_bytes)),
        ("PUT", rf"/api/v1/event-logs/{_ID}/steps", json(STEP_LINKS_MAX_BYTES)),
        ("POST", r"/api/v1/observations", json(OBSERVATIONS_MAX_BYTES)),
        ("POST", r"/api/v1/observations/csv", RouteLimit(MAX_CSV_BYTES, MAX_CSV_BYTES, upload=True)),
        ("POST", r"/metrics/upload", upload(MAX_CSV_BYTES)),
        ("POST", rf"(/api/v1)?/initiatives/{_ID}/survey/import", upload(TABLE1_MAX_BYTES)),
        ("POST", rf"(/api/v1)?/initiatives/{_ID}/raci/import", upload(MAX_IMPORT_BYTES)),
        # feedback with its one file: the API's upload, and the pages' form (text and file together)
        ("POST", r"/api/v1/feedback/attachment|/feedback|/feedback/anonymous",
         upload(settings.feedback_attachment_max_bytes)),
    ]
    default = settings.body_max_bytes
    return [(method, pattern, RouteLimit(limit.max_bytes, limit.shown, limit.upload,
                                         needs_credential=limit.max_bytes > default))
            for method, pattern, limit in table]


def limit_for(method: str, path: str) -> RouteLimit:
    for route_method, pattern, limit in route_limits():
        if method == route_method and re.fullmatch(pattern, path):
            return limit
    default = get_settings().body_max_bytes
    return RouteLimit(default, default)


def format_size(n: int) -> str:
    """1048576 -> "1 MiB", 2.5 MiB -> "2.5 MiB", 65536 -> "64 KiB"."""
    for unit, size in (("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            value = f"{n / size:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{n} bytes"


class BodyTooLarge(PayloadTooLarge):
    """A body over its route's limit (problem+json: `max_bytes`; pages say it in the reader's words)."""

    def __init__(self, limit: RouteLimit) -> None:
        self.limit = limit
        super().__init__(
            f"The request body is larger than this address accepts: at most {format_size(limit.max_bytes)} "
            f"({limit.max_bytes} bytes).",
            max_bytes=limit.max_bytes,
        )
