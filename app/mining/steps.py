"""Measured time per activity, to set beside the surveyed minutes of the steps they map to."""

from __future__ import annotations

from typing import Any

import polars as pl

from app.mining.analysis import week_start


def activity_durations(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per activity: occurrences, and the mean and median seconds each occurrence took.

    An occurrence takes from its start to its completion when the log has start timestamps; otherwise
    from the completion of the previous event of the same case (so waiting is included), and the first
    event of a case, having no predecessor, has no duration. Events are ordered by (case, timestamp,
    file order).
    """
    order = ["case_id", "timestamp"] + (["idx"] if "idx" in df.columns else [])
    frame = df.sort(order, maintain_order=True)
    since_previous = (pl.col("timestamp") - pl.col("timestamp").shift(1)).over("case_id")
    took = since_previous
    if "start_timestamp" in frame.columns:
        took = pl.when(pl.col("start_timestamp").is_not_null()).then(
            pl.col("timestamp") - pl.col("start_timestamp")).otherwise(since_previous)
    stats = (
        frame.with_columns(took=took.dt.total_microseconds() / 1e6)
        .group_by("activity")
        .agg(occurrences=pl.len(), measured=pl.col("took").count(),
             mean_s=pl.col("took").mean(), median_s=pl.col("took").median())
        .sort("activity")
    )
    return {row.pop("activity"): row for row in stats.iter_rows(named=True)}


def weekly_case_stats(df: pl.DataFrame, tz: str) -> list[dict[str, Any]]:
    """Per ISO week (Monday, in time zone `tz`) of case completion (the case's last event): cases completed,
    the p50 and p95 of their cycle times (first to last event, seconds, linear interpolation) and the share
    of them with rework (an activity occurring twice or more)."""
    cases = (
        df.group_by("case_id")
        .agg(
            first=pl.col("timestamp").min(),
            last=pl.col("timestamp").max(),
            rework=pl.col("activity").is_duplicated().any(),
        )
        .with_columns(
            cycle=(pl.col("last") - pl.col("first")).dt.total_microseconds() / 1e6,
            week=week_start(pl.col("last"), tz),
        )
    )
    weekly = (
        cases.group_by("week")
        .agg(
            cases=pl.len(),
            p50_s=pl.col("cycle").quantile(0.5, "linear"),
            p95_s=pl.col("cycle").quantile(0.95, "linear"),
            rework_rate=pl.col("rework").mean(),
        )
        .sort("week")
    )
    return weekly.to_dicts()
