"""SQLite with several connections (workers, threads): a unit of work that writes takes the write lock when
it begins, read-only units write on the side in transactions of their own, and `best_effort` skips a side
write that SQLite refuses. Without this, concurrent posts on two workers failed with "database is locked"
(SQLITE_BUSY_SNAPSHOT: a transaction that began by reading cannot write once another connection has
committed), and so did a service token's last use on reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.auth.deps import Credential, load_actor
from app.core import db as core_db
from app.core.migrate import upgrade
from app.users.models import Role
from tests.factories import Factory


@pytest.fixture
def own_sqlite(tmp_path: Path) -> Iterator[tuple[sa.Engine, Path]]:
    """The app pointed at a SQLite file of its own (no test transaction around it)."""
    path = tmp_path / "locking.db"
    upgrade(f"sqlite:///{path}")
    engine, previous = core_db.make_engine(f"sqlite:///{path}"), core_db._engine
    core_db.set_engine(engine)
    with Session(engine) as s:
        Factory(s).departments()
        s.commit()
    try:
        yield engine, path
    finally:
        core_db.set_engine(previous)
        engine.dispose()


def _other_writer(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=timeout, isolation_level=None)


def _rename(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("UPDATE departments SET name_en = ? WHERE code = 'legal'", (name,))


def _legal(session: Session) -> str:
    return session.execute(sa.text("SELECT name_en FROM departments WHERE code = 'legal'")).scalar_one()


def test_a_unit_of_work_that_writes_holds_the_lock_from_its_first_statement(own_sqlite):
    _, path = own_sqlite
    writer = core_db.new_session(writes=True)
    try:
        _legal(writer)  # a read, and already the write lock
        other = _other_writer(path, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _rename(other, "blocked")
        writer.execute(sa.text("UPDATE departments SET name_en = 'by the writer' WHERE code = 'legal'"))
        writer.commit()
        _rename(other, "after the writer")  # free again
        other.close()
    finally:
        writer.close()


def test_a_read_unit_of_work_does_not_lock_out_writers(own_sqlite):
    _, path = own_sqlite
    reader = core_db.new_session()
    try:
        _legal(reader)
        other = _other_writer(path, timeout=0)
        _rename(other, "written while read")
        other.close()
    finally:
        reader.close()


def test_best_effort_skips_the_side_write_sqlite_refuses_and_the_read_goes_on(own_sqlite):
    _, path = own_sqlite
    reader = core_db.new_session()
    try:
        before = _legal(reader)
        other = _other_writer(path)
        _rename(other, "moved on")  # committed after the reader's first read
        other.close()
        with core_db.best_effort(reader):
            reader.execute(sa.text("UPDATE departments SET name_en = 'side write' WHERE code = 'legal'"))
        assert _legal(reader) == before  # its snapshot, unchanged
        reader.commit()
    finally:
        reader.close()
    with core_db.new_session() as fresh:
        assert _legal(fresh) == "moved on"


def test_best_effort_raises_anything_else(own_sqlite):
    with core_db.new_session() as session:
        with pytest.raises(sa.exc.OperationalError, match="no such table"), core_db.best_effort(session):
            session.execute(sa.text("UPDATE no_such_table SET x = 1"))
        with pytest.raises(sa.exc.IntegrityError), core_db.best_effort(session):
            session.execute(sa.text("INSERT INTO departments (code, name_en, name_zh) VALUES ('legal', 'x', 'x')"))


def test_the_account_check_of_a_writing_request_does_not_hold_the_lock(own_sqlite):
    """The caller's account is read before the handler runs; the write lock is taken by the handler's first
    statement, so what it does before that (reading an uploaded event log: seconds) blocks no other writer."""
    engine, path = own_sqlite
    with Session(engine, expire_on_commit=False) as s:
        user = Factory(s).user(Role.member)
        s.commit()
    writer = core_db.new_session(writes=True)
    try:
        actor = load_actor(writer, Credential(via="bearer", user_id=user.id, session_id="s"))
        core_db.end_read(writer)
        other = _other_writer(path, timeout=0)
        _rename(other, "while the handler parses")  # not blocked
        _legal(writer)  # the handler's first statement: the lock again
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _rename(other, "blocked")
        other.close()
        assert actor.user.email == user.email  # still loaded
        writer.commit()
    finally:
        writer.close()


def test_a_post_that_only_reads_does_not_wait_for_the_write_lock(own_sqlite, app):  # noqa: ANN001
    """The live control-point check (`core.db.reads_only`) answers while another connection holds the write lock;
    without the mark its unit of work waited for the lock (the busy timeout) and failed."""
    from fastapi.testclient import TestClient

    from tests.sops.factories import publish_now, standalone_draft
    from tests.sops.test_control_rules import CASE, SECTIONS

    engine, path = own_sqlite
    with Session(engine, expire_on_commit=False) as s:
        factory = Factory(s)
        process, owner, v = standalone_draft(s, factory, SECTIONS)
        publish_now(s, factory, owner, v)
        token = factory.service_token(["controls:check", "write"])
        s.commit()
    headers = {"Authorization": f"Bearer {token}"}
    other = _other_writer(path)
    other.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.post(f"/api/v1/processes/{process.code}/control-points/check", headers=headers,
                            json={"attributes": CASE})
            assert r.status_code == 200, r.text
            assert r.json()["version_id"] == v.id
    finally:
        other.execute("ROLLBACK")
        other.close()
