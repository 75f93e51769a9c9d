"""Control-point compliance over an event log (issue 15): 1M events, 100k cases, 20 rules.

Run `.venv/bin/python bench/compliance.py [--cases 100000] [--repeats 5]` from the project root; see
bench/README.md. A seeded synthetic log (10 events a case, 12 activities, resources with 4 roles, 5 case
attributes of every type) is checked against an SOP content of 20 control points whose rules mix conditions
(comparisons, `in`, text methods, dates, one outside the polars translation: `int(amount) % 7 == 0`) with
requirements (activity, before, within minutes of another, role) and 3 special cases. It prints the time of
`app.mining.compliance.evaluate` (median and max of the repeats), of reading the stored Parquet of events and
cases (what `service.check_compliance` adds), and the sum; target: the sum <= 2 s. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from app.mining import compliance  # noqa: E402
from app.sops import rules  # noqa: E402
from app.sops.schemas import SopContent  # noqa: E402

TARGET_S = 2.0
EVENTS_PER_CASE = 10
ACTIVITIES = ["Register", "Review", "Check stock", "Finance approval", "Ops approval", "Pick", "Pack", "Invoice",
              "Ship", "Activate", "Notify", "Close"]
ROLES = ["clerk", "finance_head", "ops_head", "warehouse"]
ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
              {"name": "urgent", "type": "boolean"}, {"name": "region", "type": "text"},
              {"name": "ordered_on", "type": "date"}]
CONDITIONS = [
    "amount >= 10000.0", 'amount >= 5000.0 && channel != "internal"', 'channel == "web"',
    'region in ["north", "east"]', 'channel.startsWith("w") || urgent', "amount < 100.0 && !urgent",
    'ordered_on >= timestamp("2025-06-01T00:00:00Z")', "ordered_on.getDayOfWeek() == 1",
    'region.contains("th") && amount > 2000.0', 'channel.matches("^(web|app)$")', "amount * 1.13 > 20000.0",
    'urgent ? amount > 500.0 : amount > 50000.0', "size(region) > 4", "int(amount) % 7 == 0",
    'region != "west"', "amount >= 100000.0", 'channel == "shop" && amount >= 1000.0',
    'ordered_on < timestamp("2025-01-01T00:00:00Z") || urgent', "amount > 0.0", '!(channel in ["web", "app"])',
]
REQUIREMENTS = [
    {"activity": "Finance approval", "before": "Ship", "role": "finance_head"},
    {"activity": "Activate", "within_minutes": 60, "after": "Review"},
    {"activity": "Check stock", "before": "Pick"},
    {"activity": "Ops approval", "role": "ops_head"},
    {"activity": "Invoice", "within_minutes": 2880},
]


def synthetic(cases: int, seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events (normalised, as stored) and the cases' attributes (text, as stored)."""
    n = cases * EVENTS_PER_CASE
    case_no = pl.int_range(0, n, eager=True) // EVENTS_PER_CASE
    step = pl.int_range(0, n, eager=True) % EVENTS_PER_CASE
    frame = pl.DataFrame({"c": case_no, "s": step}).with_columns(
        h=(pl.col("c") * 2654435761 + pl.col("s") * 40503 + seed).hash(seed))
    events = frame.select(
        case_id=pl.format("C{}", pl.col("c").cast(pl.String).str.zfill(7)),
        activity=pl.lit(pl.Series(ACTIVITIES)).gather((pl.col("h") % len(ACTIVITIES)).cast(pl.Int64)),
        timestamp=(pl.lit(1_735_689_600_000_000) + pl.col("c") * 300_000_000 + pl.col("s") * 900_000_000
                   + (pl.col("h") % 600_000_000).cast(pl.Int64)).cast(pl.Datetime("us", "UTC")),
        resource=pl.format("R{}", (pl.col("h") % 50)),
        role=pl.lit(pl.Series(ROLES)).gather((pl.col("h") // 7 % len(ROLES)).cast(pl.Int64)),
    ).with_row_index("idx")
    c = pl.DataFrame({"c": pl.int_range(0, cases, eager=True)}).with_columns(h=pl.col("c").hash(seed + 1))
    attrs = c.select(
        case_id=pl.format("C{}", pl.col("c").cast(pl.String).str.zfill(7)),
        amount=((pl.col("h") % 200_000).cast(pl.Float64) + 0.5).cast(pl.String),
        channel=pl.lit(pl.Series(["web", "app", "shop", "internal"])).gather((pl.col("h") // 3 % 4).cast(pl.Int64)),
        urgent=pl.when(pl.col("h") % 9 == 0).then(pl.lit("true")).otherwise(pl.lit("false")),
        region=pl.lit(pl.Series(["north", "south", "east", "west"])).gather((pl.col("h") // 5 % 4).cast(pl.Int64)),
        ordered_on=(pl.lit(1_704_067_200_000_000) + (pl.col("h") % 730).cast(pl.Int64) * 86_400_000_000)
        .cast(pl.Datetime("us", "UTC")).dt.strftime("%Y-%m-%d"),
    )
    # A few cases without an amount, and one that is not a number: not evaluable.
    attrs = attrs.with_columns(amount=pl.when(pl.col("case_id").str.ends_with("13")).then(None)
                               .when(pl.col("case_id").str.ends_with("977")).then(pl.lit("n/a"))
                               .otherwise(pl.col("amount")))
    return events, attrs


def content() -> SopContent:
    ids = [uuid.uuid4() for _ in CONDITIONS]
    points = [{"id": str(i), "description": f"Control point {n + 1}",
               "rule": {"condition": cond, "requirement": REQUIREMENTS[n % len(REQUIREMENTS)]}}
              for n, (i, cond) in enumerate(zip(ids, CONDITIONS, strict=True))]
    specials = [{"kind": "special_case", "situation": f"Special {k}", "instead": "Operations head approves",
                 "control_point_id": str(ids[k]), "condition": "amount >= 100000.0 && urgent"} for k in (0, 1, 15)]
    return SopContent.model_validate({"attributes": ATTRIBUTES, "control_points": points,
                                      "contingencies": specials})


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    events, attrs = synthetic(args.cases)
    stored_events, stored_cases = _parquet(events), _parquet(attrs)
    compiled = rules.compile_content(content())
    loads, runs = [], []
    outcome = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ev, ca = pl.read_parquet(io.BytesIO(stored_events)), pl.read_parquet(io.BytesIO(stored_cases))
        t1 = time.perf_counter()
        outcome = compliance.evaluate(ev, ca, compiled, "Asia/Shanghai")
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        runs.append(t2 - t1)
    assert outcome is not None
    statuses = dict(outcome.results.group_by("status").len().iter_rows())
    load, run = statistics.median(loads), statistics.median(runs)
    print(f"log: {events.height:,} events, {attrs.height:,} cases, {len(CONDITIONS)} rules "
          f"({len(stored_events) / 1e6:.1f} MB + {len(stored_cases) / 1e6:.1f} MB Parquet)")
    print(f"results: {outcome.results.height:,} (case, rule) pairs: " + ", ".join(
        f"{s} {statuses.get(s, 0):,}" for s in compliance.STATUSES))
    print("| step | median s | max s |\n| --- | --- | --- |")
    print(f"| read Parquet (events + cases) | {load:.3f} | {max(loads):.3f} |")
    print(f"| evaluate 20 rules | {run:.3f} | {max(runs):.3f} |")
    total = load + run
    verdict = "PASS" if total <= TARGET_S else "FAIL"
    print(f"| **total** | **{total:.3f}** | {max(a + b for a, b in zip(loads, runs, strict=True)):.3f} |")
    print(f"target: total <= {TARGET_S} s: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
