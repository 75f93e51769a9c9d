"""KPI pages: the dashboard (per process or initiative), a KPI's page, its form, and the CSV upload.

Charts are drawn by static/js/metrics.js (Apache ECharts) from `<script type="application/json">` data
blocks; the grain switch, comparisons, rules and alert acknowledgements go through htmx.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, func, select

from app.auth.deps import CurrentActor
from app.core.config import get_settings
from app.core.db import SessionDep, undo_on_error, utcnow
from app.core.errors import AppError, Conflict, Forbidden, PayloadTooLarge, PreconditionFailed, RuleViolation
from app.core.extensions import Section, extends
from app.core.forms import FormData, parse_form, service_errors
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id, parse_id
from app.core.templating import redirect, render
from app.initiatives.models import Initiative, InitiativeMember, InitiativeStatus
from app.metrics import ingest, service
from app.metrics.api import parse_instant, preview
from app.metrics.labels import METRIC_LABELS, alert_message, fmt_rate, fmt_value, mlabel
from app.metrics.models import Aggregation, AlertRuleKind, AlertStatus, Direction, Grain, Kpi, KpiAlert
from app.metrics.schemas import AlertRuleCreate, AlertRuleUpdate, KpiCreate, KpiUpdate
from app.metrics.series import (
    SeriesQuery,
    compare,
    local_date,
    period_floor,
    period_next,
    series_frame,
    series_points,
)
from app.processes.models import Process
from app.users.models import Role, User

router = APIRouter(prefix="/metrics")
PAGE_GRAINS = (Grain.day, Grain.week, Grain.month)
DEFAULT_SPAN = {Grain.day: 90, Grain.week: 52 * 7, Grain.month: 730, Grain.quarter: 3 * 365}
TABLE_ROWS = 8
KPI_TABLE_ROWS = 13
DASHBOARD_KPIS = 50
RELATED_KPIS = 10  # KPIs in a section of another page (process, initiative); the rest on the dashboard


# ---------------------------------------------------------------- shaping for templates and charts

def _tz() -> str:
    return get_settings().business_timezone


def period_label(start: date, grain: Grain) -> str:
    if grain == Grain.week:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == Grain.month:
        return start.strftime("%Y-%m")
    if grain == Grain.quarter:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return start.isoformat()


def _is_better(a: float, b: float, direction: Direction) -> bool:
    return a < b if direction == Direction.lower_is_better else a > b


def kpi_views(session: Session, kpis: list[Kpi], grain: Grain, locale: str, gettext: Any, *,
              table_rows: int | None = TABLE_ROWS) -> list[dict[str, Any]]:
    """Per KPI: its series for the chart (JSON data block), the latest periods for the table, a summary."""
    if not kpis:
        return []
    tz = _tz()
    today = local_date(utcnow(), tz)
    end = period_next(period_floor(today, grain), grain)
    q = SeriesQuery(grain=grain, start=end - timedelta(days=DEFAULT_SPAN[grain]), end=end, tz=tz)
    points = series_points(kpis, series_frame(session, [k.id for k in kpis], q), q)
    by_kpi: dict[int, list[dict[str, Any]]] = {k.id: [] for k in kpis}
    for p in points:
        by_kpi[p["kpi_id"]].append(p)
    views = []
    for kpi in kpis:
        pts = by_kpi[kpi.id]
        rate = kpi.aggregation == Aggregation.rate
        scale = 100 if rate else 1

        def fmt(v: float | None, kpi: Kpi = kpi, rate: bool = rate) -> str:
            return fmt_value(v, kpi.unit, rate, locale)

        latest = pts[-1]["value"] if pts else None
        met = None if latest is None or kpi.target is None else not _is_better(kpi.target, latest, kpi.direction)
        vs_baseline = (latest - kpi.baseline) / kpi.baseline if latest is not None and kpi.baseline else None
        chart = {
            "name": kpi.name(locale), "unit": "%" if rate else kpi.unit, "locale": "ZH" if locale == "zh_CN" else "EN",
            "labels": [period_label(p["period_start"], grain) for p in pts],
            "values": [None if p["value"] is None else round(p["value"] * scale, 4) for p in pts],
            "counts": [p["count"] for p in pts],
            "target": None if kpi.target is None else kpi.target * scale,
            "baseline": None if kpi.baseline is None else kpi.baseline * scale,
            "text": {"target": gettext("Target"), "baseline": gettext("Baseline"), "value": gettext("Value"),
                     "count": gettext("Observations"), "empty": gettext("No data in this range yet.")},
        }
        rows = [{
            "label": period_label(p["period_start"], grain), "count": p["count"], "value": fmt(p["value"]),
            "p50": "—" if rate else fmt(p["p50"]), "p95": "—" if rate else fmt(p["p95"]),
            "met": None if kpi.target is None or p["value"] is None
            else not _is_better(kpi.target, p["value"], kpi.direction),
        } for p in reversed(pts)]
        views.append({
            "kpi": kpi, "chart": chart, "rows": rows[:table_rows] if table_rows else rows,
            "latest": fmt(latest), "target": fmt(kpi.target), "baseline": fmt(kpi.baseline),
            "vs_baseline": fmt_rate(vs_baseline, locale), "improved": None if vs_baseline is None
            else _is_better(latest, kpi.baseline, kpi.direction), "met": met,
        })
    return views


def _alert_views(session: Session, kpis: dict[int, Kpi], status: AlertStatus | None, locale: str,
                 gettext: Any, user: User, limit: int = 20) -> list[dict[str, Any]]:
    if not kpis:
        return []
    alerts, _ = service.list_alerts(session, service.AlertFilter(status=status, kpi_ids=tuple(kpis)),
                                    limit=limit, cursor=None)
    out = []
    may_ack: dict[int, bool] = {}
    for a in alerts:
        kpi = kpis[a.kpi_id]
        if kpi.id not in may_ack:
            may_ack[kpi.id] = service.can_acknowledge(session, user, kpi)
        out.append({"alert": a, "kpi": kpi, "period": period_label(a.period_start, a.grain),
                    "message": alert_message(a, kpi.unit, kpi.aggregation == Aggregation.rate, locale, gettext),
                    "can_ack": may_ack[kpi.id]})
    return out


def _grain(value: str, default: Grain = Grain.week) -> Grain:
    return Grain(value) if value in Grain.__members__ else default


def _common(request: Request) -> tuple[str, Any]:
    locale = negotiate(request)
    return locale, gettext_for(locale)


def _ctx(locale: str, gettext: Any, **extra: Any) -> dict[str, Any]:
    return {"mlabel": lambda kind, value: mlabel(kind, value, gettext), "grains": PAGE_GRAINS,
            "metric_labels": METRIC_LABELS, **extra}


# ---------------------------------------------------------------- dashboard

@router.get("")
def dashboard(
    request: Request, session: SessionDep, actor: CurrentActor,
    process: Annotated[str, Query(max_length=20)] = "",
    initiative: Annotated[str, Query(max_length=20)] = "",
    grain: Annotated[str, Query(max_length=10)] = "week",
) -> Response:
    locale, gettext = _common(request)
    g = _grain(grain)
    process_id, initiative_id = parse_id(process), parse_id(initiative)
    kpis, _ = service.list_kpis(session, service.KpiFilter(process_id=process_id, initiative_id=initiative_id),
                                limit=DASHBOARD_KPIS, cursor=None)
    processes = list(session.exec(select(Process).order_by(col(Process.code_norm))))
    return render(request, "metrics/dashboard.html", _ctx(
        locale, gettext,
        views=kpi_views(session, kpis, g, locale, gettext),
        alerts=_alert_views(session, {k.id: k for k in kpis}, AlertStatus.open, locale, gettext, actor.user),
        processes=processes, process_id=process_id, initiative_id=initiative_id, grain=g,
        process=next((p for p in processes if p.id == process_id), None),
        can_create=service.can_create(actor.user), can_ingest=service.can_ingest(actor.user),
        query={"process": process_id or "", "initiative": initiative_id or ""},
    ), block="charts")


# ---------------------------------------------------------------- a KPI

def _kpi_context(session: Session, kpi: Kpi, actor: CurrentActor, locale: str, gettext: Any, g: Grain
                 ) -> dict[str, Any]:
    today = local_date(utcnow(), _tz())
    return _ctx(
        locale, gettext, kpi=kpi, read=service.to_read(session, [kpi])[0], grain=g,
        process=session.get(Process, kpi.process_id) if kpi.process_id else None,
        initiative=session.get(Initiative, kpi.initiative_id) if kpi.initiative_id else None,
        view=kpi_views(session, [kpi], g, locale, gettext, table_rows=KPI_TABLE_ROWS)[0],
        alerts=_alert_views(session, {kpi.id: kpi}, None, locale, gettext, actor.user),
        rules=service.list_rules(session, kpi.id),
        can_edit=service.can_edit(session, actor.user, kpi), can_ack=service.can_acknowledge(session, actor.user, kpi),
        compare_values={"after_from": (today - timedelta(days=28)).isoformat(),
                        "after_to": (today + timedelta(days=1)).isoformat()},
        comparison=None, compare_error=None,
        rule_errors={}, rule_values={"kind": "worsening", "grain": "week", "percent": "20", "periods": "4"},
        kinds=list(AlertRuleKind), all_grains=list(Grain),
    )


@router.get("/kpis/new")
def new_kpi(request: Request, session: SessionDep, actor: CurrentActor,
            process_id: Annotated[str, Query(max_length=20)] = "",
            initiative_id: Annotated[str, Query(max_length=20)] = "") -> Response:
    """The KPI form, the process and initiative chosen when given (links from their pages)."""
    if not service.can_create(actor.user):
        raise Forbidden("Viewers cannot create KPIs.")
    values = {"direction": "lower_is_better", "aggregation": "mean",
              "process_id": parse_id(process_id) or "", "initiative_id": parse_id(initiative_id) or ""}
    return _form(request, session, values=values, errors={}, user=actor.user)


@router.post("/kpis/new")
def create_kpi(request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """Define a KPI: not viewers; a KPI of an initiative, its team and administrators."""
    _, gettext = _common(request)
    values = _form_values(form, new=True)
    data, errors = parse_form(KpiCreate, _clean(values), gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                kpi = service.create_kpi(session, data, actor.user)
        except (RuleViolation, Conflict) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/metrics/kpis/{kpi.id}", flash="kpi_created")
    return _form(request, session, values=values, errors=errors, user=actor.user, status_code=422)


@router.get("/kpis/{kpi_id}")
def kpi_page(kpi_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
             grain: Annotated[str, Query(max_length=10)] = "week") -> Response:
    locale, gettext = _common(request)
    kpi = service.get_kpi(session, kpi_id)
    return render(request, "metrics/kpi.html", _kpi_context(session, kpi, actor, locale, gettext, _grain(grain)),
                  block="series")


@router.get("/kpis/{kpi_id}/compare")
def kpi_compare(
    kpi_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
    after_from: Annotated[str, Query(max_length=40)] = "", after_to: Annotated[str, Query(max_length=40)] = "",
    before_from: Annotated[str, Query(max_length=40)] = "", before_to: Annotated[str, Query(max_length=40)] = "",
    before_value: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    locale, gettext = _common(request)
    kpi = service.get_kpi(session, kpi_id)
    tz = _tz()
    result, error = None, None
    try:
        after = (parse_instant(after_from, tz, "after_from"), parse_instant(after_to, tz, "after_to"))
        if None in after:
            raise RuleViolation(gettext("Choose the period to judge."))
        before = None
        if before_from or before_to:
            before = (parse_instant(before_from, tz, "before_from"), parse_instant(before_to, tz, "before_to"))
            if None in before:
                raise RuleViolation(gettext("Give both ends of the baseline period."))
        try:
            value = float(before_value) if before_value.strip() else None
        except ValueError as exc:
            raise RuleViolation(gettext("The baseline value is not a number.")) from exc
        c = compare(session, kpi, after=after, before=before, before_value=value)  # type: ignore[arg-type]
    except AppError as exc:
        error = gettext(exc.detail)
    else:
        rate = kpi.aggregation == Aggregation.rate
        result = {**c, "before_text": fmt_value(c["before"], kpi.unit, rate, locale),
                  "after_text": fmt_value(c["after"], kpi.unit, rate, locale),
                  "diff_text": fmt_value(c["diff"], kpi.unit, rate, locale),
                  "rate_text": fmt_rate(c["diff_rate"], locale)}
    ctx = _kpi_context(session, kpi, actor, locale, gettext, Grain.week)
    ctx.update(comparison=result, compare_error=error, compare_values={
        "after_from": after_from, "after_to": after_to, "before_from": before_from, "before_to": before_to,
        "before_value": before_value})
    return render(request, "metrics/kpi.html", ctx, block="comparison", status_code=200 if error is None else 422)


def _form_values(form: dict[str, Any], *, new: bool) -> dict[str, Any]:
    keys = ["name_en", "name_zh", "description", "unit", "direction", "aggregation", "target", "baseline",
            "process_id", "initiative_id"]
    values = {k: form.get(k, "") for k in (["code", *keys] if new else keys)}
    return values


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Empty optional fields are absent values (None), not empty strings."""
    return {k: (None if k in ("target", "baseline", "process_id", "initiative_id") and str(v).strip() == "" else v)
            for k, v in values.items()}


def initiative_choices(session: Session, user: User, process_id: int | None, current: int | None
                       ) -> list[tuple[Process, list[Initiative]]]:
    """The initiatives a KPI may belong to, per process (only `process_id`'s when given): the active ones
    whose team the user is on (the team rule of `service.on_team`; administrators: all), and `current`."""
    stmt = select(Initiative, Process).join(Process, col(Process.id) == Initiative.process_id)
    offered = Initiative.status == InitiativeStatus.active
    if user.role == Role.viewer:
        offered = sa.false()
    elif user.role != Role.admin:
        offered = sa.and_(offered, col(Initiative.id).in_(
            select(InitiativeMember.initiative_id).where(InitiativeMember.user_id == user.id)))
    stmt = stmt.where(sa.or_(offered, col(Initiative.id) == current) if current else offered)
    if process_id is not None:
        stmt = stmt.where(Initiative.process_id == process_id)
    groups: dict[int, tuple[Process, list[Initiative]]] = {}
    for ini, process in session.exec(stmt.order_by(col(Process.code_norm), col(Initiative.id).desc())):
        groups.setdefault(process.id, (process, []))[1].append(ini)
    return list(groups.values())


def _form(request: Request, session: Session, *, values: dict[str, Any], errors: dict[str, str], user: User,
          kpi: Kpi | None = None, status_code: int = 200) -> Response:
    locale, gettext = _common(request)
    return render(request, "metrics/form.html", _ctx(
        locale, gettext, values=values, errors=errors, kpi=kpi,
        processes=list(session.exec(select(Process).order_by(col(Process.code_norm)))),
        initiative_groups=initiative_choices(session, user, parse_id(str(values.get("process_id") or "")),
                                             parse_id(str(values.get("initiative_id") or ""))),
        directions=list(Direction), aggregations=list(Aggregation),
    ), block="form", status_code=status_code)


@router.get("/kpi-form/initiatives")
def initiative_field(request: Request, session: SessionDep, actor: CurrentActor,
                     process_id: Annotated[str, Query(max_length=20)] = "",
                     initiative_id: Annotated[str, Query(max_length=20)] = "") -> Response:
    """The KPI form's initiative field for the process chosen (htmx, when the process changes)."""
    locale, gettext = _common(request)
    values = {"process_id": parse_id(process_id), "initiative_id": parse_id(initiative_id)}
    return render(request, "metrics/_initiative_field.html", _ctx(
        locale, gettext, values=values, errors={},
        initiative_groups=initiative_choices(session, actor.user, values["process_id"], values["initiative_id"])))


@router.get("/kpis/{kpi_id}/edit")
def edit_kpi(kpi_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The KPI form: owner, leads, administrators; a KPI of an initiative, those of them on its team."""
    kpi = service.get_kpi(session, kpi_id)
    service.require_edit(session, actor.user, kpi)
    values = {k: ("" if v is None else v) for k, v in kpi.model_dump().items()}
    values["direction"], values["aggregation"] = kpi.direction.value, kpi.aggregation.value
    return _form(request, session, values=values, errors={}, user=actor.user, kpi=kpi)


@router.post("/kpis/{kpi_id}/edit")
def update_kpi(kpi_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    """Change a KPI: owner, leads, administrators; a KPI of an initiative, those of them on its team."""
    _, gettext = _common(request)
    values = _form_values(form, new=False)
    data, errors = parse_form(KpiUpdate, _clean(values), gettext)
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_kpi(session, kpi_id, data, actor.user, expected_version=version)
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this KPI while you were editing. "
                                         "Their version is shown below; apply your change again.")}
        except (RuleViolation, Conflict) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/metrics/kpis/{kpi_id}", flash="kpi_updated")
    kpi = service.get_kpi(session, kpi_id)
    if version != kpi.version:
        values = {k: ("" if v is None else v) for k, v in kpi.model_dump().items()}
        values["direction"], values["aggregation"] = kpi.direction.value, kpi.aggregation.value
    return _form(request, session, values=values, errors=errors, user=actor.user, kpi=kpi, status_code=422)


# ---------------------------------------------------------------- alert rules and alerts

@router.post("/kpis/{kpi_id}/rules")
def add_rule(kpi_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """Add an alert rule: as changing the KPI (service.require_edit)."""
    locale, gettext = _common(request)
    values = {k: form.get(k, "") for k in ("kind", "grain", "percent", "periods")}
    data_in: dict[str, Any] = {"kind": values["kind"], "grain": values["grain"] or "week"}
    if values["kind"] == "worsening":
        data_in.update(percent=values["percent"] or None, periods=values["periods"] or None)
    data, errors = parse_form(AlertRuleCreate, data_in, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.create_rule(session, kpi_id, data, actor.user)
        except RuleViolation as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/metrics/kpis/{kpi_id}", flash="rule_created")
    kpi = service.get_kpi(session, kpi_id)
    ctx = _kpi_context(session, kpi, actor, locale, gettext, Grain.week)
    ctx.update(rule_errors=errors or {"__all__": gettext("This value is not valid.")}, rule_values=values)
    return render(request, "metrics/kpi.html", ctx, block="rules", status_code=422)


@router.post("/kpis/{kpi_id}/rules/{rule_id}/toggle")
def toggle_rule(kpi_id: Id, rule_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Switch a rule on or off: as changing the KPI (service.require_edit)."""
    rule = service.get_rule(session, kpi_id, rule_id)
    service.update_rule(session, kpi_id, rule_id, AlertRuleUpdate(is_active=not rule.is_active), actor.user,
                        expected_version=rule.version)
    return redirect(request, f"/metrics/kpis/{kpi_id}", flash="rule_updated")


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData
                ) -> Response:
    """Acknowledge an alert: not viewers; a KPI of an initiative, its team and administrators."""
    service.acknowledge(session, alert_id, actor.user, expected_version=None)
    back = form.get("next", "")
    target = back if isinstance(back, str) and back.startswith("/metrics") and "//" not in back else "/metrics"
    return redirect(request, target, flash="alert_acknowledged")


# ---------------------------------------------------------------- CSV upload

async def upload_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    upload = form.get("file")
    data = b""
    filename = ""
    if upload is not None and not isinstance(upload, str):
        data = await upload.read(ingest.MAX_CSV_BYTES + 1)
        filename = upload.filename or ""
    text = {k: v for k, v in form.items() if isinstance(v, str)}
    return {"data": data, "filename": filename, **text}


UploadForm = Annotated[dict[str, Any], Depends(upload_form)]


@router.get("/upload")
def upload_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    if not service.can_ingest(actor.user):
        raise Forbidden("Viewers cannot record observations.")
    locale, gettext = _common(request)
    return render(request, "metrics/upload.html", _ctx(
        locale, gettext, key=secrets.token_urlsafe(16), source="", result=None, errors=[], error_count=0,
        max_rows=ingest.MAX_BATCH_ROWS, tz=_tz()))


@router.post("/upload")
def upload(request: Request, session: SessionDep, actor: CurrentActor, form: UploadForm) -> Response:
    if not service.can_ingest(actor.user):
        raise Forbidden("Viewers cannot record observations.")
    locale, gettext = _common(request)
    data, source = form["data"], (form.get("source") or "").strip()[:100] or None
    ctx = _ctx(locale, gettext, key=form.get("idempotency_key") or secrets.token_urlsafe(16), source=source or "",
               result=None, errors=[], error_count=0, preview=None, new_key=None, max_rows=ingest.MAX_BATCH_ROWS,
               tz=_tz(), filename=form["filename"])
    status_code = 200
    try:
        with undo_on_error(session):
            if not data:
                raise RuleViolation(gettext("Choose a CSV file."))
            if form.get("action") == "import":
                key = ingest.check_key(ctx["key"])
                digest = ingest.body_hash("observations/csv", data)
                who = ingest.principal(actor.user, None)
                stored = ingest.replay(session, who, key, digest)
                if stored is not None:
                    ctx["result"] = stored.response
                else:
                    result = ingest.ingest_csv(session, data, actor.user, origin="page", source=source)
                    body = result.model_dump(mode="json")
                    ingest.remember(session, who, key, "observations/csv", digest, 201, body)
                    ctx["result"] = body
                ctx["new_key"] = secrets.token_urlsafe(16)
            else:
                ctx["preview"] = preview(session, data)
                ctx["errors"], ctx["error_count"] = ctx["preview"].errors, ctx["preview"].error_count
    except (RuleViolation, PayloadTooLarge, Conflict) as exc:
        ctx["errors"] = exc.errors or []
        ctx["error_count"] = exc.extra.get("error_count", len(ctx["errors"]))
        ctx["message"] = gettext(exc.detail)
        status_code = 422 if exc.status != 413 else 413
    return render(request, "metrics/upload.html", ctx, block="result", status_code=status_code)


# ---------------------------------------------------------------- sections of earlier domains' pages

def _open_alerts(session: Session, ids: list[int]) -> dict[int, int]:
    """KPI id -> its open alerts, for those that have some."""
    return dict(session.exec(
        select(KpiAlert.kpi_id, func.count(col(KpiAlert.id)))
        .where(col(KpiAlert.kpi_id).in_(ids), KpiAlert.status == AlertStatus.open).group_by(KpiAlert.kpi_id)
    ).all()) if ids else {}


def _related_kpis(session: Session, flt: service.KpiFilter, **links: Any) -> dict[str, Any]:
    """The first KPIs of a process or an initiative by code, how many there are, their open alerts and the
    initiatives they belong to: the context of metrics/_related_kpis.html."""
    kpis, _ = service.list_kpis(session, flt, limit=RELATED_KPIS, cursor=None)
    where = Kpi.process_id == flt.process_id if flt.process_id is not None else Kpi.initiative_id == flt.initiative_id
    total = session.exec(select(func.count(col(Kpi.id))).where(where)).one()
    alerts = _open_alerts(session, [k.id for k in kpis])
    ini_ids = {k.initiative_id for k in kpis if k.initiative_id and k.initiative_id != flt.initiative_id}
    initiatives = {i.id: i for i in session.exec(select(Initiative).where(col(Initiative.id).in_(ini_ids)))
                   } if ini_ids else {}
    return {"kpis": kpis, "total": total, "open_alerts": alerts, "initiatives": initiatives, **links}


@extends("process_detail")
def _process_kpis(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page lists the process's KPIs, with a link to their dashboard."""
    context = _related_kpis(session, service.KpiFilter(process_id=process_id),
                            all_href=f"/metrics?process={process_id}",
                            new_href=f"/metrics/kpis/new?process_id={process_id}" if service.can_create(user) else None)
    return {"sections": [Section("metrics/_related_kpis.html", context, order=20)]}


@extends("initiative_overview")
def _initiative_kpis(session: Session, initiative_id: int, user: User) -> dict[str, Any]:
    """The initiative overview lists the initiative's KPIs; its team may add one."""
    ini = session.get(Initiative, initiative_id)
    may_add = ini is not None and service.can_create(user) and service.on_team(session, user, initiative_id)
    context = _related_kpis(
        session, service.KpiFilter(initiative_id=initiative_id), all_href=f"/metrics?initiative={initiative_id}",
        new_href=f"/metrics/kpis/new?process_id={ini.process_id}&initiative_id={initiative_id}" if may_add else None)
    if ini is not None:  # the process's own KPIs (of no initiative) measure what the initiative changes too
        loose = (Kpi.process_id == ini.process_id) & col(Kpi.initiative_id).is_(None)
        context["process_kpis"] = list(session.exec(
            select(Kpi).where(loose).order_by(col(Kpi.code_norm)).limit(RELATED_KPIS)))
        context["process_total"] = session.exec(select(func.count(col(Kpi.id))).where(loose)).one()
        context["process_href"] = f"/metrics?process={ini.process_id}"
        context["process_code"] = session.get(Process, ini.process_id).code  # type: ignore[union-attr]
        context["open_alerts"].update(_open_alerts(session, [k.id for k in context["process_kpis"]]))
    return {"sections": [Section("metrics/_related_kpis.html", context, order=20)]}
