"""Alembic migrations: they agree with the models, go down and up again, and the database enforces
foreign keys and enum values itself.

On PostgreSQL every migration test gets a database of its own, dropped afterwards: migration 0003 puts
views in a fixed `bi` schema, which a separate *schema* (search_path) would share with the main test
database (a downgrade there would drop the main database's views).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

import app.domains  # noqa: F401 - every table on the metadata
from app.core import db as core_db
from app.core.migrate import alembic_config, downgrade, upgrade

PG_URL = os.environ.get("TEST_DATABASE_URL")
HEADS = tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend, thrown away after the test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = sa.make_url(PG_URL)
    name = f"procopt_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _diffs(url: str) -> list:
    eng = core_db.make_engine(url)
    try:
        with eng.connect() as conn:
            # Alembic's SQLite comparison of server defaults misreads '' (it strips quotes only around
            # non-empty strings), so defaults are compared on PostgreSQL only.
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": conn.dialect.name != "sqlite"})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        eng.dispose()


def _state(url: str) -> tuple[set[str], tuple[str, ...]]:
    eng = core_db.make_engine(url)
    try:
        with eng.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            heads = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        return tables, heads
    finally:
        eng.dispose()


def test_models_and_migrations_agree_and_downgrade_upgrade_works(fresh_url):
    model_tables = set(SQLModel.metadata.tables)
    upgrade(fresh_url)
    tables, heads = _state(fresh_url)
    assert heads == HEADS
    assert tables == model_tables | {"alembic_version"}
    assert _diffs(fresh_url) == []

    downgrade(fresh_url, "base")
    tables, heads = _state(fresh_url)
    assert heads == ()
    assert tables <= {"alembic_version"}

    upgrade(fresh_url)
    tables, heads = _state(fresh_url)
    assert heads == HEADS
    assert tables == model_tables | {"alembic_version"}
    assert _diffs(fresh_url) == []


def test_0008_copies_the_involved_departments_onto_existing_processes(fresh_url):
    upgrade(fresh_url, "0007")
    eng = core_db.make_engine(fresh_url)
    try:
        with eng.begin() as conn:
            owner = _insert_user(conn)
            _insert_process(conn, owner, code="DB-1")
            _insert_process(conn, owner, code="DB-2")
            for code in ("ops", "finance", "legal"):
                conn.execute(sa.text("INSERT INTO departments (code, name_en, name_zh) VALUES (:c, :c, :c)"),
                             {"c": code})
            conn.execute(sa.text(
                "INSERT INTO process_departments (process_id, department_id) SELECT p.id, d.id "
                "FROM processes p, departments d WHERE p.code = 'DB-1' AND d.code IN ('ops', 'legal', 'finance')"))
        upgrade(fresh_url)
        with eng.connect() as conn:
            copies = dict(conn.execute(sa.text("SELECT code, department_codes FROM processes")).all())
        assert copies == {"DB-1": "finance,legal,ops", "DB-2": ""}
    finally:
        eng.dispose()


# --- constraints the database enforces on its own -------------------------------------------------


def _insert_user(conn: sa.Connection, role: str = "member", email: str = "db@example.com") -> int:
    return conn.execute(sa.text(
        "INSERT INTO users (email, email_norm, display_name, role, is_active, password_hash, created_at, "
        "updated_at, version) VALUES (:e, :e, 'DB', :role, :t, '!', :now, :now, 1) RETURNING id"),
        {"e": email, "role": role, "t": True, "now": "2026-01-01 00:00:00+00:00"}).scalar_one()


def _insert_process(conn: sa.Connection, owner_id: int, status: str = "active", code: str = "DB-1") -> None:
    conn.execute(sa.text(
        "INSERT INTO processes (code, code_norm, name, name_norm, description, owner_id, status, created_at, "
        "updated_at, version) VALUES (:c, :c, 'n', 'n', '', :o, :s, :now, :now, 1)"),
        {"c": code, "o": owner_id, "s": status, "now": "2026-01-01 00:00:00+00:00"})


def test_sqlite_foreign_keys_are_on_for_app_connections(backend, connection, tmp_path):
    if backend != "sqlite":
        pytest.skip("a SQLite pragma")
    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng = core_db.make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        eng.dispose()


def test_foreign_keys_are_enforced(connection):
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        _insert_process(connection, owner_id=987654)
    owner = _insert_user(connection)
    with connection.begin_nested():
        _insert_process(connection, owner_id=owner)
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        connection.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": owner})  # RESTRICT


@pytest.mark.parametrize(("table", "value"), [("processes", "deleted"), ("processes", "ACTIVE"),
                                              ("users", "superuser")])
def test_enum_columns_reject_bad_values_in_the_database(connection, table, value):
    owner = _insert_user(connection)
    with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
        if table == "processes":
            _insert_process(connection, owner, status=value)
        else:
            _insert_user(connection, role=value, email="other@example.com")
    with connection.begin_nested():  # the good value goes in
        if table == "processes":
            _insert_process(connection, owner, status="archived")
        else:
            _insert_user(connection, role="viewer", email="other@example.com")


# --- SQLite table rebuilds ------------------------------------------------------------------------

EXTRA_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = {heads!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''
# Changing a type makes SQLite batch mode rebuild the table: copy, DROP, rename.
REBUILD_USERS = """\
    with op.batch_alter_table("users") as batch:
        batch.alter_column("display_name", existing_type=sa.String({old}), type_=sa.String({new}))"""


def _scripts_with_extra_revision(tmp_path: Path, upgrade_body: str, downgrade_body: str):  # noqa: ANN202
    """The project's migrations plus one more revision on top of all heads; (alembic config, url)."""
    scripts = tmp_path / "migrations"
    shutil.copytree(alembic_config().get_main_option("script_location"), scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_extra.py").write_text(
        EXTRA_REVISION.format(heads=HEADS, upgrade=upgrade_body, downgrade=downgrade_body))
    url = f"sqlite:///{tmp_path / 'extra.db'}"
    cfg = alembic_config(url)
    cfg.set_main_option("script_location", str(scripts))
    for head in HEADS:  # the real heads only, so that data can go in before the extra revision
        command.upgrade(cfg, head)
    return cfg, url


def test_sqlite_table_rebuild_keeps_the_rows_pointing_at_it(tmp_path):
    """Rebuilding a referenced table must neither fail (ON DELETE RESTRICT) nor null or delete the rows
    that point at it (ON DELETE SET NULL / CASCADE): migrations run with foreign keys off."""
    cfg, url = _scripts_with_extra_revision(tmp_path, REBUILD_USERS.format(old=120, new=160),
                                            REBUILD_USERS.format(old=160, new=120))
    eng = core_db.make_engine(url)
    with eng.begin() as conn:
        owner = _insert_user(conn)
        _insert_process(conn, owner)
        conn.execute(sa.text("INSERT INTO audit_records (at, actor_id, actor_label, action, entity_type, entity_id) "
                             "VALUES ('2026-01-01 00:00:00', :o, 'db', 'create', 'process', 1)"), {"o": owner})
    command.upgrade(cfg, "heads")
    assert _state(url)[1] == ("9999",)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT owner_id FROM processes")).scalars().all() == [owner]
        assert conn.execute(sa.text("SELECT actor_id FROM audit_records")).scalars().all() == [owner]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # app connections: on again
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    command.downgrade(cfg, HEADS[0])  # rebuilds again, going down
    assert _state(url)[1] == HEADS
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT actor_id FROM audit_records")).scalars().all() == [owner]
    eng.dispose()


def test_sqlite_migration_leaving_dangling_references_fails(tmp_path):
    cfg, url = _scripts_with_extra_revision(tmp_path, '    op.execute("DELETE FROM users")', "    pass")
    eng = core_db.make_engine(url)
    with eng.begin() as conn:
        _insert_process(conn, _insert_user(conn))
    eng.dispose()
    with pytest.raises(RuntimeError, match="dangling foreign keys"):
        command.upgrade(cfg, "heads")


# --- readiness ------------------------------------------------------------------------------------


@pytest.fixture
def swap_engine() -> Iterator:
    """Point the app at another engine for one test, then back at whatever it used before."""
    previous = core_db._engine
    engines: list[sa.Engine] = []

    def swap(url: str) -> None:
        engines.append(core_db.make_engine(url))
        core_db.set_engine(engines[-1])

    yield swap
    core_db.set_engine(previous)
    for eng in engines:
        eng.dispose()


def test_readyz_is_503_when_the_database_is_behind(app, swap_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    upgrade(url)
    downgrade(url, "base")
    swap_engine(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable" and r.json()["migration"] is None


def test_readyz_is_200_at_head(app, swap_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    upgrade(url)
    swap_engine(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
