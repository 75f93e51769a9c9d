"""The application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import __version__, routers
from app.core import docs, health, http_errors, logs
from app.core.config import PROJECT_ROOT, get_settings
from app.core.middleware import BodyLimit, CatchAll, SecurityHeaders

DESCRIPTION = """
procopt runs process-optimization initiatives end to end: diagnose, root cause, design,
pilot, roll out, monitor.

**Authentication.** People: `POST /api/v1/auth/token` (OAuth2 password form) returns a Bearer
token. Machines (BI tools, other systems): a service token created by an administrator
(`POST /api/v1/service-tokens`), sent as `Authorization: Bearer pco_...`; its scopes
(`read`, `write`, `metrics:read`, `metrics:write`, `controls:check`) limit what it may do.

**Errors** are RFC 9457 `application/problem+json` with `type`, `title`, `status`, `detail`
and, for validation errors (422), `errors[]` with each field's location.

**Lists** use keyset pagination: pass `next_cursor` back as `cursor`; the `Link` header
carries the next page's URL too.

**Concurrent edits**: reads return an `ETag`; `PATCH` requires `If-Match` (428 without it,
412 when someone else changed the record first).
"""


_startup_objects_frozen = False


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Once per process, after start-up: the ~200,000 objects made so far (modules, routes, schemas)
    live as long as the process, so move them out of the garbage collector's reach. Otherwise every
    full collection walks them all: ~100 ms during which the worker answers nobody (bench/api.py p99)."""
    global _startup_objects_frozen
    if not _startup_objects_frozen:
        gc.collect()
        gc.freeze()
        _startup_objects_frozen = True
    yield


def create_app() -> FastAPI:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    logs.install()  # no client address in the access log of anonymous routes (app/core/logs.py)
    app = FastAPI(
        title="procopt",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by app.core.docs (vendored Swagger UI under the CSP)
        redoc_url=None,
        openapi_url="/openapi.json",
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        lifespan=lifespan,
    )
    http_errors.install(app)
    app.add_middleware(BodyLimit, answer=http_errors.problem_response)  # app/core/limits.py, before bodies are read
    app.add_middleware(CatchAll, handler=http_errors.unexpected)  # inside SecurityHeaders: 500s get headers
    app.add_middleware(SecurityHeaders)

    app.include_router(routers.api_router)
    app.include_router(health.router)
    docs.install(app)  # /api/docs (unless API_DOCS=false) and the credentials in /openapi.json
    app.include_router(routers.pages_router)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    return app
