"""The per-worker database gate: at most DB_CONCURRENCY requests hold a session at once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.core.config import get_settings
from app.core.db import get_session


@pytest.fixture
def one_slot(engine, monkeypatch):  # noqa: ANN001, ANN201 - `engine` points get_engine() at the test database
    monkeypatch.setattr(get_settings(), "db_concurrency", 1)


def _run(scenario) -> None:  # noqa: ANN001
    """`asyncio.run` in a thread of its own: the browser tests leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


async def _open():  # noqa: ANN202
    gen = get_session()
    return gen, await gen.__anext__()


def test_a_second_request_waits_until_the_first_has_finished(one_slot):  # noqa: ANN001
    async def scenario() -> None:
        first, session = await _open()
        assert session.connection().execute(sa.text("SELECT 1")).scalar() == 1
        second = asyncio.create_task(_open())
        await asyncio.sleep(0.05)
        assert not second.done(), "the second request got a session while the first held the only slot"
        with pytest.raises(StopAsyncIteration):  # the first request ends: commit, close, free the slot
            await first.__anext__()
        gen, other = await asyncio.wait_for(second, timeout=5)
        assert other is not session
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()

    _run(scenario)


def test_a_failed_request_frees_its_slot(one_slot):  # noqa: ANN001
    async def scenario() -> None:
        first, session = await _open()
        session.connection()
        with pytest.raises(RuntimeError):  # the handler raised: rolled back, closed, slot freed
            await first.athrow(RuntimeError("handler failed"))
        assert not session.in_transaction()
        gen, _ = await asyncio.wait_for(_open(), timeout=5)
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()

    _run(scenario)
