"""Metrics tests: cheap password hashing (still argon2id) for the many users they create, and the suite's
client with the app's own unit of work (errors detach objects before the rollback, as in production) and
streamed exports reading through the test's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from app.core import db as core_db
from app.metrics.api import export_sessions
from tests.helpers import fast_hashing  # noqa: F401 - the fixture, used below


@pytest.fixture(autouse=True)
def _cheap_hashing(fast_hashing) -> None:  # noqa: ANN001, F811
    return None


@pytest.fixture
def client(client, app, connection):  # noqa: ANN001, ANN201
    def request_session() -> Iterator[Session]:
        with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
            yield from core_db.unit_of_work(s)

    def stream_session() -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    app.dependency_overrides[core_db.get_session] = request_session
    app.dependency_overrides[export_sessions] = lambda: stream_session
    return client
