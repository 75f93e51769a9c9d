"""Event logs: import (CSV, XES, Parquet), storage as Parquet, analysis, deletion."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import record
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, RuleViolation, rule
from app.core.ids import Id
from app.core.labels import N_
from app.core.pagination import Cursor, page_window
from app.initiatives import service as initiatives
from app.initiatives.models import Initiative
from app.metrics import service as metrics
from app.metrics.ingest import MAX_BATCH_ROWS, Row, ingest
from app.metrics.models import Kpi, Observation
from app.metrics.schemas import KpiCreate, ObservationIn
from app.metrics.series import invalidate_cache
from app.mining import analysis, compliance, readers, steps
from app.mining.models import EventLog, EventLogData, LogFormat, StepLink
from app.processes.models import Process
from app.sops import rules
from app.sops import service as sops
from app.sops.models import SopVersion
from app.survey.models import SurveyStep
from app.users.models import Role, User


@dataclass(frozen=True)
class ImportOptions:
    """How to read an upload: format (detected when None), CSV column mapping and delimiter, time zone
    of timestamps without an offset."""

    fmt: LogFormat | None = None
    mapping: readers.ColumnMapping | None = None
    delimiter: str | None = None
    timezone: str | None = None
    lifecycle: readers.Lifecycle | None = None


# Authorization. Reading logs (list, summary, analysis, survey comparison) is open to every signed-in person.
# Writing: importing is for members, leads and administrators (not viewers); deleting for the uploader,
# leads and administrators; publishing KPIs for members, leads and administrators. A log of an initiative
# is the initiative's content: importing onto it, mapping its activities to survey steps, publishing its
# KPIs and deleting it also need the team rule (app.initiatives.service.can_edit: the team's members, not
# viewers, and administrators), so a lead who is not on the team reads only.


def can_upload(actor: User) -> bool:
    return actor.role != Role.viewer


def can_delete(session: Session, actor: User, log: EventLog) -> bool:
    """The uploader, leads and administrators; for a log of an initiative, only those on its team (and
    administrators)."""
    by_role = actor.role in (Role.admin, Role.lead) or log.uploaded_by_id == actor.id
    return by_role and metrics.on_team(session, actor, log.initiative_id)


def can_publish(session: Session, actor: User, log: EventLog) -> bool:
    """Members, leads and administrators; for a log of an initiative, its team and administrators."""
    return metrics.can_ingest(actor) and metrics.on_team(session, actor, log.initiative_id)


def detect_format(filename: str, head: bytes) -> LogFormat:
    name = filename.lower()
    if name.endswith((".xes", ".xes.gz")):
        return LogFormat.xes
    if name.endswith((".parquet", ".pq")):
        return LogFormat.parquet
    if name.endswith((".csv", ".txt", ".tsv")):
        return LogFormat.csv
    if head.startswith(b"PAR1"):
        return LogFormat.parquet
    if head.startswith(b"\x1f\x8b") or head.lstrip().startswith((b"<?xml", b"<log")):
        return LogFormat.xes
    return LogFormat.csv


def _read(
    data: bytes, fmt: LogFormat, options: ImportOptions, timezone: str
) -> tuple[pl.DataFrame, readers.LifecycleReport, pl.DataFrame]:
    try:
        return readers.read_log(fmt.value, data, mapping=options.mapping, delimiter=options.delimiter,
                                timezone=timezone, lifecycle=options.lifecycle)
    except readers.EventLogError as exc:
        unit = "trace" if fmt == LogFormat.xes else "row"
        detail = f"The event log has {exc.total} problem(s); nothing was imported."
        if exc.problems and exc.problems[0]["field"] == "lifecycle":
            detail = f"The log has no events of the chosen lifecycle; nothing was imported: {exc.problems[0]['message']}."
        raise RuleViolation(
            detail,
            errors=[
                {
                    "loc": ["body", "lifecycle"] if p["field"] == "lifecycle" else
                    ["body", "file"] + ([unit, p["row"]] if p["row"] is not None else []),
                    "field": p["field"] or "file",
                    "row": p["row"],
                    "message": p["message"],
                    "type": "event_log",
                }
                for p in exc.problems
            ],
            total_problems=exc.total,
        ) from exc


def import_log(
    session: Session,
    *,
    process_id: int,
    initiative_id: int | None,
    name: str | None,
    filename: str,
    data: bytes,
    options: ImportOptions,
    actor: User,
) -> EventLog:
    if not can_upload(actor):
        raise Forbidden("Viewers cannot import event logs.")
    settings = get_settings()
    if len(data) > settings.eventlog_max_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.eventlog_max_bytes} bytes.")
    if not data:
        raise rule("The file is empty.", "file", "empty", "empty file")
    fmt = options.fmt or detect_format(filename, data[:512])
    timezone = options.timezone or settings.business_timezone
    frame, report, cases = _read(data, fmt, options, timezone)
    if frame.height == 0:
        raise rule("The log holds no events.", "file", "empty", "no events")
    if frame.height > settings.eventlog_max_events:
        raise PayloadTooLarge(
            f"The log has {frame.height} events; the limit is {settings.eventlog_max_events}."
        )
    stats = frame.select(
        cases=pl.col("case_id").n_unique(),
        activities=pl.col("activity").n_unique(),
        first=pl.col("timestamp").min(),
        last=pl.col("timestamp").max(),
    ).row(0, named=True)
    buffer, case_buffer = io.BytesIO(), io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    cases.write_parquet(case_buffer, compression="zstd", statistics=False)
    # The database only now: on SQLite the unit of work holds the write lock from its first statement
    # (app.core.db), and reading a large log takes seconds in which other writers would wait.
    if session.get(Process, process_id) is None:
        raise rule("Unknown process.", "process_id", "unknown", "unknown process")
    if initiative_id is not None:
        _check_initiative(session, initiative_id, process_id, actor)
    log = EventLog(
        process_id=process_id,
        initiative_id=initiative_id,
        name=(name or filename)[:200],
        filename=filename[:255],
        source_format=fmt,
        source_timezone=timezone,
        events=frame.height,
        cases=stats["cases"],
        activities=stats["activities"],
        first_event=stats["first"],
        last_event=stats["last"],
        size_bytes=len(data),
        lifecycle_counts=report.as_dict(),
        case_attributes=cases.columns[1:],
        uploaded_by_id=actor.id,
        created_at=utcnow(),
    )
    session.add(log)
    session.flush()
    session.add(EventLogData(log_id=log.id, parquet=buffer.getvalue(), cases_parquet=case_buffer.getvalue()))
    session.flush()
    record(session, actor, "import", "event_log", log.id, None, _summary(log))
    return log


def _check_initiative(session: Session, initiative_id: int, process_id: int, actor: User) -> None:
    ini = session.get(Initiative, initiative_id)
    if ini is None or ini.process_id != process_id:
        raise rule("The initiative must be one of this process's.", "initiative_id", "unknown",
                   "unknown initiative, or one of another process")
    if not initiatives.can_edit(session, actor, ini):
        raise Forbidden("Only the initiative's team members and administrators may add logs to it.")


def _summary(log: EventLog) -> dict[str, Any]:
    return {
        "name": log.name,
        "process_id": log.process_id,
        "filename": log.filename,
        "format": log.source_format.value,
        "events": log.events,
        "cases": log.cases,
        "lifecycle": (log.lifecycle_counts or {}).get("lifecycle"),
    }


def get_log(session: Session, log_id: int) -> EventLog:
    log = session.get(EventLog, log_id)
    if log is None:
        raise NotFound(N_("Event log {log_id} not found."), params={"log_id": log_id})
    return log


def list_logs(
    session: Session, *, process_id: int | None, limit: int, cursor: str | None
) -> tuple[list[EventLog], str | None]:
    stmt = select(EventLog)
    if process_id is not None:
        stmt = stmt.where(EventLog.process_id == process_id)
    if cursor:
        stmt = stmt.where(col(EventLog.id) < Cursor.decode(cursor, ("id",), (Id,)).values[0])
    rows = list(session.exec(stmt.order_by(col(EventLog.id).desc()).limit(limit + 1)))
    return page_window(rows, limit, lambda log: Cursor(("id",), (log.id,)))


def delete_log(session: Session, log_id: int, actor: User) -> None:
    log = get_log(session, log_id)
    metrics.require_team(session, actor, log.initiative_id, "delete this initiative's event logs")
    if not can_delete(session, actor, log):
        raise Forbidden("Only the uploader, leads and administrators may delete this event log.")
    before = _summary(log)
    session.exec(sa.delete(EventLogData).where(EventLogData.log_id == log_id))
    session.delete(log)
    session.flush()
    record(session, actor, "delete", "event_log", log_id, before, None)


def load_events(session: Session, log_id: int) -> pl.DataFrame:
    blob = session.exec(select(EventLogData.parquet).where(EventLogData.log_id == log_id)).first()
    if blob is None:
        raise NotFound(N_("Event log {log_id} not found."), params={"log_id": log_id})
    return pl.read_parquet(io.BytesIO(blob))


def load_cases(session: Session, log_id: int) -> pl.DataFrame | None:
    """The attributes of the log's cases (`case_id` and a text column each), None for a log imported before
    they were read."""
    blob = session.exec(select(EventLogData.cases_parquet).where(EventLogData.log_id == log_id)).first()
    return None if blob is None else pl.read_parquet(io.BytesIO(blob))


@dataclass(frozen=True)
class AnalysisFilter:
    date_from: date | datetime | None = None
    date_to: date | datetime | None = None
    activity: str | None = None


def analyze_log(
    session: Session, log_id: int, flt: AnalysisFilter
) -> tuple[EventLog, pl.DataFrame, dict[str, Any]]:
    """The log, its events and their analysis after the filters."""
    log = get_log(session, log_id)
    frame = load_events(session, log_id)
    result = analysis.analyze(
        frame, date_from=flt.date_from, date_to=flt.date_to, containing_activity=flt.activity,
        tz=get_settings().business_timezone,
    )
    return log, frame, result


def _linked_initiative(session: Session, log: EventLog) -> Initiative:
    if log.initiative_id is None:
        raise RuleViolation("This event log belongs to no initiative; import it with an initiative to compare "
                            "it with a survey.")
    return initiatives.get_initiative(session, log.initiative_id)


def step_comparison(session: Session, log: EventLog, events: pl.DataFrame) -> dict[str, Any]:
    """The initiative's survey steps with their surveyed minutes beside the minutes measured in the log
    (`events`, see `load_events`) for the activities mapped to them, and the log's activities with their
    mapping."""
    ini = _linked_initiative(session, log)
    durations = steps.activity_durations(events)
    links = {link.activity: link.step_id for link in session.exec(select(StepLink).where(StepLink.log_id == log.id))}
    survey = list(session.exec(select(SurveyStep).where(SurveyStep.initiative_id == ini.id)
                               .order_by(SurveyStep.position, SurveyStep.id)))
    rows = []
    for step in survey:
        mapped = sorted(a for a, step_id in links.items() if step_id == step.id and a in durations)
        measured = [durations[a] for a in mapped]
        count = sum(m["measured"] for m in measured)
        # The mean of the mapped activities' durations, weighted by how often each was measured.
        mean_s = sum((m["mean_s"] or 0) * m["measured"] for m in measured) / count if count else None
        rows.append({
            "step_id": step.id, "position": step.position, "name": step.name,
            "surveyed_minutes": float(step.minutes), "surveyed_waiting_minutes": float(step.waiting_minutes),
            "activities": mapped, "measured_occurrences": count,
            "measured_mean_minutes": None if mean_s is None else mean_s / 60,
            "measured_median_minutes": (measured[0]["median_s"] / 60
                                        if len(measured) == 1 and measured[0]["median_s"] is not None else None),
        })
    return {
        "log_id": log.id, "initiative_id": ini.id,
        "steps": rows,
        "activities": [{"activity": a, "step_id": links.get(a), "occurrences": d["occurrences"],
                        "mean_minutes": None if d["mean_s"] is None else d["mean_s"] / 60,
                        "median_minutes": None if d["median_s"] is None else d["median_s"] / 60}
                       for a, d in durations.items()],
    }


def set_step_links(session: Session, log: EventLog, events: pl.DataFrame, links: dict[str, int | None],
                   actor: User) -> None:
    """Map activities of the log (`events`) to survey steps (`None` unmaps); activities not named keep
    their mapping."""
    log_id = log.id
    ini = _linked_initiative(session, log)
    initiatives.require_edit(session, actor, ini)
    known = set(events["activity"].unique().to_list())
    step_ids = set(session.exec(select(SurveyStep.id).where(SurveyStep.initiative_id == ini.id)))
    errors = [{"loc": ["body", "links", i, "activity"], "field": "activity", "message": f"not in the log: {a}",
               "type": "unknown"} for i, a in enumerate(links) if a not in known]
    errors += [{"loc": ["body", "links", i, "step_id"], "field": "step_id",
                "message": f"step {s} is not a survey step of this initiative", "type": "unknown"}
               for i, s in enumerate(links.values()) if s is not None and s not in step_ids]
    if errors:
        raise RuleViolation("Some mappings are not valid; nothing was changed.", errors=errors)
    before = {link.activity: link.step_id for link in session.exec(select(StepLink).where(StepLink.log_id == log_id))}
    session.exec(sa.delete(StepLink).where(StepLink.log_id == log_id, col(StepLink.activity).in_(list(links))))
    session.add_all(StepLink(log_id=log_id, activity=a, step_id=s) for a, s in links.items() if s is not None)
    session.flush()
    after = {**{a: s for a, s in before.items() if a not in links}, **{a: s for a, s in links.items() if s}}
    record(session, actor, "map_steps", "event_log", log_id, {"links": before}, {"links": after})


# Weekly KPIs a log publishes: (code suffix, English name, Chinese name, unit, direction, aggregation, field).
LOG_KPIS = (
    ("CT50", "Case cycle time, median (event log)", "案件周期时长中位数（事件日志）", "h", "lower_is_better", "mean",
     "p50_s"),
    ("CT95", "Case cycle time, 95th percentile (event log)", "案件周期时长 P95（事件日志）", "h", "lower_is_better",
     "mean", "p95_s"),
    ("RWK", "Rework rate (event log)", "返工率（事件日志）", "%", "lower_is_better", "rate", "rework_rate"),
    ("VOL", "Cases completed (event log)", "完成案件数（事件日志）", "cases", "higher_is_better", "sum", "cases"),
)


def log_kpi_code(process_code: str, suffix: str) -> str:
    return f"{process_code[:40 - len(suffix) - 1]}-{suffix}"


def publish_kpis(session: Session, log_id: int, actor: User) -> dict[str, Any]:
    """Publish the log's weekly case cycle time (p50, p95, in hours), rework rate and volume, and, when the
    process has an SOP version in force with control-point rules, each rule's weekly compliance rate (KPI
    `<PROCESS>-CP<n>`, see `check_compliance`), as observations of the process's event-log KPIs (created when
    missing), replacing what this log published before, so that dashboards, pilots and reviews compare before
    and after on measured data."""
    log = get_log(session, log_id)
    if not metrics.can_ingest(actor):
        raise Forbidden("Viewers cannot publish KPIs.")
    metrics.require_team(session, actor, log.initiative_id, "publish the KPIs of this initiative's event logs")
    process = session.get(Process, log.process_id)
    tz = get_settings().business_timezone
    weeks = steps.weekly_case_stats(load_events(session, log_id), tz)
    kpis: list[KpiCreate] = []
    values: list[tuple[str, date, float]] = []
    for suffix, name_en, name_zh, unit, direction, aggregation, field in LOG_KPIS:
        code = log_kpi_code(process.code, suffix)
        kpis.append(KpiCreate(code=code, name_en=name_en, name_zh=name_zh, unit=unit, direction=direction,
                              aggregation=aggregation, process_id=process.id, initiative_id=log.initiative_id,
                              description=f"Published from the event logs of {process.code}, one value per ISO "
                                          "week of case completion."))
        values += [(code, w["week"], w[field] / 3600 if field.endswith("_s") else float(w[field]))
                   for w in weeks if w[field] is not None]
    checked = _compliance_in_force(session, log, actor)
    if checked is not None:
        for point in compliance_summary(checked):
            kpis.append(KpiCreate(
                code=point["kpi"], name_en=f"Compliance with control point {point['number']} (event log)",
                name_zh=f"关键节点 {point['number']} 合规率（事件日志）", unit="%", direction="higher_is_better",
                aggregation="rate", process_id=process.id, initiative_id=log.initiative_id,
                description=f"{point['description'][:400]} — the share of the cases in scope that met the "
                            f"requirement (special cases and cases not evaluable left out), per ISO week of case "
                            f"completion, from the event logs of {process.code}."))
            values += [(point["kpi"], week, rate) for week, rate in weekly_compliance(checked, point["number"])]
    return _publish(session, log, process, kpis, values, actor)


def _compliance_in_force(session: Session, log: EventLog, actor: User) -> Compliance | None:
    try:
        return check_compliance(session, log.id, None, actor)
    except NotFound:  # no SOP in force: nothing to publish
        return None


def weekly_compliance(checked: Compliance, point: int) -> list[tuple[date, float]]:
    """A control point's compliance rate per ISO week of case completion (weeks without a case in its
    denominator left out)."""
    weekly = (checked.outcome.results.filter(pl.col("point") == point,
                                             pl.col("status").is_in([compliance.COMPLIANT, compliance.VIOLATING]))
              .group_by("week").agg((pl.col("status") == compliance.COMPLIANT).mean().alias("rate")).sort("week"))
    return list(weekly.iter_rows())


def _publish(session: Session, log: EventLog, process: Process, kpis: list[KpiCreate],
             values: list[tuple[str, date, float]], actor: User) -> dict[str, Any]:
    """Create the KPIs that are missing, then replace the observations this log published of them with
    `values` (code, week, value)."""
    codes = [k.code for k in kpis]
    norms = [c.upper() for c in codes]
    existing = {k.code_norm: k for k in session.exec(select(Kpi).where(col(Kpi.code_norm).in_(norms)))}
    for data in kpis:
        kpi = existing.get(data.code.upper())
        if kpi is None:
            metrics.create_kpi(session, data, actor)
        elif kpi.process_id != process.id:
            raise Conflict(f"The KPI {data.code} belongs to another process.")
        else:  # observations of another initiative's KPI are that initiative's content
            metrics.require_team(session, actor, kpi.initiative_id, f"record observations of {data.code}")
    source = f"event_log:{log.id}"
    kpi_ids = [k.id for k in session.exec(select(Kpi).where(col(Kpi.code_norm).in_(norms)))]
    old = session.exec(select(sa.func.min(Observation.ts), sa.func.max(Observation.ts)).where(
        col(Observation.kpi_id).in_(kpi_ids), Observation.source == source)).one()
    session.exec(sa.delete(Observation).where(col(Observation.kpi_id).in_(kpi_ids), Observation.source == source))
    if old[0] is not None:
        invalidate_cache(session, dict.fromkeys(kpi_ids, (old[0], old[1])))
    tz = ZoneInfo(get_settings().business_timezone)
    rows = [Row(ObservationIn(kpi=code, ts=datetime.combine(week, time(), tz), value=value), row=i + 1)
            for i, (code, week, value) in enumerate(values)]
    batches = [ingest(session, rows[i:i + MAX_BATCH_ROWS], actor, origin="event_log", source=source)
               for i in range(0, len(rows), MAX_BATCH_ROWS)]
    weeks = {week for _, week, _ in values}
    return {"kpis": codes, "weeks": len(weeks), "observations": len(rows),
            "batches": [b.batch_id for b in batches]}


# ---------------------------------------------------------------- control-point compliance

@dataclass(frozen=True)
class Compliance:
    """A log checked against the rules of an SOP version (see `app.mining.compliance`)."""

    log: EventLog
    version: SopVersion
    process: Process
    outcome: compliance.Outcome


# The last outcomes, by log (its id and import time: ids of deleted rows may come back) and rules (their content's
# hash): a log never changes, so neither does its outcome; paging through violations does not check again.
_OUTCOMES: dict[tuple[int, str, str], compliance.Outcome] = {}
_OUTCOMES_SIZE = 4


def _version_for(session: Session, log: EventLog, version_id: int | None, actor: User) -> SopVersion:
    if version_id is None:
        return sops.current_version(session, str(log.process_id), None)
    v = sops.read_version(session, version_id, actor)
    sop = sops.get_sop(session, v.sop_id)
    if sop.process_id != log.process_id:
        raise rule("The SOP version must be one of the log's process.", "version_id", "unknown",
                   "a version of another process's SOP")
    return v


def check_compliance(session: Session, log_id: int, version_id: int | None, actor: User) -> Compliance:
    """The log's cases against the control points of the process's SOP version in force today, or of
    `version_id` (a version of the same process the actor may read). 404 when no version is in force."""
    log = get_log(session, log_id)
    v = _version_for(session, log, version_id, actor)
    key = v.signed_hash or sops.content_hash(v.content)
    compiled = rules.compiled(key, lambda: sops.content_of(v))
    cache_key = (log.id, log.created_at.isoformat(), key)
    found = _OUTCOMES.get(cache_key)
    if found is None:
        found = compliance.evaluate(load_events(session, log.id), load_cases(session, log.id), compiled,
                                    get_settings().business_timezone)
        if len(_OUTCOMES) >= _OUTCOMES_SIZE:
            _OUTCOMES.pop(next(iter(_OUTCOMES)))
        _OUTCOMES[cache_key] = found
    return Compliance(log, v, session.get(Process, log.process_id), found)


def compliance_cases(session: Session, checked: Compliance, *, point: int | None, status: str,
                     reason: str | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The cases of one status (and reason), by control point and case id, each with its attributes and its
    trace (the events in time order)."""
    results = checked.outcome.results.filter(pl.col("status") == status)
    if point is not None:
        results = results.filter(pl.col("point") == point)
    if reason is not None:
        results = results.filter(pl.col("reason") == reason)
    results = results.sort("point", "case_id")
    if cursor:
        after = Cursor.decode(cursor, ("point", "case_id"), (int, str)).values
        results = results.filter((pl.col("point") > after[0])
                                 | ((pl.col("point") == after[0]) & (pl.col("case_id") > after[1])))
    rows = results.head(limit + 1).to_dicts()
    page, next_cursor = page_window(rows, limit, lambda r: Cursor(("point", "case_id"), (r["point"], r["case_id"])))
    ids = [r["case_id"] for r in page]
    events = load_events(session, checked.log.id).filter(pl.col("case_id").is_in(ids)).sort(
        "case_id", "timestamp", "idx")
    traces: dict[str, list[dict[str, Any]]] = {}
    for ev in events.iter_rows(named=True):
        traces.setdefault(ev["case_id"], []).append(
            {"activity": ev["activity"], "timestamp": ev["timestamp"], "resource": ev["resource"],
             "role": ev.get("role")})
    cases = load_cases(session, checked.log.id)
    attrs: dict[str, dict[str, Any]] = {}
    if cases is not None and ids:
        attrs = {row.pop("case_id"): row for row in cases.filter(pl.col("case_id").is_in(ids)).iter_rows(named=True)}
    return [{**r, "attributes": attrs.get(r["case_id"], {}), "trace": traces.get(r["case_id"], [])}
            for r in page], next_cursor


def compliance_summary(checked: Compliance) -> list[dict[str, Any]]:
    """Per control point with a rule: the cases by status and reason, and the compliance rate."""
    counts = checked.outcome.results.group_by("point", "status", "reason").len()
    by: dict[int, dict[tuple[str, str | None], int]] = {}
    for point, status, reason, n in counts.iter_rows():
        by.setdefault(point, {})[(status, reason)] = n
    out = []
    for number, cp in checked.outcome.points:
        c = by.get(number, {})
        total = {s: sum(n for (st, _), n in c.items() if st == s) for s in compliance.STATUSES}
        compliant, violating = total[compliance.COMPLIANT], total[compliance.VIOLATING]
        rate = compliant / (compliant + violating) if compliant + violating else None
        out.append({
            "number": number, "id": cp.id, "description": cp.description, "condition": cp.rule.condition,
            "requirement": cp.rule.requirement, "kpi": log_kpi_code(checked.process.code, f"CP{number}"),
            "cases": checked.outcome.cases, "compliant": compliant, "violating": violating,
            "violations": {r: c.get((compliance.VIOLATING, r), 0) for r in compliance.VIOLATIONS},
            "special_case": total[compliance.SPECIAL], "not_evaluable": total[compliance.NOT_EVALUABLE],
            "not_evaluable_reasons": {r: c.get((compliance.NOT_EVALUABLE, r), 0) for r in compliance.UNEVALUABLE},
            "out_of_scope": total[compliance.OUT_OF_SCOPE], "compliance_rate": rate,
        })
    return out
