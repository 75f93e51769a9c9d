"""Event-log readers and process-mining analysis: real logs against pm4py's results, tiny logs by hand."""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from app.mining.analysis import analyze, core_results
from app.mining.readers import ColumnMapping, EventLogError, read_csv, read_parquet, read_xes

EVENTLOGS = Path(__file__).resolve().parents[2].parent / "shared" / "eventlogs"
REAL_LOGS = [("running-example.csv", read_csv), ("receipt.csv", read_csv), ("helpdesk.xes.gz", read_xes)]
needs_logs = pytest.mark.skipif(
    not (EVENTLOGS / "expected").is_dir(), reason=f"reference event logs not found in {EVENTLOGS}"
)


def assert_matches(got: Any, expected: Any, path: str = "") -> None:
    """Equal structure and keys; floats within 1e-9 relative, everything else exactly."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), path
        assert set(got) == set(expected), path
        for key, value in expected.items():
            assert_matches(got[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_matches(g, e, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=0.0), (path, got)
    else:
        assert type(got) is type(expected) and got == expected, (path, got, expected)


@functools.cache
def read_reference_log(name: str) -> pl.DataFrame:
    return dict(REAL_LOGS)[name]((EVENTLOGS / name).read_bytes())


def load_reference(name: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    expected = json.loads((EVENTLOGS / "expected" / f"{name.split('.')[0]}.json").read_text())
    assert expected["source"] == name
    return read_reference_log(name), expected


def reference_part(expected: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in expected.items() if k not in ("source", "ordering")}


def csv_bytes(rows: list[list[str]], sep: str = ",") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


# --- real logs ---------------------------------------------------------------------------------------


@needs_logs
@pytest.mark.parametrize("name", [name for name, _ in REAL_LOGS])
def test_core_results_equal_reference(name: str) -> None:
    df, expected = load_reference(name)
    assert_matches(core_results(df), reference_part(expected))


@needs_logs
@pytest.mark.parametrize("name", [name for name, _ in REAL_LOGS])
def test_analyze_extends_reference(name: str) -> None:
    df, expected = load_reference(name)
    result = analyze(df)
    reference = reference_part(expected)
    for entry in result["directly_follows"]:
        assert entry.pop("p95_s") >= 0
    assert result["case_duration_s"].pop("p95") <= expected["case_duration_s"]["max"]
    assert_matches({k: result[k] for k in reference}, reference)
    assert sum(a["occurrences"] for a in result["activity_stats"]) == expected["events"]
    assert sum(w["cases_started"] for w in result["weekly"]) == expected["cases"]
    assert sum(w["cases_completed"] for w in result["weekly"]) == expected["cases"]
    assert len(result["top_variants"]) == min(10, expected["variants"])
    assert sum(v["cases"] for v in result["top_variants"]) <= expected["cases"]
    totals = [b["total_s"] for b in result["bottlenecks"]]
    assert totals == sorted(totals, reverse=True)


@needs_logs
def test_file_order_breaks_timestamp_ties_not_row_order() -> None:
    df, expected = load_reference("helpdesk.xes.gz")
    assert_matches(core_results(df.reverse()), reference_part(expected))


# --- a tiny log computed by hand -----------------------------------------------------------------------
# case 1: a 0 s, b 10 s, c 30 s; case 2 (crosses into the next ISO week): a 0, b 20, b 50, c 110;
# case 3: a 0, b 60; case 4: a 0, b 40, c 50.

TINY = [
    ["1", "a", "2024-01-01T10:00:00Z"],
    ["1", "b", "2024-01-01T10:00:10Z"],
    ["1", "c", "2024-01-01T10:00:30Z"],
    ["2", "a", "2024-01-07T23:59:00Z"],
    ["2", "b", "2024-01-07T23:59:20Z"],
    ["2", "b", "2024-01-07T23:59:50Z"],
    ["2", "c", "2024-01-08T00:00:50Z"],
    ["3", "a", "2024-01-15T09:00:00Z"],
    ["3", "b", "2024-01-15T09:01:00Z"],
    ["4", "a", "2024-01-15T23:59:50Z"],
    ["4", "b", "2024-01-16T00:00:30Z"],
    ["4", "c", "2024-01-16T00:00:40Z"],
]


@pytest.fixture
def tiny() -> pl.DataFrame:
    return read_csv(csv_bytes([["case_id", "activity", "timestamp"], *TINY]))


def test_tiny_core_results(tiny: pl.DataFrame) -> None:
    assert_matches(
        core_results(tiny),
        {
            "events": 12,
            "cases": 4,
            "activities": 3,
            "start_activities": {"a": 4},
            "end_activities": {"c": 3, "b": 1},
            "directly_follows": [
                {"from": "a", "to": "b", "count": 4, "mean_s": 32.5, "median_s": 30.0},
                {"from": "b", "to": "b", "count": 1, "mean_s": 30.0, "median_s": 30.0},
                {"from": "b", "to": "c", "count": 3, "mean_s": 30.0, "median_s": 20.0},
            ],
            "case_duration_s": {"min": 30.0, "median": 55.0, "mean": 62.5, "max": 110.0},
            "rework_cases_per_activity": {"b": 1},
            "variants": 3,
        },
    )


def test_tiny_analyze(tiny: pl.DataFrame) -> None:
    result = analyze(tiny, top_variants=1)
    # p95 by linear interpolation: a→b waits 10 20 40 60 → 40 + 0.85·20; b→c 10 20 60 → 20 + 0.9·40.
    assert [d["p95_s"] for d in result["directly_follows"]] == pytest.approx([57.0, 30.0, 56.0], rel=1e-12)
    assert result["case_duration_s"]["p95"] == pytest.approx(60 + 0.85 * 50, rel=1e-12)
    assert result["activity_stats"] == [
        {"activity": "b", "occurrences": 5, "cases": 4, "mean_s": 30.0, "median_s": 25.0},
        {"activity": "a", "occurrences": 4, "cases": 4, "mean_s": 32.5, "median_s": 30.0},
        {"activity": "c", "occurrences": 3, "cases": 3, "mean_s": None, "median_s": None},
    ]
    assert result["top_variants"] == [{"activities": ["a", "b", "c"], "cases": 2, "share": 0.5}]
    assert result["weekly"] == [
        {"week_start": "2024-01-01", "cases_started": 2, "cases_completed": 1},
        {"week_start": "2024-01-08", "cases_started": 0, "cases_completed": 1},
        {"week_start": "2024-01-15", "cases_started": 2, "cases_completed": 2},
    ]
    assert result["bottlenecks"] == [
        {"from": "a", "to": "b", "count": 4, "total_s": 130.0, "mean_s": 32.5},
        {"from": "b", "to": "c", "count": 3, "total_s": 90.0, "mean_s": 30.0},
        {"from": "b", "to": "b", "count": 1, "total_s": 30.0, "mean_s": 30.0},
    ]


CASE_3_START = datetime(2024, 1, 15, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("filters", "cases", "events"),
    [
        ({"date_from": date(2024, 1, 7)}, 3, 9),  # case 1 starts before
        ({"date_from": date(2024, 1, 7), "date_to": CASE_3_START}, 1, 4),  # [from, to): case 3 excluded
        ({"date_from": CASE_3_START.replace(tzinfo=None)}, 2, 5),  # naive = UTC; the bound is included
        ({"date_to": date(2024, 1, 8)}, 2, 7),  # case 2 ends after date_to but starts before: kept
        ({"containing_activity": "c"}, 3, 10),
        ({"containing_activity": "c", "date_from": date(2024, 1, 15)}, 1, 3),
    ],
)
def test_filters_keep_whole_cases(
    tiny: pl.DataFrame, filters: dict[str, Any], cases: int, events: int
) -> None:
    result = analyze(tiny, **filters)
    assert (result["cases"], result["events"]) == (cases, events)
    assert sum(result["start_activities"].values()) == cases


def test_filter_matching_nothing_gives_empty_results(tiny: pl.DataFrame) -> None:
    result = analyze(tiny, containing_activity="no such activity")
    assert (result["events"], result["cases"], result["activities"], result["variants"]) == (0, 0, 0, 0)
    assert result["case_duration_s"] == dict.fromkeys(["min", "median", "mean", "max", "p95"])
    assert result["directly_follows"] == result["top_variants"] == result["weekly"] == []
    json.dumps(result)


def test_rework_counts_cases_not_occurrences() -> None:
    rows = [["1", "a", "01"], ["1", "b", "02"], ["1", "a", "03"], ["1", "a", "04"]]
    rows += [["2", "a", "01"], ["2", "b", "02"], ["2", "b", "03"], ["3", "a", "01"], ["3", "a", "05"]]
    log = [["case_id", "activity", "timestamp"]] + [[c, a, f"2024-02-{d} 08:00:00"] for c, a, d in rows]
    assert core_results(read_csv(csv_bytes(log)))["rework_cases_per_activity"] == {"a": 2, "b": 1}


def test_equal_timestamps_keep_file_order() -> None:
    log = csv_bytes(
        [
            ["case_id", "activity", "timestamp"],
            ["1", "x", "2024-01-01 10:00:00"],
            ["2", "y", "2024-01-01 10:00:00"],
            ["1", "y", "2024-01-01 10:00:00"],
            ["2", "x", "2024-01-01 10:00:00"],
            ["1", "z", "2024-01-01 09:00:00"],
        ]
    )
    result = core_results(read_csv(log))
    assert result["start_activities"] == {"y": 1, "z": 1}
    assert result["end_activities"] == {"x": 1, "y": 1}
    assert [(d["from"], d["to"], d["mean_s"]) for d in result["directly_follows"]] == [
        ("x", "y", 0.0),
        ("y", "x", 0.0),
        ("z", "x", 3600.0),
    ]
    assert result["variants"] == 2


def test_dst_offsets_and_local_times() -> None:
    # Europe/Amsterdam: 2021-03-28 02:00 CET → 03:00 CEST; 2021-10-31 03:00 CEST → 02:00 CET.
    aware = [
        ["1", "a", "2021-03-28 01:30:00.250+01:00"],
        ["1", "b", "2021-03-28 03:30:00.750+02:00"],
        ["2", "a", "2021-10-31 02:30:00+02:00"],
        ["2", "b", "2021-10-31 02:30:00+01:00"],
    ]
    result = core_results(read_csv(csv_bytes([["case_id", "activity", "timestamp"], *aware])))
    assert result["directly_follows"] == [
        {"from": "a", "to": "b", "count": 2, "mean_s": 3600.25, "median_s": 3600.25}
    ]
    naive = [["1", "a", "2021-03-28 01:30:00"], ["1", "b", "2021-03-28 03:30:00"]]
    df = read_csv(csv_bytes([["case_id", "activity", "timestamp"], *naive]), timezone="Europe/Amsterdam")
    assert df["timestamp"].to_list() == [
        datetime(2021, 3, 28, 0, 30, tzinfo=UTC),
        datetime(2021, 3, 28, 1, 30, tzinfo=UTC),
    ]
    assert core_results(df)["case_duration_s"]["max"] == 3600.0


def test_timestamp_formats_mixed_in_one_column() -> None:
    stamps = [
        "2024-05-01T12:00:00Z",
        "2024-05-01 14:00:00+02:00",
        "2024-05-01 12:00",
        "2024-05-01T12:00:00.5",
    ]
    stamps += ["2024-05-01", " 2024-05-01 12:00:00+0000 "]
    df = read_csv(csv_bytes([["case_id", "activity", "timestamp"]] + [["1", "a", s] for s in stamps]))
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert df["timestamp"].to_list() == [
        noon,
        noon,
        noon,
        noon.replace(microsecond=500_000),
        noon.replace(hour=0),
        noon,
    ]
    assert df.schema == pl.Schema(
        {
            "case_id": pl.String,
            "activity": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "resource": pl.String,
            "idx": pl.UInt32,
        }
    )


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_detection(sep: str) -> None:
    rows = [["case:concept:name", "concept:name", "time:timestamp", "org:resource"]]
    rows += [
        ["c1", "review, approve; sign", "2024-01-01 10:00:00", "Ann"],
        ["c1", "ship|send", "2024-01-01 11:00:00", ""],
    ]
    df = read_csv(csv_bytes(rows, sep))
    assert df["activity"].to_list() == ["review, approve; sign", "ship|send"]
    assert df["resource"].to_list() == ["Ann", None]
    assert read_csv(csv_bytes(rows, sep), delimiter=sep).equals(df)


def test_pandas_index_column_and_mapping() -> None:
    log = b",Case,Step,When,Who,Activity\n0,k1,open,2024-01-01 10:00:00,Ann,x\n1,k1,close,2024-01-01 10:05:00,Bob,y\n"
    mapping = ColumnMapping(case_id="Case", activity="Step", timestamp="When", resource="Who")
    df = read_csv(log, mapping)
    assert df.select("case_id", "activity", "resource").rows() == [
        ("k1", "open", "Ann"),
        ("k1", "close", "Bob"),
    ]
    assert df.columns == ["case_id", "activity", "timestamp", "resource", "idx"]
    with pytest.raises(EventLogError) as err:
        read_csv(log, ColumnMapping(case_id="Case", activity="Nope", timestamp="When"))
    assert err.value.problems == [{"row": None, "field": "activity", "message": "column 'Nope' not found"}]


def test_start_timestamp_is_read() -> None:
    log = b"case_id,activity,start_timestamp,timestamp\n1,a,2024-01-01 09:00:00,2024-01-01 10:00:00\n1,b,,2024-01-01 11:00:00\n"
    df = read_csv(log)
    assert df["start_timestamp"].to_list() == [datetime(2024, 1, 1, 9, tzinfo=UTC), None]
    assert df["start_timestamp"].dtype == pl.Datetime("us", "UTC")


def test_errors_report_rows_and_return_nothing() -> None:
    log = csv_bytes(
        [
            ["case_id", "activity", "timestamp"],
            ["1", "a", "2024-01-01 10:00:00"],
            ["", "b", "2024-01-01 11:00:00"],
            ["1", "c", "not a date"],
            ["2", "  ", "2024-01-01 10:00:00"],
            ["2", "d", ""],
            ["", "", "31/01/2024"],
        ]
    )
    with pytest.raises(EventLogError) as err:
        read_csv(log)
    problems = err.value.problems
    assert [(p["row"], p["field"]) for p in problems] == [
        (2, "case_id"),
        (3, "timestamp"),
        (4, "activity"),
        (5, "timestamp"),
        (6, "case_id"),
        (6, "activity"),
        (6, "timestamp"),
    ]
    assert err.value.total == 7
    assert problems[0]["message"] == "empty case id"
    assert "'not a date'" in problems[1]["message"]
    assert problems[3]["message"] == "missing timestamp"


def test_errors_are_capped_at_fifty() -> None:
    rows = [["case_id", "activity", "timestamp"]] + [[str(i), "", "2024-01-01 10:00:00"] for i in range(60)]
    with pytest.raises(EventLogError) as err:
        read_csv(csv_bytes(rows))
    assert len(err.value.problems) == 50 and err.value.total == 60
    assert err.value.problems[-1]["row"] == 50


def test_missing_columns_and_bad_zones() -> None:
    with pytest.raises(EventLogError) as err:
        read_csv(b"case,foo,timestamp\n1,a,2024-01-01\n")
    assert [(p["row"], p["field"]) for p in err.value.problems] == [(None, "activity")]
    with pytest.raises(EventLogError, match="time zone"):
        read_csv(b"case,activity,timestamp\n1,a,2024-01-01\n", timezone="Mars/Olympus")
    with pytest.raises(EventLogError) as err:
        read_csv(b"case,activity,timestamp\n1,a,2021-03-28 02:30:00\n", timezone="Europe/Amsterdam")
    assert err.value.problems[0]["message"].startswith("local time 2021-03-28 02:30:00 does not exist")
    with pytest.raises(EventLogError, match="no events"):
        read_csv(b"case,activity,timestamp\n")


XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <string key="concept:name" value="the log"/>
  <trace>
    <string key="concept:name" value="c1"/>
    <event>
      <string key="concept:name" value="a"/>
      <string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2024-01-01T09:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="a"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2024-01-01T10:00:00.000+01:00"/>
      <string key="org:resource" value="Ann"/>
    </event>
    <event>
      <date key="time:timestamp" value="2024-01-01T09:30:00Z"/>
      <list key="details"><values><string key="concept:name" value="not the activity"/></values></list>
      <string key="concept:name" value="b"/>
    </event>
  </trace>
  <trace>
    <event><string key="concept:name" value="a"/><date key="time:timestamp" value="2024-01-02T08:00:00"/></event>
    <string key="concept:name" value="c2"/>
  </trace>
</log>
"""


@pytest.mark.parametrize("compress", [False, True])
def test_xes_plain_and_gzip(compress: bool) -> None:
    data = XES.encode()
    df = read_xes(gzip.compress(data) if compress else data)
    assert df.rows() == [
        ("c1", "a", datetime(2024, 1, 1, 9, tzinfo=UTC), "Ann", 0),
        ("c1", "b", datetime(2024, 1, 1, 9, 30, tzinfo=UTC), None, 1),
        ("c2", "a", datetime(2024, 1, 2, 8, tzinfo=UTC), None, 2),
    ]
    result = core_results(df)
    assert result["directly_follows"] == [
        {"from": "a", "to": "b", "count": 1, "mean_s": 1800.0, "median_s": 1800.0}
    ]


def test_xes_reads_paths_and_file_objects(tmp_path: Path) -> None:
    path = tmp_path / "log.xes.gz"
    path.write_bytes(gzip.compress(XES.encode()))
    expected = read_xes(XES.encode())
    assert read_xes(path).equals(expected)
    with path.open("rb") as fh:
        assert read_xes(fh).equals(expected)
    assert read_xes(io.BufferedReader(io.BytesIO(XES.encode()))).equals(expected)


def test_xes_errors_report_trace_numbers(tmp_path: Path) -> None:
    bad = XES.replace('<string key="concept:name" value="c2"/>', "").replace("2024-01-01T09:30:00Z", "soon")
    path = tmp_path / "bad.xes.gz"
    path.write_bytes(gzip.compress(bad.encode()))
    with pytest.raises(EventLogError) as err:
        read_xes(path)
    assert [(p["row"], p["field"]) for p in err.value.problems] == [(1, "timestamp"), (2, "case_id")]
    with pytest.raises(EventLogError, match="invalid XES"):
        read_xes(gzip.compress(b"<log><trace>"))


def test_parquet_naive_local_times() -> None:
    frame = pl.DataFrame(
        {
            "case:concept:name": [7, 7],
            "concept:name": ["a", "b"],
            "time:timestamp": [datetime(2024, 7, 1, 12), datetime(2024, 7, 1, 13)],
        }
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    df = read_parquet(buf.getvalue(), timezone="Europe/Amsterdam")
    assert df.rows() == [
        ("7", "a", datetime(2024, 7, 1, 10, tzinfo=UTC), None, 0),
        ("7", "b", datetime(2024, 7, 1, 11, tzinfo=UTC), None, 1),
    ]
    with pytest.raises(EventLogError, match="invalid Parquet"):
        read_parquet(b"not parquet")


def test_frames_without_idx_use_row_order(tiny: pl.DataFrame) -> None:
    assert core_results(tiny.drop("idx")) == core_results(tiny)


def naive_results(rows: list[tuple[str, str, datetime]]) -> dict[str, Any]:
    """Straightforward Python version of `core_results` plus p95s, for cross-checking on random logs."""
    cases: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for i, (case, activity, ts) in enumerate(rows):
        cases[case].append((ts, i, activity))
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    starts, ends, rework = Counter[str](), Counter[str](), Counter[str]()
    durations, variants = [], set()
    for events in cases.values():
        events.sort()
        acts = [a for _, _, a in events]
        starts[acts[0]] += 1
        ends[acts[-1]] += 1
        durations.append((events[-1][0] - events[0][0]).total_seconds())
        for (t1, _, a), (t2, _, b) in zip(events, events[1:], strict=False):
            waits[a, b].append((t2 - t1).total_seconds())
        rework.update(a for a, n in Counter(acts).items() if n > 1)
        variants.add(tuple(acts))

    def p95(values: list[float]) -> float:
        return values[0] if len(values) == 1 else statistics.quantiles(values, n=20, method="inclusive")[18]

    return {
        "events": len(rows),
        "cases": len(cases),
        "activities": len({a for _, a, _ in rows}),
        "start_activities": dict(starts),
        "end_activities": dict(ends),
        "directly_follows": [
            {
                "from": a,
                "to": b,
                "count": len(w),
                "mean_s": statistics.fmean(w),
                "median_s": float(statistics.median(w)),
                "p95_s": p95(w),
            }
            for (a, b), w in sorted(waits.items())
        ],
        "case_duration_s": {
            "min": min(durations),
            "median": float(statistics.median(durations)),
            "mean": statistics.fmean(durations),
            "max": max(durations),
            "p95": p95(durations),
        },
        "rework_cases_per_activity": dict(rework),
        "variants": len(variants),
    }


@pytest.mark.parametrize("grouped", [False, True])
def test_random_logs_match_a_naive_implementation(grouped: bool) -> None:
    rng = random.Random(1849)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    rows = [
        (f"case {rng.randrange(300)}", rng.choice("vwxyz"), start + timedelta(minutes=rng.randrange(60)))
        for _ in range(3000)
    ]  # minute resolution: many equal timestamps within a case
    if grouped:
        rows.sort(key=lambda row: (row[0], row[2]))
    df = pl.DataFrame(
        rows,
        schema={"case_id": pl.String, "activity": pl.String, "timestamp": pl.Datetime("us", "UTC")},
        orient="row",
    ).with_row_index("idx")
    expected = naive_results(rows)
    got = analyze(df)
    assert_matches({k: got[k] for k in expected}, expected)
    for entry in expected["directly_follows"]:
        del entry["p95_s"]
    del expected["case_duration_s"]["p95"]
    assert_matches(core_results(df), expected)
