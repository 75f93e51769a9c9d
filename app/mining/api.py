from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status

from app.auth.deps import CurrentActor, require_scope
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.errors import PayloadTooLarge, RuleViolation, rule
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.mining import readers, service
from app.mining.compliance import STATUSES, UNEVALUABLE, VIOLATIONS
from app.mining.models import LogFormat
from app.mining.schemas import (
    Analysis,
    ComplianceCasePage,
    ComplianceRead,
    EventLogPage,
    EventLogRead,
    StepComparison,
    StepLinksUpdate,
)

router = APIRouter(prefix="/event-logs", tags=["event logs"])
_404 = {404: {"description": "No such event log"}}


def read_upload(file: UploadFile) -> bytes:
    limit = get_settings().eventlog_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"Uploads are limited to {limit} bytes.")
    return data


def options_from(
    fmt: LogFormat | None,
    case_column: str | None,
    activity_column: str | None,
    timestamp_column: str | None,
    start_timestamp_column: str | None,
    resource_column: str | None,
    delimiter: str | None,
    timezone: str | None,
    lifecycle: str | None = None,
    role_column: str | None = None,
) -> service.ImportOptions:
    mapping = None
    named = [case_column, activity_column, timestamp_column]
    if any(named) or start_timestamp_column or resource_column or role_column:
        if not all(named):
            raise RuleViolation(
                "A column mapping needs case_column, activity_column and timestamp_column.",
                errors=[
                    {
                        "loc": ["body", name],
                        "field": name,
                        "message": "required with a mapping",
                        "type": "missing",
                    }
                    for name, value in zip(
                        ("case_column", "activity_column", "timestamp_column"), named, strict=True
                    )
                    if not value
                ],
            )
        mapping = readers.ColumnMapping(
            case_column,
            activity_column,
            timestamp_column,  # type: ignore[arg-type]
            start_timestamp_column or None,
            resource_column or None,
            role_column or None,
        )
    if delimiter is not None and delimiter not in ("", ",", ";", "\t", "|"):
        raise rule("delimiter must be one of , ; | or a tab.", "delimiter", message="unsupported delimiter")
    return service.ImportOptions(
        fmt=fmt, mapping=mapping, delimiter=delimiter or None, timezone=timezone or None,
        lifecycle=parse_lifecycle(lifecycle),
    )


def parse_lifecycle(text: str | None) -> readers.Lifecycle:
    """The `lifecycle` option of an import: empty (default), `complete`, `all` or comma-separated values."""
    try:
        return readers.Lifecycle.parse(text)
    except readers.EventLogError as exc:
        raise rule(exc.problems[0]["message"] + ".", "lifecycle", message=exc.problems[0]["message"]) from exc


LIFECYCLE_HELP = (
    "Events kept by lifecycle value (XES `lifecycle:transition`, CSV column `lifecycle:transition` or "
    "`lifecycle`): `complete`, `all`, or values separated by commas (case-insensitive). Default: `complete` "
    "when the log has complete events, else all events (the answer's `lifecycle_counts.note` says so). An "
    "event without a value is `complete`; a CSV without a lifecycle column keeps all rows."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventLogRead,
    dependencies=[require_scope("write")],  # its body limit: app/core/limits.py
    responses={
        403: {"description": "A viewer, or an initiative whose team the caller is not on"},
        413: {"description": "File or event count above the configured limits"},
        422: {
            "description": "Unreadable log: `errors[]` lists rows (CSV) or traces (XES) with reasons, or no "
            "event has the chosen lifecycle (the message names the log's values); nothing is stored"
        },
    },
)
def import_event_log(
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    file: Annotated[UploadFile, File(description="CSV, XES (.xes or .xes.gz) or Parquet")],
    process_id: Annotated[Id, Form()],
    initiative_id: Annotated[Id | None, Form()] = None,
    name: Annotated[str | None, Form(max_length=200)] = None,
    format: Annotated[
        LogFormat | None, Form(description="Detected from the file name and content when absent")
    ] = None,  # noqa: A002
    case_column: Annotated[str | None, Form(description="CSV/Parquet column of the case id")] = None,
    activity_column: Annotated[str | None, Form()] = None,
    timestamp_column: Annotated[str | None, Form(description="Completion time of the event")] = None,
    start_timestamp_column: Annotated[str | None, Form()] = None,
    resource_column: Annotated[str | None, Form()] = None,
    role_column: Annotated[str | None, Form(description="The role of the event's resource (checked by control "
                                                        "points that require a role); default `org:role` or "
                                                        "`role`")] = None,
    delimiter: Annotated[str | None, Form(description="Detected among , ; tab | when absent")] = None,
    timezone: Annotated[
        str | None, Form(description="IANA zone of timestamps without an offset; default BUSINESS_TIMEZONE")
    ] = None,
    lifecycle: Annotated[str | None, Form(max_length=500, description=LIFECYCLE_HELP)] = None,
):
    """Import an event log (multipart). Without a mapping, XES-style (`case:concept:name`,
    `concept:name`, `time:timestamp`, `org:resource`, `org:role`) and common column names are recognised.
    `lifecycle` chooses the events kept; the answer's `lifecycle_counts` says how many were read, kept and
    skipped. The cases' attributes are read too (`case_attributes`: XES trace attributes and event attributes
    with one value per case; CSV/Parquet `case:<name>` columns and the other columns with one value per
    case), for the control points' rules.

    Who: members, leads and administrators (not viewers; scope `write`). With `initiative_id`, only the
    initiative's team members and administrators (the team rule; a lead not on the team gets 403)."""
    options = options_from(
        format,
        case_column,
        activity_column,
        timestamp_column,
        start_timestamp_column,
        resource_column,
        delimiter,
        timezone,
        lifecycle,
        role_column,
    )
    log = service.import_log(
        session,
        process_id=process_id,
        initiative_id=initiative_id,
        name=name,
        filename=file.filename or "upload",
        data=read_upload(file),
        options=options,
        actor=actor.user,
    )
    response.headers["Location"] = f"/api/v1/event-logs/{log.id}"
    return log


@router.get("", response_model=EventLogPage, dependencies=[require_scope("read")])
def list_event_logs(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    process_id: Id | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    """Event logs, newest first, optionally of one process. Who: everyone signed in (scope `read`)."""
    rows, next_cursor = service.list_logs(
        session, process_id=process_id, limit=min(limit, get_settings().page_size_max), cursor=cursor
    )
    set_link_header(request, response, next_cursor)
    return EventLogPage(items=rows, next_cursor=next_cursor)


@router.get("/{log_id}", response_model=EventLogRead, dependencies=[require_scope("read")], responses=_404)
def read_event_log(log_id: Id, session: SessionDep, actor: CurrentActor):
    """An event log's summary, with what its import read, kept and skipped by lifecycle value.
    Who: everyone signed in (scope `read`)."""
    return service.get_log(session, log_id)


@router.delete(
    "/{log_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_scope("write")],
    responses={**_404, 403: {"description": "Not the uploader, a lead or an administrator, or not on the team"}},
)
def delete_event_log(log_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a log and its events. Who: the uploader, leads and administrators (scope `write`); for a log of
    an initiative, only those of them on its team (the team rule), and administrators."""
    service.delete_log(session, log_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{log_id}/analysis", response_model=Analysis, dependencies=[require_scope("read")], responses=_404
)
def analyze_event_log(
    log_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Keep cases starting at or after")
    ] = None,
    to: Annotated[datetime | None, Query(description="Keep cases starting before")] = None,
    activity: Annotated[str | None, Query(max_length=300, description="Keep cases containing it")] = None,
):
    """Statistics of the log: counts, start/end activities, directly-follows with times, case durations,
    rework, variants, per-activity statistics, top variants, weekly volumes and bottlenecks.
    Events are ordered by (case, timestamp); equal timestamps keep file order. Naive `from`/`to` are UTC;
    weekly volumes are ISO weeks in BUSINESS_TIMEZONE. Who: everyone signed in (scope `read`)."""
    _, _, result = service.analyze_log(session, log_id, service.AnalysisFilter(from_, to, activity))
    return result


@router.get("/{log_id}/steps", response_model=StepComparison, dependencies=[require_scope("read")],
            responses={**_404, 422: {"description": "The log belongs to no initiative"}})
def compare_with_survey(log_id: Id, session: SessionDep, actor: CurrentActor):
    """Measured minutes per survey step of the log's initiative, for the activities mapped to each step.

    An activity's occurrence lasts from its start to its completion when the log has start times, else
    from the previous event of the case (waiting included). Who: everyone signed in (scope `read`)."""
    return service.step_comparison(session, service.get_log(session, log_id), service.load_events(session, log_id))


@router.put("/{log_id}/steps", response_model=StepComparison, dependencies=[require_scope("write")],
            responses={**_404, 403: {"description": "Not on the initiative's team"},
                       422: {"description": "Unknown activity or a step of another initiative; nothing changed"}})
def map_activities_to_steps(log_id: Id, data: StepLinksUpdate, session: SessionDep, actor: CurrentActor):
    """Map log activities to survey steps (several activities may share a step); `step_id: null` unmaps.
    Who: the team members (not viewers) of the log's initiative and administrators (scope `write`)."""
    log, events = service.get_log(session, log_id), service.load_events(session, log_id)
    service.set_step_links(session, log, events, {link.activity: link.step_id for link in data.links}, actor.user)
    return service.step_comparison(session, log, events)


def compliance_read(checked: service.Compliance) -> ComplianceRead:
    v, outcome = checked.version, checked.outcome
    return ComplianceRead(
        log_id=checked.log.id, process_id=checked.log.process_id, version_id=v.id,
        number=None if v.number_major is None else f"V{v.number_major}.{v.number_minor}",
        effective_date=v.effective_date, cases=outcome.cases, roles_recorded=outcome.roles,
        attributes=[a.__dict__ for a in outcome.attributes], control_points=service.compliance_summary(checked))


VersionQuery = Annotated[Id | None, Query(description="Check the rules of this version of the process's SOP (one "
                                                      "the caller may read) instead of the version in force")]


@router.get("/{log_id}/compliance", response_model=ComplianceRead, dependencies=[require_scope("read")],
            responses={**_404, 422: {"description": "The version is not one of the log's process"}})
def log_compliance(log_id: Id, session: SessionDep, actor: CurrentActor, version_id: VersionQuery = None):
    """Every control-point rule of the process's SOP version in force today over every case of the log: per
    control point, the cases compliant, violating (by reason: `missing_activity`, `wrong_role`, `wrong_order`,
    `too_late`), covered by a special case, not evaluable (`missing_attribute`, `invalid_attribute`, `error`,
    `roles_missing`) and out of scope, and the compliance rate compliant / (compliant + violating).

    Conditions read the cases' attributes imported with the log (`case_attributes`), matched to the version's
    declared attributes by name; roles are the events' `org:role` / `role`. 404 when the process has no SOP
    in force. Who: everyone signed in (scope `read`); `version_id` of a version not yet published: those who
    may read it."""
    return compliance_read(service.check_compliance(session, log_id, version_id, actor.user))


@router.get("/{log_id}/compliance/cases", response_model=ComplianceCasePage, dependencies=[require_scope("read")],
            responses=_404)
def log_compliance_cases(
    request: Request,
    response: Response,
    log_id: Id,
    session: SessionDep,
    actor: CurrentActor,
    version_id: VersionQuery = None,
    point: Annotated[int | None, Query(ge=1, le=10_000, description="One control point's number")] = None,
    status_: Annotated[Literal[STATUSES], Query(alias="status")] = "violating",  # type: ignore[valid-type]
    reason: Annotated[Literal[(*VIOLATIONS, *UNEVALUABLE)] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
):
    """The cases of one status (default: violating) and optionally one reason and control point, ordered by
    control point and case id, each with its attributes and its trace. Who: everyone signed in (scope
    `read`)."""
    checked = service.check_compliance(session, log_id, version_id, actor.user)
    items, next_cursor = service.compliance_cases(session, checked, point=point, status=status_, reason=reason,
                                                  limit=min(limit, get_settings().page_size_max), cursor=cursor)
    set_link_header(request, response, next_cursor)
    return ComplianceCasePage(items=items, next_cursor=next_cursor)


@router.post("/{log_id}/publish-kpis", dependencies=[require_scope("write"), require_scope("metrics:write")],
             responses={**_404, 403: {"description": "A viewer, or not on the team of the log's initiative or of "
                                      "an existing KPI's initiative"},
                        409: {"description": "A KPI code is taken by another process"}})
def publish_kpis(log_id: Id, session: SessionDep, actor: CurrentActor) -> dict:
    """Publish the log's weekly case cycle time (median and 95th percentile, hours), rework rate and
    completed cases as observations of the process's event-log KPIs (`<PROCESS>-CT50`, `-CT95`, `-RWK`,
    `-VOL`, created when missing), replacing what this log published before.

    Who: members, leads and administrators (scopes `write` and `metrics:write`); for a log of an initiative,
    only its team members and administrators (the team rule), and observations of an existing KPI of an
    initiative only from that initiative's team."""
    return service.publish_kpis(session, log_id, actor.user)
