"""Series and comparisons: SQL reads observations into polars frames, `aggregate` computes, closed periods
are cached in `kpi_period_cache` (and the closed days' moments of a label filter, for windows, in
`kpi_day_moments`) and dropped again when late data for them arrives.

Reads never build one Python object per row on PostgreSQL (`COPY ... TO STDOUT` CSV straight into polars);
elsewhere rows come in bounded chunks that are turned into frames one by one.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from app.core.config import get_settings
from app.core.db import best_effort, utcnow
from app.core.errors import RuleViolation
from app.metrics import aggregate
from app.metrics.models import Grain, Kpi, KpiDayMoments, KpiPeriodCache, Observation, ObservationBatch

STATS = ("count", "mean", "sum", "min", "max", "p50", "p95")
READ_CHUNK_ROWS = 100_000
MAX_PERIODS = 3_700  # ten years of days
MAX_SERIES_KPIS = 50
MAX_BY = 3


# ---------------------------------------------------------------- periods (local calendar dates)

def zone(tz: str | None) -> str:
    """A valid IANA time zone name (default: the business time zone)."""
    name = tz or get_settings().business_timezone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleViolation(f"Unknown time zone {name!r}.", errors=[
            {"loc": ["query", "tz"], "field": "tz", "message": "unknown time zone", "type": "value_error"}]) from exc
    return name


def period_floor(day: date, grain: Grain) -> date:
    if grain == Grain.day:
        return day
    if grain == Grain.week:  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    if grain == Grain.month:
        return day.replace(day=1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def period_next(start: date, grain: Grain) -> date:
    if grain == Grain.day:
        return start + timedelta(days=1)
    if grain == Grain.week:
        return start + timedelta(days=7)
    months = 1 if grain == Grain.month else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def period_prev(start: date, grain: Grain) -> date:
    if grain == Grain.day:
        return start - timedelta(days=1)
    if grain == Grain.week:
        return start - timedelta(days=7)
    months = 1 if grain == Grain.month else 3
    month = start.month - 1 - months
    return date(start.year + month // 12, month % 12 + 1, 1)


def periods_between(start: date, end: date, grain: Grain) -> list[date]:
    """Starts of the periods from the one holding `start` up to (excluding) those starting at `end` or later."""
    out, current = [], period_floor(start, grain)
    while current < end:
        out.append(current)
        if len(out) > MAX_PERIODS:
            raise RuleViolation(f"The range spans more than {MAX_PERIODS} periods; narrow it or use a "
                                "coarser grain.")
        current = period_next(current, grain)
    return out


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant a local calendar day starts."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


# ---------------------------------------------------------------- SQL -> polars

FRAME_SCHEMA: dict[str, Any] = {"kpi_id": pl.Int64, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64}


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _label_expr(name: str) -> sa.ColumnElement[Any]:
    return col(Observation.labels)[name].as_string().label(name)


def observations_frame(session: Session, kpi_ids: Sequence[int] | None, start: datetime | None,
                       end: datetime | None, by: Sequence[str] = (), labels: dict[str, str] | None = None
                       ) -> pl.DataFrame:
    """Observations (`kpi_id`, `ts` UTC, `value`, one string column per `by` label) in [start, end), only those
    whose labels include all of `labels` when given."""
    schema = {**FRAME_SCHEMA, **dict.fromkeys(by, pl.String)}
    if kpi_ids is not None and not kpi_ids:
        return pl.DataFrame(schema=schema)
    session.flush()  # rows added in this unit of work are part of the answer
    if _is_postgres(session):
        return _frame_copy(session, kpi_ids, start, end, by, labels or {}, schema)
    return _frame_chunks(session, kpi_ids, start, end, by, labels or {}, schema)


def _frame_copy(session: Session, kpi_ids: Sequence[int] | None, start: datetime | None,
                end: datetime | None, by: Sequence[str], labels: dict[str, str], schema: dict[str, Any]
                ) -> pl.DataFrame:
    where, params = ["TRUE"], []
    if kpi_ids is not None:
        where.append("kpi_id = ANY(%s)")
        params.append(list(kpi_ids))
    if start is not None:
        where.append("ts >= %s")
        params.append(start)
    if end is not None:
        where.append("ts < %s")
        params.append(end)
    for name, wanted in labels.items():
        where.append("labels ->> %s = %s")
        params += [name, wanted]
    columns = "".join(", labels ->> %s" for _ in by)
    sql = (f"COPY (SELECT kpi_id, (extract(epoch FROM ts) * 1000000)::int8, value{columns} "  # noqa: S608
           f"FROM observations WHERE {' AND '.join(where)}) TO STDOUT WITH (FORMAT csv)")
    raw = session.connection().connection.driver_connection
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(sql, [*by, *params]) as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    names = ["kpi_id", "ts", "value", *by]
    frame = pl.read_csv(buffer, has_header=False, new_columns=names,
                        schema_overrides={"kpi_id": pl.Int64, "ts": pl.Int64, "value": pl.Float64,
                                          **dict.fromkeys(by, pl.String)})
    return frame.with_columns(pl.from_epoch("ts", "us").dt.replace_time_zone("UTC"))


def ts_raw(session: Session) -> sa.ColumnElement[Any]:
    """`ts` without per-row datetime objects: epoch microseconds on PostgreSQL, ISO text on SQLite."""
    if _is_postgres(session):
        return sa.cast(sa.func.extract("epoch", Observation.ts) * 1_000_000, sa.BigInteger).label("ts")
    return sa.type_coerce(Observation.ts, sa.String).label("ts")


def ts_from_raw(session: Session) -> pl.Expr:
    if _is_postgres(session):
        return pl.from_epoch("ts", "us").dt.replace_time_zone("UTC")
    return pl.col("ts").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")


def _frame_chunks(session: Session, kpi_ids: Sequence[int] | None, start: datetime | None,
                  end: datetime | None, by: Sequence[str], labels: dict[str, str], schema: dict[str, Any]
                  ) -> pl.DataFrame:
    stmt = sa.select(Observation.kpi_id, ts_raw(session), Observation.value, *(_label_expr(n) for n in by))
    if kpi_ids is not None:
        stmt = stmt.where(col(Observation.kpi_id).in_(list(kpi_ids)))
    if start is not None:
        stmt = stmt.where(Observation.ts >= start)
    if end is not None:
        stmt = stmt.where(Observation.ts < end)
    stmt = stmt.where(*_label_conditions(labels))
    raw_schema = {**schema, "ts": pl.String}
    result = session.connection().execute(
        stmt.execution_options(stream_results=True, yield_per=READ_CHUNK_ROWS))
    parts = [pl.DataFrame([tuple(r) for r in rows], schema=raw_schema, orient="row")
             .with_columns(ts_from_raw(session)) for rows in result.partitions()]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, rechunk=True)


# ---------------------------------------------------------------- series with the closed-period cache

@dataclass(frozen=True)
class SeriesQuery:
    grain: Grain
    start: date  # local date; the period holding it is the first
    end: date  # local date, exclusive: periods starting on or after it are left out
    tz: str
    by: tuple[str, ...] = ()


def _empty_series(by: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={"kpi_id": pl.Int64, "period_start": pl.Date, **dict.fromkeys(by, pl.String),
                                "count": pl.Int64, **dict.fromkeys(STATS[1:], pl.Float64)})


def _computed(session: Session, kpi_ids: list[int], grain: Grain, tz: str, first: date, end: date,
              by: Sequence[str]) -> pl.DataFrame:
    frame = observations_frame(session, kpi_ids, local_midnight(first, tz), local_midnight(end, tz), by)
    if frame.is_empty():
        return _empty_series(by)
    return aggregate.series(frame, grain.value, tz, list(by) or None).with_columns(pl.col("count").cast(pl.Int64))


def series_frame(session: Session, kpi_ids: list[int], q: SeriesQuery, *, now: datetime | None = None,
                 use_cache: bool = True) -> pl.DataFrame:
    """One row per KPI, period (and label values) with data: `kpi_id`, `period_start`, the `by` columns,
    `count`, `mean`, `sum`, `min`, `max`, `p50`, `p95`; sorted by KPI, labels, period."""
    periods = periods_between(q.start, q.end, q.grain)
    if not periods or not kpi_ids:
        return _empty_series(q.by)
    end = period_next(periods[-1], q.grain)
    if q.by or not use_cache:
        return _computed(session, kpi_ids, q.grain, q.tz, periods[0], end, q.by)

    today = local_date(now or utcnow(), q.tz)
    closed = [p for p in periods if period_next(p, q.grain) <= today]
    cached = _cached(session, kpi_ids, q, periods[0], periods[-1])
    missing = {k: [p for p in closed if (k, p) not in cached] for k in kpi_ids}
    open_first = next((p for p in periods if p not in set(closed)), None)
    firsts = [ps[0] for ps in missing.values() if ps] + ([open_first] if open_first else [])
    computed = _empty_series(())
    if firsts:
        first = min(firsts)
        batch_before = _last_batch_id(session)
        computed = _computed(session, kpi_ids, q.grain, q.tz, first, end, ())
        if _last_batch_id(session) == batch_before:  # no data arrived meanwhile: safe to cache
            _store_cache(session, computed, missing, q)
    cached_frame = pl.DataFrame(
        [(k, p, *row) for (k, p), row in cached.items() if row[0] > 0],
        schema=_empty_series(()).schema, orient="row")
    cached_keys = pl.DataFrame(list(cached), schema={"kpi_id": pl.Int64, "period_start": pl.Date}, orient="row")
    fresh = computed.join(cached_keys, on=["kpi_id", "period_start"], how="anti")
    return pl.concat([cached_frame, fresh.select(cached_frame.columns)]).sort("kpi_id", "period_start")


def _last_batch_id(session: Session) -> int:
    return session.exec(select(sa.func.coalesce(sa.func.max(ObservationBatch.id), 0))).one()


def _cached(session: Session, kpi_ids: list[int], q: SeriesQuery, first: date, last: date
            ) -> dict[tuple[int, date], tuple[Any, ...]]:
    c = KpiPeriodCache
    stmt = sa.select(c.kpi_id, c.period_start, *(getattr(c, s) for s in STATS)).where(
        col(c.kpi_id).in_(kpi_ids), c.grain == q.grain, c.tz == q.tz,
        c.period_start >= first, c.period_start <= last)
    return {(r[0], r[1]): tuple(r[2:]) for r in session.execute(stmt)}


def _store_cache(session: Session, computed: pl.DataFrame, missing: dict[int, list[date]],
                 q: SeriesQuery) -> None:
    if not any(missing.values()):
        return
    found = {(r["kpi_id"], r["period_start"]): r for r in computed.iter_rows(named=True)}
    now = utcnow()
    rows = []
    for kpi_id, periods in missing.items():
        for p in periods:
            r = found.get((kpi_id, p))
            stats = {s: r[s] for s in STATS} if r else {"count": 0, **dict.fromkeys(STATS[1:])}
            rows.append({"kpi_id": kpi_id, "grain": q.grain, "tz": q.tz, "period_start": p,
                         "computed_at": now, **stats})
    _insert_ignoring_conflicts(session, KpiPeriodCache, rows)


def _insert_ignoring_conflicts(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Write cache rows. A concurrent reader may have cached the same keys: theirs are as good as ours. A read
    that cannot write its cache (SQLite, another connection wrote meanwhile) answers all the same."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    with best_effort(session):
        for i in range(0, len(rows), 1000):
            session.execute(insert.on_conflict_do_nothing(), rows[i:i + 1000])


def invalidate_cache(session: Session, ranges: dict[int, tuple[datetime, datetime]]) -> None:
    """Forget cached periods and day moments that new observations (UTC instants per KPI) fall into, in any
    time zone.

    KPIs whose data cover the same days share one statement (a batch usually covers the same days)."""
    t = KpiPeriodCache.__table__.c  # Core columns: no ORM evaluation of the criteria against the session
    groups: dict[tuple[date, date], list[int]] = {}
    for kpi_id, (low, high) in ranges.items():
        # No time zone is more than a day off UTC.
        groups.setdefault((low.date() - timedelta(days=1), high.date() + timedelta(days=1)), []).append(kpi_id)
    m = KpiDayMoments.__table__.c
    for (first_day, last_day), kpi_ids in groups.items():
        session.connection().execute(KpiPeriodCache.__table__.delete().where(
            t.kpi_id.in_(sorted(kpi_ids)),
            sa.or_(*(sa.and_(t.grain == g, t.period_start.between(period_floor(first_day, g),
                                                                   period_floor(last_day, g))) for g in Grain))))
        session.connection().execute(KpiDayMoments.__table__.delete().where(
            m.kpi_id.in_(sorted(kpi_ids)), m.day.between(first_day, last_day)))


def value_column(kpi: Kpi) -> str:
    return aggregate.AGGREGATION_COLUMN[kpi.aggregation.value]


def series_points(kpis: Iterable[Kpi], frame: pl.DataFrame, q: SeriesQuery) -> list[dict[str, Any]]:
    """Flat rows for JSON/CSV/parquet/charts: every statistic plus the KPI's default `value`."""
    by_id = {k.id: k for k in kpis}
    out = []
    for r in frame.iter_rows(named=True):
        kpi = by_id[r["kpi_id"]]
        point = {"kpi": kpi.code, "kpi_id": kpi.id, "grain": q.grain.value, "period_start": r["period_start"],
                 "period_end": period_next(r["period_start"], q.grain)}
        point.update({n: r[n] for n in q.by})
        point.update({s: r[s] for s in STATS})
        point.update({"value": r[value_column(kpi)], "target": kpi.target, "baseline": kpi.baseline})
        out.append(point)
    return out


# ---------------------------------------------------------------- comparisons

def period_values(session: Session, kpi: Kpi, start: datetime, end: datetime) -> list[float]:
    frame = observations_frame(session, [kpi.id], start, end)
    return frame["value"].to_list()


def compare(session: Session, kpi: Kpi, *, after: tuple[datetime, datetime],
            before: tuple[datetime, datetime] | None = None, before_value: float | None = None
            ) -> dict[str, Any]:
    """A period against a baseline period, or a baseline value (default: the KPI's baseline)."""
    after_values = period_values(session, kpi, *after)
    if not after_values:
        raise RuleViolation("There are no observations in the period to compare.", errors=[
            {"loc": ["query", "after_from"], "field": "after_from", "message": "no observations",
             "type": "empty"}])
    before_arg: float | list[float]
    before_count = None
    if before is not None:
        before_arg = period_values(session, kpi, *before)
        before_count = len(before_arg)
        if not before_arg:
            raise RuleViolation("There are no observations in the baseline period.", errors=[
                {"loc": ["query", "before_from"], "field": "before_from", "message": "no observations",
                 "type": "empty"}])
    elif before_value is not None or kpi.baseline is not None:
        before_arg = float(before_value if before_value is not None else kpi.baseline)
    else:
        raise RuleViolation("Give a baseline period or value: this KPI has no baseline.", errors=[
            {"loc": ["query", "before_value"], "field": "before_value", "message": "required",
             "type": "missing"}])
    result = aggregate.compare(before_arg, after_values, direction=kpi.direction.value, target=kpi.target,
                               aggregation=kpi.aggregation.value)
    return {"kpi": kpi.code, "aggregation": kpi.aggregation, "direction": kpi.direction,
            "target": kpi.target, "before_count": before_count, "after_count": len(after_values),
            **result}


# ---------------------------------------------------------------- windows (pilots: before / during / after)

MOMENTS = ("count", "sum", "nonzero")


def window_stats(session: Session, kpi_ids: Sequence[int], days: Sequence[date], tz: str,
                 labels: dict[str, str] | None = None, *, quantiles: Iterable[int] = (), now: datetime | None = None
                 ) -> dict[tuple[int, int], dict[str, float]]:
    """Each KPI's statistics in the windows of local days [days[0], days[1]), [days[1], days[2]), ... of its
    observations whose labels include all of `labels`: {(kpi_id, window index): {stat: value}}, windows without
    observations left out. The stats are `count`, `mean`, `sum`, `rate` (the share of non-zero values), and `p50`,
    `p95` for the KPIs in `quantiles`.

    The moments come from per-day sums (`kpi_day_moments`: closed days are computed once and kept, today's and
    later ones each time), so a window costs its days, not its rows. The quantiles cost a scan and a sort of the
    rows: PostgreSQL's `percentile_cont` (polars' linear quantile), polars elsewhere."""
    if not kpi_ids or len(days) < 2:
        return {}
    labels, quantiles = labels or {}, set(quantiles)
    moments = _day_moments(session, list(kpi_ids), days[0], days[-1], tz, labels, local_date(now or utcnow(), tz))
    out: dict[tuple[int, int], dict[str, float]] = {}
    for (kpi_id, day), (n, total, nonzero) in moments.items():
        if n:
            w = bisect.bisect_right(days, day) - 1
            got = out.setdefault((kpi_id, w), {"count": 0.0, "sum": 0.0, "nonzero": 0.0})
            got["count"] += n
            got["sum"] += total
            got["nonzero"] += nonzero
    for got in out.values():
        got["mean"], got["rate"] = got["sum"] / got["count"], got.pop("nonzero") / got["count"]
    if quantiles:
        for key, q in _window_quantiles(session, sorted(quantiles & set(kpi_ids)), days, tz, labels).items():
            if key in out:
                out[key].update(q)
    return out


def _labels_key(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _day_moments(session: Session, kpi_ids: list[int], first: date, end: date, tz: str, labels: dict[str, str],
                 today: date) -> dict[tuple[int, date], tuple[int, float, int]]:
    """{(kpi_id, day): (count, sum, non-zero count)} for the local days in [first, end): the closed days (before
    `today`) kept in `kpi_day_moments`, the missing ones and the open ones computed (and the missing closed ones
    kept, unless data arrived meanwhile)."""
    key = _labels_key(labels)
    m = KpiDayMoments.__table__.c
    kept = {(r[0], r[1]): (r[2], r[3], r[4]) for r in session.connection().execute(
        sa.select(m.kpi_id, m.day, m.count, m.sum, m.nonzero).where(
            m.kpi_id.in_(kpi_ids), m.tz == tz, m.labels == key, m.day >= first, m.day < end))}
    closed = [first + timedelta(days=i) for i in range((min(end, max(today, first)) - first).days)]
    missing = [(k, d) for k in kpi_ids for d in closed if (k, d) not in kept]
    start = min([d for _, d in missing] + ([today] if today < end else []), default=None)
    if start is None:
        return kept
    start = max(start, first)
    batch_before = _last_batch_id(session)
    computed = _computed_moments(session, kpi_ids, start, end, tz, labels)
    if missing and _last_batch_id(session) == batch_before:  # no data arrived meanwhile: safe to keep
        now = utcnow()
        rows = [{"kpi_id": k, "tz": tz, "labels": key, "day": d, "computed_at": now,
                 **dict(zip(MOMENTS, computed.get((k, d), (0, 0.0, 0)), strict=True))} for k, d in missing]
        _insert_ignoring_conflicts(session, KpiDayMoments, rows)
    return {**kept, **computed}


def _computed_moments(session: Session, kpi_ids: list[int], first: date, end: date, tz: str,
                      labels: dict[str, str]) -> dict[tuple[int, date], tuple[int, float, int]]:
    start, stop = local_midnight(first, tz), local_midnight(end, tz)
    if not _is_postgres(session):
        frame = observations_frame(session, kpi_ids, start, stop, labels=labels)
        stats = (frame.with_columns(pl.col("ts").dt.convert_time_zone(tz).dt.date().alias("day"))
                 .group_by("kpi_id", "day")
                 .agg(pl.len().alias("count"), pl.col("value").sum().alias("sum"),
                      (pl.col("value") != 0).sum().alias("nonzero")))
        return {(r[0], r[1]): (int(r[2]), float(r[3]), int(r[4])) for r in stats.iter_rows()}
    session.flush()
    value = col(Observation.value)
    day = sa.cast(sa.func.timezone(tz, Observation.ts), sa.Date).label("day")
    stmt = (sa.select(Observation.kpi_id, day, sa.func.count(), sa.func.sum(value),
                      sa.func.count().filter(value != 0))
            .where(col(Observation.kpi_id).in_(kpi_ids), Observation.ts >= start, Observation.ts < stop,
                   *_label_conditions(labels))
            .group_by(Observation.kpi_id, sa.text("day")))
    return {(r[0], r[1]): (int(r[2]), float(r[3]), int(r[4])) for r in session.connection().execute(stmt)}


def _label_conditions(labels: dict[str, str]) -> list[sa.ColumnElement[bool]]:
    # `labels ->> name = value` per label: a third cheaper per row than JSONB containment (`@>`)
    return [col(Observation.labels)[name].as_string() == wanted for name, wanted in labels.items()]


def _window_quantiles(session: Session, kpi_ids: list[int], days: Sequence[date], tz: str,
                      labels: dict[str, str]) -> dict[tuple[int, int], dict[str, float]]:
    """p50 and p95 of each KPI's observations per window (a scan and a sort of the rows)."""
    if not kpi_ids:
        return {}
    cuts = [local_midnight(d, tz) for d in days]
    if not _is_postgres(session):
        frame = observations_frame(session, kpi_ids, cuts[0], cuts[-1], labels=labels)
        return aggregate.window_quantiles(frame, cuts)
    session.flush()
    window = sa.case(*((Observation.ts < cut, i) for i, cut in enumerate(cuts[1:])), else_=len(cuts) - 1)
    value = col(Observation.value)
    cut = sa.func.percentile_cont(postgresql.array([0.5, 0.95])).within_group(value)
    stmt = (sa.select(Observation.kpi_id, window.label("w"), cut)
            .where(col(Observation.kpi_id).in_(kpi_ids), Observation.ts >= cuts[0], Observation.ts < cuts[-1],
                   *_label_conditions(labels))
            .group_by(Observation.kpi_id, sa.text("w")))
    return {(kpi, w): {"p50": float(p50), "p95": float(p95)}
            for kpi, w, (p50, p95) in session.connection().execute(stmt)}
