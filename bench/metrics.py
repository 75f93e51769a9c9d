"""Benchmark of the metrics feature against a real uvicorn server on PostgreSQL.

Run from the project root: `.venv/bin/python bench/metrics.py [--rows 10000000] [--kpis 200]`.

It creates a fresh database `procopt_bench_metrics_<pid>` on the server at BENCH_PG_URL (default
`postgresql://postgres@127.0.0.1:5432/postgres`), migrates it, seeds an administrator, KPIs and a service
token through the services, starts `uvicorn app.main:create_app --factory --workers 2` on a free 127.0.0.1
port, and prints:

1. ingest rows/s through `POST /api/v1/observations` (10,000-row batches, 2 concurrent clients);
2. aggregation time of 10,000,000 observations (weekly, 200 KPIs, count/mean/sum/min/max/p50/p95): the
   polars computation alone (`aggregate.series` over an in-memory frame, the target), and the whole path
   from PostgreSQL (`COPY` into polars, then the computation) without the cache;
3. series endpoint latency for one KPI over 2 years (~50,000 observations) once the table holds 10M rows:
   uncached (the period cache emptied before every request) and cached;
4. peak server memory of a 1,000,000-row CSV (and Parquet) export over the idle worker.

Targets: aggregation <= 1 s; cached series request <= 50 ms; export memory <= 200 MB over idle.
Exit status 1 when a target is missed. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = secrets.token_urlsafe(48)
SERVER_ENV = {"SECRET_KEY": SECRET, "PROCOPT_ENV": "production", "LOG_LEVEL": "warning"}
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_US = 2 * 365 * 86_400 * 1_000_000
TARGET_AGG_S, TARGET_SERIES_MS, TARGET_EXPORT_MB = 1.0, 50.0, 200.0


def pg_admin_url() -> str:
    return os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL)


def pg_database(dbname: str, *, drop_only: bool = False) -> str:
    import psycopg

    with psycopg.connect(pg_admin_url(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    base = pg_admin_url().rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"


# ---------------------------------------------------------------------------- seeding


def seed(url: str, n_kpis: int) -> tuple[str, list[int]]:
    """Migrate, create an admin, `n_kpis` KPIs and a metrics token; return the token and the KPI ids."""
    from sqlmodel import Session

    from app.auth.schemas import ServiceTokenCreate
    from app.auth.service import create_service_token
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.departments.models import Department
    from app.metrics.schemas import KpiCreate
    from app.metrics.service import create_kpi
    from app.users.models import Role
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            session.add(Department(code="operations", name_en="Operations", name_zh="运营部"))
            session.flush()
            admin = create_user(session, UserCreate(email="bench@example.com", display_name="Bench", role=Role.admin,
                                                    password=secrets.token_urlsafe(16), department="operations"),
                                actor=None)
            session.flush()
            ids = [create_kpi(session, KpiCreate(code=f"K-{i:03d}", name_en=f"KPI {i}", name_zh=f"指标 {i}",
                                                 unit="min", direction="lower_is_better", aggregation="mean",
                                                 target=20, baseline=30), admin).id for i in range(1, n_kpis + 1)]
            _, secret = create_service_token(session, ServiceTokenCreate(
                name="bench", scopes=["metrics:read", "metrics:write"]), admin)
            session.commit()
            return secret, ids
    finally:
        engine.dispose()


def observations(rows: int, kpi_ids: list[int], seed: int = 42):  # noqa: ANN201
    """Seeded observations in random time order over 2 years: exponential values, a mean per KPI."""
    import polars as pl

    index = pl.int_range(0, rows, dtype=pl.UInt64)
    kpi = pl.lit(pl.Series(kpi_ids, dtype=pl.Int64)).gather((index.hash(seed) % len(kpi_ids)).cast(pl.Int64))
    uniform = (index.hash(seed + 2) // 2**11 + 1).cast(pl.Float64) / float(2**53)
    return pl.select(
        kpi_id=kpi,
        ts=pl.lit(START, dtype=pl.Datetime("us", "UTC")) + pl.duration(microseconds=(index.hash(seed + 1)
                                                                                  % SPAN_US).cast(pl.Int64)),
        value=(-uniform.log() * 20).round(3),
    )


def bulk_load(url: str, frame, chunk: int = 1_000_000) -> float:  # noqa: ANN001
    """COPY the frame into `observations` under one batch (a benchmark shortcut around the API)."""
    import polars as pl
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        # Trusted synthetic rows: skip the per-row foreign key triggers (superuser), as a bulk restore would.
        conn.execute("SET session_replication_role = replica")
        batch_id = conn.execute(
            "INSERT INTO observation_batches (created_at, origin, row_count, kpi_ids, min_ts, max_ts) "
            "VALUES (now(), 'bench', %s, '[]'::jsonb, %s, %s) RETURNING id",
            (frame.height, START, START + timedelta(microseconds=SPAN_US))).fetchone()[0]
        with conn.cursor() as cur:
            for offset in range(0, frame.height, chunk):
                part = frame.slice(offset, chunk).with_columns(pl.lit(batch_id).alias("batch_id"))
                buffer = io.BytesIO()
                part.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f+00:00")
                with cur.copy("COPY observations (kpi_id, ts, value, batch_id) FROM STDIN WITH (FORMAT csv)") as cp:
                    cp.write(buffer.getvalue())
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE observations")
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        env = {**os.environ, **SERVER_ENV, "DATABASE_URL": url}
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", HOST,
             "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the server exited:\n{self.log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def workers(self) -> list[int]:
        """Pids of the worker processes (the children of the uvicorn supervisor), or the server itself."""
        kids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                if int(fields[1]) == self.proc.pid and "resource_tracker" not in cmdline:
                    kids.append(int(entry.name))
        return kids or [self.proc.pid]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------------------- measurements


def bench_ingest(base: str, token: str, kpi_codes: list[str], batches: int, clients: int) -> float:
    """Rows/s of 10,000-row batches posted by `clients` concurrent clients (bodies encoded beforehand)."""
    import random

    import httpx

    rng = random.Random(7)
    now = datetime.now(UTC)
    bodies = []
    for b in range(batches):
        rows = [{"kpi": rng.choice(kpi_codes), "ts": (now - timedelta(seconds=rng.randrange(86_400 * 30)))
                 .isoformat(), "value": round(rng.expovariate(1 / 20), 3), "labels": {"team": rng.choice("ABC")}}
                for _ in range(10_000)]
        bodies.append(json.dumps({"source": f"bench-{b}", "observations": rows}).encode())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(timeout=120) as warm:
        r = warm.post(f"{base}/api/v1/observations", content=bodies[0], headers=headers)
        r.raise_for_status()
    queue = list(bodies[1:])
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                r = client.post(f"{base}/api/v1/observations", content=body, headers=headers)
                if r.status_code != 201:
                    errors.append(r.text[:200])

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"ingest errors: {errors[:3]}")
    return (batches - 1) * 10_000 / elapsed


def bench_aggregate(frame, url: str, kpi_ids: list[int], repeat: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Best polars time over the in-memory frame; best DB-to-result time and its COPY part."""
    from sqlmodel import Session

    from app.core.db import make_engine
    from app.metrics.aggregate import series
    from app.metrics.models import Grain
    from app.metrics.series import SeriesQuery, observations_frame, series_frame

    best_compute = min(_timed(lambda: series(frame, "week", "Asia/Shanghai")) for _ in range(repeat))
    engine = make_engine(url)
    q = SeriesQuery(Grain.week, date(2023, 12, 25), date(2026, 1, 5), "Asia/Shanghai")
    try:
        with Session(engine) as session:
            best_read = min(_timed(lambda: observations_frame(session, kpi_ids, None, None)) for _ in range(repeat))
            best_path = min(_timed(lambda: series_frame(session, kpi_ids, q, use_cache=False))
                            for _ in range(repeat))
    finally:
        engine.dispose()
    return best_compute, best_path, best_read


def _timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_series(base: str, token: str, url: str, code: str, kpi_id: int, n: int) -> tuple[list[float], list[float]]:
    import httpx
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    params = {"kpi": code, "grain": "week", "from": "2024-01-01", "to": "2026-01-01"}
    headers = {"Authorization": f"Bearer {token}"}
    cold, warm = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client, psycopg.connect(dsn, autocommit=True) as db:
        client.get("/api/v1/metrics/series", params=params).raise_for_status()
        for _ in range(n // 3):
            db.execute("DELETE FROM kpi_period_cache WHERE kpi_id = %s", (kpi_id,))
            started = time.perf_counter()
            r = client.get("/api/v1/metrics/series", params=params)
            cold.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
        for _ in range(n):
            started = time.perf_counter()
            r = client.get("/api/v1/metrics/series", params=params)
            warm.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
        assert len(r.json()["items"]) >= 100, r.text[:300]
    return cold, warm


def bench_export(server: Server, token: str, codes: list[str], fmt: str) -> tuple[int, float, float, float]:
    """Rows and bytes of the export, its wall time, and the peak RSS growth of the serving worker (MB)."""
    import httpx

    pids = server.workers()
    idle = {pid: rss_mb(pid) for pid in pids}
    peak = dict(idle)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in pids:
                with contextlib.suppress(OSError):
                    peak[pid] = max(peak[pid], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = lines = 0
    started = time.perf_counter()
    with httpx.stream("GET", f"{server.base}/api/v1/metrics/observations", timeout=600,
                      params={"kpi": ",".join(codes), "format": fmt},
                      headers={"Authorization": f"Bearer {token}"}) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    growth = max(peak[pid] - idle[pid] for pid in pids)
    return (lines - 1 if fmt == "csv" else -1), size / 1e6, elapsed, growth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--kpis", type=int, default=200)
    parser.add_argument("--ingest-batches", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    dbname = f"procopt_bench_metrics_{os.getpid()}"
    url = pg_database(dbname)
    os.environ.update({**SERVER_ENV, "DATABASE_URL": url})
    import polars as pl

    failed = False
    server = None
    try:
        token, kpi_ids = seed(url, args.kpis)
        codes = [f"K-{i:03d}" for i in range(1, args.kpis + 1)]
        print(f"database {dbname}: {args.kpis} KPIs; polars {pl.__version__}, {pl.thread_pool_size()} threads, "
              f"{os.cpu_count()} CPUs")
        server = Server(url, workers=2)
        server.wait()

        rate = bench_ingest(server.base, token, codes, args.ingest_batches, clients=2)
        print(f"1. ingest through the API: {rate:,.0f} rows/s ({args.ingest_batches - 1} batches of 10,000 rows, "
              "2 clients, 2 workers)")

        frame = observations(args.rows, kpi_ids)
        load_s = bulk_load(url, frame)
        print(f"   loaded {frame.height:,} more observations with COPY in {load_s:.1f} s")
        compute, path, read = bench_aggregate(frame, url, kpi_ids, args.repeat)
        failed |= compute > TARGET_AGG_S
        print(f"2. aggregation of {frame.height:,} observations, weekly, {args.kpis} KPIs, with p50/p95: "
              f"{compute:.3f} s in polars (target <= {TARGET_AGG_S:.0f} s: {'met' if compute <= TARGET_AGG_S else 'MISSED'})"
              f"; from PostgreSQL {path:.2f} s (COPY into polars {read:.2f} s + compute), best of {args.repeat}")
        del frame

        per_kpi = args.rows // args.kpis
        cold, warm = bench_series(server.base, token, url, codes[0], kpi_ids[0], 60)
        p50, p95 = statistics.median(warm), statistics.quantiles(warm, n=20)[18]
        failed |= p95 > TARGET_SERIES_MS
        print(f"3. GET /metrics/series, 1 KPI (~{per_kpi:,} observations), weekly over 2 years: cached p50 "
              f"{p50:.1f} ms, p95 {p95:.1f} ms (target <= {TARGET_SERIES_MS:.0f} ms: "
              f"{'met' if p95 <= TARGET_SERIES_MS else 'MISSED'}); uncached p50 {statistics.median(cold):.1f} ms")

        n_codes = max(1, -(-1_000_000 // per_kpi))
        for fmt in ("csv", "parquet"):
            rows, mb, secs, growth = bench_export(server, token, codes[:n_codes], fmt)
            if fmt == "csv":
                failed |= growth > TARGET_EXPORT_MB
            shown = f"{rows:,} rows, " if rows >= 0 else ""
            print(f"4. export format={fmt} of {n_codes} KPIs (~{n_codes * per_kpi:,} observations): {shown}{mb:,.0f} MB "
                  f"in {secs:.1f} s; peak worker memory +{growth:.0f} MB over idle (target <= "
                  f"{TARGET_EXPORT_MB:.0f} MB: {'met' if growth <= TARGET_EXPORT_MB else 'MISSED'})")
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            pg_database(dbname, drop_only=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
