"""Readers turning CSV, XES and Parquet event logs into one normalised polars frame.

The frame has columns `case_id` (Utf8), `activity` (Utf8), `timestamp` (Datetime us UTC),
`start_timestamp` (Datetime us UTC, only when the source has one), `resource` (Utf8, nullable),
`role` (Utf8, nullable, only when the source has one: XES `org:role`, a CSV/Parquet `org:role` or
`role` column) and `idx` (UInt32, position of the event in the file). Invalid input raises
`EventLogError` listing the problems; a partial frame is never returned.

`read_log` also returns the cases' attributes (`case_attributes`): one row per case, `case_id` and a text
column per attribute. In XES they are the trace's attributes; in CSV and Parquet the columns named
`case:<name>` (the XES-in-CSV convention) and every other column that has at most one value in each case
(an order's `amount` repeated on each of its rows), named without the `case:` prefix.

Events are kept by their lifecycle value (XES `lifecycle:transition`, a CSV/Parquet `lifecycle:transition`
or `lifecycle` column), see `Lifecycle`; `read_log` also returns how many events of each value were read
and skipped (`LifecycleReport`).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypedDict
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from app.core.db import NUL, NUL_MESSAGE

MAX_PROBLEMS = 50
UTC_US = pl.Datetime("us", "UTC")
DELIMITERS = (",", ";", "\t", "|")
FIELDS = ("case_id", "activity", "timestamp", "start_timestamp", "resource", "role")
REQUIRED = ("case_id", "activity", "timestamp")
# Column names recognised, in order of preference, when no mapping is given (case-insensitive).
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "case_id": ("case:concept:name", "case_id", "case id", "caseid", "case"),
    "activity": ("concept:name", "activity", "activity_name", "event"),
    "timestamp": ("time:timestamp", "timestamp", "complete_timestamp", "end_timestamp", "time"),
    "start_timestamp": ("start_timestamp", "time:start", "start_time"),
    "resource": ("org:resource", "resource", "user"),
    "role": ("org:role", "role"),
}
CASE_PREFIX = "case:"
MAX_CASE_ATTRIBUTES = 100  # columns taken as case attributes, in file order
LIFECYCLE_COLUMNS = ("lifecycle:transition", "lifecycle")
COMPLETE = "complete"
ALL = "all"
_AWARE = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%dT%H:%M%z")
_NAIVE = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_XES_KEYS = frozenset({"concept:name", "time:timestamp", "org:resource", "org:role", "lifecycle:transition"})
_XES_VALUES = frozenset({"string", "int", "float", "date", "boolean", "id"})  # attribute kinds with a value
_SNIFF_BYTES = 1 << 16


class Problem(TypedDict):
    row: int | None
    field: str | None
    message: str


class EventLogError(Exception):
    """The log cannot be imported; `problems` holds at most `MAX_PROBLEMS` of `total` problems."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.total = len(problems) if total is None else total
        first = problems[0]["message"] if problems else "invalid event log"
        super().__init__(f"{self.total} problem(s) in the event log; first: {first}")


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Source column names for each normalised field."""

    case_id: str
    activity: str
    timestamp: str
    start_timestamp: str | None = None
    resource: str | None = None
    role: str | None = None


Source = bytes | Path


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Which events to keep by lifecycle value (compared case-insensitively, spaces trimmed).

    `mode` is `default` (the `complete` events when the log has some, else all events), `complete`, `all`,
    or `values` (the events whose value is one of `values`). An event without a lifecycle value counts as
    `complete` (the XES standard's default); a CSV or Parquet log without a lifecycle column keeps all rows.
    """

    mode: str = "default"
    values: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Lifecycle:
        """`None` or empty: default; `complete`; `all`; or comma-separated values."""
        values = tuple(dict.fromkeys(v.strip() for v in (text or "").split(",") if v.strip()))
        lowered = [v.lower() for v in values]
        if not values:
            return cls()
        if ALL in lowered:
            if len(values) > 1:
                msg = "`all` cannot be combined with other lifecycle values"
                raise EventLogError([{"row": None, "field": "lifecycle", "message": msg}])
            return cls(ALL)
        if lowered == [COMPLETE]:
            return cls(COMPLETE)
        return cls("values", values)

    def describe(self) -> str | list[str] | None:
        """The option as given: None (default), `complete`, `all` or the list of values."""
        return None if self.mode == "default" else list(self.values) if self.mode == "values" else self.mode


@dataclass(frozen=True, slots=True)
class LifecycleReport:
    """Events read, kept, and skipped per lifecycle value (`values`: all events read per value, in file
    spelling; empty when the log has no lifecycle values), and the selection applied."""

    read: int
    kept: int
    values: dict[str, int]
    skipped: dict[str, int]
    lifecycle: str | list[str]
    requested: str | list[str] | None

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "kept": self.kept, "skipped": self.skipped, "lifecycle": self.lifecycle,
                "requested": self.requested, "values": self.values}


def read_log(
    kind: str,
    data: Source | IO[bytes],
    *,
    mapping: ColumnMapping | None = None,
    delimiter: str | None = None,
    timezone: str = "UTC",
    lifecycle: Lifecycle | None = None,
) -> tuple[pl.DataFrame, LifecycleReport, pl.DataFrame]:
    """Read a `csv`, `xes` or `parquet` log: the frame of the events kept, the lifecycle report and the
    attributes of the cases kept (see the module's text)."""
    lifecycle = lifecycle or Lifecycle()
    if kind == "csv":
        return _read_csv(data, mapping, delimiter, timezone, lifecycle)  # type: ignore[arg-type]
    if kind == "xes":
        return _read_xes(data, timezone, lifecycle)
    return _read_parquet(data, mapping, timezone, lifecycle)  # type: ignore[arg-type]


def read_csv(
    data: Source,
    mapping: ColumnMapping | None = None,
    delimiter: str | None = None,
    timezone: str = "UTC",
    lifecycle: Lifecycle | None = None,
) -> pl.DataFrame:
    """Read a CSV event log; naive timestamps are local times in `timezone`."""
    return _read_csv(data, mapping, delimiter, timezone, lifecycle or Lifecycle())[0]


def read_parquet(
    data: Source, mapping: ColumnMapping | None = None, timezone: str = "UTC", lifecycle: Lifecycle | None = None
) -> pl.DataFrame:
    """Read a Parquet event log; naive timestamps are local times in `timezone`."""
    return _read_parquet(data, mapping, timezone, lifecycle or Lifecycle())[0]


def read_xes(data: Source | IO[bytes], timezone: str = "UTC", lifecycle: Lifecycle | None = None) -> pl.DataFrame:
    """Stream an XES log (plain or gzip); by default keeps the `complete` events (missing lifecycle counts as
    complete), or all events when there are none (see `Lifecycle`).

    Problem rows are 1-based trace numbers.
    """
    return _read_xes(data, timezone, lifecycle or Lifecycle())[0]


def _read_csv(
    data: Source, mapping: ColumnMapping | None, delimiter: str | None, timezone: str, lifecycle: Lifecycle
) -> tuple[pl.DataFrame, LifecycleReport, pl.DataFrame]:
    _check_timezone(timezone)
    head = _head(data)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # possibly cut in the middle
    if not lines or not lines[0].strip():
        raise EventLogError([{"row": None, "field": None, "message": "the file is empty"}])
    sep = delimiter or sniff_delimiter(lines)
    header = next(csv.reader(lines[:1], delimiter=sep))
    columns = _resolve_columns(header, mapping)
    try:
        raw = pl.read_csv(data, separator=sep, infer_schema=False, encoding="utf8-lossy")
    except pl.exceptions.PolarsError as exc:
        raise EventLogError([{"row": None, "field": None, "message": f"malformed CSV: {exc}"}]) from exc
    return _from_columns(raw, columns, timezone, lifecycle)


def _from_columns(
    raw: pl.DataFrame, columns: dict[str, str], timezone: str, lifecycle: Lifecycle
) -> tuple[pl.DataFrame, LifecycleReport, pl.DataFrame]:
    """A CSV's or Parquet file's events (`columns`: field -> source column) and case attributes (the other
    columns, see the module's text)."""
    candidates = _attribute_columns(raw.columns, set(columns.values()))
    exprs = [pl.col(src).alias(dst) if dst.endswith("timestamp") else pl.col(src).cast(pl.String).alias(dst)
             for dst, src in columns.items()]
    exprs += [pl.col(src).cast(pl.String).alias(ATTRIBUTE + name) for name, src in candidates.items()]
    kept, rows, report = _select_lifecycle(raw.select(exprs), lifecycle, None)
    events = _normalise(kept, timezone, rows)
    forced = {name for name, src in candidates.items() if src.strip().lower().startswith(CASE_PREFIX)}
    return events, report, _column_attributes(kept, forced)


def _read_parquet(
    data: Source, mapping: ColumnMapping | None, timezone: str, lifecycle: Lifecycle
) -> tuple[pl.DataFrame, LifecycleReport, pl.DataFrame]:
    _check_timezone(timezone)
    try:
        raw = pl.read_parquet(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise EventLogError([{"row": None, "field": None, "message": f"invalid Parquet: {exc}"}]) from exc
    return _from_columns(raw, _resolve_columns(raw.columns, mapping), timezone, lifecycle)


def _read_xes(
    data: Source | IO[bytes], timezone: str, lifecycle: Lifecycle
) -> tuple[pl.DataFrame, LifecycleReport, pl.DataFrame]:
    _check_timezone(timezone)
    try:
        with ExitStack() as owned:
            parsed = _parse_xes(_open(data, owned))
    except (ET.ParseError, OSError, EOFError, zlib.error) as exc:
        raise EventLogError([{"row": None, "field": None, "message": f"invalid XES: {exc}"}]) from exc
    names = ("case_id", "activity", "timestamp", "resource", "role", "lifecycle")
    columns = {**dict(zip(names, parsed.columns, strict=True)), **parsed.extra}
    raw = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    if all(r is None for r in parsed.columns[4]):
        raw = raw.drop("role")
    kept, rows, report = _select_lifecycle(raw, lifecycle, pl.Series("row", parsed.traces, pl.UInt32))
    events = _normalise(kept, timezone, rows)
    # The trace's attributes, and the events' attributes that have at most one value in each case.
    traced = _trace_attributes(parsed.attributes, events["case_id"])
    constant = _column_attributes(kept, set())
    cases = constant.select("case_id", *(c for c in constant.columns[1:] if c not in traced.columns))
    return events, report, traced.join(cases, on="case_id", how="left", maintain_order="left")


def _select_lifecycle(
    raw: pl.DataFrame, lifecycle: Lifecycle, rows: pl.Series | None
) -> tuple[pl.DataFrame, pl.Series | None, LifecycleReport]:
    """The events of the chosen lifecycle (column `lifecycle`, absent when the log has none; dropped from the
    frame), their numbers for problem reports (`rows`: the raw events' numbers, 1-based rows by default) and
    the report."""
    read = raw.height
    if read == 0:
        raise EventLogError([{"row": None, "field": None, "message": "the log has no events"}])
    if "lifecycle" not in raw.columns:
        return raw, rows, LifecycleReport(read, read, {}, {}, ALL, lifecycle.describe())
    # No value (an XES event without the key, an empty cell) is `complete`, the XES standard's default.
    blank = pl.col("lifecycle").is_null() | (pl.col("lifecycle").str.strip_chars() == "")
    value = pl.when(blank).then(pl.lit(COMPLETE)).otherwise(pl.col("lifecycle")).alias("lifecycle")
    counts = raw.group_by(value).len().sort(["len", "lifecycle"], descending=[True, False])
    spelled = dict(counts.iter_rows())  # every value read, in file spelling, most frequent first
    key = value.str.strip_chars().str.to_lowercase()
    mode = lifecycle.mode
    if mode == "default":
        mode = COMPLETE if raw.select((key == COMPLETE).any()).item() else ALL
    applied: str | list[str] = list(lifecycle.values) if mode == "values" else mode
    skipped: dict[str, int] = {}
    kept = read
    if mode != ALL:
        wanted = [COMPLETE] if mode == COMPLETE else [v.lower() for v in lifecycle.values]
        mask = raw.select(key.is_in(wanted).alias("keep"))["keep"]
        kept = int(mask.sum())
        if kept == 0:
            shown = ", ".join(f"{v} ({n})" for v, n in list(spelled.items())[:20])
            asked = ", ".join(applied) if isinstance(applied, list) else applied
            msg = f"no events with lifecycle {asked}; the log's lifecycle values are: {shown}"
            raise EventLogError([{"row": None, "field": "lifecycle", "message": msg}])
        if kept < read:
            by_value = dict(raw.filter(~mask).group_by(value).len().iter_rows())
            skipped = {v: by_value[v] for v in spelled if v in by_value}
            numbers = rows if rows is not None else pl.int_range(1, read + 1, dtype=pl.UInt32, eager=True)
            rows = numbers.filter(mask)
            raw = raw.filter(mask)
    return raw.drop("lifecycle"), rows, LifecycleReport(read, kept, spelled, skipped, applied, lifecycle.describe())


def sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter among `DELIMITERS` giving the most fields, consistently over the sample lines."""
    sample = lines[:50]
    best, best_key = ",", (False, 1)
    for sep in DELIMITERS:
        widths = [len(row) for row in csv.reader(sample, delimiter=sep) if row]
        if not widths or widths[0] < 2:
            continue
        key = (all(w == widths[0] for w in widths), widths[0])
        if key > best_key:
            best, best_key = sep, key
    return best


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown time zone {timezone!r}"
        raise EventLogError([{"row": None, "field": "timezone", "message": msg}]) from exc


def _head(data: Source) -> bytes:
    if isinstance(data, bytes):
        return data[:_SNIFF_BYTES]
    with data.open("rb") as fh:
        return fh.read(_SNIFF_BYTES)


def _resolve_columns(header: list[str], mapping: ColumnMapping | None) -> dict[str, str]:
    """Map each normalised field to a source column, or raise listing the missing ones."""
    problems: list[Problem] = []
    columns: dict[str, str] = {}
    if mapping is not None:
        for field in FIELDS:
            name = getattr(mapping, field)
            if name is None:
                continue
            if name in header:
                columns[field] = name
            else:
                problems.append({"row": None, "field": field, "message": f"column {name!r} not found"})
    else:
        lowered = {h.strip().lower(): h for h in reversed(header)}
        for field, candidates in _CANDIDATES.items():
            found = next((lowered[c] for c in candidates if c in lowered), None)
            if found is not None:
                columns[field] = found
            elif field in REQUIRED:
                msg = f"no {field} column (expected one of {', '.join(candidates)})"
                problems.append({"row": None, "field": field, "message": msg})
    if problems:
        raise EventLogError(problems)
    lowered = {h.strip().lower(): h for h in reversed(header)}
    found = next((lowered[c] for c in LIFECYCLE_COLUMNS if c in lowered), None)
    if found is not None and found not in columns.values():
        columns["lifecycle"] = found
    return columns


def _open(data: Source | IO[bytes], owned: ExitStack) -> IO[bytes]:
    """A binary stream over the (possibly gzip-compressed) data; streams opened here close with `owned`."""
    if isinstance(data, bytes):
        stream: IO[bytes] = io.BytesIO(data)
    elif isinstance(data, Path):
        stream = owned.enter_context(data.open("rb"))
    else:
        stream = data if data.seekable() else io.BytesIO(data.read())
    magic = stream.read(2)
    stream.seek(-len(magic), io.SEEK_CUR)
    if magic == b"\x1f\x8b":
        return owned.enter_context(gzip.GzipFile(fileobj=stream))
    return stream


@dataclass(slots=True)
class _Xes:
    """An XES file's events as columns (case id, activity, timestamp, resource, role, lifecycle), each
    event's trace number, and each trace's case id with its attributes."""

    columns: tuple[list[str | None], ...]
    traces: list[int]
    attributes: list[tuple[str | None, dict[str, str]]]
    extra: dict[str, list[str | None]]  # the events' other attributes by key, None where an event has none


def _parse_xes(stream: IO[bytes]) -> _Xes:
    keys = ("concept:name", "time:timestamp", "org:resource", "org:role", "lifecycle:transition")
    columns: tuple[list[str | None], ...] = tuple([] for _ in range(len(keys) + 1))
    traces: list[int] = []
    attributes: list[tuple[str | None, dict[str, str]]] = []
    extra: dict[str, list[str | None]] = {}
    stack: list[str] = []
    trace_no = 0
    case_id: str | None = None
    trace_attributes: dict[str, str] = {}
    pending: list[dict[str, str]] = []
    event: dict[str, str] | None = None
    root: ET.Element | None = None
    # Expat does not fetch external entities and limits entity expansion; the log is user data.
    for kind, elem in ET.iterparse(stream, events=("start", "end")):  # noqa: S314
        tag = elem.tag.rpartition("}")[2]
        if kind == "start":
            parent = stack[-1] if stack else None
            stack.append(tag)
            if root is None:
                root = elem
            elif tag == "trace" and parent == "log":
                trace_no += 1
                case_id, trace_attributes, pending = None, {}, []
            elif tag == "event" and parent == "trace":
                event = {}
            elif parent == "event" and event is not None and elem.get("key") in _XES_KEYS:
                event[elem.get("key", "")] = elem.get("value", "")
            elif parent == "event" and event is not None and tag in _XES_VALUES and elem.get("key"):
                event.setdefault(ATTRIBUTE + elem.get("key", ""), elem.get("value", ""))
            elif parent == "trace" and elem.get("key") == "concept:name":
                case_id = elem.get("value")
            elif parent == "trace" and tag in _XES_VALUES and elem.get("key") and elem.get("value") is not None:
                trace_attributes.setdefault(elem.get("key", ""), elem.get("value", ""))
            continue
        stack.pop()
        if tag == "event" and event is not None:
            pending.append(event)
            event = None
            elem.clear()
        elif tag == "trace" and stack == ["log"] and root is not None:
            for ev in pending:
                for key in ev:
                    if key[0] == ATTRIBUTE and key not in extra and len(extra) < MAX_CASE_ATTRIBUTES:
                        extra[key] = [None] * len(traces)
                for key, values in extra.items():
                    values.append(ev.get(key))
                columns[0].append(case_id)
                for column, key in zip(columns[1:], keys, strict=True):
                    column.append(ev.get(key))
                traces.append(trace_no)
            attributes.append((case_id, trace_attributes))
            root.clear()
    return _Xes(columns, traces, attributes, extra)


# ---------------------------------------------------------------- case attributes

ATTRIBUTE = "@"  # prefix of the case-attribute columns in the frames between reading and normalising


def _attribute_columns(header: list[str], used: set[str]) -> dict[str, str]:
    """The columns that may hold case attributes, by attribute name: those not read as an event field or
    lifecycle, and named; a `case:` column is named without the prefix and wins over a column of that name."""
    named: list[tuple[str, str, bool]] = []
    for column in header:
        name = column.strip()
        prefixed = name.lower().startswith(CASE_PREFIX)
        if prefixed:
            name = name[len(CASE_PREFIX):].strip()
        if column in used or not name or name.startswith("Unnamed:") or name.lower() in LIFECYCLE_COLUMNS:
            continue
        named.append((name, column, prefixed))
    with_prefix = {name for name, _, prefixed in named if prefixed}
    found: dict[str, str] = {}
    for name, column, prefixed in named:
        if name not in found and (prefixed or name not in with_prefix):
            found[name] = column
    return dict(list(found.items())[:MAX_CASE_ATTRIBUTES])


def _column_attributes(events: pl.DataFrame, forced: set[str]) -> pl.DataFrame:
    """One row per case with the first value of each candidate column (`ATTRIBUTE` + name) in file order; a
    candidate is kept when it is in `forced` (a `case:` column) or has at most one value in every case, and
    has a value in some case. Blank cells count as no value."""
    candidates = [c for c in events.columns if c.startswith(ATTRIBUTE)]
    frame = events.select("case_id", *(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c)
                                       for c in candidates))
    grouped = frame.group_by("case_id", maintain_order=True).agg(
        *(pl.col(c).drop_nulls().first() for c in candidates),
        *(pl.col(c).drop_nulls().n_unique().alias(c + "#n") for c in candidates),
    ) if candidates else frame.unique("case_id", maintain_order=True)
    if not candidates:
        return grouped
    widest = grouped.select(pl.col(c + "#n").max() for c in candidates).row(0)
    present = grouped.select(pl.col(c).is_not_null().any() for c in candidates).row(0)
    keep = [c for c, n, any_value in zip(candidates, widest, present, strict=True)
            if any_value and (c[len(ATTRIBUTE):] in forced or n <= 1)]
    return grouped.select("case_id", *(pl.col(c).alias(c[len(ATTRIBUTE):]) for c in keep))


def _trace_attributes(attributes: list[tuple[str | None, dict[str, str]]], case_ids: pl.Series) -> pl.DataFrame:
    """One row per case of `case_ids` (the events kept) with its trace's attributes (the first trace of a
    case id), named without a `case:` prefix."""
    kept = set(case_ids.unique().to_list())
    rows: dict[str, dict[str, str]] = {}
    names: dict[str, None] = {}
    for case_id, values in attributes:
        if case_id in kept and case_id not in rows:
            row = {}
            for key, value in values.items():
                name = key[len(CASE_PREFIX):] if key.lower().startswith(CASE_PREFIX) else key
                if name and (name not in row or key != name):
                    row[name] = value
            rows[case_id] = row
            names.update(dict.fromkeys(row))
    columns = list(names)[:MAX_CASE_ATTRIBUTES]
    schema = dict.fromkeys(["case_id", *columns], pl.String)
    return pl.DataFrame([{"case_id": c, **{n: row.get(n) for n in columns}} for c, row in rows.items()],
                        schema=schema)


def _normalise(raw: pl.DataFrame, timezone: str, rows: pl.Series | None = None) -> pl.DataFrame:
    """Validate and type a frame of source columns renamed to the normalised field names."""
    if raw.height == 0:
        raise EventLogError([{"row": None, "field": None, "message": "the log has no events"}])
    timestamp = _to_instants(raw["timestamp"], timezone)
    start = _to_instants(raw["start_timestamp"], timezone) if "start_timestamp" in raw.columns else None
    bad = {
        "case_id": _blank(raw["case_id"]) | _nul(raw["case_id"]),
        "activity": _blank(raw["activity"]) | _nul(raw["activity"]),
        "timestamp": timestamp.is_null(),
    }
    if start is not None:
        bad["start_timestamp"] = start.is_null() & raw["start_timestamp"].is_not_null()
    for optional in ("resource", "role"):
        if optional in raw.columns:
            bad[optional] = _nul(raw[optional])
    if any(mask.any() for mask in bad.values()):
        raise _row_errors(raw, bad, timezone, rows)
    columns = [raw["case_id"], raw["activity"], timestamp.alias("timestamp")]
    if start is not None:
        columns.append(start.alias("start_timestamp"))
    if "resource" in raw.columns:
        columns.append(raw["resource"])
    else:
        columns.append(pl.repeat(None, raw.height, dtype=pl.String, eager=True).alias("resource"))
    if "role" in raw.columns:
        columns.append(raw["role"])
    return pl.DataFrame(columns).with_row_index("idx").select(*(c.name for c in columns), "idx")


def _blank(s: pl.Series) -> pl.Series:
    return s.is_null() | (s.str.strip_chars().str.len_bytes() == 0)


def _nul(s: pl.Series) -> pl.Series:
    """Text with NUL, which no database column takes (app.core.db refuses it)."""
    return s.str.contains(NUL, literal=True).fill_null(False)


def _row_errors(
    raw: pl.DataFrame, bad: dict[str, pl.Series], timezone: str, rows: pl.Series | None
) -> EventLogError:
    total = sum(int(mask.sum()) for mask in bad.values())
    found: list[tuple[int, int, Problem]] = []
    for order, (field, mask) in enumerate(bad.items()):
        for i in mask.arg_true().head(MAX_PROBLEMS).to_list():
            row = int(rows[i]) if rows is not None else i + 1
            found.append(
                (i, order, {"row": row, "field": field, "message": _message(field, raw[field][i], timezone)})
            )
    found.sort(key=lambda item: (item[0], item[1]))
    return EventLogError([problem for _, _, problem in found], total)


def _message(field: str, value: object, timezone: str) -> str:
    if isinstance(value, str) and NUL in value:
        return NUL_MESSAGE
    if field in ("case_id", "activity"):
        return f"empty {'case id' if field == 'case_id' else 'activity'}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing timestamp"
    naive = _parse_strings(pl.Series([str(value)]), "UTC", aware=False)
    if naive[0] is not None:
        return f"local time {value!s} does not exist in time zone {timezone}"
    return f"cannot parse timestamp {value!r} (expected ISO 8601, e.g. 2024-03-01 14:30:00+01:00)"


def _to_instants(s: pl.Series, timezone: str) -> pl.Series:
    """Convert a column to Datetime(us, UTC); unparseable values become null."""
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is None:
            s = s.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        return s.dt.convert_time_zone("UTC").cast(UTC_US)
    if s.dtype == pl.Date:
        return _to_instants(s.cast(pl.Datetime("us")), timezone)
    if s.dtype == pl.String:
        return _parse_strings(s, timezone)
    msg = f"unsupported timestamp column type {s.dtype}"
    raise EventLogError([{"row": None, "field": s.name, "message": msg}])


def parse_instants(s: pl.Series, timezone: str) -> pl.Series:
    """Text instants (ISO 8601 with or without an offset, or dates) as Datetime(us, UTC), by the rule of the
    event timestamps: a time without an offset is local in `timezone`; what does not parse is null."""
    return _parse_strings(s, timezone)


def _parse_strings(s: pl.Series, timezone: str, *, aware: bool = True) -> pl.Series:
    """Parse ISO 8601 strings: the format of the first value on all rows, then every format on leftovers."""
    formats = [(f, True) for f in _AWARE if aware] + [(f, False) for f in _NAIVE]
    sample = s.drop_nulls().head(1)
    if not any(_fits(sample, fa, timezone) for fa in formats):
        s, sample = _clean(s), _clean(sample)  # e.g. a trailing Z or padding on every value
    formats.sort(key=lambda fa: not _fits(sample, fa, timezone))
    out = _parse_one(s, *formats[0], timezone)
    left = (out.is_null() & s.is_not_null()).arg_true()
    if left.is_empty():
        return out
    rest = _clean(s.gather(left))
    parsed = _parse_one(rest, *formats[0], timezone)
    for fmt, is_aware in formats[1:]:
        if parsed.null_count() == 0:
            break
        parsed = parsed.fill_null(_parse_one(rest, fmt, is_aware, timezone))
    return out.scatter(left, parsed)


def _fits(sample: pl.Series, fmt_aware: tuple[str, bool], timezone: str) -> bool:
    return _parse_one(sample, *fmt_aware, timezone).null_count() == 0


def _clean(s: pl.Series) -> pl.Series:
    return s.str.strip_chars().str.replace(r"[zZ]$", "+00:00")


def _parse_one(s: pl.Series, fmt: str, aware: bool, timezone: str) -> pl.Series:
    parsed = s.str.to_datetime(fmt, strict=False, time_unit="us")
    if aware:
        return parsed.dt.convert_time_zone("UTC")
    return parsed.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")
