"""The KPI aggregation core against an independent plain-Python reference (zoneinfo, statistics)."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from app.metrics.aggregate import (
    AGGREGATION_COLUMN,
    aggregate_value,
    check_alert_rules,
    compare,
    series,
)

GRAINS = ["day", "week", "month", "quarter"]
STATS = ["count", "mean", "sum", "min", "max", "p50", "p95"]
# Santiago skips local midnight at its spring transition; Kathmandu is +05:45; Lord Howe shifts by 30 minutes.
ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "UTC",
]
Row = dict[str, Any]


# ---------------------------------------------------------------- the plain-Python reference


def local_period_start(ts: datetime, grain: str, tz: str) -> date:
    day = ts.astimezone(ZoneInfo(tz)).date()
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def linear_percentile(values: Sequence[float], q: float) -> float:
    """PostgreSQL percentile_cont: interpolate between the order statistics around q * (n - 1)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def reference_stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "sum": math.fsum(values),
        "min": min(values),
        "max": max(values),
        "p50": linear_percentile(values, 0.5),
        "p95": linear_percentile(values, 0.95),
    }


def reference_series(rows: list[Row], grain: str, tz: str, by: Sequence[str] = ()) -> dict[tuple, dict]:
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in rows:
        key = (row["kpi_id"], *(row.get(name) for name in by), local_period_start(row["ts"], grain, tz))
        groups[key].append(row["value"])
    return {key: reference_stats(values) for key, values in groups.items()}


def observations(rows: list[Row], labels: Sequence[str] = ()) -> pl.DataFrame:
    schema = {"kpi_id": pl.Int64, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64}
    schema.update(dict.fromkeys(labels, pl.String))
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)


def as_mapping(frame: pl.DataFrame, by: Sequence[str] = ()) -> dict[tuple, dict]:
    return {
        (row["kpi_id"], *(row[name] for name in by), row["period_start"]): {name: row[name] for name in STATS}
        for row in frame.iter_rows(named=True)
    }


def assert_matches_reference(
    frame: pl.DataFrame, rows: list[Row], grain: str, tz: str, by: Sequence[str] = ()
) -> None:
    expected = reference_series(rows, grain, tz, by)
    actual = as_mapping(frame, by)
    assert actual.keys() == expected.keys()
    for key, stats in expected.items():
        assert actual[key]["count"] == stats["count"], key
        for name in STATS[1:]:
            assert actual[key][name] == pytest.approx(stats[name], rel=1e-12, abs=1e-9), (key, name)


def random_rows(seed: int, tz: str, count: int = 1500, labels: Sequence[str] = ()) -> list[Row]:
    """Observations over two years; a third of them within two minutes of a local midnight."""
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    start = datetime(2024, 11, 20, tzinfo=UTC)
    span = timedelta(days=760)
    rows = []
    for _ in range(count):
        if rng.random() < 1 / 3:
            day = (start + span * rng.random()).date()
            midnight = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
            ts = midnight + timedelta(microseconds=rng.randint(-120_000_000, 120_000_000))
        else:
            ts = start + timedelta(microseconds=rng.randrange(int(span / timedelta(microseconds=1))))
        row: Row = {
            "kpi_id": rng.choice([3, 7, 11]),
            "ts": ts,
            "value": round(rng.uniform(0, 120), rng.randint(0, 3)),
        }
        row.update({name: rng.choice(["A", "B", "C", None]) for name in labels})
        rows.append(row)
    return rows


def utc(tz: str, *local: int) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return datetime(*local, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def periods(frame: pl.DataFrame) -> list[date]:
    return frame["period_start"].to_list()


# ---------------------------------------------------------------- series


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("grain", GRAINS)
def test_series_matches_reference(grain: str, tz: str) -> None:
    rows = random_rows(seed=sum(map(ord, grain + tz)), tz=tz)
    result = series(observations(rows), grain, tz=tz)
    assert result.schema == pl.Schema(
        {"kpi_id": pl.Int64, "period_start": pl.Date, "count": pl.Int64}
        | dict.fromkeys(STATS[1:], pl.Float64)
    )
    assert_matches_reference(result, rows, grain, tz)
    keys = [(row[0], row[1]) for row in result.select("kpi_id", "period_start").iter_rows()]
    assert keys == sorted(keys)


def test_observation_after_utc_afternoon_belongs_to_next_local_day() -> None:
    rows = [
        {"kpi_id": 1, "ts": datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "value": 1.0},
        {"kpi_id": 1, "ts": datetime(2026, 3, 1, 15, 59, 59, 999_999, tzinfo=UTC), "value": 2.0},
    ]
    frame = observations(rows)
    assert local_period_start(rows[0]["ts"], "day", "Asia/Shanghai") == date(2026, 3, 2)
    for grain in GRAINS:
        result = series(frame, grain)  # Asia/Shanghai by default
        assert_matches_reference(result, rows, grain, "Asia/Shanghai")
    assert periods(series(frame, "day")) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert periods(series(frame, "week")) == [date(2026, 2, 23), date(2026, 3, 2)]  # Sunday vs Monday
    assert periods(series(frame, "month")) == [date(2026, 3, 1)]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_weeks_start_on_local_monday_midnight(tz: str) -> None:
    sunday = date(2026, 3, 29)  # the night Europe/Berlin moves to summer time
    assert sunday.weekday() == 6
    rows = [
        {"kpi_id": 1, "ts": utc(tz, 2026, 3, 29, 23, 59, 59, 999_999), "value": 10.0},
        {"kpi_id": 1, "ts": utc(tz, 2026, 3, 30, 0, 0), "value": 20.0},
        {"kpi_id": 1, "ts": utc(tz, 2026, 3, 23, 0, 0), "value": 30.0},  # the Monday before
    ]
    result = series(observations(rows), "week", tz=tz)
    assert_matches_reference(result, rows, "week", tz)
    assert periods(result) == [sunday - timedelta(days=6), sunday + timedelta(days=1)]
    assert result["count"].to_list() == [2, 1]


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York"])
def test_month_and_quarter_boundaries_are_local(tz: str) -> None:
    rows = [
        {"kpi_id": 1, "ts": utc(tz, 2026, 3, 31, 23, 59, 59, 999_999), "value": 1.0},
        {"kpi_id": 1, "ts": utc(tz, 2026, 4, 1), "value": 2.0},
        {"kpi_id": 1, "ts": utc(tz, 2025, 12, 31, 23, 59, 59, 999_999), "value": 3.0},
        {"kpi_id": 1, "ts": utc(tz, 2026, 1, 1), "value": 4.0},
    ]
    frame = observations(rows)
    for grain in ("month", "quarter"):
        assert_matches_reference(series(frame, grain, tz=tz), rows, grain, tz)
    assert periods(series(frame, "month", tz=tz)) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 3, 1),
        date(2026, 4, 1),
    ]
    assert periods(series(frame, "quarter", tz=tz)) == [date(2025, 10, 1), date(2026, 1, 1), date(2026, 4, 1)]


def test_europe_berlin_around_daylight_saving_changes() -> None:
    tz = "Europe/Berlin"
    assert utc(tz, 2026, 3, 30) == datetime(2026, 3, 29, 22, tzinfo=UTC)  # Monday 00:00 CEST
    assert utc(tz, 2026, 3, 23) == datetime(2026, 3, 22, 23, tzinfo=UTC)  # Monday 00:00 CET
    assert utc(tz, 2026, 10, 26) == datetime(2026, 10, 25, 23, tzinfo=UTC)  # Monday 00:00 CET again
    one_us = timedelta(microseconds=1)
    instants = [
        utc(tz, 2026, 3, 23) - one_us,
        utc(tz, 2026, 3, 23),
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # 01:59:59 CET, just before the clocks jump
        datetime(2026, 3, 29, 1, tzinfo=UTC),  # 03:00 CEST
        utc(tz, 2026, 3, 30) - one_us,
        utc(tz, 2026, 3, 30),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET: the same wall-clock time an hour later
        utc(tz, 2026, 10, 26) - one_us,
        utc(tz, 2026, 10, 26),
        utc(tz, 2026, 10, 31, 23, 59, 59, 999_999),
        utc(tz, 2026, 11, 1),
    ]
    rows = [{"kpi_id": 5, "ts": ts, "value": float(i)} for i, ts in enumerate(instants)]
    frame = observations(rows)
    for grain in GRAINS:
        assert_matches_reference(series(frame, grain, tz=tz), rows, grain, tz)
    weekly = series(frame, "week", tz=tz)
    assert periods(weekly) == [
        date(2026, 3, 16),
        date(2026, 3, 23),
        date(2026, 3, 30),
        date(2026, 10, 19),
        date(2026, 10, 26),
    ]
    assert weekly["count"].to_list() == [1, 4, 1, 3, 3]


def test_zone_whose_local_midnight_does_not_exist() -> None:
    tz = "America/Santiago"  # on 2026-09-06 clocks jump from 24:00 (-04) to 01:00 (-03)
    instants = [datetime(2026, 9, 6, 3, 59, 59, 999_999, tzinfo=UTC), datetime(2026, 9, 6, 4, tzinfo=UTC)]
    assert [ts.astimezone(ZoneInfo(tz)).isoformat() for ts in instants] == [
        "2026-09-05T23:59:59.999999-04:00",
        "2026-09-06T01:00:00-03:00",
    ]
    rows = [{"kpi_id": 1, "ts": ts, "value": 1.0} for ts in instants]
    for grain in GRAINS:
        assert_matches_reference(series(observations(rows), grain, tz=tz), rows, grain, tz)
    assert periods(series(observations(rows), "day", tz=tz)) == [date(2026, 9, 5), date(2026, 9, 6)]


def test_label_breakdown() -> None:
    rows = random_rows(seed=11, tz="Asia/Shanghai", count=2000, labels=["team", "site"])
    frame = observations(rows, labels=["team", "site"])
    for by in (["team"], ["team", "site"], ["site", "team"]):
        result = series(frame, "week", by=by)
        assert result.columns == ["kpi_id", "period_start", *by, *STATS]
        assert_matches_reference(result, rows, "week", "Asia/Shanghai", by)
        order = [
            (row["kpi_id"], *(row[n] for n in by), row["period_start"])
            for row in result.iter_rows(named=True)
        ]
        nulls_first = [tuple((value is not None, value) for value in key) for key in order]
        assert nulls_first == sorted(nulls_first)
    totals = series(frame, "week").select("kpi_id", "period_start", "count")
    by_team = series(frame, "week", by=["team"]).group_by("kpi_id", "period_start").agg(pl.col("count").sum())
    assert by_team.sort("kpi_id", "period_start").equals(totals)


def test_lazy_input_and_unsorted_input_give_the_same_series() -> None:
    rows = random_rows(seed=5, tz="Europe/Berlin", labels=["team"])
    frame = observations(rows, labels=["team"])
    expected = series(frame, "month", tz="Europe/Berlin", by=["team"])
    assert_frame_equal(series(frame.lazy(), "month", tz="Europe/Berlin", by=["team"]), expected)
    shuffled = frame.sample(fraction=1, shuffle=True, seed=1)  # float sums may differ in the last bit
    assert_frame_equal(series(shuffled, "month", tz="Europe/Berlin", by=["team"]), expected, rel_tol=1e-12)


def test_empty_input_keeps_the_schema() -> None:
    result = series(observations([], labels=["team"]), "week", by=["team"])
    assert result.is_empty()
    assert result.columns == ["kpi_id", "period_start", "team", *STATS]
    assert result.schema["period_start"] == pl.Date
    assert result.schema["team"] == pl.String


def test_null_values_are_not_counted_and_rows_without_kpi_or_time_are_ignored() -> None:
    ts = datetime(2026, 5, 5, 3, tzinfo=UTC)
    frame = pl.DataFrame(
        {"kpi_id": [1, 1, 1, None, 1], "ts": [ts, ts, ts, ts, None], "value": [2.0, None, 4.0, 100.0, 100.0]},
        schema={"kpi_id": pl.Int64, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64},
    )
    result = series(frame, "day")
    assert result.height == 1
    row = result.row(0, named=True)
    assert {name: row[name] for name in STATS} == pytest.approx(reference_stats([2.0, 4.0]))


def test_percentiles_interpolate_linearly_like_percentile_cont() -> None:
    rng = random.Random(3)
    ts = datetime(2026, 1, 5, 12, tzinfo=UTC)
    samples = {
        kpi: [rng.uniform(-50, 50) for _ in range(size)] for kpi, size in enumerate([1, 2, 3, 4, 19, 20, 101])
    }
    rows = [{"kpi_id": kpi, "ts": ts, "value": v} for kpi, values in samples.items() for v in values]
    result = series(observations(rows), "day").sort("kpi_id")
    for row, values in zip(result.iter_rows(named=True), samples.values(), strict=True):
        assert row["p50"] == pytest.approx(linear_percentile(values, 0.5), rel=1e-12)
        assert row["p95"] == pytest.approx(linear_percentile(values, 0.95), rel=1e-12)
        if len(values) > 1:  # statistics' "inclusive" method is the same definition
            cuts = statistics.quantiles(values, n=100, method="inclusive")
            assert row["p50"] == pytest.approx(cuts[49], rel=1e-12)
            assert row["p95"] == pytest.approx(cuts[94], rel=1e-12)


def test_large_kpi_ids() -> None:
    ts = datetime(2026, 1, 5, 12, tzinfo=UTC)
    rows = [{"kpi_id": 2**40 + i, "ts": ts + timedelta(days=i), "value": float(i)} for i in range(3)]
    assert_matches_reference(series(observations(rows), "day"), rows, "day", "Asia/Shanghai")
    huge = [{"kpi_id": 2**62, "ts": ts + timedelta(days=i), "value": 1.0} for i in range(3)]
    with pytest.raises(ValueError, match="kpi_id"):
        series(observations(huge), "day")


# ---------------------------------------------------------------- aggregate_value and compare


def test_aggregate_value_matches_plain_python() -> None:
    rng = random.Random(8)
    values = [rng.uniform(0, 60) for _ in range(37)]
    assert aggregate_value(values, "mean") == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert aggregate_value(values, "sum") == pytest.approx(math.fsum(values), rel=1e-12)
    assert aggregate_value(values, "p50") == pytest.approx(linear_percentile(values, 0.5), rel=1e-12)
    assert aggregate_value(values, "p95") == pytest.approx(linear_percentile(values, 0.95), rel=1e-12)
    flags = [rng.random() < 0.3 for _ in range(50)]
    assert aggregate_value(flags, "rate") == pytest.approx(sum(flags) / len(flags))
    assert aggregate_value([1, 0, 0.0, 1.0], "rate") == pytest.approx(0.5)


def test_aggregate_value_rejects_empty_and_unknown() -> None:
    with pytest.raises(ValueError, match="empty"):
        aggregate_value([], "mean")
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_value([1.0], "median")


def test_compare_pilot_example_minus_73_percent() -> None:
    result = compare(30, [8], direction="lower_is_better", target=10)
    assert result["before"] == 30 and result["after"] == 8
    assert result["diff"] == pytest.approx(8 - 30)
    assert result["diff_rate"] == pytest.approx((8 - 30) / 30)
    assert round(result["diff_rate"] * 100) == -73
    assert result["improved"] is True
    assert result["met_target"] is True


@pytest.mark.parametrize("aggregation", ["mean", "sum", "p50", "p95"])
def test_compare_aggregates_both_sides(aggregation: str) -> None:
    rng = random.Random(aggregation)
    before = [rng.uniform(20, 40) for _ in range(25)]
    after = [rng.uniform(5, 12) for _ in range(30)]
    plain = {
        "mean": statistics.fmean,
        "sum": math.fsum,
        "p50": lambda v: linear_percentile(v, 0.5),
        "p95": lambda v: linear_percentile(v, 0.95),
    }[aggregation]
    result = compare(before, after, direction="higher_is_better", target=None, aggregation=aggregation)
    expected_before, expected_after = plain(before), plain(after)
    assert result["before"] == pytest.approx(expected_before, rel=1e-12)
    assert result["after"] == pytest.approx(expected_after, rel=1e-12)
    assert result["diff"] == pytest.approx(expected_after - expected_before, rel=1e-9)
    assert result["diff_rate"] == pytest.approx(
        (expected_after - expected_before) / expected_before, rel=1e-9
    )
    assert result["improved"] is (expected_after > expected_before)
    assert result["met_target"] is None


def test_compare_rate_and_directions() -> None:
    before = [1] * 4 + [0] * 6  # 40 % on time
    after = [1] * 9 + [0] * 1  # 90 % on time
    result = compare(before, after, direction="higher_is_better", target=0.9, aggregation="rate")
    assert (result["before"], result["after"]) == (pytest.approx(0.4), pytest.approx(0.9))
    assert result["improved"] is True and result["met_target"] is True  # reaching the target exactly counts
    worse = compare(before, after, direction="lower_is_better", target=0.5, aggregation="rate")
    assert worse["improved"] is False and worse["met_target"] is False


def test_compare_zero_baseline_and_no_change() -> None:
    zero = compare(0.0, [3.0, 5.0], direction="higher_is_better", target=4)
    assert zero["diff"] == pytest.approx(4.0)
    assert zero["diff_rate"] is None
    assert zero["improved"] is True and zero["met_target"] is True
    same = compare([5.0, 7.0], [6.0], direction="lower_is_better", target=6)
    assert same["diff"] == 0 and same["diff_rate"] == 0
    assert same["improved"] is False and same["met_target"] is True
    with pytest.raises(ValueError):
        compare(1.0, [], direction="lower_is_better", target=None)


# ---------------------------------------------------------------- alert rules


def weekly_frame(
    values: Sequence[float | None], column: str = "mean", first: date = date(2026, 1, 5)
) -> pl.DataFrame:
    starts = [first + timedelta(weeks=i) for i in range(len(values))]
    return pl.DataFrame(
        {"kpi_id": [1] * len(values), "period_start": starts, column: values},
        schema_overrides={column: pl.Float64},
    )


WORSENING = {"kind": "worsening", "percent": 20, "periods": 3}
BREACH = {"kind": "target_breach"}


@pytest.mark.parametrize(
    ("direction", "latest", "breached"),
    [
        ("lower_is_better", 12.0, True),
        ("lower_is_better", 10.0, False),
        ("lower_is_better", 9.0, False),
        ("higher_is_better", 8.0, True),
        ("higher_is_better", 10.0, False),
        ("higher_is_better", 11.0, False),
    ],
)
def test_target_breach(direction: str, latest: float, breached: bool) -> None:
    frame = weekly_frame([50.0, 0.0, latest])  # earlier periods do not matter
    alerts = check_alert_rules(frame, aggregation="mean", direction=direction, target=10.0, rules=[BREACH])
    if not breached:
        assert alerts == []
        return
    assert alerts == [
        {
            "kind": "target_breach",
            "period_start": frame["period_start"][-1],
            "value": latest,
            "reference": 10.0,
            "message_params": {"value": latest, "target": 10.0, "direction": direction},
        }
    ]


def test_target_breach_needs_a_target_and_data() -> None:
    assert (
        check_alert_rules(
            weekly_frame([99.0]), aggregation="mean", direction="lower_is_better", target=None, rules=[BREACH]
        )
        == []
    )
    assert (
        check_alert_rules(
            weekly_frame([]),
            aggregation="mean",
            direction="lower_is_better",
            target=1.0,
            rules=[BREACH, WORSENING],
        )
        == []
    )


@pytest.mark.parametrize("direction", ["lower_is_better", "higher_is_better"])
def test_worsening_threshold_both_directions(direction: str) -> None:
    rng = random.Random(direction)
    previous = [rng.uniform(40, 60) for _ in range(3)]
    older = [1000.0, -1000.0]  # outside the 3-period window
    reference = statistics.fmean(previous)
    sign = 1 if direction == "lower_is_better" else -1
    at_threshold = reference + sign * abs(reference) * 0.2
    beyond = reference + sign * abs(reference) * 0.25
    better = reference - sign * abs(reference) * 0.5
    for latest, fires in ((beyond, True), (at_threshold * (1 - sign * 1e-9), False), (better, False)):
        frame = weekly_frame([*older, *previous, latest])
        alerts = check_alert_rules(
            frame, aggregation="mean", direction=direction, target=None, rules=[WORSENING]
        )
        assert len(alerts) == int(fires), latest
    (alert,) = check_alert_rules(
        weekly_frame([*older, *previous, beyond]),
        aggregation="mean",
        direction=direction,
        target=None,
        rules=[WORSENING],
    )
    assert alert["kind"] == "worsening"
    assert alert["value"] == beyond
    assert alert["reference"] == pytest.approx(reference)
    assert alert["message_params"]["change_percent"] == pytest.approx(25)
    assert alert["message_params"]["threshold_percent"] == 20
    assert alert["message_params"]["periods"] == 3


def test_worsening_needs_enough_history_and_handles_zero_reference() -> None:
    assert (
        check_alert_rules(
            weekly_frame([10.0, 10.0, 99.0]),
            aggregation="mean",
            direction="lower_is_better",
            target=None,
            rules=[WORSENING],
        )
        == []
    )
    (alert,) = check_alert_rules(
        weekly_frame([0.0, 0.0, 0.0, 1.0]),
        aggregation="mean",
        direction="lower_is_better",
        target=None,
        rules=[WORSENING],
    )
    assert alert["reference"] == 0 and alert["message_params"]["change_percent"] is None


def test_alerts_use_the_latest_period_and_the_aggregation_column() -> None:
    frame = weekly_frame([30.0, 30.0, 30.0, 45.0], column="p95").with_columns(mean=pl.lit(1.0))
    shuffled = frame.sample(fraction=1, shuffle=True, seed=2)
    alerts = check_alert_rules(
        shuffled, aggregation="p95", direction="lower_is_better", target=40.0, rules=[BREACH, WORSENING]
    )
    assert [a["kind"] for a in alerts] == ["target_breach", "worsening"]
    assert {a["period_start"] for a in alerts} == {frame["period_start"].max()}
    assert AGGREGATION_COLUMN["rate"] == "mean"
    assert (
        check_alert_rules(
            shuffled, aggregation="rate", direction="lower_is_better", target=40.0, rules=[BREACH, WORSENING]
        )
        == []
    )


def test_alert_rules_on_a_computed_series() -> None:
    rng = random.Random(21)
    monday = datetime(2026, 1, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = [
        {
            "kpi_id": 9,
            "ts": (monday + timedelta(weeks=week, hours=rng.uniform(0, 160))).astimezone(UTC),
            "value": rng.uniform(8, 12) * (2 if week == 4 else 1),
        }
        for week in range(5)
        for _ in range(20)
    ]
    frame = series(observations(rows), "week")
    weekly = reference_series(rows, "week", "Asia/Shanghai")
    means = [weekly[key]["mean"] for key in sorted(weekly)]
    alerts = check_alert_rules(
        frame, aggregation="mean", direction="lower_is_better", target=15.0, rules=[BREACH, WORSENING]
    )
    assert [a["kind"] for a in alerts] == ["target_breach", "worsening"]
    assert alerts[0]["period_start"] == monday.date() + timedelta(weeks=4)
    assert alerts[1]["reference"] == pytest.approx(statistics.fmean(means[1:4]))


def test_alert_rules_reject_bad_input() -> None:
    frame = weekly_frame([1.0, 2.0])
    with pytest.raises(ValueError, match="kind"):
        check_alert_rules(
            frame, aggregation="mean", direction="lower_is_better", target=1.0, rules=[{"kind": "x"}]
        )
    with pytest.raises(ValueError, match="periods"):
        check_alert_rules(
            frame,
            aggregation="mean",
            direction="lower_is_better",
            target=1.0,
            rules=[{"kind": "worsening", "percent": 10, "periods": 0}],
        )
    with pytest.raises(ValueError, match="one row per period"):
        check_alert_rules(
            pl.concat([frame, frame]),
            aggregation="mean",
            direction="lower_is_better",
            target=1.0,
            rules=[BREACH],
        )
