"""Measured time per activity, to set beside the surveyed minutes of the steps they map to, and a suggested
mapping of the log's activities to the survey steps."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from typing import Any, NamedTuple

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


# Suggesting a mapping of log activities to survey steps. Survey steps are often bilingual ("人工审核 Manual
# review"); log activities are whatever the system recorded ("Review application", "审核", "T02 Check ...").
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")
_STOPWORDS = frozenset(["a", "an", "the", "of", "to", "and", "or", "for", "in", "on", "at", "by", "with", "from", "into", "per", "via", "is", "are", "be", "的", "了", "和", "及", "与", "对"])
NAME_THRESHOLD = 0.4  # Dice score from which a name suggests a step


class Suggestion(NamedTuple):
    """A step suggested for an activity: by `name` similarity (score 0..1) or by `order` (score 0)."""

    step_id: int
    score: float
    basis: str


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """(words, CJK characters) of a name, lower-cased, without stop words."""
    words, chars = [], []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOPWORDS:
            continue
        (chars if re.fullmatch(f"[{_CJK}]", token) else words).append(token)
    return words, chars


def _same_word(a: str, b: str) -> bool:
    """Equal, one inflection of the other (`activate`/`activation`, `fill`/`fills`) or a near spelling."""
    if a == b:
        return True
    prefix = len(os.path.commonprefix([a, b]))
    return prefix >= max(4, 0.75 * min(len(a), len(b))) or SequenceMatcher(None, a, b).ratio() >= 0.85


def _dice(a: list[str], b: list[str], same: Callable[[str, str], bool]) -> float:
    """2 × matched / (|a| + |b|), each token of `b` matching at most one of `a`."""
    if not a or not b:
        return 0.0
    left, matched = list(b), 0
    for token in a:
        hit = next((i for i, other in enumerate(left) if same(token, other)), None)
        if hit is not None:
            matched += 1
            del left[hit]
    return 2 * matched / (len(a) + len(b))


def name_similarity(activity: str, step: str) -> float:
    """How alike two names are, 0..1: the better of the word overlap and the CJK character overlap, so an
    English or a Chinese activity matches a bilingual step by its own language."""
    (words_a, chars_a), (words_s, chars_s) = _tokens(activity), _tokens(step)
    return max(_dice(words_a, words_s, _same_word), _dice(chars_a, chars_s, str.__eq__))


def suggest_mapping(activities: Sequence[str], steps: Sequence[tuple[int, str]],
                    threshold: float = NAME_THRESHOLD) -> dict[str, Suggestion]:
    """A survey step for each activity, to be confirmed by the user.

    `activities` in the order they typically occur (see `activity_order`), `steps` as (id, name) in survey
    order. An activity gets the step whose name is most like its own when the score reaches `threshold` and
    no other step scores the same. When no activity matches any step by name, activities are spread over
    the steps by their order (the first share of activities to the first step, and so on)."""
    suggested: dict[str, Suggestion] = {}
    if not steps:
        return suggested
    for activity in activities:
        scores = sorted(((name_similarity(activity, name), step_id) for step_id, name in steps), reverse=True)
        best, step_id = scores[0]
        if best >= threshold and (len(scores) == 1 or scores[1][0] < best):
            suggested[activity] = Suggestion(step_id, round(best, 3), "name")
    if suggested:
        return suggested
    return {activity: Suggestion(steps[i * len(steps) // len(activities)][0], 0.0, "order")
            for i, activity in enumerate(activities)}


def activity_order(df: pl.DataFrame) -> list[str]:
    """The log's activities by where they typically occur in a case: the mean of their relative positions
    (0 for a case's first event, 1 for its last), ties by name."""
    order = ["case_id", "timestamp"] + (["idx"] if "idx" in df.columns else [])
    frame = df.sort(order, maintain_order=True).with_columns(
        position=pl.int_range(pl.len()).over("case_id") / (pl.len().over("case_id") - 1).clip(lower_bound=1))
    ranked = frame.group_by("activity").agg(pl.col("position").mean()).sort(["position", "activity"])
    return ranked["activity"].to_list()
