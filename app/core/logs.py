"""Logging rules every domain gets: the access-log lines of anonymous routes carry no client address.

A domain names its anonymous routes with `anonymous_route(path)`; `install()` (in `create_app`) puts a filter
on uvicorn's access logger that writes "-" for the client address of a request to one of them. uvicorn's access
record has the arguments (client address, method, path with query, HTTP version, status)."""

from __future__ import annotations

import logging

API_PREFIX = "/api/v1"  # the JSON API's routes are under it (app/routers.py)
ANONYMOUS_ROUTES: set[str] = set()


def anonymous_route(path: str, *, api: bool = True) -> str:
    """Register `path` (a route's path, exact, without parameters) as one whose sender must stay unknown; an
    API route's path is registered under API_PREFIX. Returns `path`, for the route's decorator."""
    ANONYMOUS_ROUTES.add(f"{API_PREFIX}{path}" if api else path)
    return path


class NoAddressOnAnonymousRoutes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and str(args[2]).split("?", 1)[0] in ANONYMOUS_ROUTES:
            record.args = ("-", *args[1:])
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoAddressOnAnonymousRoutes) for f in access.filters):
        access.addFilter(NoAddressOnAnonymousRoutes())
