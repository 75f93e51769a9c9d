"""Test fixtures: a database migrated by Alembic per backend, one rolled-back transaction per test.

Every database test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set
(e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/test`). Under pytest-xdist (`make test` runs
`pytest -n`) each worker has its own: SQLite in the worker's temporary folder, and on PostgreSQL a
database `<name>_<worker>` beside TEST_DATABASE_URL's, created and dropped by the worker.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("PROCOPT_ENV", "test")
_TMP = Path(tempfile.mkdtemp(prefix="procopt-tests-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'app.db'}"

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.core import db as core_db  # noqa: E402
from app.core.migrate import downgrade, upgrade  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.factories import Factory  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under pytest-xdist; "" without


def backend_url(backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{_TMP / 'test.db'}"
    url = sa.make_url(os.environ["TEST_DATABASE_URL"])
    if WORKER:
        url = url.set(database=f"{url.database}_{WORKER}")
    return url.render_as_string(hide_password=False)


def worker_database(url: str, *, create: bool) -> None:
    """Create (or drop) a worker's own PostgreSQL database, beside TEST_DATABASE_URL's."""
    name = sa.make_url(url).database
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine(backend: str) -> Iterator[sa.Engine]:
    url = backend_url(backend)
    own = backend == "postgresql" and bool(WORKER)
    if own:
        worker_database(url, create=True)
    else:
        downgrade(url, "base")  # a database left by an earlier run starts clean
    upgrade(url)
    eng = core_db.make_engine(url)
    core_db.set_engine(eng)
    yield eng
    core_db.set_engine(None)
    eng.dispose()
    if own:
        worker_database(url, create=False)


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def committed_departments_removed(engine: sa.Engine) -> Iterator[None]:
    """For tests that commit for real (concurrency): the departments their factories made are deleted
    after the test's own clean-up, or a later test would find them (the demo data's, for one)."""
    with engine.connect() as conn:
        before = list(conn.execute(sa.text("SELECT id FROM departments")).scalars())
    yield
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM departments WHERE id NOT IN :before")
                     .bindparams(sa.bindparam("before", expanding=True)), {"before": before})


@pytest.fixture
def session(connection: sa.Connection) -> Iterator[Session]:
    """The test's own session; requests' sessions commit into savepoints of the same transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def app():  # noqa: ANN201
    return create_app()


@pytest.fixture
def client(app, connection: sa.Connection) -> Iterator[TestClient]:  # noqa: ANN001
    """The app as deployed (its own unit of work, database slots and thread-pool trips), its sessions
    committing into savepoints of the test's transaction."""
    core_db.set_session_factory(
        lambda: Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False))
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c
    finally:
        core_db.set_session_factory(None)


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the product owner's shared folder is absent ({SHARED})")
    return SHARED
