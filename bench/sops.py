"""Server time of a large SOP's reads (issue 14): 200 steps, 50 control points and 300 comments.

Run `.venv/bin/python bench/sops.py` from the project root; see bench/README.md.

For each backend (SQLite in a temporary file; PostgreSQL in a fresh database `procopt_bench_sops_<pid>`,
created and dropped here, when the server at BENCH_PG_URL answers) it:

1. migrates the database and builds, through the services, a process whose SOP has V1.0 published (200
   steps, 50 control points, a RACI of 200 activities x 6 roles, forms and contingencies) and V1.1 in review
   (some steps changed, added, removed and moved; 300 comments in 100 threads);
2. starts `procopt serve --workers 1` on a free 127.0.0.1 port (one request at a time: the time measured is
   the server's, not queueing);
3. requests each case one after another (keep-alive), after a warm-up, and prints median and p95 latency,
   the server's CPU per request (from /proc: hardly moved by other work on the machine) and the size.

With `--pdf`, also the PDF controlled copy of V1.0 (no target: printed only).

Targets (the median judged; p95 printed beside it): the JSON read and the document pages <= 100 ms, the diff
<= 200 ms, the DOCX <= 1 s. A case answering 404 (not built yet) prints "not available" and is not judged.
Exit status 1 when a target is missed. Traffic goes to 127.0.0.1 only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    DEPARTMENTS,
    SERVER_ENV,
    Server,
    _interrupt,
    each_backend,
    group_cpu_seconds,
)

STEPS, CONTROL_POINTS, THREADS, REPLIES = 200, 50, 100, 2  # 100 threads x (1 + 2) = 300 comments
ROLES = ["运营专员 Operations specialist", "运营经理 Operations manager", "技术工程师 IT engineer",
         "客服 Customer service", "合规 Compliance", "财务 Finance"]
SCOPE = ["operations", "technology", "legal", "finance"]
TEXT = ("核对用户提交的资料与系统记录是否一致，不一致时记录原因并转交负责人处理。Check that the data the user sent matches "
        "the system's records; when it does not, note why and hand it to the owner. ")


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    target_ms: float | None  # None: printed, not judged
    reps: int


def cases(sop_id: int, v1_0: int, v1_1: int, args: argparse.Namespace) -> list[Case]:
    reps = args.reps
    pdf = [Case("PDF (V1.0)", f"/api/v1/sop-versions/{v1_0}/pdf", None, 3)] if args.pdf else []
    return [
        Case("JSON read (V1.1, 300 comments)", f"/api/v1/sop-versions/{v1_1}", 100, reps),
        Case("JSON read (V1.0, published)", f"/api/v1/sop-versions/{v1_0}", 100, reps),
        Case("comments (300)", f"/api/v1/sop-versions/{v1_1}/comments", None, reps),
        Case("page /sop-versions/{id}", f"/sop-versions/{v1_1}", 100, reps),
        Case("page /sops/{sop_id}", f"/sops/{sop_id}", 100, reps),
        Case("diff V1.0 -> V1.1", f"/api/v1/sops/{sop_id}/diff?from={v1_0}&to={v1_1}", 200, reps),
        Case("DOCX (V1.1)", f"/api/v1/sop-versions/{v1_1}/docx", 1000, max(5, reps // 4)),
        *pdf,
    ]


# ---------------------------------------------------------------------------- the SOP, through the services


def _content(codes: list[str]):  # noqa: ANN202 - SopContent, imported late (after the settings are set)
    from app.sops.schemas import (
        Contingency,
        ControlPoint,
        FormItem,
        Purpose,
        Raci,
        RaciActivity,
        RaciCell,
        Scope,
        SopContent,
        Step,
    )

    steps = [Step(name=f"步骤 {i + 1} Step {i + 1}: 核对与处理 check and hand over", department=codes[i % len(codes)],
                  role=ROLES[i % len(ROLES)], inputs="申请表 Application form", outputs="核对结果 Check result",
                  instructions=TEXT * 3, system_path="CRM › 客户 Customers › 核对 Check", minutes=1 + i % 7)
             for i in range(STEPS)]
    for step in steps:  # ids as the service would give them, so the RACI and control points can name them
        step.id = uuid.uuid4()
    activities = [RaciActivity(name=s.name, step_id=s.id) for s in steps]
    cells = []
    for i, a in enumerate(activities):
        letters = {ROLES[i % 6]: "R", ROLES[(i + 1) % 6]: "A", ROLES[(i + 2) % 6]: "C", ROLES[(i + 3) % 6]: "I"}
        cells += [RaciCell(activity=a.name, role=role, letters=v) for role, v in letters.items()]
    return SopContent(
        purpose=Purpose(text="激活时长 30 分钟 → 5 分钟 Activation 30 min -> 5 min", baseline=30, target=5, unit="min"),
        scope=Scope(scenarios=["新用户注册 New user registration"], departments=codes, roles=ROLES),
        raci=Raci(roles=ROLES, activities=activities, cells=cells), steps=steps,
        control_points=[ControlPoint(step_id=steps[i * 4].id, approver_role=ROLES[1],
                                     description=f"金额 ≥ {10_000 * (i + 1):,} 需财务负责人审批 needs the finance "
                                                 "head's approval")
                        for i in range(CONTROL_POINTS)],
        forms=[FormItem(name=f"表单 {i + 1} Form {i + 1}", location="OA › 表单 Forms") for i in range(20)],
        contingencies=[Contingency(situation=f"系统宕机 {i + 1} System down {i + 1}", instead="纸质登记 Paper register",
                                   approver=ROLES[1], backfill_hours=24) for i in range(10)],
    )


def _revised(content):  # noqa: ANN001, ANN202
    """V1.1: 20 steps reworded, 5 removed, 5 added, 3 moved; 5 control points changed; some RACI letters."""
    from app.sops.schemas import RaciActivity, RaciCell, Step

    steps = content.steps
    for s in steps[10:30]:
        s.instructions = s.instructions.replace("负责人", "运营经理").replace("owner", "operations manager")
    removed = {s.id for s in steps[150:155]}
    steps = [s for s in steps if s.id not in removed]
    steps.insert(40, steps.pop(5))
    steps.insert(90, steps.pop(60))
    steps.insert(2, steps.pop(120))
    added = [Step(name=f"新增步骤 {i + 1} New step {i + 1}", department="technology", role=ROLES[2],
                  instructions=TEXT) for i in range(5)]
    content.steps = steps[:100] + added + steps[100:]
    content.control_points = [cp for cp in content.control_points if cp.step_id not in removed]
    for cp in content.control_points[:5]:
        cp.description += "（含税 tax included）"
    content.raci.activities = [a for a in content.raci.activities if a.step_id not in removed]
    names = {a.name for a in content.raci.activities}
    content.raci.cells = [c for c in content.raci.cells if c.activity in names]
    for c in content.raci.cells[:30]:
        if c.letters == "C":
            c.letters = "I"
    content.raci.activities.append(RaciActivity(name="新增审批 New approval"))
    content.raci.cells += [RaciCell(activity="新增审批 New approval", role=ROLES[0], letters="R"),
                           RaciCell(activity="新增审批 New approval", role=ROLES[1], letters="A")]
    return content


def seed(url: str) -> dict:
    """Migrate `url`, build the SOP and return the ids and an administrator's JWT."""
    from sqlmodel import Session

    from app.core.calendar import today
    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.core.security import create_access_token
    from app.departments.models import Department
    from app.processes.schemas import ProcessCreate
    from app.processes.service import create_process
    from app.sops import service
    from app.sops.schemas import (
        CommentCreate,
        NextRequest,
        PublishRequest,
        ReviewerIn,
        Section,
        SopCreate,
        SubmitRequest,
        VoteRequest,
    )
    from app.users.models import Role
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            session.add_all(Department(code=c, name_en=en, name_zh=zh) for c, en, zh in DEPARTMENTS)
            session.flush()

            def user(i: int, role: Role, dept: str):  # noqa: ANN202
                return create_user(session, UserCreate(email=f"sop{i}@example.com", display_name=f"用户 {i} User {i}",
                                                       role=role, department=dept, password="bench-password-1"),
                                   actor=None)

            admin, owner = user(0, Role.admin, "operations"), user(1, Role.lead, "operations")
            reviewers = [user(2 + i, Role.member, code) for i, code in enumerate(SCOPE)]
            session.flush()
            process = create_process(session, ProcessCreate(
                code="SOP-BENCH", name="基准流程 Benchmark process", owner_department="operations",
                departments=SCOPE, owner_id=owner.id), admin)

            def fill(vid: int, content, *, steps_first: bool) -> None:  # noqa: ANN001
                """Section by section: the steps before the sections that name them when steps are new, after
                them when steps are removed."""
                dumped = content.model_dump(mode="json")
                others = [s for s in Section if s != Section.steps]
                for section in [Section.steps, *others] if steps_first else [*others, Section.steps]:
                    service.update_section(session, vid, section, dumped[section.value], owner, expected_version=None)

            def submit(vid: int) -> None:
                service.submit(session, vid, SubmitRequest(reviewers=[ReviewerIn(user_id=r.id) for r in reviewers]),
                               owner, expected_version=None)

            v1_0 = service.start_standalone(session, process.code, SopCreate(), owner)
            fill(v1_0.id, _content(SCOPE), steps_first=True)
            submit(v1_0.id)
            for r in reviewers:
                service.vote(session, v1_0.id, VoteRequest(vote="approve"), r, expected_version=None)
            service.sign(session, v1_0.id, owner, expected_version=None)
            service.publish(session, v1_0.id, PublishRequest(effective_date=today() - timedelta(days=30)), owner,
                            expected_version=None)
            v1_1 = service.next_version(session, v1_0.id, NextRequest(), owner)
            fill(v1_1.id, _revised(service.content_of(v1_1)), steps_first=False)
            submit(v1_1.id)
            step_ids = [s.id for s in service.content_of(v1_1).steps]
            for t in range(THREADS):
                first = service.add_comment(session, v1_1.id, CommentCreate(
                    section=Section.steps, step_id=step_ids[t * 2], text=f"第 {t + 1} 条意见 Comment {t + 1}: " + TEXT),
                    reviewers[t % len(reviewers)])
                for k in range(REPLIES):
                    author = owner if k == 0 else reviewers[(t + 1) % len(reviewers)]
                    service.add_comment(session, v1_1.id, CommentCreate(
                        section=Section.steps, parent_id=first.id, text=f"回复 Reply {k + 1}: " + TEXT), author)
            session.commit()
            return {"sop_id": v1_0.sop_id, "v1_0": v1_0.id, "v1_1": v1_1.id,
                    "jwt": create_access_token(str(admin.id), minutes=120)}
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- measuring


def measure(base: str, pid: int, token: str, case: Case, warmup: int) -> dict:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for _ in range(warmup):
            r = client.get(case.path)
        if r.status_code != 200:
            return {"status": r.status_code, "detail": r.text[:200]}
        times = []
        cpu0 = group_cpu_seconds(pid)
        for _ in range(case.reps):
            t0 = time.perf_counter()
            r = client.get(case.path)
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
        cpu1 = group_cpu_seconds(pid)
    times.sort()
    return {"status": 200, "median": statistics.median(times), "p95": times[min(len(times) - 1, int(0.95 * len(times)))],
            "cpu": (cpu1 - cpu0) * 1000 / case.reps if cpu0 is not None else None, "bytes": len(r.content)}


def bench_backend(backend: str, url: str, args: argparse.Namespace, tmp: Path) -> list[tuple[str, Case, dict]]:
    t0 = time.perf_counter()
    ids = seed(url)
    print(f"[{backend}] seeded an SOP of {STEPS} steps, {CONTROL_POINTS} control points and "
          f"{THREADS * (1 + REPLIES)} comments in {time.perf_counter() - t0:.1f} s")
    server = Server(url, 1, tmp / f"server-{backend}.log")
    rows = []
    try:
        server.wait_ready()
        for case in cases(ids["sop_id"], ids["v1_0"], ids["v1_1"], args):
            m = measure(server.base, server.proc.pid, ids["jwt"], case, args.warmup)
            rows.append((backend, case, m))
            print(f"[{backend}] {case.name:<32} {_figures(m)}  (load average {os.getloadavg()[0]:.1f})")
    finally:
        server.stop()
    return rows


def _figures(m: dict) -> str:
    if m["status"] == 404:
        return "not available (404)"
    if m["status"] != 200:
        return f"error {m['status']}: {m['detail']}"
    cpu = "n/a" if m["cpu"] is None else f"{m['cpu']:.1f}"
    return f"median {m['median']:7.1f} ms  p95 {m['p95']:7.1f} ms  server CPU {cpu:>6} ms/req  {m['bytes']:>9,} bytes"


def report(rows: list[tuple[str, Case, dict]]) -> bool:
    print()
    ok = True
    for backend, case, m in rows:
        if m["status"] == 404:
            verdict, figure = "N/A ", "not available"
        elif m["status"] != 200:
            verdict, figure, ok = "FAIL", f"error {m['status']}", False
        elif case.target_ms is None:
            verdict, figure = "info", f"median {m['median']:.1f} ms, p95 {m['p95']:.1f} ms"
        else:
            passed = m["median"] <= case.target_ms
            ok &= passed
            verdict = "PASS" if passed else "FAIL"
            figure = f"median {m['median']:.1f} ms, p95 {m['p95']:.1f} ms" + (
                " (p95 over the target)" if passed and m["p95"] > case.target_ms else "")
        target = f"<= {case.target_ms:.0f} ms" if case.target_ms else ""
        print(f"{verdict}  {backend:<11} {case.name:<32} {target:<11} {figure}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--reps", type=int, default=40, help="measured requests per case (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="requests before measuring (default 3)")
    parser.add_argument("--pdf", action="store_true",
                        help="also the PDF of V1.0 (no target; about 10-15 s of CPU a request)")
    args = parser.parse_args()
    if not 5 <= args.reps <= 500 or not 1 <= args.warmup <= 20:
        parser.error("keep the run bounded: reps 5-500, warm-up 1-20")
    os.environ.update(SERVER_ENV)  # the token minted in seed() must verify in the server
    signal.signal(signal.SIGTERM, _interrupt)
    load1, load5, _ = os.getloadavg()
    print(f"load average before the run: {load1:.2f} (1 min), {load5:.2f} (5 min) on {os.cpu_count()} CPUs"
          + ("  <- other work is running; latencies will be high (compare server CPU)" if load1 > 0.5 else ""))
    rows, failed = each_backend(args.backends, "bench_sops",
                                lambda backend, url, tmp: bench_backend(backend, url, args, tmp))
    ok = report(rows)
    for backend in failed:
        print(f"FAIL  {backend:<11} the case did not run")
    print(f"\nsequential requests, {args.reps} per case after {args.warmup} warm-up, 1 uvicorn worker, "
          f"load average after: {os.getloadavg()[0]:.2f}")
    sys.exit(0 if ok and rows and not failed else 1)


if __name__ == "__main__":
    main()
