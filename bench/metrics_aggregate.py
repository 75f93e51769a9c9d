"""Benchmark ``app.metrics.aggregate.series``: 10,000,000 seeded observations, 200 KPIs, 2 years.

Run: ``.venv/bin/python bench/metrics_aggregate.py [--rows N] [--repeat R]``. Prints the best-of-R time of
the weekly series (count, mean, sum, min, max, p50, p95), then monthly and weekly by team for comparison, and
the process's peak RSS. CPU time (all threads) is printed too: it stays meaningful when other processes
compete for the two cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.metrics.aggregate import Grain, series  # noqa: E402

KPIS = 200
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_US = 2 * 365 * 86_400 * 1_000_000
TEAMS = 5


def observations(rows: int, seed: int = 42) -> pl.DataFrame:
    """Seeded synthetic observations in random time order: exponential values, a KPI-specific mean."""
    index = pl.int_range(0, rows, dtype=pl.UInt64)
    kpi = (index.hash(seed) % KPIS + 1).cast(pl.Int64)
    uniform = (index.hash(seed + 2) // 2**11 + 1).cast(pl.Float64) / float(2**53)
    return pl.select(
        kpi_id=kpi,
        ts=pl.lit(START, dtype=pl.Datetime("us", "UTC"))
        + pl.duration(microseconds=(index.hash(seed + 1) % SPAN_US).cast(pl.Int64)),
        value=-uniform.log() * (kpi % 50 + 5).cast(pl.Float64),
        team=pl.format("team-{}", index.hash(seed + 3) % TEAMS),
    )


def best_of(repeat: int, frame: pl.DataFrame, grain: Grain, by: list[str] | None) -> tuple[float, float, int]:
    """Best wall and best CPU time (all threads) over ``repeat`` runs, and the row count of the result."""
    wall, cpu, height = float("inf"), float("inf"), 0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        height = series(frame, grain, by=by).height
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    frame = observations(args.rows)
    print(f"generated {frame.height:,} observations, {KPIS} KPIs in {time.perf_counter() - started:.2f} s")
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    for grain, by in (("week", None), ("month", None), ("week", ["team"])):
        wall, cpu, height = best_of(args.repeat, frame, grain, by)
        label = grain + (f" by {','.join(by)}" if by else "")
        print(
            f"series {label:<14} best of {args.repeat}: {wall:.3f} s wall, {cpu:.3f} s CPU ({height:,} rows)"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
