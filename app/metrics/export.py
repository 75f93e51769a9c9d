"""Raw observations for BI tools: keyset pages in JSON, and CSV / Parquet exports that stream.

Exports read with a server-side cursor in chunks, turn each chunk into a polars frame and send it on, so
memory stays flat whatever the row count. Parquet is written by polars' streaming sink, row group by row
group, from a worker thread into a small bounded queue the response drains.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from polars.io.plugins import register_io_source
from sqlmodel import Session, col

from app.core.ids import BigId, Id
from app.core.pagination import Cursor, page_window
from app.metrics.models import Kpi, Observation
from app.metrics.schemas import ObservationRead
from app.metrics.series import ts_from_raw, ts_raw

EXPORT_CHUNK_ROWS = 20_000
PARQUET_ROW_GROUP = 100_000
DANGEROUS_PREFIX = r"^[=+\-@\t\r]"
CURSOR_KEYS = ("kpi_id", "ts", "id")

EXPORT_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "kpi": pl.String, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64,
    "source": pl.String, "labels": pl.String,
}


@dataclass(frozen=True)
class ObservationFilter:
    kpi_ids: tuple[int, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    cursor: str | None = None


def _after(cursor: str) -> tuple[int, datetime, int]:
    return Cursor.decode(cursor, CURSOR_KEYS, (Id, datetime, BigId)).values


def _where(stmt: sa.Select, flt: ObservationFilter) -> sa.Select:
    if flt.kpi_ids is not None:
        stmt = stmt.where(col(Observation.kpi_id).in_(flt.kpi_ids))
    if flt.start is not None:
        stmt = stmt.where(Observation.ts >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(Observation.ts < flt.end)
    if flt.cursor:
        stmt = stmt.where(sa.tuple_(col(Observation.kpi_id), col(Observation.ts), col(Observation.id))
                          > _after(flt.cursor))
    return stmt.order_by(col(Observation.kpi_id), col(Observation.ts), col(Observation.id))


def check_cursor(flt: ObservationFilter) -> None:
    if flt.cursor:
        _after(flt.cursor)


def list_observations(session: Session, flt: ObservationFilter, *, limit: int
                      ) -> tuple[list[ObservationRead], str | None]:
    stmt = _where(sa.select(Observation.id, Observation.kpi_id, Observation.ts, Observation.value,
                            Observation.labels, Observation.source), flt).limit(limit + 1)
    rows = session.execute(stmt).all()
    page, next_cursor = page_window(rows, limit, lambda r: Cursor(CURSOR_KEYS, (r.kpi_id, r.ts.isoformat(), r.id)))
    codes = _codes(session, {r.kpi_id for r in page})
    return [ObservationRead(id=r.id, kpi=codes[r.kpi_id], ts=r.ts, value=r.value, labels=r.labels,
                            source=r.source) for r in page], next_cursor


def _codes(session: Session, ids: set[int] | None = None) -> dict[int, str]:
    stmt = sa.select(Kpi.id, Kpi.code)
    if ids is not None:
        stmt = stmt.where(col(Kpi.id).in_(ids))
    return dict(session.execute(stmt).all())


def export_chunks(session: Session, flt: ObservationFilter, *, chunk_rows: int = EXPORT_CHUNK_ROWS
                  ) -> Iterator[pl.DataFrame]:
    """Frames of at most `chunk_rows` observations (EXPORT_SCHEMA), read with a server-side cursor."""
    codes = _codes(session, set(flt.kpi_ids) if flt.kpi_ids is not None else None)
    stmt = _where(sa.select(Observation.id, Observation.kpi_id, ts_raw(session), Observation.value,
                            Observation.source, sa.cast(Observation.labels, sa.Text).label("labels")), flt)
    raw_schema = {"id": pl.Int64, "kpi_id": pl.Int64, "ts": pl.String, "value": pl.Float64,
                  "source": pl.String, "labels": pl.String}
    if session.get_bind().dialect.name == "postgresql":
        raw_schema["ts"] = pl.Int64
    to_ts = ts_from_raw(session)
    kpi_code = pl.col("kpi_id").replace_strict(list(codes), list(codes.values()), return_dtype=pl.String)
    result = session.connection().execute(stmt.execution_options(stream_results=True, yield_per=chunk_rows))
    try:
        for rows in result.partitions():
            frame = pl.DataFrame([tuple(r) for r in rows], schema=raw_schema, orient="row")
            yield frame.select("id", kpi_code.alias("kpi"), to_ts.alias("ts"), "value", "source", "labels")
    finally:
        result.close()


def _neutralised(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula (= + - @, tab, CR) get a leading apostrophe."""
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(DANGEROUS_PREFIX)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c))
        .alias(c) for c in columns)


def _csv_bytes(frame: pl.DataFrame, *, header: bool) -> bytes:
    text_columns = [c for c, t in frame.schema.items() if t == pl.String]
    out = _neutralised(frame, text_columns).with_columns(
        pl.col(c).dt.convert_time_zone("UTC") for c, t in frame.schema.items() if isinstance(t, pl.Datetime))
    return out.write_csv(include_header=header, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ",
                         date_format="%Y-%m-%d", line_terminator="\r\n").encode()


def csv_stream(chunks: Iterator[pl.DataFrame], columns: Sequence[str]) -> Iterator[bytes]:
    """UTF-8 CSV with a header row even when there are no rows."""
    yield ",".join(columns).encode() + b"\r\n"
    for frame in chunks:
        if frame.height:
            yield _csv_bytes(frame, header=False)


def parquet_stream(chunks: Callable[[], Iterator[pl.DataFrame]], schema: dict[str, Any]) -> Iterator[bytes]:
    """A Parquet file, streamed as polars writes it (row group by row group)."""
    pipe: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
    stop = threading.Event()

    class Sink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            if stop.is_set():
                raise OSError("the client went away")
            chunk = bytes(data)
            pipe.put(chunk)
            return len(chunk)

    def source(with_columns: list[str] | None, _predicate: Any, _n_rows: int | None, _batch: int | None
               ) -> Iterator[pl.DataFrame]:
        for frame in chunks():
            if stop.is_set():
                return
            yield frame.select(with_columns) if with_columns else frame

    def produce() -> None:
        try:
            register_io_source(source, schema=schema).sink_parquet(Sink(), row_group_size=PARQUET_ROW_GROUP)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            pipe.put(exc)
        else:
            pipe.put(None)

    worker = threading.Thread(target=produce, name="parquet-export", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                pipe.get(timeout=0.05)
        worker.join()


def frame_of(points: list[dict[str, Any]], columns: Sequence[str], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([{c: p.get(c) for c in columns} for p in points], schema={c: schema[c] for c in columns})


def series_schema(by: Sequence[str]) -> dict[str, Any]:
    return {"kpi": pl.String, "kpi_id": pl.Int64, "grain": pl.String, "period_start": pl.Date,
            "period_end": pl.Date, **dict.fromkeys(by, pl.String), "count": pl.Int64, "mean": pl.Float64,
            "sum": pl.Float64, "min": pl.Float64, "max": pl.Float64, "p50": pl.Float64, "p95": pl.Float64,
            "value": pl.Float64, "target": pl.Float64, "baseline": pl.Float64}


def series_csv(points: list[dict[str, Any]], by: Sequence[str]) -> bytes:
    schema = series_schema(by)
    frame = frame_of(points, list(schema), schema)
    return b"".join(csv_stream(iter([frame]), list(schema)))


def series_parquet(points: list[dict[str, Any]], by: Sequence[str]) -> bytes:
    schema = series_schema(by)
    buffer = io.BytesIO()
    frame_of(points, list(schema), schema).write_parquet(buffer)
    return buffer.getvalue()


def json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value
