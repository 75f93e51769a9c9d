"""Pooled PostgreSQL connections: pinged only after sitting idle; read-only units of work in autocommit."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from app.core import db as core_db
from tests.conftest import backend_url


@pytest.fixture
def pg_url(backend: str, engine: sa.Engine) -> str:  # engine: the worker's database exists and is migrated
    if backend != "postgresql":
        pytest.skip("SQLite has no server connection to lose and no round trips to save")
    return backend_url(backend)


def _backend_pid(conn: sa.Connection) -> int:
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def _kill(url: str, pid: int) -> None:
    admin = sa.create_engine(url, poolclass=NullPool)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pg_url, monkeypatch):  # noqa: ANN001
    engine = core_db.make_engine(pg_url)
    try:
        with engine.connect() as conn:
            dead = _backend_pid(conn)
        _kill(pg_url, dead)
        monkeypatch.setattr(core_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has now sat idle long enough
        with engine.connect() as conn:
            assert _backend_pid(conn) != dead
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url):  # noqa: ANN001
    """The price of skipping the ping: if the server drops a connection within the window, the next request
    on it fails (and SQLAlchemy empties the pool, so the one after it works)."""
    engine = core_db.make_engine(pg_url)
    try:
        with engine.connect() as conn:
            dead = _backend_pid(conn)
        _kill(pg_url, dead)
        with pytest.raises(sa.exc.DBAPIError) as exc, engine.connect() as conn:
            _backend_pid(conn)
        assert exc.value.connection_invalidated
        with engine.connect() as conn:
            assert _backend_pid(conn) != dead
    finally:
        engine.dispose()
