"""`procopt backup` and `procopt restore` (app/core/backup.py): consistent while serving, and a restore
refuses what would lose data or give the code a schema it does not expect."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.core import backup as bk
from app.core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


def procopt(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "PROCOPT_ENV": "development"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    upgrade(sqlite_url(path))
    return path


def add_departments(path: Path, *codes: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO departments (code, name_en, name_zh) VALUES (?, ?, ?)",
                         [(c, f"dept {c}", f"部门 {c}") for c in codes])
    conn.close()


def department_codes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT code FROM departments")}
    finally:
        conn.close()


class Writer(threading.Thread):
    """Inserts rows one transaction at a time, as a serving worker does, and records the ids whose
    commit returned (acknowledged to the client)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.acknowledged: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            n = 0
            while not self.stop.is_set():
                n += 1
                conn.execute("BEGIN IMMEDIATE")
                cur = conn.execute("INSERT INTO departments (code, name_en, name_zh) VALUES (?, ?, ?)",
                                   (f"W{n:07d}", "x" * 100, "部门" * 20))
                conn.execute("COMMIT")
                self.acknowledged.append(cur.lastrowid)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            conn.close()


def test_backup_of_a_live_database_under_writes_has_every_acknowledged_row(migrated, tmp_path):
    with sqlite3.connect(migrated) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # as the app runs it
    conn.close()
    writer = Writer(migrated)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(writer.acknowledged) < 500:
            assert writer.error is None and time.monotonic() < deadline, writer.error
            time.sleep(0.01)
        before = set(writer.acknowledged)  # acknowledged before the backup began
        made = procopt("backup", str(tmp_path / "backup.db"), url=sqlite_url(migrated))
        during = len(writer.acknowledged) - len(before)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert made.returncode == 0, made.stderr
    assert writer.error is None, writer.error
    assert during > 0, "the writer made no progress while the backup ran"
    committed = set(writer.acknowledged)

    restored = tmp_path / "restored" / "fresh.db"  # a fresh file in a directory that does not exist yet
    done = procopt("restore", str(tmp_path / "backup.db"), url=sqlite_url(restored))
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout

    conn = sqlite3.connect(restored)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        ids = {r[0] for r in conn.execute("SELECT id FROM departments")}
        heads = tuple(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
    finally:
        conn.close()
    assert before <= ids, f"{len(before - ids)} acknowledged rows are missing"
    assert ids <= committed  # nothing that was not committed
    assert ids == set(range(1, max(ids) + 1)), "not one snapshot: the rows have holes"
    assert heads == bk.code_heads()

    backup_file = sqlite3.connect(tmp_path / "backup.db")
    try:  # one self-contained file, not a WAL database that needs its -wal file
        assert backup_file.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        backup_file.close()


def test_restore_refuses_a_database_with_data_unless_forced(migrated, tmp_path):
    add_departments(migrated, "FROM-BACKUP")
    made = bk.backup(sqlite_url(migrated), tmp_path / "b.db")
    assert made.heads == bk.code_heads() and made.size > 0

    empty = tmp_path / "empty.db"
    upgrade(sqlite_url(empty))  # migrated but without rows: no data to lose
    bk.restore(sqlite_url(empty), tmp_path / "b.db")
    assert department_codes(empty) == {"FROM-BACKUP"}

    target = tmp_path / "target.db"
    upgrade(sqlite_url(target))
    add_departments(target, "PRECIOUS")
    refused = procopt("restore", str(tmp_path / "b.db"), url=sqlite_url(target))
    assert refused.returncode == 1
    assert "is not empty (rows in departments)" in refused.stderr and "--force" in refused.stderr
    assert department_codes(target) == {"PRECIOUS"}  # untouched

    forced = procopt("restore", str(tmp_path / "b.db"), "--force", url=sqlite_url(target))
    assert forced.returncode == 0, forced.stderr
    assert department_codes(target) == {"FROM-BACKUP"}

    with pytest.raises(bk.BackupError, match="already exists"):  # a backup never overwrites a file
        bk.backup(sqlite_url(migrated), tmp_path / "b.db")


def test_restore_refuses_a_backup_at_another_migration_head(migrated, tmp_path):
    bk.backup(sqlite_url(migrated), tmp_path / "b.db")
    conn = sqlite3.connect(tmp_path / "b.db")
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.close()
    target = tmp_path / "target.db"
    refused = procopt("restore", str(tmp_path / "b.db"), "--force", url=sqlite_url(target))
    assert refused.returncode == 1
    assert "is at migration ffffffffffff, this procopt at " + ", ".join(bk.code_heads()) in refused.stderr
    assert not target.exists()

    unmigrated = tmp_path / "unmigrated.db"
    with sqlite3.connect(unmigrated) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    assert bk.backup(sqlite_url(unmigrated), tmp_path / "u.db").heads == ()
    with pytest.raises(bk.HeadMismatch, match=r"at migration none \(not a migrated procopt database\)"):
        bk.restore(sqlite_url(target), tmp_path / "u.db")
    assert not target.exists()


def test_restore_refuses_files_that_are_not_backups(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all" * 10)
    with pytest.raises(bk.BadBackup, match="not an SQLite database"):
        bk.restore(sqlite_url(tmp_path / "t.db"), junk)
    with pytest.raises(bk.BadBackup, match="does not exist"):
        bk.restore(sqlite_url(tmp_path / "t.db"), tmp_path / "missing.db")
    dump = tmp_path / "pg.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    with pytest.raises(bk.BadBackup, match="PostgreSQL backup"):
        bk.restore(sqlite_url(tmp_path / "t.db"), dump)
    assert not (tmp_path / "t.db").exists()


def test_libpq_connection_keeps_the_password_off_the_command_line():
    url = sa.make_url("postgresql+psycopg://o'brien:s%40cret%27@db.example:6432/procopt?sslmode=require")
    conninfo, env = bk.libpq_connection(url)
    assert conninfo == "host='db.example' port='6432' user='o\\'brien' dbname='procopt' sslmode='require'"
    assert "cret" not in conninfo
    assert env["PGPASSWORD"] == "s@cret'"


def test_backup_without_pg_dump_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, nothing is connected to
    with pytest.raises(bk.ToolMissing, match="pg_dump is not installed.*postgresql-client"):
        bk.backup("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "x.dump")
    assert list(tmp_path.iterdir()) == []  # no partial file left


# --- PostgreSQL ---------------------------------------------------------------------------------------

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_TOOLS = shutil.which("pg_dump") and shutil.which("pg_restore")


@pytest.fixture
def pg_databases() -> Iterator[tuple[str, str]]:
    """Two scratch databases beside TEST_DATABASE_URL's (which is never touched), dropped afterwards."""
    if not PG_URL.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL is not set to a PostgreSQL database")
    if not PG_TOOLS:
        pytest.skip("pg_dump and pg_restore are not installed (Debian: apt-get install postgresql-client)")
    base = sa.make_url(PG_URL)
    names = [f"procopt_backup_test_{os.getpid()}_src", f"procopt_backup_test_{os.getpid()}_dst"]
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)

    def drop() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    try:
        drop()
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)
    finally:
        drop()
        admin.dispose()


def pg_codes(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT code FROM departments")).scalars())
    finally:
        engine.dispose()


def pg_execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def test_postgresql_backup_and_restore(pg_databases, tmp_path):
    src, dst = pg_databases
    upgrade(src)
    pg_execute(src, "INSERT INTO departments (code, name_en, name_zh) VALUES ('PG-1', 'one', '一'), "
                    "('PG-2', 'two', '二')")
    made = procopt("backup", str(tmp_path / "pg.dump"), url=src)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "pg.dump").read_bytes().startswith(b"PGDMP")
    assert "cret" not in made.stdout  # the URL is shown without a password

    done = procopt("restore", str(tmp_path / "pg.dump"), url=dst)  # an empty, never migrated database
    assert done.returncode == 0, done.stderr
    assert pg_codes(dst) == {"PG-1", "PG-2"}

    pg_execute(dst, "INSERT INTO departments (code, name_en, name_zh) VALUES ('LOCAL', 'l', 'l')")
    refused = procopt("restore", str(tmp_path / "pg.dump"), url=dst)
    assert refused.returncode == 1 and "is not empty (rows in departments)" in refused.stderr
    assert pg_codes(dst) == {"PG-1", "PG-2", "LOCAL"}
    forced = procopt("restore", str(tmp_path / "pg.dump"), "--force", url=dst)
    assert forced.returncode == 0, forced.stderr
    assert pg_codes(dst) == {"PG-1", "PG-2"}
    engine = sa.create_engine(dst, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert tuple(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()) == bk.code_heads()
    finally:
        engine.dispose()

    pg_execute(src, "UPDATE alembic_version SET version_num = 'ffffffffffff'")
    bk.backup(src, tmp_path / "other-head.dump")
    with pytest.raises(bk.HeadMismatch, match="is at migration ffffffffffff"):
        bk.restore(dst, tmp_path / "other-head.dump", force=True)
    assert pg_codes(dst) == {"PG-1", "PG-2"}
