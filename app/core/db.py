"""Engine, sessions and the unit of work (one commit per request)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.core.config import get_settings
from app.core.errors import RuleViolation
from app.core.labels import N_

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
log = logging.getLogger("procopt")


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
    """`BEGIN`, or what the connection's `sqlite_begin` execution option says: "IMMEDIATE" for units of
    work that write.

    In WAL mode a transaction that began by reading cannot start writing once another connection has
    committed after its first read: SQLite refuses at once ("database is locked", SQLITE_BUSY_SNAPSHOT;
    the busy timeout does not apply). So a unit of work that will write takes the write lock when it
    begins (`BEGIN IMMEDIATE`, waiting up to the busy timeout), and writes that a read makes on the side
    go through `best_effort`."""
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}")


NUL = "\x00"
# The C0 control characters other than tab, line feed and carriage return: PostgreSQL cannot store NUL,
# and none of them may appear in XML 1.0, so an XLSX export (openpyxl, whose ILLEGAL_CHARACTERS_RE is this
# same set) failed on a record that held one, for good. Refused at input on both databases.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


# What an import says of a cell or field with NUL or another control character, beside its row (`no_nul`,
# the readers of imports), and what a refused field's `errors[]` entry says.
NUL_MESSAGE = "contains the NUL character (U+0000), which cannot be stored"
CONTROL_MESSAGE = "contains a control character (U+{code:04X}), which cannot be stored"
NUL_REFUSED = N_("Text must not contain the NUL character (U+0000).")
CONTROL_REFUSED = N_("Text must not contain control characters (U+0001 to U+001F, other than tab, line feed and "
                     "carriage return).")


def control_message(text: str) -> str | None:
    """What to say of `text` when it holds a control character (naming the first), else None."""
    found = None if text.isprintable() else CONTROL_CHARACTERS.search(text)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == NUL else CONTROL_MESSAGE.format(code=ord(found.group()))


def no_nul(text: str) -> str:
    """A pydantic `AfterValidator` for text that arrives in bulk (rows of an import), so that the refusal
    names the row and field instead of coming from `_refuse_nul` for the whole request. Refuses every
    control character `_refuse_nul` refuses, NUL among them."""
    message = control_message(text)
    if message is not None:
        raise ValueError(message)
    return text


no_control_characters = no_nul


class TextRefused(RuleViolation):
    """A 422 for text with a control character. The API's problem names the field (the column, which the
    schemas name alike) and the character in `errors[]`; pages show the detail, in the reader's language
    (`errors` is left empty for them, as their field messages would be untranslated English)."""

    def __init__(self, text: str, field: str | None) -> None:
        message = control_message(text) or NUL_MESSAGE
        super().__init__(NUL_REFUSED if message == NUL_MESSAGE else CONTROL_REFUSED)
        self.api_errors = [{"loc": ["body", field] if field else [], "field": field or "",
                            "message": f"{field or 'the text'} {message}", "type": "control_character"}]

    def problem(self, instance: str | None = None) -> dict[str, object]:
        return {**super().problem(instance), "errors": self.api_errors}


def _refuse_nul(conn: sa.Connection, cursor: object, statement: str, parameters: object, context: object,
                executemany: bool) -> None:
    """No text with NUL or another C0 control character (`CONTROL_CHARACTERS`) reaches the database, from any
    field, form, search or import: PostgreSQL cannot store NUL (a 500 before), so SQLite refuses it too, and
    the others broke every XLSX export of the record. The request is a 422; the unit of work rolls back."""
    # Row by row rather than `_first_control(parameters)`: on a 100,000-row bulk insert that took 126 ms,
    # this 80 (NUL only). `isprintable` first, a C loop that is False for every control character, so the
    # regular expression reads only text with line breaks, tabs and the like: 100,000 six-column rows (one
    # column with line breaks) cost ~30 ms more than `NUL in` did, the regular expression alone ~60 (#12).
    # Several rows (executemany) come as a list; one row, also a batch of PostgreSQL's insertmanyvalues
    # (executemany, but one dict: `key__0`, `key__1`, ...), as a dict or a tuple.
    rows = parameters if isinstance(parameters, list) else (parameters,)
    for row in rows:  # type: ignore[union-attr]  # rows by name (dict) or position; a flat list of values too
        for value in row.values() if isinstance(row, dict) else row if isinstance(row, list | tuple) else (row,):
            if value.__class__ is str:
                if not value.isprintable() and CONTROL_CHARACTERS.search(value):
                    raise TextRefused(value, _column(context, row, value))
            elif isinstance(value, list | tuple | dict) and (text := _first_control(value)) is not None:  # arrays
                raise TextRefused(text, _column(context, row, value))


def _column(context: object, row: object, value: object) -> str | None:
    """The column an INSERT or UPDATE parameter is written to (the field, as the schemas name them after
    the columns), or None (a search's parameter, a statement we cannot read)."""
    compiled = getattr(context, "compiled", None)
    if compiled is None or not (getattr(compiled, "isinsert", False) or getattr(compiled, "isupdate", False)):
        return None
    if isinstance(row, dict):
        key = next((k for k, v in row.items() if v is value), None)
        name = re.sub(r"__\d+$", "", key) if isinstance(key, str) else None  # insertmanyvalues: name__0, ...
    elif isinstance(row, list | tuple):
        names = getattr(compiled, "positiontup", None) or ()
        at = next((i for i, v in enumerate(row) if v is value), None)
        name = names[at % len(names)] if names and at is not None and len(row) % len(names) == 0 else None
    else:
        return None
    columns = getattr(getattr(compiled, "statement", None), "table", None)
    return name if name is not None and columns is not None and name in columns.c else None


def _first_control(value: object) -> str | None:
    """The first text inside `value` (text, or lists and dicts of it) with a control character."""
    if isinstance(value, str):
        return value if not value.isprintable() and CONTROL_CHARACTERS.search(value) else None
    if isinstance(value, dict):
        items = (t for k, v in value.items() for t in (k, v))
        return next((t for t in map(_first_control, items) if t is not None), None)
    if isinstance(value, list | tuple):
        return next((t for t in map(_first_control, value) if t is not None), None)
    return None


def _json_dumps(value: object) -> str:
    """JSON columns get the same rule: `jsonb` refuses NUL too, and JSON escapes it past `_refuse_nul`."""
    if (text := _first_control(value)) is not None:
        raise TextRefused(text, None)
    return json.dumps(value)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False}, json_serializer=_json_dumps)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        settings = get_settings()
        engine = sa.create_engine(url, pool_size=settings.db_pool_size, max_overflow=10,
                                  json_serializer=_json_dumps)
        event.listen(engine, "connect", _mark_checkin)  # a new connection needs no ping either
        event.listen(engine, "checkin", _mark_checkin)
        event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


# A pooled connection is pinged before use only when it sat idle this long. `pool_pre_ping` pings on
# every checkout: a round trip per request (bench/api.py). A connection that worked a moment ago very
# likely still works, and if the server went away in between the request fails with a 500 and
# SQLAlchemy drops the pool's connections (HikariCP skips the check for 500 ms the same way).
PING_AFTER_IDLE_SECONDS = 5.0


def _mark_checkin(_dbapi_connection, record) -> None:  # noqa: ANN001
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect: sa.Dialect, dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
    if time.monotonic() - record.info.get("checked_in", float("-inf")) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DisconnectionError("the pooled connection is gone") from exc  # the pool takes another


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the app at another engine (tests, CLI)."""
    global _engine
    _engine = engine


_session_factory: Callable[[], Session] | None = None
SQLITE_WRITER = "sqlite_writer"  # session.info: a unit of work on SQLite that writes (see `new_session`)


def set_session_factory(factory: Callable[[], Session] | None) -> None:
    global _session_factory
    _session_factory = factory


def new_session(*, writes: bool = False) -> Session:
    """A request's session: the one place they are made (on the app's engine; tests bind them to their
    own transaction with `set_session_factory`). `writes`: the unit of work is expected to write (an
    unsafe method), so on SQLite it takes the write lock when it begins (see `_sqlite_begin`)."""
    if _session_factory is not None:
        return _session_factory()
    engine = get_engine()
    if writes and engine.dialect.name == "sqlite":
        session = Session(engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
        session.info[SQLITE_WRITER] = True
        return session
    return Session(engine, expire_on_commit=False)


def lock_key(session: Session, key: str) -> None:
    """Serialise the units of work about `key` until the transaction ends: on PostgreSQL a transaction-level
    advisory lock on the key's hash; SQLite has one writer, whose lock the unit's first write takes and holds
    to its end, so nothing is needed there (the caller writes before it reads what the lock protects)."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))


def end_read(session: Session) -> None:
    """After the reads that come before a unit of work's own (the caller's account): on SQLite, a unit
    that writes ends that transaction, so that the write lock is taken by its handler's first statement and
    not held through what the handler does before (reading an upload). Elsewhere nothing to do."""
    if session.info.get(SQLITE_WRITER):
        session.commit()


@contextlib.contextmanager
def best_effort(session: Session) -> Iterator[None]:
    """Writes that a read makes on the side and can do without (a cache, a token's last use): inside a
    savepoint, and skipped when SQLite refuses them because another connection wrote since the read
    began (see `_sqlite_begin`); the read goes on. Anything else still raises."""
    try:
        with session.begin_nested():
            yield
    except sa.exc.OperationalError as exc:
        if session.get_bind().dialect.name != "sqlite" or "database is locked" not in str(exc.orig):
            raise
        log.info("skipped a side write: another connection holds or moved the SQLite database (%s)", exc.orig)


def _finish(session: Session, ok: bool) -> None:
    """End the unit of work: commit when the handler returned, roll back when it raised.

    On an error the loaded objects are detached first: a rollback would expire them, and the error
    page still renders them (the actor's user in the page header) after the session is gone, which
    would turn every 403/404 page of a logged-in user into a 500 (DetachedInstanceError).
    """
    try:
        if ok:
            session.commit()
        else:
            session.expunge_all()
            session.rollback()
    finally:
        session.close()


@contextlib.contextmanager
def undo_on_error(session: Session) -> Iterator[None]:
    """A page's service call: when it raises, what it wrote is undone at once (a savepoint), so the
    handler can show the form again with its errors from the database as it was, and the error goes
    on to the handler's `except`. The request's unit of work stays usable and commits what came before.
    (The API needs no such step: its errors end the request, and the unit of work rolls back.)"""
    with session.begin_nested():
        yield


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def database_slots() -> asyncio.Semaphore:
    """This event loop's admission gate: at most `DB_CONCURRENCY` requests use the database at once.

    Handlers are plain `def` functions that FastAPI runs in its thread pool. Python runs one thread at
    a time, so 32 requests in 32 threads do not finish sooner than in two; they fight over the GIL at
    every query (the sqlite3 and psycopg drivers release it around each call), which cost 2-3x the CPU
    per request under load (bench/api.py). Requests over the limit wait here, in the event loop,
    before they hold a connection: a request that has a slot never waits for another, so the gate
    cannot deadlock with the connection pool (`DB_POOL_SIZE` >= `DB_CONCURRENCY`).
    """
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(get_settings().db_concurrency)
    return slots


async def _whole_body(request: Request) -> None:
    """Wait until the request body has arrived, so that a slow (or hostile) sender waits without a
    database slot: otherwise two slow form posts would stall a worker's database work."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    # "Stream consumed" means FastAPI has already parsed it (a form with files); otherwise the request
    # keeps the body, and forms and handlers read it from there.
    with contextlib.suppress(RuntimeError):
        await request.body()


READS_ONLY = "procopt_reads_only"


def reads_only(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an endpoint of an unsafe method that writes nothing (a check answered from the data, such as
    `POST .../control-points/check`): its unit of work does not take SQLite's write lock when it begins, so
    such requests run side by side in every worker instead of one at a time."""
    setattr(endpoint, READS_ONLY, True)
    return endpoint


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The unit of work of one request (see `_finish`), inside one of the worker's database slots.

    An async dependency so that FastAPI does not hop to the thread pool to open the session (which does
    no I/O until its first query); the commit or rollback and the close run in the thread pool in one go.
    Handlers stay plain `def` functions and use the session from their worker thread.
    """
    await _whole_body(request)
    async with database_slots():
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        session = new_session(writes=unsafe and not getattr(request.scope.get("endpoint"), READS_ONLY, False))
        try:
            yield session
        except BaseException:
            await run_in_threadpool(_finish, session, False)
            raise
        await run_in_threadpool(_finish, session, True)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
