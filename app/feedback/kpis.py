"""Feedback counts as KPI observations, so that monitoring (charts, alert rules, BI) sees them: one KPI per process
and category, `<PROCESS>-FB-<CATEGORY>` (unit count, aggregation sum, lower is better), one value per ISO week of
the day the feedback came (`received_on`, the only time an anonymous one keeps), at the week's Monday 00:00 in the
business time zone, from the process's first feedback week to this week (weeks without feedback of a category are
0). Published through the metrics service's ingest and replaced whole by source `feedback:<process_id>`.

ANONYMITY: an ingested batch keeps who sent it and when, to the microsecond, and is audited. So an anonymous post
never publishes: the named actions do (a named post, the triage), the triagers' `POST .../feedback/kpis`, and the
daily `procopt publish-feedback-kpis`. Each publishes the counts as they are, anonymous ones included, which
tells no more than the triage list does."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.calendar import today
from app.core.config import get_settings
from app.core.errors import AppError, Conflict
from app.feedback.models import Feedback, FeedbackCategory
from app.feedback.records import CATEGORY
from app.feedback.schemas import FeedbackKpis
from app.metrics import service as metrics
from app.metrics.ingest import Row, ingest
from app.metrics.models import Kpi, Observation
from app.metrics.schemas import MAX_BATCH_ROWS, KpiCreate, ObservationIn
from app.metrics.series import invalidate_cache
from app.mining.service import log_kpi_code
from app.processes.models import Process
from app.users.models import User

log = logging.getLogger(__name__)
ORIGIN = "feedback"


def source(process_id: int) -> str:
    return f"feedback:{process_id}"


def kpi_code(process_code: str, category: FeedbackCategory) -> str:
    return log_kpi_code(process_code, f"FB-{category.value.upper()}")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_counts(session: Session, process_id: int, until: date) -> dict[FeedbackCategory, dict[date, int]]:
    """Per category with feedback, its count per ISO week (Monday), every week from the process's first
    feedback week to `until`'s, 0 where none came."""
    stmt = (select(Feedback.category, Feedback.received_on, sa.func.count()).where(Feedback.process_id == process_id)
            .group_by(Feedback.category, Feedback.received_on))
    days = list(session.exec(stmt))
    if not days:
        return {}
    first, last = monday(min(d for _, d, _ in days)), monday(until)
    weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    counts: dict[FeedbackCategory, dict[date, int]] = {}
    for category in FeedbackCategory:
        if any(c == category for c, _, _ in days):
            counts[category] = dict.fromkeys(weeks, 0)
    for category, day, n in days:
        counts[category][monday(day)] = counts[category].get(monday(day), 0) + n
    return counts


def _definition(process: Process, category: FeedbackCategory, owner_id: int | None) -> KpiCreate:
    en, zh = CATEGORY["en"][category.value], CATEGORY["zh_CN"][category.value]
    return KpiCreate(
        code=kpi_code(process.code, category), name_en=f"Feedback received per week: {en}",
        name_zh=f"每周收到的反馈：{zh}", unit="count", direction="lower_is_better", aggregation="sum",
        process_id=process.id, owner_id=owner_id,
        description=f"Feedback on {process.code} of the category {en} ({zh}), named and anonymous, counted per ISO "
                    "week of the day it came; published by procopt from the feedback channel (source "
                    f"feedback:{process.id}) and replaced whole each time.")


def _owner(session: Session, process: Process, actor: User) -> int | None:
    """The KPIs' owner: the process's owner when the publisher may name someone else, else the publisher."""
    owner = session.get(User, process.owner_id) if process.owner_id else None
    if owner is not None and owner.is_active and actor.role in metrics.EDITOR_ROLES:
        return owner.id
    return None


def publish(session: Session, process: Process, actor: User, *, create: bool = True) -> FeedbackKpis:
    """Publish the process's weekly counts per category, replacing what was published before; nothing is
    written when they are what is published already. `create=False` (a sender who does not triage): only the
    KPIs that exist are published, none created. The caller checks who may publish."""
    session.exec(select(Process.id).where(Process.id == process.id).with_for_update()).one()  # one at a time
    tz = ZoneInfo(get_settings().business_timezone)
    counts = weekly_counts(session, process.id, today())
    codes = {c: kpi_code(process.code, c) for c in counts}
    existing = {k.code_norm: k for k in session.exec(select(Kpi).where(
        col(Kpi.code_norm).in_([c.upper() for c in codes.values()])))}
    for k in existing.values():
        if k.process_id != process.id:
            raise Conflict(f"The KPI {k.code} belongs to another process.", kpi=k.code)
    if not create:
        counts = {c: weeks for c, weeks in counts.items() if codes[c].upper() in existing}
    wanted = {(codes[c], _instant(week, tz), float(n)) for c, weeks in counts.items() for week, n in weeks.items()}
    src = source(process.id)
    stored = session.exec(select(Kpi.code, Observation.ts, Observation.value)
                          .join(Kpi, col(Kpi.id) == Observation.kpi_id).where(Observation.source == src)).all()
    result = FeedbackKpis(kpis=sorted(codes[c] for c in counts), weeks=len({w for ws in counts.values() for w in ws}),
                          observations=len(wanted), batches=[])
    if {(code, ts.astimezone(UTC), value) for code, ts, value in stored} == wanted and all(
            codes[c].upper() in existing for c in counts):
        return result
    owner_id = _owner(session, process, actor)
    for category in counts:
        if codes[category].upper() not in existing:
            metrics.create_kpi(session, _definition(process, category, owner_id), actor)
    _drop(session, src)
    rows = [Row(ObservationIn(kpi=code, ts=ts, value=value), row=i + 1)
            for i, (code, ts, value) in enumerate(sorted(wanted))]
    result.batches = [ingest(session, rows[i:i + MAX_BATCH_ROWS], actor, origin=ORIGIN, source=src).batch_id
                      for i in range(0, len(rows), MAX_BATCH_ROWS)]
    return result


def _instant(week: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(week, time(), tz).astimezone(UTC)


def _drop(session: Session, src: str) -> None:
    """Delete what the source published, and the cached periods it fell into."""
    ranges = {kpi_id: (low, high) for kpi_id, low, high in session.exec(
        select(Observation.kpi_id, sa.func.min(Observation.ts), sa.func.max(Observation.ts))
        .where(Observation.source == src).group_by(Observation.kpi_id))}
    session.exec(sa.delete(Observation).where(Observation.source == src))
    if ranges:
        invalidate_cache(session, ranges)


def refresh(session: Session, process: Process, actor: User, *, create: bool) -> Any:
    """Publish on the side of a named action: a refusal (a viewer, a KPI code taken by another process) leaves
    the action as it is, and the counts for the next publication."""
    if not metrics.can_ingest(actor):
        return None
    try:
        with session.begin_nested():
            return publish(session, process, actor, create=create)
    except AppError as exc:
        log.warning("feedback KPIs of %s not published: %s", process.code, exc.detail)
        return None
