"""The per-worker database gate: at most DB_CONCURRENCY requests hold a session at once."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from starlette.requests import Request

from app.core.config import get_settings
from app.core.db import get_session
from tests.helpers import run_in_own_loop


@pytest.fixture
def one_slot(engine, monkeypatch):  # noqa: ANN001, ANN201 - `engine` points get_engine() at the test database
    monkeypatch.setattr(get_settings(), "db_concurrency", 1)


def _run(scenario) -> None:  # noqa: ANN001
    run_in_own_loop(scenario())


def _request(method: str = "GET", receive=None) -> Request:  # noqa: ANN001
    async def no_body() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request({"type": "http", "method": method, "path": "/", "headers": [], "query_string": b""},
                   receive or no_body)


async def _open(request: Request | None = None):  # noqa: ANN202
    gen = get_session(request or _request())
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


def test_a_slow_request_body_does_not_hold_a_slot(one_slot):  # noqa: ANN001
    """A form post whose body trickles in waits for it before it takes the worker's only slot."""
    async def scenario() -> None:
        more = asyncio.Event()
        chunks = [{"type": "http.request", "body": b"name=a", "more_body": True},
                  {"type": "http.request", "body": b"bc", "more_body": False}]

        async def slow_receive() -> dict:
            if len(chunks) == 1:
                await more.wait()
            return chunks.pop(0)

        slow = _request("POST", slow_receive)
        posting = asyncio.create_task(_open(slow))
        await asyncio.sleep(0.05)
        assert not posting.done()
        gen, _ = await asyncio.wait_for(_open(), timeout=5)  # another request gets the slot meanwhile
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()
        more.set()
        gen, _ = await asyncio.wait_for(posting, timeout=5)
        assert await slow.body() == b"name=abc"  # kept for the form parser and the handler
        with pytest.raises(StopAsyncIteration):
            await gen.__anext__()

    _run(scenario)
