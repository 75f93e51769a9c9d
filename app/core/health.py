"""Liveness and readiness probes."""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.core.db import get_engine
from app.core.migrate import alembic_config

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
def readyz() -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    heads = _heads()
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except sa.exc.SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    ready = current == heads
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "database": "ok",
         "migration": ",".join(current) or None, "head": ",".join(heads)},
        status_code=200 if ready else 503,
    )


@lru_cache
def _heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
