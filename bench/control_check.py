"""The live check of a case against the control points (issue 15): 50 rules, 32 connections.

Run `.venv/bin/python bench/control_check.py` from the project root; see bench/README.md.

For each backend (SQLite in a temporary file; PostgreSQL in a fresh database `procopt_bench_cp_<pid>`,
created and dropped here, when the server at BENCH_PG_URL answers) it:

1. migrates the database and publishes, through the services, an SOP whose V1.0 has 4 typed attributes, 50
   control points with rules (conditions of one to three comparisons, requirements with order, time limit and
   role) and 10 special cases that are exceptions of them;
2. starts `procopt serve --workers 2` on a free 127.0.0.1 port;
3. after a warm-up, sends `POST /api/v1/processes/CP-BENCH/control-points/check` (a case's attributes and six
   activities done) with a `controls:check` service token from 32 concurrent connections for ~10 s and prints
   requests/s, p50 and p99 latency.

The load generator is `wrk` with a Lua script when installed, else an asyncio/httpx client in this process
(it runs on the same cores and caps the figures it measures).
Target: p99 <= 20 ms. Exit status 1 when it is missed. Traffic goes to 127.0.0.1 only; runs are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import DEPARTMENTS, Server, _interrupt, pg_create, pg_drop  # noqa: E402

CONTROL_POINTS = 50
SPECIAL_CASES = 10
P99_TARGET_MS = 20.0
PATH = "/api/v1/processes/CP-BENCH/control-points/check"
ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
              {"name": "urgent", "type": "boolean"}, {"name": "ordered_on", "type": "date"}]
ACTIVITIES = ["Register", "Review", "Finance approval", "Activate", "Ship", "Invoice"]
BODY = {"attributes": {"amount": 25000, "channel": "web", "urgent": False, "ordered_on": "2026-03-02"},
        "activities": [{"activity": a, "at": f"2026-03-02T09:{i * 3:02d}:00", "role": "Finance head"}
                       for i, a in enumerate(ACTIVITIES)]}
LUA = """
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_JSON {\\"requests\\":%%.0f,\\"duration_us\\":%%.0f,\\"p50_us\\":%%.0f," ..
    "\\"p99_us\\":%%.0f,\\"errors\\":%%.0f}\\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _rules() -> tuple[list[dict], list[dict]]:
    points, specials = [], []
    for i in range(CONTROL_POINTS):
        condition = [f"amount >= {1000.0 * i}", f'amount >= {500.0 * i} && channel != "internal"',
                     f'(amount > {100.0 * i} || urgent) && ordered_on >= timestamp("2026-01-01T00:00:00Z")'][i % 3]
        requirement = [{"activity": "Finance approval", "before": "Ship", "role": "Finance head"},
                       {"activity": "Activate", "within_minutes": 10, "after": "Review"},
                       {"activity": "Invoice"}][i % 3]
        points.append({"id": str(uuid.uuid4()), "description": f"Control point {i + 1}",
                       "rule": {"condition": condition, "requirement": requirement}})
    for j in range(SPECIAL_CASES):
        specials.append({"kind": "special_case", "situation": f"Special case {j + 1}", "instead": "The head approves",
                         "approver": "Operations head", "backfill_hours": 24, "control_point_id": points[j * 5]["id"],
                         "condition": f"amount >= {100000.0 + j} && urgent"})
    return points, specials


def seed(url: str) -> str:
    """Migrate `url`, publish the SOP and return a service token with the `controls:check` scope."""
    from sqlmodel import Session

    from app.auth.schemas import ServiceTokenCreate
    from app.auth.service import create_service_token
    from app.core.calendar import today
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.departments.models import Department
    from app.processes.schemas import ProcessCreate
    from app.processes.service import create_process
    from app.sops import service
    from app.sops.schemas import EditSection, PublishRequest, SopCreate, SubmitRequest, VoteRequest
    from app.users.models import Role
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            session.add_all(Department(code=c, name_en=en, name_zh=zh) for c, en, zh in DEPARTMENTS)
            session.flush()
            admin, owner, reviewer = (create_user(session, UserCreate(
                email=f"cp{i}@example.com", display_name=f"User {i}", role=role, department="operations",
                password="bench-password-1"), actor=None) for i, role in enumerate((Role.admin, Role.lead,
                                                                                    Role.member)))
            session.flush()
            process = create_process(session, ProcessCreate(code="CP-BENCH", name="Control check benchmark",
                                                            owner_department="operations", departments=["operations"],
                                                            owner_id=owner.id), admin)
            v = service.start_standalone(session, process.code, SopCreate(), owner)
            points, specials = _rules()
            for section, value in ((EditSection.steps, [{"name": a} for a in ACTIVITIES]),
                                   (EditSection.attributes, ATTRIBUTES), (EditSection.control_points, points),
                                   (EditSection.contingencies, specials)):
                service.update_section(session, v.id, section, value, owner, expected_version=None)
            service.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), owner,
                           expected_version=None)
            service.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
            service.sign(session, v.id, owner, expected_version=None)
            service.publish(session, v.id, PublishRequest(effective_date=today() - timedelta(days=1)), owner,
                            expected_version=None)
            _, secret = create_service_token(session, ServiceTokenCreate(name="orders", scopes=["controls:check"]),
                                             admin)
            session.commit()
            return secret
    finally:
        engine.dispose()


def run_wrk(url: str, token: str, duration: float, connections: int, tmp: Path) -> dict:
    script = tmp / "check.lua"
    script.write_text(LUA % {"body": json.dumps(BODY), "token": token})
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{round(duration)}s", "--timeout", "5s", "--latency", "-s",
           str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    d = json.loads(next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")).removeprefix("BENCH_JSON "))
    return {"rps": d["requests"] / (d["duration_us"] / 1e6), "p50_ms": d["p50_us"] / 1000,
            "p99_ms": d["p99_us"] / 1000, "requests": int(d["requests"]), "errors": int(d["errors"])}


async def _httpx_load(url: str, token: str, duration: float, connections: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers={"Authorization": f"Bearer {token}"}, timeout=5) as client:
        start = time.perf_counter()

        async def worker() -> None:
            nonlocal errors
            while (t0 := time.perf_counter()) < start + duration:
                try:
                    r = await client.post(url, json=BODY)
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed, "p50_ms": latencies[n // 2] * 1000, "p99_ms": latencies[min(n - 1, n * 99 // 100)] * 1000,
            "requests": n, "errors": errors}


def bench_backend(backend: str, url: str, args: argparse.Namespace, tmp: Path) -> dict:
    import httpx

    token = seed(url)
    server = Server(url, args.workers, tmp / f"server-{backend}.log")
    try:
        server.wait_ready()
        target = server.base + PATH
        answer = httpx.post(target, json=BODY, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        points = answer.json()["control_points"]
        assert len(points) == CONTROL_POINTS, len(points)
        print(f"[{backend}] {answer.json()['number']}: {sum(bool(p['applies']) for p in points)} of {len(points)} "
              f"apply, {sum(p['met'] is True for p in points)} met; answer {len(answer.content):,} bytes")
        for _ in range(args.warmup):
            httpx.post(target, json=BODY, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if shutil.which("wrk"):
            m, generator = run_wrk(target, token, args.duration, args.connections, tmp), "wrk"
        else:
            m, generator = asyncio.run(_httpx_load(target, token, args.duration, args.connections)), "httpx"
        print(f"[{backend}] {generator}, {args.connections} connections: {m['rps']:.0f} req/s, p50 "
              f"{m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, {m['requests']} requests, {m['errors']} errors "
              f"(load average {os.getloadavg()[0]:.1f})")
        return m
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    results = {}
    with tempfile.TemporaryDirectory(prefix="procopt-bench-cp-") as tmp:
        results["sqlite"] = bench_backend("sqlite", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
        dbname = f"procopt_bench_cp_{os.getpid()}"
        url = None if args.no_pg else pg_create(dbname)
        if url:
            try:
                results["postgresql"] = bench_backend("postgresql", url, args, Path(tmp))
            finally:
                pg_drop(dbname)
    missed = [b for b, m in results.items() if m["p99_ms"] > P99_TARGET_MS or m["errors"]]
    print(f"target p99 <= {P99_TARGET_MS:.0f} ms: " + ("met" if not missed else f"missed on {', '.join(missed)}"))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
