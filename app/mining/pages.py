"""Event-log pages: list and upload, the analysis of one log (flow map, variants, cycle times), and its
compliance with the control points' rules of the process's SOP (on the log's page and the SOP version's)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import AppError, NotFound, RuleViolation
from app.core.extensions import Section as PageSection
from app.core.extensions import extends
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id, parse_id
from app.core.labels import LABELS, N_
from app.core.templating import is_htmx, redirect, render
from app.initiatives import service as initiatives
from app.initiatives.models import Initiative
from app.mining import flowmap, service, steps
from app.mining.api import parse_lifecycle, read_upload
from app.mining.models import EventLog
from app.mining.readers import ColumnMapping
from app.mining.schemas import LifecycleCounts
from app.processes.models import Process, ProcessStatus

router = APIRouter(prefix="/event-logs")

# The sections of a log's page, in their order on it.
SECTIONS = ("flow", "variants", "cycle", "bottlenecks", "activities", "weekly", "steps", "publish")
UNITS = {"d": N_("d"), "h": N_("h"), "min": N_("min"), "s": N_("s")}


def duration_formatter(gettext):  # noqa: ANN001, ANN201
    """Seconds as a short human duration in the user's language: `2 d 3 h`, `45 min`, `12 s`."""

    def fmt(seconds: float | None) -> str:
        if seconds is None:
            return "—"
        s = float(seconds)
        for unit, size, next_unit, next_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60)):
            if s >= size:
                whole, rest = divmod(s, size)
                tail = int(rest // next_size)
                text = f"{int(whole)} {gettext(UNITS[unit])}"
                return text + (f" {tail} {gettext(UNITS[next_unit])}" if tail else "")
        if s >= 60:
            return f"{s / 60:.0f} {gettext(UNITS['min'])}"
        return f"{s:.0f} {gettext(UNITS['s'])}"

    return fmt


def _processes(session: Session) -> list[Process]:
    return list(
        session.exec(
            select(Process).where(Process.status == ProcessStatus.active).order_by(Process.code_norm)
        )
    )


def _list(
    request: Request,
    session: Session,
    actor: Any,
    *,
    process_id: Id | None,
    values: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    logs, _ = service.list_logs(session, process_id=process_id, limit=200, cursor=None)
    processes = _processes(session)
    return render(
        request,
        "mining/list.html",
        {
            "logs": logs,
            "processes": processes,
            "process_names": {p.id: f"{p.code} {p.name}" for p in processes},
            "process_id": process_id,
            "can_upload": service.can_upload(actor.user),
            "values": values or {"process_id": process_id, "timezone": "", "lifecycle": ""},
            "errors": errors or [],
            "initiatives": _initiatives(session),
        },
        status_code=status_code,
    )


def _initiatives(session: Session) -> list[tuple[int, str, int]]:
    """(id, label, process id) of the initiatives a log may be compared with."""
    rows = session.exec(
        select(Initiative.id, Initiative.title, Process.code, Initiative.process_id)
        .join(Process, Process.id == Initiative.process_id)
        .order_by(Process.code_norm, Initiative.id)
    ).all()
    return [(ini_id, f"{code} · {title}", process_id) for ini_id, title, code, process_id in rows]


@router.get("")
def log_list(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    process_id: Annotated[Id | None, Query()] = None,
) -> Response:
    return _list(request, session, actor, process_id=process_id)


@router.post("")
def upload(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    file: Annotated[UploadFile, File()],
    process_id: Annotated[str, Form()] = "",
    initiative_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    delimiter: Annotated[str, Form()] = "",
    case_column: Annotated[str, Form()] = "",
    activity_column: Annotated[str, Form()] = "",
    timestamp_column: Annotated[str, Form()] = "",
    lifecycle: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Import a log (service.import_log): not viewers; onto an initiative, its team and administrators."""
    gettext = gettext_for(negotiate(request))
    values = {
        "process_id": parse_id(process_id),
        "initiative_id": parse_id(initiative_id),
        "name": name,
        "timezone": timezone,
        "delimiter": delimiter,
        "case_column": case_column,
        "activity_column": activity_column,
        "timestamp_column": timestamp_column,
        "lifecycle": lifecycle,
    }
    mapping = None
    if case_column or activity_column or timestamp_column:
        if not (case_column and activity_column and timestamp_column):
            return _list(
                request,
                session,
                actor,
                process_id=values["process_id"],
                values=values,
                status_code=422,
                errors=[
                    {"message": gettext("A column mapping needs the case, activity and timestamp columns.")}
                ],
            )
        mapping = ColumnMapping(case_column, activity_column, timestamp_column)
    try:
        with undo_on_error(session):
            if values["process_id"] is None:
                raise RuleViolation(gettext("Choose a process."))
            log = service.import_log(
                session,
                process_id=values["process_id"],
                initiative_id=values["initiative_id"],
                name=name or None,
                filename=file.filename or "upload",
                data=read_upload(file),
                options=service.ImportOptions(
                    mapping=mapping, delimiter=delimiter or None, timezone=timezone or None,
                    lifecycle=parse_lifecycle(lifecycle),
                ),
                actor=actor.user,
            )
    except AppError as exc:
        errors = exc.errors or [{"message": exc.detail}]
        return _list(
            request,
            session,
            actor,
            process_id=values["process_id"],
            values=values,
            errors=[{"row": e.get("row"), "message": e.get("message", exc.detail)} for e in errors],
            status_code=exc.status,
        )
    return redirect(request, f"/event-logs/{log.id}", flash="eventlog_imported")


def _date(value: str, field: str) -> date | None:
    """A date filter from a form: empty means none."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise RuleViolation(f"{field}: not a date (YYYY-MM-DD).") from exc


@router.get("/{log_id}")
def log_detail(
    log_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    activity: Annotated[str | None, Query(max_length=300)] = None,
    detail: Annotated[int | None, Query(ge=5, le=100)] = None,
    metric: Annotated[str, Query(pattern="^(frequency|time)$")] = "frequency",
    open_: Annotated[str, Query(alias="open", pattern=f"^({'|'.join(SECTIONS)})?$")] = "",
) -> Response:
    """The log's summary, then its analysis in sections (`open` names one to show open; the flow map is by
    default)."""
    flt = service.AnalysisFilter(_date(from_, "from"), _date(to, "to"), activity or None)
    log, frame, result = service.analyze_log(session, log_id, flt)
    if detail is None:  # a readable map by default: all edges of small logs, the frequent ones of large logs
        detail = 100 if len(result["directly_follows"]) <= 40 else 15
    gettext = gettext_for(negotiate(request))
    histogram = flowmap.duration_histogram(frame)
    counts = LifecycleCounts.model_validate(log.lifecycle_counts) if log.lifecycle_counts else None
    return render(
        request,
        "mining/detail.html",
        {
            "log": log,
            "process": session.get(Process, log.process_id),
            "counts": counts,
            "r": result,
            "map": flowmap.layout(result, detail=detail),
            "histogram": histogram,
            "hist_max": max((b["cases"] for b in histogram), default=0),
            "activities": frame["activity"].unique().sort().to_list(),
            "filters": {
                "from": from_,
                "to": to,
                "activity": activity or "",
                "detail": detail,
                "metric": metric,
            },
            "dur": duration_formatter(gettext),
            "open_section": open_ or "flow",
            "can_delete": service.can_delete(session, actor.user, log),
            "can_publish": service.can_publish(session, actor.user, log),
            "published_kpis": _published_kpis(session.get(Process, log.process_id), negotiate(request)),
            **_steps_context(session, actor, log, frame),
            "start_node": flowmap.START,
            "end_node": flowmap.END,
        },
        block="analysis",
    )


def _published_kpis(process: Process, locale: str) -> list[tuple[str, str]]:
    """(code, name in the reader's language) of the KPIs publishing the log feeds."""
    return [(service.log_kpi_code(process.code, suffix), name_zh if locale.startswith("zh") else name_en)
            for suffix, name_en, name_zh, *_ in service.LOG_KPIS]


def _steps_context(session: Session, actor: Any, log: EventLog, events: pl.DataFrame, *,
                   suggest: bool = True) -> dict[str, Any]:
    """The survey comparison of a log of an initiative; while none of its activities is mapped, a suggested
    step for each activity (pre-selected in the form, saved only when the user saves the mapping; not right
    after the user saved every activity as unmapped)."""
    if log.initiative_id is None:
        return {"steps": None}
    ini = session.get(Initiative, log.initiative_id)
    comparison = service.step_comparison(session, log, events)
    can_map = ini is not None and initiatives.can_edit(session, actor.user, ini)
    order = steps.activity_order(events)  # the activities as they occur, to map them down the steps
    rank = {a: i for i, a in enumerate(order)}
    comparison["activities"].sort(key=lambda a: rank.get(a["activity"], len(rank)))
    suggestions: dict[str, steps.Suggestion] = {}
    if suggest and can_map and not any(a["step_id"] for a in comparison["activities"]):
        suggestions = steps.suggest_mapping(order, [(st["step_id"], st["name"]) for st in comparison["steps"]])
    return {"steps": comparison, "initiative": ini, "can_map": can_map, "suggestions": suggestions,
            "mapped": sum(1 for a in comparison["activities"] if a["step_id"])}


@router.post("/{log_id}/steps")
def map_step(
    log_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    activity: Annotated[list[str], Form()],
    step_id: Annotated[list[str], Form()],
) -> Response:
    """Save the mapping of the activities named (each `activity` with the `step_id` in the same place, empty
    for none) to survey steps: the team of the log's initiative and administrators."""
    if len(activity) != len(step_id) or any(len(a) > 300 for a in activity):
        raise RuleViolation(N_("Each activity needs one step (or none), and an activity has at most 300 characters."))
    log, events = service.get_log(session, log_id), service.load_events(session, log_id)
    service.set_step_links(session, log, events, {a: parse_id(s) for a, s in zip(activity, step_id, strict=True)},
                           actor.user)
    if not is_htmx(request):
        return redirect(request, f"/event-logs/{log_id}?open=steps#steps")
    return render(request, "mining/detail.html", {
        "log": log, "dur": duration_formatter(gettext_for(negotiate(request))), "open_section": "steps",
        "saved": True, **_steps_context(session, actor, log, events, suggest=False)}, block="steps")


@router.post("/{log_id}/publish-kpis")
def publish_kpis(log_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Publish weekly KPIs: not viewers; a log of an initiative, its team and administrators."""
    service.publish_kpis(session, log_id, actor.user)
    process_id = service.get_log(session, log_id).process_id
    return redirect(request, f"/metrics?process={process_id}", flash="eventlog_published")


@router.post("/{log_id}/delete")
def delete(log_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a log: uploader, leads, administrators; a log of an initiative, those of them on its team."""
    log = service.get_log(session, log_id)
    process_id = log.process_id
    service.delete_log(session, log_id, actor.user)
    return redirect(request, f"/event-logs?process_id={process_id}", flash="eventlog_deleted")


# ---------------------------------------------------------------- sections of earlier domains' pages
# (imported here, after the event-log pages, so that these sections stay apart from them)
from sqlmodel import func  # noqa: E402

from app.core.extensions import Section  # noqa: E402
from app.users.models import User  # noqa: E402

RELATED_LOGS = 10  # event logs in a section of another page (process, initiative); the rest on the list


def _related_logs(session: Session, where: Any, *, page_initiative: int | None = None,
                  **links: Any) -> dict[str, Any]:
    """The newest logs matching `where`, how many there are and the initiatives they are compared with
    (other than the page's): the context of mining/_related_logs.html."""
    logs = list(session.exec(select(EventLog).where(where).order_by(col(EventLog.id).desc()).limit(RELATED_LOGS)))
    total = session.exec(select(func.count(col(EventLog.id))).where(where)).one()
    ini_ids = {log.initiative_id for log in logs if log.initiative_id and log.initiative_id != page_initiative}
    names = {i.id: i for i in session.exec(select(Initiative).where(col(Initiative.id).in_(ini_ids)))} \
        if ini_ids else {}
    return {"logs": logs, "total": total, "initiatives": names, **links}


@extends("process_detail")
def _process_logs(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page lists the process's event logs, with a link to the filtered list."""
    context = _related_logs(session, EventLog.process_id == process_id,
                            all_href=f"/event-logs?process_id={process_id}",
                            new_href=f"/event-logs?process_id={process_id}#upload" if service.can_upload(user) else None)
    return {"sections": [Section("mining/_related_logs.html", context, order=30)]}


@extends("initiative_overview")
def _initiative_logs(session: Session, initiative_id: int, user: User) -> dict[str, Any]:
    """The initiative overview lists the logs compared with its survey; its team may import one."""
    ini = session.get(Initiative, initiative_id)
    process_id = ini.process_id if ini is not None else None
    may_add = ini is not None and service.can_upload(user) and initiatives.can_edit(session, user, ini)
    context = _related_logs(session, EventLog.initiative_id == initiative_id, page_initiative=initiative_id,
                            all_href=f"/event-logs?process_id={process_id}", all_of_process=True,
                            new_href=f"/event-logs?process_id={process_id}#upload" if may_add else None)
    return {"sections": [Section("mining/_related_logs.html", context, order=30)]}


# ---------------------------------------------------------------- control-point compliance

COMPLIANCE_LABELS: dict[str, dict[str, str]] = {
    "compliance_status": {
        "compliant": N_("Compliant"), "violating": N_("Violating"), "special_case": N_("Special case"),
        "not_evaluable": N_("Not evaluable"), "out_of_scope": N_("Does not apply"),
    },
    "compliance_reason": {
        "missing_activity": N_("Activity missing"), "wrong_role": N_("Done by another role"),
        "wrong_order": N_("Wrong order"), "too_late": N_("Too late"),
        "missing_attribute": N_("Attribute missing"), "invalid_attribute": N_("Attribute of the wrong type"),
        "error": N_("The condition fails on the values"), "roles_missing": N_("The log records no roles"),
    },
}
for _kind, _labels in COMPLIANCE_LABELS.items():
    LABELS.setdefault(_kind, {}).update(_labels)
CASES_PER_PAGE = 20


def _compliance_context(session: Session, actor: Any, log_id: int, version_id: int | None) -> dict[str, Any]:
    """The log checked against the version's rules, or why it cannot be (`problem`: no SOP in force)."""
    log = service.get_log(session, log_id)
    try:
        checked = service.check_compliance(session, log.id, version_id, actor.user)
    except NotFound:
        if version_id is not None:
            raise
        return {"checked": None, "points": [], "log": log}
    return {"checked": checked, "points": service.compliance_summary(checked), "log": checked.log,
            "version_number": service.sops.number(checked.version)}


@router.get("/{log_id}/compliance")
def compliance_page(
    log_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    version_id: Annotated[Id | None, Query()] = None,
    point: Annotated[str, Query(pattern=r"^\d{0,5}$", description="A control point's number; empty: all")] = "",
    status: Annotated[str, Query(pattern="^(violating|special_case|not_evaluable|compliant)$")] = "violating",
    reason: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The log against the control points' rules of the SOP version in force (or `version_id`): the counts per
    control point, then the cases of one status (violating by default) with their traces, a page at a time. An
    htmx request gets the summary only (the log page's section) or, with `point`/`status`, the case list."""
    ctx = _compliance_context(session, actor, log_id, version_id)
    number = int(point) if point else None
    items, next_cursor = [], None
    if ctx["checked"] is not None:
        reasons = COMPLIANCE_LABELS["compliance_reason"]
        items, next_cursor = service.compliance_cases(
            session, ctx["checked"], point=number, status=status, reason=reason if reason in reasons else None,
            limit=CASES_PER_PAGE, cursor=cursor or None)
    ctx.update({"process": session.get(Process, ctx["log"].process_id), "items": items, "next_cursor": next_cursor,
                "filters": {"version_id": version_id, "point": number, "status": status, "reason": reason},
                "dur": duration_formatter(gettext_for(negotiate(request)))})
    block = None
    if is_htmx(request):
        block = "cases" if request.query_params.get("cursor") or "status" in request.query_params else "summary"
    return render(request, "mining/compliance.html", ctx, block=block)


@extends("sop_version")
def _sop_compliance(session: Session, version_id: int, process_id: int, user: Any) -> dict[str, Any]:
    """An SOP version's page shows how its rules fare in the process's newest event logs (loaded by htmx)."""
    logs = list(session.exec(select(EventLog).where(EventLog.process_id == process_id)
                             .order_by(col(EventLog.id).desc()).limit(3)))
    return {"sections": [PageSection("mining/_sop_compliance.html", {"logs": logs, "version_id": version_id},
                                     order=20)]}
