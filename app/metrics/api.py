"""Metrics JSON API: KPI definitions, ingestion, series and raw observations for BI tools, alerts.

Reading metrics needs the `metrics:read` or the `read` scope (people have every scope); recording
observations needs `metrics:write`; changing KPI definitions and alert rules needs `write`.
Who may do what (app.metrics.service) is said in each route's description: reads are open to everyone
signed in; for a KPI of an initiative, writes also follow the team rule (its team members and administrators).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from sqlmodel import Session

from app.auth.deps import Actor, CurrentActor, require_any_scope, require_scope
from app.core.audit import AuditRead
from app.core.config import get_settings
from app.core.db import SessionDep, new_session, utcnow
from app.core.errors import PayloadTooLarge, RuleViolation
from app.core.etag import optional_version, required_version, set_etag
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.metrics import export, ingest, service
from app.metrics.models import AlertStatus, Grain, Kpi, KpiAlertRule
from app.metrics.schemas import (
    LABEL_KEY_PATTERN,
    AlertPage,
    AlertRead,
    AlertRuleCreate,
    AlertRuleRead,
    AlertRuleUpdate,
    BatchRead,
    Comparison,
    CsvPreview,
    CsvPreviewRow,
    ExportFormat,
    KpiCreate,
    KpiPage,
    KpiRead,
    KpiUpdate,
    ObservationBatchIn,
    ObservationPage,
    SeriesPage,
)
from app.metrics.series import (
    MAX_BY,
    MAX_SERIES_KPIS,
    SeriesQuery,
    compare,
    local_date,
    local_midnight,
    series_frame,
    series_points,
    zone,
)

OBSERVATIONS_PAGE_MAX = 10_000
MAX_EXPORT_KPIS = 500
CSV_MEDIA = "text/csv; charset=utf-8"
PARQUET_MEDIA = "application/vnd.apache.parquet"


READ = require_any_scope("metrics:read", "read")
INGEST = require_scope("metrics:write")
DEFINE = require_scope("write")
ACK = require_any_scope("metrics:write", "write")

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid credentials"},
    403: {"description": "The token lacks the scope, the role does not allow this, or the KPI belongs to an "
          "initiative whose team the caller is not on"},
}


class BatchRoute(APIRoute):
    """Validation errors of a batch come back with the 1-based number of each bad row; nothing is stored."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raw = list(exc.errors())
                if any(e.get("type") == "too_long" and list(e.get("loc", ())) == ["body", "observations"]
                       for e in raw):
                    raise PayloadTooLarge(f"A batch holds at most {ingest.MAX_BATCH_ROWS} rows; split it.") from exc
                errors = ingest.pydantic_row_errors(raw)
                rows = {e["row"] for e in errors if "row" in e}
                detail = (f"{len(rows)} rows are not valid; nothing was stored. Fix them and send the batch "
                          "again." if rows else "The request is not valid; nothing was stored.")
                raise RuleViolation(detail, errors=errors[: ingest.MAX_REPORTED_ERRORS],
                                    error_count=len(errors)) from exc

        return route


router = APIRouter(tags=["metrics"], responses=_PROBLEMS)
batch_router = APIRouter(tags=["metrics"], route_class=BatchRoute, responses=_PROBLEMS)


# ---------------------------------------------------------------- helpers

def parse_instant(value: str | None, tz: str, field: str) -> datetime | None:
    """`2025-03-01` (local midnight in `tz`), or an ISO-8601 time (without offset: in `tz`)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return local_midnight(date.fromisoformat(value), tz)
        parsed = datetime.fromisoformat(value.replace(" ", "+") if value.count(" ") == 1 and "T" in value
                                        else value)
    except ValueError as exc:
        raise RuleViolation(f"{field} must be a date (2025-03-01) or an ISO-8601 time.", errors=[
            {"loc": ["query", field], "field": field, "message": "not a date or ISO-8601 time",
             "type": "datetime_parsing"}]) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed


def _codes(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(c.strip() for c in v.split(",") if c.strip())
    return out


def _kpis(session: Session, codes: list[str], *, required: bool, limit: int = MAX_SERIES_KPIS
          ) -> list[Kpi] | None:
    codes = list(dict.fromkeys(_codes(codes)))
    if not codes:
        if required:
            raise RuleViolation("Name at least one KPI: kpi=CODE.", errors=[
                {"loc": ["query", "kpi"], "field": "kpi", "message": "required", "type": "missing"}])
        return None
    if len(codes) > limit:
        raise RuleViolation(f"At most {limit} KPIs per request.")
    return service.kpis_by_codes(session, codes)


def _by(values: list[str] | None) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(_codes(values)))
    if len(names) > MAX_BY or any(not re.fullmatch(LABEL_KEY_PATTERN, n) for n in names):
        raise RuleViolation(f"by takes up to {MAX_BY} label names (letters, digits, _).", errors=[
            {"loc": ["query", "by"], "field": "by", "message": "invalid label names", "type": "value_error"}])
    reserved = {"kpi", "kpi_id", "grain", "period_start", "period_end", "value", "target", "baseline",
                *service.aggregate.AGGREGATION_COLUMN, "count", "min", "max"}
    if reserved & set(names):
        raise RuleViolation("A label named like a series column cannot be a breakdown.")
    return names


def _token_id(actor: Actor) -> int | None:
    return actor.token.id if actor.token is not None else None


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
IdemKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="Any unique string (a UUID). A retry with the same key and body returns the first answer "
    "and stores nothing twice; the same key with another body is refused with 422. Kept 7 days.")]


# ---------------------------------------------------------------- KPI definitions

def _one(session: Session, response: Response, kpi: Kpi) -> KpiRead:
    set_etag(response, "kpi", kpi.id, kpi.version)
    return service.to_read(session, [kpi])[0]


@router.get("/kpis", response_model=KpiPage, dependencies=[READ])
def list_kpis(
    request: Request, response: Response, session: SessionDep, actor: CurrentActor,
    process_id: Id | None = None, initiative_id: Id | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text search in code and names")] = None,
    limit: Annotated[int, Query(ge=1, description="Page size; capped at PAGE_SIZE_MAX")] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """KPI definitions sorted by code, one keyset page at a time. Needs the `metrics:read` or the `read` scope.
    Who: everyone signed in, viewers included."""
    rows, next_cursor = service.list_kpis(
        session, service.KpiFilter(process_id=process_id, initiative_id=initiative_id, q=q or None),
        limit=min(limit, get_settings().page_size_max), cursor=cursor)
    set_link_header(request, response, next_cursor)
    return KpiPage(items=service.to_read(session, rows), next_cursor=next_cursor)


@router.post("/kpis", status_code=status.HTTP_201_CREATED, response_model=KpiRead, dependencies=[DEFINE],
             responses={409: {"description": "Code already used"}})
def create_kpi(data: KpiCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Define a KPI. Who: members, leads and administrators (not viewers; scope `write`); a KPI of an
    initiative (`initiative_id`) only its team members and administrators (the team rule; others get 403)."""
    kpi = service.create_kpi(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/kpis/{kpi.id}"
    return _one(session, response, kpi)


@router.get("/kpis/{kpi_id}", response_model=KpiRead, dependencies=[READ],
            responses={404: {"description": "No such KPI"}})
def read_kpi(kpi_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One KPI, with its `ETag` for a later `PATCH`. Needs the `metrics:read` or the `read` scope.
    Who: everyone signed in, viewers included."""
    return _one(session, response, service.get_kpi(session, kpi_id))


@router.patch("/kpis/{kpi_id}", response_model=KpiRead, dependencies=[DEFINE], responses={
    404: {"description": "No such KPI"}, 412: {"description": "If-Match is stale"},
    428: {"description": "If-Match missing"}})
def update_kpi(kpi_id: Id, data: KpiUpdate, request: Request, session: SessionDep, actor: CurrentActor,
               response: Response):
    """Change a KPI. Requires `If-Match` with the ETag last read.

    Who: its owner (a member), leads and administrators (scope `write`); for a KPI of an initiative, only
    those of them on its team, and administrators; moving a KPI onto an initiative needs its team too."""
    expected = required_version(request, "kpi", kpi_id)
    return _one(session, response, service.update_kpi(session, kpi_id, data, actor.user,
                                                      expected_version=expected))


@router.get("/kpis/{kpi_id}/history", response_model=list[AuditRead], dependencies=[READ])
def kpi_history(kpi_id: Id, session: SessionDep, actor: CurrentActor):
    """The audit trail of a KPI definition, newest first. Who: administrators and leads."""
    return service.kpi_history(session, kpi_id, actor.user)


@router.get("/kpis/{kpi_id}/compare", response_model=Comparison, dependencies=[READ],
            responses={404: {"description": "No such KPI"}})
def compare_kpi(
    kpi_id: Id, session: SessionDep, actor: CurrentActor,
    after_from: Annotated[str, Query(description="Start of the period judged (date or ISO time)",
                                     examples=["2025-04-01"])],
    after_to: Annotated[str, Query(description="Its end, exclusive", examples=["2025-05-01"])],
    before_from: Annotated[str | None, Query(description="Start of the baseline period",
                                             examples=["2025-01-01"])] = None,
    before_to: Annotated[str | None, Query(description="Its end, exclusive", examples=["2025-04-01"])] = None,
    before_value: Annotated[float | None, Query(description="A baseline value instead of a period; "
                                                "default: the KPI's baseline")] = None,
    tz: Annotated[str | None, Query(description="Time zone for dates; default BUSINESS_TIMEZONE")] = None,
):
    """Before/after of a pilot or a quarterly review: both periods aggregated with the KPI's aggregation,
    the difference rate `(after - before) / before` (30 -> 8 min is -0.733) and whether the target is met
    given the KPI's direction. Needs the `metrics:read` or the `read` scope. Who: everyone signed in."""
    kpi = service.get_kpi(session, kpi_id)
    tz = zone(tz)
    after = (parse_instant(after_from, tz, "after_from"), parse_instant(after_to, tz, "after_to"))
    before = None
    if before_from or before_to:
        if not (before_from and before_to):
            raise RuleViolation("Give both before_from and before_to, or neither.")
        before = (parse_instant(before_from, tz, "before_from"), parse_instant(before_to, tz, "before_to"))
    return compare(session, kpi, after=after, before=before, before_value=before_value)  # type: ignore[arg-type]


# ---------------------------------------------------------------- alert rules

def _rule(response: Response, rule: KpiAlertRule) -> AlertRuleRead:
    set_etag(response, "kpi-alert-rule", rule.id, rule.version)
    return service.rule_read(rule)


@router.get("/kpis/{kpi_id}/alert-rules", response_model=list[AlertRuleRead], dependencies=[READ])
def list_alert_rules(kpi_id: Id, session: SessionDep, actor: CurrentActor):
    """The KPI's alert rules. Needs the `metrics:read` or the `read` scope. Who: everyone signed in."""
    return [service.rule_read(r) for r in service.list_rules(session, kpi_id)]


@router.post("/kpis/{kpi_id}/alert-rules", status_code=status.HTTP_201_CREATED, response_model=AlertRuleRead,
             dependencies=[DEFINE])
def create_alert_rule(kpi_id: Id, data: AlertRuleCreate, session: SessionDep, actor: CurrentActor,
                      response: Response):
    """Add a rule: `target_breach` (the latest period is on the wrong side of the target) or `worsening`
    (worse than the mean of the previous `periods` periods by more than `percent` %). Rules are evaluated
    whenever data for the KPI arrives, and once now.

    Who: as for changing the KPI: its owner, leads and administrators (scope `write`); for a KPI of an
    initiative, only those of them on its team, and administrators."""
    return _rule(response, service.create_rule(session, kpi_id, data, actor.user))


@router.patch("/kpis/{kpi_id}/alert-rules/{rule_id}", response_model=AlertRuleRead, dependencies=[DEFINE],
              responses={412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}})
def update_alert_rule(kpi_id: Id, rule_id: Id, data: AlertRuleUpdate, request: Request, session: SessionDep,
                      actor: CurrentActor, response: Response):
    """Change or switch off (`is_active: false`) a rule. Requires `If-Match`.

    Who: as for changing the KPI: its owner, leads and administrators (scope `write`); for a KPI of an
    initiative, only those of them on its team, and administrators."""
    expected = required_version(request, "kpi-alert-rule", rule_id)
    return _rule(response, service.update_rule(session, kpi_id, rule_id, data, actor.user,
                                               expected_version=expected))


# ---------------------------------------------------------------- alerts

@router.get("/alerts", response_model=AlertPage, dependencies=[READ])
def list_alerts(
    request: Request, response: Response, session: SessionDep, actor: CurrentActor,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    kpi: Annotated[list[str] | None, Query(description="KPI codes (repeat or comma-separate)")] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """Alerts, newest first. Needs the `metrics:read` or the `read` scope. Who: everyone signed in."""
    kpis = _kpis(session, kpi or [], required=False)
    flt = service.AlertFilter(status=status_, kpi_ids=tuple(k.id for k in kpis) if kpis else None)
    rows, next_cursor = service.list_alerts(session, flt, limit=min(limit, get_settings().page_size_max),
                                            cursor=cursor)
    set_link_header(request, response, next_cursor)
    return AlertPage(items=service.alerts_read(session, rows), next_cursor=next_cursor)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead, dependencies=[ACK])
def acknowledge_alert(alert_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                      response: Response):
    """Acknowledge an alert. `If-Match` is honoured.

    Who: members, leads and administrators (not viewers; scope `metrics:write` or `write`); an alert of a
    KPI of an initiative, only its team members and administrators (the team rule)."""
    alert = service.acknowledge(session, alert_id, actor.user,
                                expected_version=optional_version(request, "kpi-alert", alert_id))
    set_etag(response, "kpi-alert", alert.id, alert.version)
    return service.alerts_read(session, [alert])[0]


# ---------------------------------------------------------------- ingestion

def _idempotent(session: Session, actor: Actor, key: str | None, endpoint: str, body: bytes
                ) -> tuple[str | None, str, Response | None]:
    if key is None:
        return None, "", None
    key = ingest.check_key(key)
    digest = ingest.body_hash(endpoint, body)
    stored = ingest.replay(session, ingest.principal(actor.user, _token_id(actor)), key, digest)
    if stored is not None:
        return key, digest, JSONResponse(stored.response, status_code=stored.status_code,
                                         headers={"Idempotent-Replayed": "true"})
    return key, digest, None


def _answer(session: Session, actor: Actor, key: str | None, digest: str, endpoint: str,
            result: BatchRead) -> JSONResponse:
    body = json.loads(result.model_dump_json())
    if key is not None:
        ingest.remember(session, ingest.principal(actor.user, _token_id(actor)), key, endpoint, digest, 201, body)
    return JSONResponse(body, status_code=201)


_BATCH_EXAMPLE = {
    "source": "crm",
    "observations": [
        {"kpi": "YH-LC01-ACT", "ts": "2025-03-03T09:30:00+08:00", "value": 8.5, "labels": {"team": "A"}},
        {"kpi": "YH-LC01-ERR", "ts": "2025-03-03T09:30:00+08:00", "value": 0},
    ],
}


@batch_router.post("/observations", status_code=status.HTTP_201_CREATED, response_model=BatchRead,
                   dependencies=[INGEST], responses={
                       413: {"description": "More than 10,000 rows"},
                       422: {"description": "Bad rows (each with its `row` number and reason) or a reused "
                             "Idempotency-Key; nothing stored"},
                       409: {"description": "A concurrent request with the same Idempotency-Key"}})
def post_observations(
    data: Annotated[ObservationBatchIn, Body(openapi_examples={"batch": {"value": _BATCH_EXAMPLE}})],
    session: SessionDep, actor: CurrentActor, body: RawBody, idempotency_key: IdemKey = None,
):
    """Record up to 10,000 observations, all or nothing (scope `metrics:write`; not viewers).

    A bad row refuses the whole batch: `errors[]` names each row (`row`, 1-based) and why. Send an
    `Idempotency-Key` so a retry after a timeout stores nothing twice (the answer carries
    `Idempotent-Replayed: true` when it is the stored first answer).

    Who: members, leads and administrators, and service tokens with the scope (not viewers); a KPI of an
    initiative only from its team and administrators (the team rule: 403 for the whole batch). A service
    token sends as its owner: one an administrator created may feed every KPI."""
    key, digest, replayed = _idempotent(session, actor, idempotency_key, "observations", body)
    if replayed is not None:
        return replayed
    rows = [ingest.Row(o, row=i + 1) for i, o in enumerate(data.observations)]
    result = ingest.ingest(session, rows, actor.user, origin="api", source=data.source,
                           token_id=_token_id(actor))
    return _answer(session, actor, key, digest, "observations", result)


_CSV_EXAMPLE = ("kpi,ts,value,team,source\n"
                "YH-LC01-ACT,2025-03-03T09:30:00+08:00,8.5,A,crm\n"
                "YH-LC01-ERR,2025-03-03 09:31,0,A,crm\n")


@batch_router.post("/observations/csv", status_code=status.HTTP_201_CREATED, response_model=BatchRead,
                   dependencies=[INGEST], openapi_extra={"requestBody": {"required": True, "content": {
                       "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}}}},
                   responses={200: {"model": CsvPreview, "description": "The preview (`dry_run=true`)"},
                              413: {"description": "More than 10,000 rows or 8 MiB"},
                              422: {"description": "Bad rows, each with `row`, `line` and reason; nothing stored"}})
def post_observations_csv(
    session: SessionDep, actor: CurrentActor, body: RawBody, idempotency_key: IdemKey = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    dry_run: Annotated[bool, Query(description="Check and preview only; store nothing")] = False,
):
    """Record observations from a CSV file (UTF-8, header row), all or nothing.

    Columns: `kpi`, `ts`, `value`, optional `source`; every other column is a label (`team`, `channel`...).
    Times without an offset are read in the business time zone. Example:
    `curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/csv" --data-binary @obs.csv .../observations/csv`

    Who: as `POST /observations` (scope `metrics:write`, not viewers; the team rule for KPIs of initiatives).
    """
    if dry_run:
        return JSONResponse(json.loads(preview(session, body).model_dump_json()), status_code=200)
    key, digest, replayed = _idempotent(session, actor, idempotency_key, "observations/csv", body)
    if replayed is not None:
        return replayed
    result = ingest.ingest_csv(session, body, actor.user, origin="csv", source=source, token_id=_token_id(actor))
    return _answer(session, actor, key, digest, "observations/csv", result)


def preview(session: Session, data: bytes, sample: int = 20) -> CsvPreview:
    parsed = ingest.parse_csv(data)
    errors = ingest.check_csv_kpis(session, parsed)
    return CsvPreview(
        rows=parsed.total, kpis=sorted({r.data.kpi.upper() for r in parsed.rows}), labels=parsed.labels,
        sample=[CsvPreviewRow(row=r.row, line=r.line or 0, kpi=r.data.kpi, ts=r.data.ts, value=r.data.value,
                              labels=r.data.labels, source=r.data.source) for r in parsed.rows[:sample]],
        errors=errors[: ingest.MAX_REPORTED_ERRORS], error_count=len(errors))


# ---------------------------------------------------------------- BI endpoints

_SERIES_CSV = ("kpi,kpi_id,grain,period_start,period_end,count,mean,sum,min,max,p50,p95,value,target,baseline\r\n"
               "YH-LC01-ACT,1,week,2025-03-03,2025-03-10,212,8.1,1717.2,2.0,21.5,7.6,14.9,8.1,8.0,30.0\r\n")
_OBS_CSV = ("id,kpi,ts,value,source,labels\r\n"
            "1,YH-LC01-ACT,2025-03-03T01:30:00Z,8.5,crm,\"{\"\"team\"\": \"\"A\"\"}\"\r\n")


def _file_response(content: bytes, media: str, filename: str) -> Response:
    return Response(content, media_type=media, headers={"Content-Disposition": f'inline; filename="{filename}"'})


def resolve_series(session: Session, kpi: list[str] | None, grain: Grain, from_: str | None, to: str | None,
                   tz: str | None, by: list[str] | None) -> tuple[list[Kpi], SeriesQuery]:
    tz = zone(tz)
    kpis = _kpis(session, kpi or [], required=True) or []
    start_at, end_at = parse_instant(from_, tz, "from"), parse_instant(to, tz, "to")
    today = local_date(utcnow(), tz)
    end = local_date(end_at, tz) if end_at else today + timedelta(days=1)
    if end_at and local_midnight(end, tz) < end_at:  # a time within a day: that day's period counts
        end += timedelta(days=1)
    start = local_date(start_at, tz) if start_at else end - timedelta(days=365)
    if start >= end:
        raise RuleViolation("from must be before to.", errors=[
            {"loc": ["query", "from"], "field": "from", "message": "after to", "type": "value_error"}])
    return kpis, SeriesQuery(grain=grain, start=start, end=end, tz=tz, by=_by(by))


@router.get("/metrics/series", response_model=SeriesPage, dependencies=[READ], responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": _SERIES_CSV},
                      PARQUET_MEDIA: {"schema": {"type": "string", "format": "binary"}}}}})
def get_series(
    session: SessionDep, actor: CurrentActor,
    kpi: Annotated[list[str], Query(description="KPI code(s): repeat the parameter or separate with commas",
                                    examples=["YH-LC01-ACT"])],
    grain: Annotated[Grain, Query(description="Periods: ISO weeks start on Monday")] = Grain.week,
    from_: Annotated[str | None, Query(alias="from", description="Date or ISO time; the period holding it is "
                                       "the first. Default: a year before `to`", examples=["2024-01-01"])] = None,
    to: Annotated[str | None, Query(description="Date or ISO time, exclusive. Default: tomorrow",
                                    examples=["2026-01-01"])] = None,
    by: Annotated[list[str] | None, Query(description="Break down by up to 3 labels (team, channel...)")] = None,
    tz: Annotated[str | None, Query(description="IANA time zone of the periods; default BUSINESS_TIMEZONE",
                                    examples=["Asia/Shanghai"])] = None,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.json,
):
    """A KPI's series per day, week, month or quarter in the business time zone: count, mean, sum, min, max,
    p50, p95 (linear interpolation like PostgreSQL `percentile_cont`), and `value`, the KPI's default
    aggregation, beside its target and baseline. Periods without observations are left out.

    One fixed URL suits scheduled refreshes (Power BI, Excel, Grafana Infinity):
    `/api/v1/metrics/series?kpi=YH-LC01-ACT&grain=week&from=2024-01-01&format=csv`. Needs the `metrics:read` or the
    `read` scope. Who: everyone signed in."""
    kpis, q = resolve_series(session, kpi, grain, from_, to, tz, by)
    points = series_points(kpis, series_frame(session, [k.id for k in kpis], q), q)
    if format_ == ExportFormat.csv:
        return _file_response(export.series_csv(points, q.by), CSV_MEDIA, "series.csv")
    if format_ == ExportFormat.parquet:
        return _file_response(export.series_parquet(points, q.by), PARQUET_MEDIA, "series.parquet")
    return JSONResponse({"items": [{k: export.json_safe(v) for k, v in p.items()} for p in points],
                         "next_cursor": None})


@router.get("/metrics/observations", response_model=ObservationPage, dependencies=[READ], responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": _OBS_CSV},
                      PARQUET_MEDIA: {"schema": {"type": "string", "format": "binary"}}}}})
def get_observations(
    request: Request, response: Response, session: SessionDep, actor: CurrentActor,
    kpi: Annotated[list[str] | None, Query(description="KPI code(s); default: all KPIs",
                                           examples=["YH-LC01-ACT"])] = None,
    from_: Annotated[str | None, Query(alias="from", description="Date or ISO time, inclusive",
                                       examples=["2025-01-01"])] = None,
    to: Annotated[str | None, Query(description="Date or ISO time, exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=1000, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=OBSERVATIONS_PAGE_MAX, description="Page size of `format=json`")] = 1000,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.json,
):
    """Raw observations ordered by KPI, time and id. `format=json` pages (`next_cursor`, `Link`);
    `format=csv` (UTF-8, header row, ISO-8601 UTC times, text cells starting with `= + - @` prefixed with `'`)
    and `format=parquet` stream everything after `cursor` with flat server memory. Dates are local dates
    in the business time zone. Needs the `metrics:read` or the `read` scope. Who: everyone signed in."""
    tz = zone(None)
    kpis = _kpis(session, kpi or [], required=False, limit=MAX_EXPORT_KPIS)
    flt = export.ObservationFilter(kpi_ids=tuple(k.id for k in kpis) if kpis is not None else None,
                                   start=parse_instant(from_, tz, "from"), end=parse_instant(to, tz, "to"),
                                   cursor=cursor)
    export.check_cursor(flt)
    if format_ == ExportFormat.json:
        items, next_cursor = export.list_observations(session, flt, limit=limit)
        set_link_header(request, response, next_cursor)
        return ObservationPage(items=items, next_cursor=next_cursor)
    headers = {"Content-Disposition": f'inline; filename="observations.{format_.value}"'}
    media = CSV_MEDIA if format_ == ExportFormat.csv else PARQUET_MEDIA
    return StreamingResponse(_stream(flt, format_), media_type=media, headers=headers)


def _stream(flt: export.ObservationFilter, format_: ExportFormat) -> Iterator[bytes]:
    # A session of its own: opened when the stream starts, closed after its last byte (the request's
    # session is gone by then).
    with new_session() as session:  # read only: closing it ends its transaction
        if format_ == ExportFormat.csv:
            yield from export.csv_stream(export.export_chunks(session, flt), list(export.EXPORT_SCHEMA))
        else:
            yield from export.parquet_stream(lambda: export.export_chunks(session, flt), export.EXPORT_SCHEMA)


router.include_router(batch_router)
