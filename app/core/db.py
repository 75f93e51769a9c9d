"""Engine, sessions and the unit of work (one commit per request)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware datetimes stored as UTC; SQLite gets them back aware too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; procopt stores timezone-aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_cls: type, name: str) -> sa.Enum:
    """An enum stored as a checked string (portable between SQLite and PostgreSQL)."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

_engine: Engine | None = None


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    # Let SQLAlchemy, not the driver, decide when transactions begin (see `_sqlite_begin`), so that
    # SAVEPOINTs nest correctly: pysqlite otherwise delays BEGIN until the first write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    settings = get_settings()
    return sa.create_engine(url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=10)


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the app at another engine (tests, CLI)."""
    global _engine
    _engine = engine


def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit when the handler returns, roll back when it raises.

    On an error the loaded objects are detached first: a rollback would expire them, and the error
    page still renders them (the actor's user in the page header) after the session is gone, which
    would turn every 403/404 page of a logged-in user into a 500 (DetachedInstanceError).
    """
    try:
        yield session
        session.commit()
    except BaseException:
        session.expunge_all()
        session.rollback()
        raise


def _finish(session: Session, ok: bool) -> None:
    try:
        if ok:
            session.commit()
        else:
            session.expunge_all()  # see unit_of_work
            session.rollback()
    finally:
        session.close()


async def get_session() -> AsyncIterator[Session]:
    """The unit of work of one request (see `unit_of_work`).

    An async dependency so that FastAPI does not hop to the thread pool to open the session (which does
    no I/O until its first query); the commit or rollback and the close run in the thread pool in one go.
    Handlers stay plain `def` functions and use the session from their worker thread.
    """
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, False)
        raise
    await run_in_threadpool(_finish, session, True)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
