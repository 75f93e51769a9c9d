"""Alembic environment: the models' metadata, batch mode for SQLite, URL from settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import event
from sqlmodel import SQLModel

import app.domains  # noqa: F401 - registers every table on the metadata
from app.core.config import get_settings
from app.core.db import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    url = _url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"), compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    if engine.dialect.name == "sqlite":
        # Batch mode rebuilds a table by copy, DROP and rename. With foreign keys on, that DROP fails when
        # rows point at the table (ON DELETE RESTRICT) or silently nulls or deletes them (SET NULL,
        # CASCADE). The pragma is a no-op inside a transaction, hence on connect, after the app's pragmas.
        event.listen(engine, "connect", _sqlite_foreign_keys_off)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _sqlite_foreign_keys_off(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys were not enforced while migrating: a migration leaving dangling references fails.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration leaves rows with dangling foreign keys: {broken[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
