"""What the benchmarks share: a scratch database (a temporary SQLite file, or a fresh PostgreSQL database on
BENCH_PG_URL, default `postgresql://postgres@127.0.0.1:5432/postgres`, dropped afterwards) and the timing of a call
(median and worst of 7 runs after one warm-up)."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_database(dbname: str, *, drop_only: bool = False) -> str:
    import psycopg

    admin = os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"


@contextmanager
def database(name: str, *, pg: bool) -> Iterator[str]:
    """The URL of a scratch database: PostgreSQL `<name>_<pid>` when `pg`, else a temporary SQLite file."""
    if pg:
        dbname = f"{name}_{os.getpid()}"
        try:
            yield pg_database(dbname)
        finally:
            pg_database(dbname, drop_only=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def timed(fn: Callable[[], object], runs: int = 7) -> tuple[float, float]:
    """Median and worst milliseconds of `runs` calls of `fn`, after one warm-up call."""
    fn()
    took = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        took.append((time.perf_counter() - t) * 1000)
    return statistics.median(took), max(took)
