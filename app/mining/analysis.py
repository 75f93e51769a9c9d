"""Process-mining statistics over a normalised event log (see `app.mining.readers`).

Events are ordered by (case, timestamp); events with equal timestamps keep file order (`idx`,
or row order when there is no `idx` column). Durations are seconds between UTC instants;
medians average the two middle values and p95 interpolates linearly (as numpy does).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

_US = 1_000_000


def core_results(df: pl.DataFrame) -> dict[str, Any]:
    """The reference statistics: counts, start/end activities, DFG with times, case durations, rework, variants."""
    events, names = _prepare(df)
    return _results(events, names, extended=False)


def analyze(
    df: pl.DataFrame,
    *,
    date_from: datetime | date | None = None,
    date_to: datetime | date | None = None,
    containing_activity: str | None = None,
    top_variants: int = 10,
    top_bottlenecks: int = 10,
    tz: str = "UTC",
) -> dict[str, Any]:
    """`core_results` plus p95s, activity statistics, top variants, weekly counts and bottlenecks.

    Filters keep whole cases: those whose first event is in [date_from, date_to) (naive datetimes and
    dates are UTC) and, when `containing_activity` is given, that contain that activity at least once.
    Weekly counts are per ISO week (Monday) in time zone `tz`, the rule of `week_start` (the service passes
    BUSINESS_TIMEZONE, as for the KPIs a log publishes).
    """
    events, names = _prepare(df)
    keep: list[pl.Expr] = []
    if date_from is not None:
        keep.append(pl.col("ts") >= _epoch_us(date_from))
    if date_to is not None:
        keep.append(pl.col("ts") < _epoch_us(date_to))
    if keep:
        start_ok = pl.when("first").then(pl.all_horizontal(keep)).forward_fill()
        events = events.filter(start_ok)
    if containing_activity is not None:
        code = names.index(containing_activity) if containing_activity in names else -1
        events = events.filter((pl.col("act") == code).any().over("case"))
    return _results(events, names, extended=True, top_variants=top_variants, top_bottlenecks=top_bottlenecks,
                    tz=tz)


def week_start(instant: pl.Expr, tz: str) -> pl.Expr:
    """The Monday (a date) of the ISO week holding each UTC instant, in time zone `tz`: the one week rule of
    the analysis's weekly volumes and of the KPIs a log publishes (`steps.weekly_case_stats`)."""
    return instant.dt.convert_time_zone(tz).dt.truncate("1w").dt.date()


def _epoch_us(moment: datetime | date) -> int:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _prepare(df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Integer-coded events sorted by (case, timestamp, file order), with same-case neighbour columns.

    `act` codes index the returned, sorted activity names. `first`/`last` flag the first/last event of a
    case; `prev` and `wait` (microseconds) refer to the previous event, meaningful where not `first`.
    """
    names = df["activity"].unique().sort()
    coded = df.lazy().select(
        case=pl.col("case_id").cast(pl.Categorical(pl.Categories.random())).to_physical(),
        act=pl.col("activity").cast(pl.Enum(names)).to_physical(),
        ts=pl.col("timestamp").dt.epoch("us"),
        **({"idx": pl.col("idx")} if "idx" in df.columns else {}),
    )
    coded = coded.collect()
    step = pl.col("case").diff()
    in_order = coded.select(((step > 0) | ((step == 0) & (pl.col("ts").diff() >= 0))).all()).item()
    keys = [] if in_order else ["ts", "case"]
    if "idx" in coded.columns and not coded["idx"].is_sorted():
        keys = ["idx", "ts", "case"]
    # Successive stable single-key sorts, least significant key first, are cheaper than one multi-key sort.
    order = pl.int_range(coded.height, dtype=pl.UInt32, eager=True)
    for key in keys:
        column = coded[key].gather(order).to_frame()
        order = order.gather(column.select(pl.arg_sort_by(key, maintain_order=True)).to_series())
    case = pl.col("case")
    events = (
        coded.lazy()
        .select(
            pl.col("case", "act", "ts") if not keys else pl.col("case", "act", "ts").gather(order),
        )
        .with_columns(
            first=case != case.shift(1),
            last=case != case.shift(-1),
            prev=pl.col("act").shift(1),
            wait=pl.col("ts").diff(),
        )
    )
    # `case` is ascending now; flagging it lets polars group by case over contiguous slices.
    events = events.with_columns(pl.col("first", "last").fill_null(True), case.set_sorted()).collect()
    return events, names.to_list()


def _results(
    events: pl.DataFrame,
    names: list[str],
    *,
    extended: bool,
    top_variants: int = 10,
    top_bottlenecks: int = 10,
    tz: str = "UTC",
) -> dict[str, Any]:
    ev = events.lazy()
    n_acts = len(names) or 1
    wait = pl.col("wait")
    dfg_aggs = [pl.len().alias("count"), wait.mean().alias("mean"), wait.median().alias("median")]
    duration = pl.col("d")
    dur_aggs = [duration.min().alias("min"), duration.median().alias("median")]
    dur_aggs += [duration.mean().alias("mean"), duration.max().alias("max")]
    if extended:
        dfg_aggs += [wait.quantile(0.95, "linear").alias("p95"), wait.sum().alias("total")]
        dur_aggs.append(duration.quantile(0.95, "linear").alias("p95"))
    pair_key = pl.col("case").cast(pl.UInt64) * n_acts + pl.col("act")
    queries = {
        "dfg": ev.filter(~pl.col("first")).group_by("prev", "act").agg(dfg_aggs).sort("prev", "act"),
        "start": ev.filter("first").group_by("act").len(),
        "end": ev.filter("last").group_by("act").len(),
        "dur": ev.select(d=pl.col("ts").filter("last") - pl.col("ts").filter("first")).select(dur_aggs),
        "pairs": ev.group_by(key=pair_key)
        .len()
        .select(act=pl.col("key") % n_acts, rework=pl.col("len") >= 2)
        .group_by("act")
        .agg(cases=pl.len(), rework=pl.col("rework").sum()),
        "variants": ev.group_by("case").agg(seq=pl.col("act")).group_by("seq").len(),
    }
    if extended:
        queries["acts"] = ev.group_by("act").len()
        queries["next"] = (
            ev.filter(~pl.col("first")).group_by("prev").agg(mean=wait.mean(), median=wait.median())
        )
        week = week_start(pl.from_epoch("ts", "us").dt.replace_time_zone("UTC"), tz)
        queries["started"] = ev.filter("first").group_by(week=week).len()
        queries["completed"] = ev.filter("last").group_by(week=week).len()
    frames = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
    n_cases = int(frames["start"]["len"].sum())
    dfg, dur, pairs, variants = frames["dfg"], frames["dur"], frames["pairs"], frames["variants"]
    out: dict[str, Any] = {
        "events": events.height,
        "cases": n_cases,
        "activities": pairs.height,
        "start_activities": _counts(frames["start"], names),
        "end_activities": _counts(frames["end"], names),
        "directly_follows": [
            {
                "from": names[row["prev"]],
                "to": names[row["act"]],
                "count": row["count"],
                "mean_s": row["mean"] / _US,
                "median_s": row["median"] / _US,
                **({"p95_s": row["p95"] / _US} if extended else {}),
            }
            for row in dfg.iter_rows(named=True)
        ],
        "case_duration_s": {k: _seconds(v) for k, v in dur.row(0, named=True).items()},
        "rework_cases_per_activity": {
            names[a]: r
            for a, r in pairs.filter(pl.col("rework") > 0).sort("act").select("act", "rework").iter_rows()
        },
        "variants": variants.height,
    }
    if not extended:
        return out
    occurrences = dict(frames["acts"].iter_rows())
    cases_with = dict(pairs.select("act", "cases").iter_rows())
    next_wait = {a: (m, md) for a, m, md in frames["next"].iter_rows()}
    out["activity_stats"] = [
        {
            "activity": names[a],
            "occurrences": n,
            "cases": cases_with[a],
            "mean_s": _seconds(next_wait.get(a, (None, None))[0]),
            "median_s": _seconds(next_wait.get(a, (None, None))[1]),
        }
        for a, n in sorted(occurrences.items(), key=lambda item: (-item[1], item[0]))
    ]
    top = variants.sort(["len", "seq"], descending=[True, False]).head(top_variants)
    out["top_variants"] = [
        {"activities": [names[a] for a in seq], "cases": n, "share": n / n_cases}
        for seq, n in top.iter_rows()
    ]
    out["weekly"] = _weekly(frames["started"], frames["completed"])
    out["bottlenecks"] = [
        {
            "from": names[row["prev"]],
            "to": names[row["act"]],
            "count": row["count"],
            "total_s": row["total"] / _US,
            "mean_s": row["mean"] / _US,
        }
        for row in dfg.sort(["total", "prev", "act"], descending=[True, False, False])
        .head(top_bottlenecks)
        .iter_rows(named=True)
    ]
    return out


def _counts(frame: pl.DataFrame, names: list[str]) -> dict[str, int]:
    """Activity → count, most frequent first (ties by name)."""
    return {names[a]: n for a, n in frame.sort(["len", "act"], descending=[True, False]).iter_rows()}


def _seconds(value: float | None) -> float | None:
    return None if value is None else value / _US


def _weekly(started: pl.DataFrame, completed: pl.DataFrame) -> list[dict[str, Any]]:
    """Cases started / completed (first / last event) per ISO week (Monday), gaps filled with zeros."""
    if started.is_empty():
        return []
    weeks = pl.concat([started["week"], completed["week"]])
    frame = (
        pl.DataFrame({"week": pl.date_range(weeks.min(), weeks.max(), "1w", eager=True)})
        .join(started.rename({"len": "started"}), on="week", how="left")
        .join(completed.rename({"len": "completed"}), on="week", how="left")
        .fill_null(0)
        .sort("week")
    )
    return [
        {"week_start": week.isoformat(), "cases_started": s, "cases_completed": c}
        for week, s, c in frame.iter_rows()
    ]
