"""Ingestion: all-or-nothing batches of observations (JSON or CSV), idempotency keys.

A batch is checked whole first; any bad row refuses it with every row's number and reason, nothing stored.
Accepted rows go in with one Core `insert()` executemany, the batch is audited once, cached periods the rows
fall into are dropped, and the KPIs' alert rules are evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.core.audit import record
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, PayloadTooLarge, RuleViolation
from app.metrics.models import Aggregation, IdempotencyKey, Kpi, Observation, ObservationBatch
from app.metrics.schemas import MAX_BATCH_ROWS, BatchRead, ObservationIn
from app.metrics.series import invalidate_cache
from app.metrics.service import can_ingest, evaluate_alerts, require_team
from app.users.models import User

MAX_REPORTED_ERRORS = 200
MAX_CSV_BYTES = 8 * 1024 * 1024
IDEMPOTENCY_KEY_DAYS = 7
CSV_COLUMNS = ("kpi", "ts", "value")
CSV_OPTIONAL = ("source",)


def row_error(row: int, field: str, message: str, type_: str, *, line: int | None = None,
              loc_prefix: tuple[str, ...] = ("body", "observations")) -> dict[str, Any]:
    err: dict[str, Any] = {"loc": [*loc_prefix, row - 1, field], "field": field, "row": row,
                           "message": message, "type": type_}
    if line is not None:
        err["line"] = line
    return err


def refuse(errors: list[dict[str, Any]], total_rows: int) -> RuleViolation:
    rows = len({e.get("row") for e in errors})
    return RuleViolation(
        f"{rows} of {total_rows} rows are not valid; nothing was stored. Fix them and send the batch again.",
        errors=errors[:MAX_REPORTED_ERRORS], error_count=len(errors))


def pydantic_row_errors(exc_errors: list[dict[str, Any]], *, row_base: int = 0) -> list[dict[str, Any]]:
    """Validation errors of a whole batch body, each with the 1-based row number it belongs to."""
    out = []
    for err in exc_errors:
        loc = [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())]
        entry = {"loc": loc, "field": ".".join(str(p) for p in loc if p not in ("body",)),
                 "message": err.get("msg", "invalid"), "type": err.get("type", "value_error")}
        if len(loc) >= 3 and loc[:2] == ["body", "observations"] and isinstance(loc[2], int):
            entry["row"] = loc[2] + 1 + row_base
            entry["field"] = ".".join(str(p) for p in loc[3:]) or "row"
        out.append(entry)
    return out


@dataclass
class Row:
    """An observation that passed validation, with where it came from."""

    data: ObservationIn
    row: int
    line: int | None = None


def _check_rows(session: Session, rows: list[Row], loc_prefix: tuple[str, ...]) -> tuple[
        dict[str, Kpi], list[dict[str, Any]]]:
    codes = {r.data.kpi.upper() for r in rows}
    kpis = {k.code_norm: k for k in session.exec(select(Kpi).where(col(Kpi.code_norm).in_(codes)))}
    errors = []
    for r in rows:
        kpi = kpis.get(r.data.kpi.upper())
        if kpi is None:
            errors.append(row_error(r.row, "kpi", f"unknown KPI {r.data.kpi!r}", "unknown_kpi", line=r.line,
                                    loc_prefix=loc_prefix))
        elif kpi.aggregation == Aggregation.rate and not 0 <= r.data.value <= 1:
            errors.append(row_error(r.row, "value", "a rate KPI takes values between 0 and 1 (1 = the event "
                                    "happened)", "rate_range", line=r.line, loc_prefix=loc_prefix))
    return kpis, errors


def ingest(session: Session, rows: list[Row], actor: User, *, origin: str, source: str | None = None,
           token_id: int | None = None, loc_prefix: tuple[str, ...] = ("body", "observations")) -> BatchRead:
    """Store a checked batch whole, or refuse it whole with every bad row's number and reason."""
    if not can_ingest(actor):
        raise Forbidden("Viewers cannot record observations.")
    if not rows:
        raise RuleViolation("The batch has no rows.")
    if len(rows) > MAX_BATCH_ROWS:
        raise PayloadTooLarge(f"A batch holds at most {MAX_BATCH_ROWS} rows; split it.")
    kpis, errors = _check_rows(session, rows, loc_prefix)
    if errors:
        raise refuse(errors, len(rows))
    # A KPI of an initiative takes observations from its team (and administrators); a service token sends
    # as its owner, so an integration an administrator set up may feed every KPI.
    for initiative_id in sorted({k.initiative_id for k in kpis.values() if k.initiative_id is not None}):
        require_team(session, actor, initiative_id, "record observations of its KPIs")

    ranges: dict[int, tuple[datetime, datetime]] = {}
    values = []
    for r in rows:
        kpi_id = kpis[r.data.kpi.upper()].id
        ts = r.data.ts.astimezone(UTC)
        low, high = ranges.get(kpi_id, (ts, ts))
        ranges[kpi_id] = (min(low, ts), max(high, ts))
        values.append({"kpi_id": kpi_id, "ts": ts, "value": float(r.data.value),
                       "labels": r.data.labels or None, "source": r.data.source or source})
    batch = ObservationBatch(
        created_by_id=actor.id, token_id=token_id, origin=origin, source=source, row_count=len(values),
        kpi_ids=sorted(ranges), min_ts=min(lo for lo, _ in ranges.values()),
        max_ts=max(hi for _, hi in ranges.values()))
    session.add(batch)
    session.flush()
    for v in values:
        v["batch_id"] = batch.id
    # Core executemany on the table (not the ORM bulk path): one prepared statement, pipelined by psycopg.
    session.connection().execute(Observation.__table__.insert(), values)
    invalidate_cache(session, ranges)
    codes = sorted(k.code for k in kpis.values())
    record(session, actor, "ingest", "observation_batch", batch.id, None, {
        "origin": origin, "source": source, "rows": len(values), "kpis": codes,
        "min_ts": batch.min_ts.isoformat(), "max_ts": batch.max_ts.isoformat(), "token_id": token_id})
    alerts = evaluate_alerts(session, sorted(ranges))
    return BatchRead(batch_id=batch.id, accepted=len(values), kpis=codes, min_ts=batch.min_ts,
                     max_ts=batch.max_ts, alerts=alerts)


# ---------------------------------------------------------------- CSV

@dataclass
class ParsedCsv:
    rows: list[Row]
    errors: list[dict[str, Any]]
    labels: list[str]
    total: int


def parse_csv(data: bytes, *, tz: str | None = None) -> ParsedCsv:
    """Rows of a CSV file: header `kpi,ts,value` plus optional `source`; any other column is a label.

    UTF-8 (with or without BOM), comma or semicolon separated. Times without an offset are read in the
    business time zone. `row` is the data row's number (1 = first after the header), `line` the file line.
    """
    if len(data) > MAX_CSV_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleViolation("The file is not UTF-8 text. Save it as “CSV UTF-8”.") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    loc = ("body", "csv")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise RuleViolation(f"The header lacks the column(s) {', '.join(missing)}; it needs kpi, ts, value "
                            "(and optionally source and label columns).",
                            errors=[{"loc": [*loc, 0], "field": "header", "line": 1,
                                     "message": f"missing column(s): {', '.join(missing)}", "type": "missing"}])
    if len(set(header)) != len(header) or "" in header:
        raise RuleViolation("The header has empty or repeated column names.")
    label_names = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    bad_labels = [h for h in label_names if not _label_ok(h)]
    if bad_labels or len(label_names) > 10:
        raise RuleViolation("Label columns are named with letters, digits and `_` (at most 10): "
                            f"{', '.join(bad_labels) or 'too many'}.")
    zone = ZoneInfo(tz or get_settings().business_timezone)
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    total = 0
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        total += 1
        line = reader.line_num
        if total > MAX_BATCH_ROWS:
            raise PayloadTooLarge(f"A file holds at most {MAX_BATCH_ROWS} rows; split it.")
        if len(cells) != len(header):
            errors.append({"loc": [*loc, total - 1], "field": "row", "row": total, "line": line,
                           "message": f"{len(cells)} cells, the header has {len(header)}", "type": "shape"})
            continue
        cell = dict(zip(header, (c.strip() for c in cells), strict=True))
        raw: dict[str, Any] = {"kpi": cell["kpi"], "source": cell.get("source") or None}
        labels = {n: cell[n] for n in label_names if cell[n]}
        raw["labels"] = labels or None
        try:
            # Semicolon-separated files come from spreadsheets that write decimal commas (12,5).
            raw["value"] = float(cell["value"].replace(",", ".") if delimiter == ";" else cell["value"])
        except ValueError:
            errors.append(_csv_error(total, line, "value", "not a number", "float_parsing"))
            continue
        try:
            ts = datetime.fromisoformat(cell["ts"].replace(" ", "T", 1) if " " in cell["ts"] else cell["ts"])
        except ValueError:
            errors.append(_csv_error(total, line, "ts", "not an ISO-8601 time (2025-03-03T09:30:00+08:00)",
                                     "datetime_parsing"))
            continue
        raw["ts"] = ts if ts.tzinfo else ts.replace(tzinfo=zone)
        try:
            rows.append(Row(ObservationIn.model_validate(raw), row=total, line=line))
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"]) or "row"
                errors.append(_csv_error(total, line, field, e["msg"], e["type"]))
    return ParsedCsv(rows=rows, errors=errors, labels=label_names, total=total)


def _label_ok(name: str) -> bool:
    return name[:1].isascii() and name[:1].isalpha() and all(
        c.isascii() and (c.isalnum() or c == "_") for c in name) and len(name) <= 40


def _csv_error(row: int, line: int, field: str, message: str, type_: str) -> dict[str, Any]:
    return {"loc": ["body", "csv", row - 1, field], "field": field, "row": row, "line": line,
            "message": message, "type": type_}


def check_csv_kpis(session: Session, parsed: ParsedCsv) -> list[dict[str, Any]]:
    """The errors a CSV would be refused with: parse errors plus unknown KPIs and rates out of range."""
    _, errors = _check_rows(session, parsed.rows, ("body", "csv"))
    for e in errors:
        e["loc"][1] = "csv"
    return sorted(parsed.errors + errors, key=lambda e: (e.get("row", 0), e["field"]))


def ingest_csv(session: Session, data: bytes, actor: User, *, origin: str, source: str | None = None,
               token_id: int | None = None) -> BatchRead:
    if not can_ingest(actor):
        raise Forbidden("Viewers cannot record observations.")
    parsed = parse_csv(data)
    if parsed.total == 0:
        raise RuleViolation("The file has no data rows.")
    errors = check_csv_kpis(session, parsed)
    if errors:
        raise refuse(errors, parsed.total)
    return ingest(session, parsed.rows, actor, origin=origin, source=source, token_id=token_id,
                  loc_prefix=("body", "csv"))


# ---------------------------------------------------------------- idempotency keys

def principal(user: User, token_id: int | None) -> str:
    return f"token:{token_id}" if token_id is not None else f"user:{user.id}"


def body_hash(endpoint: str, body: bytes) -> str:
    return hashlib.sha256(endpoint.encode() + b"\n" + body).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise RuleViolation("Idempotency-Key must be 1 to 200 printable ASCII characters.",
                            errors=[{"loc": ["header", "Idempotency-Key"], "field": "Idempotency-Key",
                                     "message": "1 to 200 printable ASCII characters", "type": "value_error"}])
    return key


def replay(session: Session, who: str, key: str, request_hash: str) -> IdempotencyKey | None:
    """The stored first answer for this key, or None; 422 when the key was used with another request."""
    stored = session.exec(select(IdempotencyKey).where(IdempotencyKey.principal == who,
                                                       IdempotencyKey.key == key)).first()
    if stored is not None and stored.request_hash != request_hash:
        raise RuleViolation("This Idempotency-Key was already used with another request body; use a new key "
                            "for a new batch.", errors=[{"loc": ["header", "Idempotency-Key"],
                                                         "field": "Idempotency-Key", "message": "reused",
                                                         "type": "idempotency_key_reused"}])
    return stored


def remember(session: Session, who: str, key: str, endpoint: str, request_hash: str, status_code: int,
             response: dict[str, Any]) -> None:
    """Store the first answer; a concurrent request with the same key loses with 409 and stores nothing."""
    session.execute(sa.delete(IdempotencyKey).where(
        IdempotencyKey.created_at < utcnow() - timedelta(days=IDEMPOTENCY_KEY_DAYS)))
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(principal=who, key=key, endpoint=endpoint, request_hash=request_hash,
                                       status_code=status_code, response=response))
            session.flush()
    except sa.exc.IntegrityError as exc:
        raise Conflict("Another request with this Idempotency-Key was processed at the same time; "
                       "send it again to get its answer.") from exc
