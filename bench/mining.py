"""Benchmark of the process-mining core on seeded synthetic logs.

Run `python -m bench.mining [--sizes 100000 1000000]` from the project root. The log is generated in
memory by a subprocess and handed over as Parquet (and CSV, for the import) in a temporary folder;
each measurement runs in a fresh subprocess. The orchestrating process never imports polars because
Linux carries the max-RSS high-water mark across exec: each worker's peak is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

ACTIVITIES = [
    f"A{i:02d} {verb}" for i, verb in enumerate(["register", "check", "review", "approve", "ship"] * 4)
]
TARGETS_1M = {"core_results": 0.35, "analyze": 1.0, "read_csv": 3.0, "import": 3.0}
PEAK_TARGET_MB = 600
REPEATS = 5


def synthetic_log(n_events: int, seed: int = 7) -> pl.DataFrame:
    """A normalised log of exactly `n_events` events in chronological file order, with loops and rework."""
    import polars as pl

    rng = random.Random(seed)
    last = len(ACTIVITIES) - 1
    successors = []
    for i in range(last):
        nxt = [(min(i + k, last), w) for k, w in ((1, 8), (2, 4), (3, 2))]
        if i > 2:
            nxt.append((rng.randrange(1, i), 1))  # rework: jump back
        if i % 4 == 1:
            nxt.append((i, 1))  # self loop
        successors.append(([a for a, _ in nxt], [w for _, w in nxt]))
    mean_gap_us = [rng.uniform(600, 86_400) * 1e6 for _ in ACTIVITIES]
    span_us = 2 * 365 * 86_400 * 10**6
    base_us = 1_577_836_800 * 10**6  # 2020-01-01 UTC
    cases: list[str] = []
    acts: list[str] = []
    stamps: list[int] = []
    while len(acts) < n_events:
        name = f"C{len(cases):08d}"
        ts = base_us + rng.randrange(span_us)
        a = 0
        while True:
            cases.append(name)
            acts.append(ACTIVITIES[a])
            stamps.append(ts)
            if a == last:
                break
            if rng.random() > 0.02:  # 2 % of steps share their predecessor's timestamp
                ts += int(rng.expovariate(1 / mean_gap_us[a]))
            targets, weights = successors[a]
            a = rng.choices(targets, weights)[0]
    df = pl.DataFrame(
        {
            "case_id": cases[:n_events],
            "activity": acts[:n_events],
            "timestamp": pl.Series(stamps[:n_events], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "resource": [f"R{rng.randrange(40):02d}" for _ in range(n_events)],
        }
    )
    return (
        df.sort("timestamp", maintain_order=True)
        .with_row_index("idx")
        .select("case_id", "activity", "timestamp", "resource", "idx")
    )


def write_xes_style_csv(df: pl.DataFrame, path: Path) -> None:
    """CSV with a pandas index column, XES column names and Europe/Amsterdam offsets (+01:00/+02:00)."""
    import polars as pl

    local = (
        pl.col("timestamp").dt.convert_time_zone("Europe/Amsterdam").dt.strftime("%Y-%m-%d %H:%M:%S%.3f%:z")
    )
    df.select(
        pl.col("idx").alias(""),
        pl.col("case_id").alias("case:concept:name"),
        pl.col("activity").alias("concept:name"),
        local.alias("time:timestamp"),
        pl.col("resource").alias("org:resource"),
    ).write_csv(path)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _worker(step: str, path: Path) -> dict[str, float]:
    """Generate (`gen`, path = size folder) or time `step` REPEATS times after one warm-up run."""
    import polars as pl

    from app.mining.analysis import analyze, core_results
    from app.mining.readers import read_csv

    if step == "gen":
        size = int(path.name)
        started = time.perf_counter()
        log = synthetic_log(size)
        generated = time.perf_counter() - started
        log.write_parquet(path / "log.parquet")
        write_xes_style_csv(log, path / "log.csv")
        return {
            "seconds": generated,
            "cases": log["case_id"].n_unique(),
            "csv_mb": (path / "log.csv").stat().st_size / 2**20,
        }
    if step == "read_csv":
        data = path.read_bytes()
        run: Callable[[], object] = lambda: read_csv(data)  # noqa: E731
    elif step == "import":
        run = _service_import(path)
    else:
        df = pl.read_parquet(path)
        run = (lambda: core_results(df)) if step == "core_results" else (lambda: analyze(df))  # noqa: E731
    before = _max_rss_mb()
    run()
    times, cpu = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "median": statistics.median(times),
        "best": min(times),
        "cpu": statistics.median(cpu),
        "rss_before": before,
        "rss_peak": _max_rss_mb(),
    }


def _service_import(path: Path) -> Callable[[], object]:
    """The whole import as the API does it (read, check, summarise, Parquet, store) into a fresh SQLite
    database; each run is rolled back so that every run stores the log anew."""
    import os

    os.environ["DATABASE_URL"] = f"sqlite:///{path.parent / 'import.db'}"
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.core.migrate import upgrade
    from app.mining.service import ImportOptions, import_log
    from app.processes.schemas import ProcessCreate
    from app.processes.service import create_process
    from app.users.models import Role
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    upgrade()
    data = path.read_bytes()
    with Session(get_engine()) as session:
        user = create_user(session, UserCreate(email="bench@example.com", display_name="bench", role=Role.admin,
                                               password="bench password"), actor=None)
        process = create_process(session, ProcessCreate(code="BENCH", name="bench"), user)
        session.commit()
        user_id, process_id = user.id, process.id

    def run() -> None:
        with Session(get_engine()) as session:
            actor = session.get(type(user), user_id)
            import_log(session, process_id=process_id, initiative_id=None, name=None, filename="log.csv",
                       data=data, options=ImportOptions(timezone="UTC"), actor=actor)
            session.rollback()

    return run


def _spawn(step: str, path: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.mining", "--worker", step, str(path)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--worker", nargs=2, metavar=("STEP", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker[0], Path(args.worker[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            folder = Path(tmp, str(size))
            folder.mkdir()
            gen = _spawn("gen", folder)
            print(
                f"{size:,} events, {gen['cases']:,} cases generated in {gen['seconds']:.1f} s; "
                f"CSV {gen['csv_mb']:.0f} MiB"
            )
            for step in ("core_results", "analyze", "read_csv", "import"):
                source = folder / ("log.csv" if step in ("read_csv", "import") else "log.parquet")
                rows.append((size, step, _spawn(step, source)))
    _print_table(rows)


def _print_table(rows: list[tuple[int, str, dict[str, float]]]) -> None:
    columns = (
        "events",
        "step",
        "median s",
        "best s",
        "CPU s",
        "target s",
        "RSS before MB",
        "peak MB",
        "delta MB",
    )
    widths = (10, 13, 9, 8, 7, 9, 14, 8, 9)
    header = _row(columns, widths) + "  verdict"
    print(f"\n{header}\n{'-' * len(header)}")
    for size, step, m in rows:
        target = TARGETS_1M[step] if size == 1_000_000 else None
        cells = (
            f"{size:,}",
            step,
            f"{m['median']:.3f}",
            f"{m['best']:.3f}",
            f"{m['cpu']:.3f}",
            "-" if target is None else f"{target:.2f}",
            f"{m['rss_before']:.0f}",
            f"{m['rss_peak']:.0f}",
            f"{m['rss_peak'] - m['rss_before']:.0f}",
        )
        met = target is not None and m["median"] <= target and m["rss_peak"] <= PEAK_TARGET_MB
        verdict = "" if target is None else ("ok" if met else "MISS")
        print(_row(cells, widths) + f"  {verdict}")
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLoad average 1/5/15 min at the end: {load} on {os.cpu_count()} CPUs.")
    print("median/best: wall clock; CPU s: median process CPU time summed over threads (the work done).")
    print(
        f"Targets at 1M events: core <= 0.35 s, analyze <= 1 s, read_csv and the whole import <= 3 s, "
        f"peak RSS <= {PEAK_TARGET_MB} MB."
    )


def _row(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """Right-aligned cells except the second (the step name)."""
    return " ".join(
        f"{c:<{w}}" if i == 1 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


if __name__ == "__main__":
    main()
