"""Benchmark of a rollout with a department of 2,000 people: the readiness (what the plan page and the JSON answer
compute) and the training-record export (XLSX). SQLite by default, PostgreSQL with --pg.

Run from the project root: `.venv/bin/python bench/rollout.py [--people 2000] [--pg]`.

It creates a fresh database (SQLite: a temporary file; PostgreSQL: `procopt_bench_rollout_<pid>` on BENCH_PG_URL,
default `postgresql://postgres@127.0.0.1:5432/postgres`), migrates it, loads the demo data, adds `--people` people
to a new department and a wave of the demo's plan with them: each attended a training session, took the 10-question
test once or twice (one in ten failed first), four in five acknowledged. Then it times `rollout.service.readiness`,
the plan page's readiness section as the page loads it (htmx GET through the app, in process: middleware, the
page's context, the template) and its people section (no target: a figure), and `rollout.service.training_record`
+ `records.to_xlsx`: the median and the worst of 7 runs after one warm-up.
Targets: readiness <= 150 ms, export <= 1 s. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scratch import database, timed  # noqa: E402 - the benchmarks' scratch database and timing, beside this file

READINESS_MS, EXPORT_MS = 150.0, 1000.0


def seed(url: str, people: int) -> None:
    os.environ["DATABASE_URL"] = url  # before the app reads its settings
    from sqlmodel import Session, select

    from app import demo
    from app.core.calendar import today
    from app.core.db import make_engine, utcnow
    from app.core.migrate import upgrade
    from app.core.security import hash_password
    from app.departments.models import Department
    from app.rollout import service
    from app.rollout.models import (
        Acknowledgement,
        RolloutPerson,
        RolloutPlan,
        TestAttempt,
        TrainingAttendance,
    )
    from app.rollout.schemas import SessionCreate, WaveIn
    from app.sops.service import content_hash
    from app.users.models import Role, User

    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        demo.load(session)
        session.flush()
        plan = session.exec(select(RolloutPlan)).one()
        lead = session.exec(select(User).where(User.email == "lead@example.com")).one()
        dept = Department(code="bench", name_en="Call centre", name_zh="呼叫中心")
        session.add(dept)
        session.flush()
        password = hash_password("bench-password-2026")
        users = [User(email=f"p{i}@bench.example", email_norm=f"p{i}@bench.example", display_name=f"坐席 {i:04d}",
                      department_id=dept.id, role=Role.member, password_hash=password) for i in range(people)]
        session.add_all(users)
        session.flush()
        wave = service.add_wave(session, plan.id, WaveIn(name="第3周：呼叫中心", starts_on=today(),
                                                         ends_on=today() + timedelta(days=4),
                                                         department_ids=[dept.id]), lead)
        ts = service.create_session(session, plan.id, SessionCreate(wave_id=wave.id, title="V1.1",
                                                                    held_on=today()), lead)
        digest, now = content_hash(plan_version(session, plan).content), utcnow()
        for i, u in enumerate(users):
            session.add(TrainingAttendance(session_id=ts.id, user_id=u.id))
            scores = [70, 90] if i % 10 == 0 else [80 + i % 3 * 10]
            for n, score in enumerate(scores, start=1):
                session.add(TestAttempt(plan_id=plan.id, user_id=u.id, number=n, started_at=now, submitted_at=now,
                                        paper=[], answers=[], score=score, passed=score >= plan.pass_mark))
            if i % 5:
                session.add(Acknowledgement(plan_id=plan.id, user_id=u.id, content_hash=digest, acknowledged_at=now))
        session.commit()
        n = len(session.exec(select(RolloutPerson.user_id).where(RolloutPerson.plan_id == plan.id)).all())
        print(f"seeded: {people} people in one department ({n} in the plan's scope)")


def plan_version(session, plan):  # noqa: ANN001, ANN201
    from app.sops.models import SopVersion

    return session.get(SopVersion, plan.sop_version_id)


def run(url: str) -> bool:
    from fastapi.testclient import TestClient
    from sqlmodel import Session, select

    from app.core.db import make_engine
    from app.core.security import create_access_token
    from app.departments.models import Department
    from app.main import create_app
    from app.rollout import records, service
    from app.rollout.models import RolloutPlan
    from app.users.models import User

    engine = make_engine(url)
    with Session(engine) as session:
        plan = session.exec(select(RolloutPlan)).one()
        lead = session.exec(select(User).where(User.email == "lead@example.com")).one()
        dept = session.exec(select(Department).where(Department.code == "bench")).one()

        def readiness() -> None:
            r = service.readiness(session, plan, {dept.id})
            assert r.departments[0].people > 0

        def export() -> None:
            rows, title = service.training_record(session, plan.id, lead, "zh_CN", department_id=dept.id)
            records.to_xlsx(rows, "zh_CN", title)

        client = TestClient(create_app())
        headers = {"Authorization": f"Bearer {create_access_token(str(lead.id))}", "Accept-Language": "zh-CN",
                   "HX-Request": "true"}

        def page(section: str) -> Callable[[], None]:
            def get() -> None:
                r = client.get(f"/rollout-plans/{plan.id}/sections/{section}", headers=headers)
                assert r.status_code == 200 and "呼叫中心" in r.text, r.status_code
            return get

        ok = True
        for name, fn, target in (("readiness of the department", readiness, READINESS_MS),
                                 ("readiness section of the plan page (htmx GET, in process)", page("readiness"),
                                  READINESS_MS),
                                 ("people section of the plan page (2,004 rows)", page("people"), None),
                                 ("training record export (XLSX)", export, EXPORT_MS)):
            median, worst = timed(fn)
            if target is None:
                print(f"{name}: median {median:.1f} ms, worst {worst:.1f} ms")
                continue
            met = median <= target
            ok &= met
            print(f"{name}: median {median:.1f} ms, worst {worst:.1f} ms (target <= {target:.0f} ms: "
                  f"{'met' if met else 'MISSED'})")
        return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with database("procopt_bench_rollout", pg=args.pg) as url:
        seed(url, args.people)
        return 0 if run(url) else 1


if __name__ == "__main__":
    sys.exit(main())
