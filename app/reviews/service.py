"""Quarterly reviews (季度复盘会): plan one per process and quarter, prepare it from the quarter's data (the pack),
record the meeting (participants, findings, decisions, the next review's day), and open a new round through
phases 3-5 from a decision, its problems the review's findings.

Who: the process's owner, administrators and the team of an initiative on the process (the people who triage its
feedback, `app.feedback.service.may_triage`); opening a new round also needs the right to start initiatives."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import record as audit
from app.core.calendar import add_working_days, today
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, rule
from app.core.labels import N_
from app.core.versioning import check_version, delete_audited, save_new, save_update
from app.feedback import service as feedback
from app.feedback.models import Feedback
from app.initiatives import service as initiatives
from app.initiatives.models import Initiative
from app.initiatives.schemas import InitiativeCreate, ProcessRef, UserRef
from app.issues import service as issues
from app.issues.models import OPEN_STATUSES, Issue, IssueSource
from app.issues.schemas import IssueCreate
from app.measures.models import CLOSED_STATUSES, Measure
from app.metrics.models import AlertStatus, Direction, Grain, Kpi, KpiAlert
from app.metrics.series import SeriesQuery, series_frame, value_column
from app.mining.service import log_kpi_code
from app.processes.models import Process
from app.processes.service import get_process
from app.reviews.models import (
    DecisionKind,
    Review,
    ReviewDecision,
    ReviewFinding,
    ReviewParticipant,
    ReviewStatus,
)
from app.reviews.schemas import (
    DecisionIn,
    DecisionRead,
    DepartmentTraining,
    FeedbackItem,
    FeedbackSummary,
    FindingIn,
    FindingRead,
    KpiReview,
    MeasureItem,
    MonthValue,
    OpenRoundRequest,
    Pack,
    ProblemItem,
    RecordRequest,
    ReviewCreate,
    ReviewDetail,
    ReviewRead,
    ReviewRisks,
    ReviewUpdate,
    RoundOpened,
    SopSummary,
    SopVersionItem,
    TrainingSummary,
    dump,
)
from app.risks import service as risks
from app.risks.models import Risk, RiskStatus
from app.rollout import service as rollout
from app.sops import service as sops
from app.sops.models import SopState, SopVersion
from app.users.models import User

KPI_LIMIT = 100
FEEDBACK_ITEMS = 50
PLANNED_AFTER_WORKING_DAYS = 10  # a quarter's review, by default: the tenth working day after it ends
REVIEW_MONTHS = 3
FORBIDDEN = N_("The process's owner and the team of an initiative on it hold its quarterly reviews.")


# ---------------------------------------------------------------- quarters and rights

def quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * (quarter - 1) + 1, 1)


def quarter_end(year: int, quarter: int) -> date:
    """The quarter's last day."""
    return (quarter_start(year + 1, 1) if quarter == 4 else quarter_start(year, quarter + 1)) - timedelta(days=1)


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def next_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def label(year: int, quarter: int) -> str:
    return f"{year} Q{quarter}"


def default_planned_on(year: int, quarter: int) -> date:
    return add_working_days(quarter_end(year, quarter), PLANNED_AFTER_WORKING_DAYS)


def may_review(session: Session, process: Process, actor: User) -> bool:
    return feedback.may_triage(session, process, actor)


def require_reviewer(session: Session, process: Process, actor: User) -> None:
    if not may_review(session, process, actor):
        raise Forbidden(FORBIDDEN)


def get_review(session: Session, review_id: int) -> Review:
    r = session.get(Review, review_id)
    if r is None:
        raise NotFound(N_("No such review."))
    return r


def _reviewer(session: Session, review_id: int, actor: User) -> tuple[Review, Process]:
    r = get_review(session, review_id)
    process = get_process(session, r.process_id)
    require_reviewer(session, process, actor)
    return r, process


def snapshot(r: Review) -> dict[str, Any]:
    return {"process_id": r.process_id, "year": r.year, "quarter": r.quarter, "planned_on": r.planned_on.isoformat(),
            "status": r.status.value, "held_on": r.held_on.isoformat() if r.held_on else None, "notes": r.notes,
            "next_review_on": r.next_review_on.isoformat() if r.next_review_on else None}


# ---------------------------------------------------------------- planning

def create_review(session: Session, process_id: int, data: ReviewCreate, actor: User) -> Review:
    process = get_process(session, process_id)
    require_reviewer(session, process, actor)
    return _plan(session, process, data.year, data.quarter, data.planned_on, actor)


def _plan(session: Session, process: Process, year: int, quarter: int, planned_on: date | None, actor: User) -> Review:
    if session.exec(select(Review).where(Review.process_id == process.id, Review.year == year,
                                         Review.quarter == quarter)).first() is not None:
        raise Conflict(N_("The process has a review of that quarter already."), year=year, quarter=quarter)
    r = Review(process_id=process.id, year=year, quarter=quarter,
               planned_on=planned_on or default_planned_on(year, quarter), created_by_id=actor.id)
    return save_new(session, actor, r, "review", snapshot)


def list_reviews(session: Session, process_id: int, actor: User, *, limit: int = 50,
                 after: tuple[int, int] | None = None) -> list[Review]:
    """The process's reviews, the latest quarter first."""
    process = get_process(session, process_id)
    require_reviewer(session, process, actor)
    stmt = select(Review).where(Review.process_id == process.id)
    if after is not None:
        stmt = stmt.where(sa.tuple_(col(Review.year), col(Review.quarter)) < sa.tuple_(*after))
    return list(session.exec(stmt.order_by(col(Review.year).desc(), col(Review.quarter).desc()).limit(limit)))


def read_review(session: Session, review_id: int, actor: User) -> Review:
    return _reviewer(session, review_id, actor)[0]


def update_review(session: Session, review_id: int, data: ReviewUpdate, actor: User, *,
                  expected_version: int | None) -> Review:
    r, _ = _reviewer(session, review_id, actor)
    check_version(r, expected_version, "review")
    changes = data.model_dump(exclude_unset=True)
    if "planned_on" in changes and changes["planned_on"] is None:
        raise rule(N_("A review has a planned day."), "planned_on", "missing")
    return save_update(session, actor, r, "review", snapshot(r), snapshot, changes=changes)


def delete_review(session: Session, review_id: int, actor: User, *, expected_version: int | None) -> None:
    r, _ = _reviewer(session, review_id, actor)
    check_version(r, expected_version, "review")
    if r.status == ReviewStatus.held:
        raise Conflict(N_("A review that was held is kept: its record is the minutes."))
    delete_audited(session, actor, r, "review", snapshot(r))


# ---------------------------------------------------------------- the meeting record

def _findings(session: Session, review_id: int) -> list[ReviewFinding]:
    return list(session.exec(select(ReviewFinding).where(ReviewFinding.review_id == review_id)
                             .order_by(col(ReviewFinding.position))))


def _decisions(session: Session, review_id: int) -> list[ReviewDecision]:
    return list(session.exec(select(ReviewDecision).where(ReviewDecision.review_id == review_id)
                             .order_by(col(ReviewDecision.position))))


def _participant_ids(session: Session, review_id: int) -> list[int]:
    return list(session.exec(select(ReviewParticipant.user_id).where(ReviewParticipant.review_id == review_id)))


def _users(session: Session, ids: list[int], field: str) -> dict[int, User]:
    found = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    for i, user_id in enumerate(ids):
        u = found.get(user_id)
        if u is None or not u.is_active:
            raise rule(N_("Choose active users."), field.format(i=i), "unknown_user")
    return found


def _sync(session: Session, existing: list[Any], wanted: list[FindingIn] | list[DecisionIn], field: str,
          linked: str, fill: Any) -> None:
    """Make the rows of `existing` what `wanted` lists, in its order: rows named by id are changed, others added;
    rows left out are removed, unless they are `linked` (a finding that became a problem, a decision that opened
    a round)."""
    by_id = {row.id: row for row in existing}
    kept: set[int] = set()
    for i, item in enumerate(wanted):
        if item.id is not None:
            if item.id not in by_id or item.id in kept:
                raise rule(N_("Not one of this review's items."), f"{field}.{i}.id", "unknown")
            row = by_id[item.id]
            kept.add(item.id)
        else:
            row = None
        row = fill(row, item, i)
        session.add(row)
    for row in existing:
        if row.id not in kept:
            if getattr(row, linked) is not None:
                raise rule(N_("It opened a new round (or became a problem there): it stays in the record."),
                           field, "linked")
            session.delete(row)


def record(session: Session, review_id: int, data: RecordRequest, actor: User, *,
           expected_version: int | None) -> Review:
    """Write the meeting record. The first time, the review is held: the pack is kept as it is now, and the next
    review is planned (for the next quarter, on `next_review_on` or three months on)."""
    r, process = _reviewer(session, review_id, actor)
    check_version(r, expected_version, "review")
    if data.held_on > today():
        raise rule(N_("A meeting is recorded once it was held: the day cannot be in the future."), "held_on",
                   "future")
    participant_ids = list(dict.fromkeys(data.participant_ids))
    _users(session, participant_ids, "participant_ids.{i}")
    for i, d in enumerate(data.decisions):
        if d.owner_id is not None:
            _users(session, [d.owner_id], f"decisions.{i}.owner_id")
    before = snapshot(r) | {"participants": _participant_ids(session, r.id),
                            "findings": [f.text for f in _findings(session, r.id)],
                            "decisions": [(d.kind.value, d.text) for d in _decisions(session, r.id)]}

    def finding(row: ReviewFinding | None, item: FindingIn, i: int) -> ReviewFinding:
        row = row or ReviewFinding(review_id=r.id, position=i, text=item.text)
        row.position, row.text, row.category = i, item.text, item.category
        return row

    def decision(row: ReviewDecision | None, item: DecisionIn, i: int) -> ReviewDecision:
        if row is not None and row.initiative_id is not None and item.kind != DecisionKind.new_round:
            raise rule(N_("It opened a new round: it stays a new round."), f"decisions.{i}.kind", "linked")
        row = row or ReviewDecision(review_id=r.id, position=i, kind=item.kind, text=item.text)
        row.position, row.kind, row.text, row.owner_id, row.due_on = i, item.kind, item.text, item.owner_id, item.due_on
        return row

    _sync(session, _findings(session, r.id), data.findings, "findings", "issue_id", finding)
    _sync(session, _decisions(session, r.id), data.decisions, "decisions", "initiative_id", decision)
    session.exec(sa.delete(ReviewParticipant).where(col(ReviewParticipant.review_id) == r.id))
    for user_id in participant_ids:
        session.add(ReviewParticipant(review_id=r.id, user_id=user_id))
    first = r.status == ReviewStatus.planned
    changes: dict[str, Any] = {"held_on": data.held_on, "notes": data.notes, "status": ReviewStatus.held,
                               "next_review_on": data.next_review_on or _months_on(data.held_on, REVIEW_MONTHS)}
    if first:
        changes["pack"] = dump(pack(session, process, r.year, r.quarter))
    session.flush()
    saved = save_update(session, actor, r, "review", before, lambda x: snapshot(x) | {
        "participants": participant_ids, "findings": [f.text for f in data.findings],
        "decisions": [(d.kind.value, d.text) for d in data.decisions]}, changes=changes)
    _plan_next(session, process, saved, actor)
    return saved


def _months_on(day: date, months: int) -> date:
    return sops.add_months(day, months)


def _plan_next(session: Session, process: Process, r: Review, actor: User) -> None:
    """The next quarter's review on `next_review_on`: planned, or moved when it is still only planned."""
    year, quarter = next_quarter(r.year, r.quarter)
    nxt = session.exec(select(Review).where(Review.process_id == process.id, Review.year == year,
                                            Review.quarter == quarter)).first()
    if nxt is None:
        _plan(session, process, year, quarter, r.next_review_on, actor)
    elif nxt.status == ReviewStatus.planned and nxt.planned_on != r.next_review_on:
        save_update(session, actor, nxt, "review", snapshot(nxt), snapshot, changes={"planned_on": r.next_review_on})


# ---------------------------------------------------------------- a new round

def open_round(session: Session, review_id: int, decision_id: int, data: OpenRoundRequest, actor: User, *,
               expected_version: int | None) -> RoundOpened:
    """A new initiative on the process that starts at design (phases 3-5; the diagnosis and the root cause are the
    review's), its problems the chosen findings (category and text), the decision linked to it."""
    r, process = _reviewer(session, review_id, actor)
    check_version(r, expected_version, "review")
    if not initiatives.can_create(actor):
        raise Forbidden(N_("Only leads and administrators start initiatives."))
    d = session.get(ReviewDecision, decision_id)
    if d is None or d.review_id != r.id:
        raise NotFound(N_("No such decision."))
    if d.kind != DecisionKind.new_round:
        raise rule(N_("Only a decision for a new round opens one."), "decision", "kind")
    if d.initiative_id is not None:
        raise Conflict(N_("The decision opened its round already."), initiative_id=d.initiative_id)
    findings = [f for f in _findings(session, r.id) if f.issue_id is None]
    if data.finding_ids is not None:
        by_id = {f.id: f for f in findings}
        for i, finding_id in enumerate(data.finding_ids):
            if finding_id not in by_id:
                raise rule(N_("Choose findings of this review that are not a problem yet."), f"finding_ids.{i}",
                           "unknown")
        findings = [by_id[i] for i in dict.fromkeys(data.finding_ids)]
    ini = initiatives.create_initiative(session, InitiativeCreate(
        process_id=process.id, title=data.title, trigger=data.trigger,
        goal=d.text, leader_id=data.leader_id or d.owner_id or actor.id), actor)
    initiatives.start_at_design(session, ini.id, f"Opened by the quarterly review {label(r.year, r.quarter)}.",
                                actor)
    issue_ids = []
    for f in findings:
        issue = issues.create_issue(session, ini.id, IssueCreate(
            title=_title(f.text), description=f"{f.text}\n\n— {label(r.year, r.quarter)}", category=f.category,
            source=IssueSource.data), actor)
        f.issue_id = issue.id
        session.add(f)
        issue_ids.append(issue.id)
    d.initiative_id = ini.id
    session.add(d)
    session.flush()
    saved = save_update(session, actor, r, "review", snapshot(r), snapshot)
    audit(session, actor, "open_round", "review", r.id, None,
          {"decision_id": d.id, "initiative_id": ini.id, "issue_ids": issue_ids})
    return RoundOpened(initiative_id=ini.id, issue_ids=issue_ids, review=to_read(session, saved))


def _title(text: str) -> str:
    line = text.splitlines()[0].strip()
    return line if len(line) <= 200 else line[:199] + "…"


# ---------------------------------------------------------------- the pack

def pack(session: Session, process: Process, year: int, quarter: int) -> Pack:
    """The quarter's data of the process, as the review is prepared from it."""
    start, end = quarter_start(year, quarter), quarter_end(year, quarter)
    kpis, compliance = _kpis(session, process, start, end)
    return Pack(process=ProcessRef(id=process.id, code=process.code, name=process.name), year=year, quarter=quarter,
                start=start, end=end, prepared_at=utcnow(), kpis=kpis, compliance=compliance,
                feedback=_feedback(session, process, start, end), problems=_problems(session, process),
                measures=_measures(session, process), sop=_sop(session, process, end),
                training=_training(session, process), risks=_risks(session, process, start, end))


def _is_compliance(process: Process, code: str) -> bool:
    m = re.fullmatch(r".*-CP(\d+)", code)
    return m is not None and log_kpi_code(process.code, f"CP{m[1]}") == code


def _on_target(kpi: Kpi, value: float | None) -> bool | None:
    if value is None or kpi.target is None:
        return None
    return value <= kpi.target if kpi.direction == Direction.lower_is_better else value >= kpi.target


def _kpis(session: Session, process: Process, start: date, end: date) -> tuple[list[KpiReview], list[KpiReview]]:
    found = list(session.exec(select(Kpi).where(Kpi.process_id == process.id).order_by(col(Kpi.code_norm))
                              .limit(KPI_LIMIT)))
    if not found:
        return [], []
    ids = [k.id for k in found]
    tz = get_settings().business_timezone
    frame = series_frame(session, ids, SeriesQuery(grain=Grain.month, start=start, end=end + timedelta(days=1), tz=tz))
    values: dict[tuple[int, date], float | None] = {}
    for row in frame.iter_rows(named=True):
        values[(row["kpi_id"], row["period_start"])] = row
    months = [start, _months_on(start, 1), _months_on(start, 2)]
    alerts = Counter()
    open_alerts = Counter()
    for kpi_id, status in session.exec(select(KpiAlert.kpi_id, KpiAlert.status).where(
            col(KpiAlert.kpi_id).in_(ids), col(KpiAlert.period_start) >= start, col(KpiAlert.period_start) <= end)):
        alerts[kpi_id] += 1
        open_alerts[kpi_id] += status == AlertStatus.open
    plain, rates = [], []
    for k in found:
        column = value_column(k)
        series = [MonthValue(period_start=m, value=(values[(k.id, m)][column] if (k.id, m) in values else None))
                  for m in months]
        latest = next((p.value for p in reversed(series) if p.value is not None), None)
        item = KpiReview(id=k.id, code=k.code, name_en=k.name_en, name_zh=k.name_zh, unit=k.unit,
                         direction=k.direction.value, aggregation=k.aggregation.value,
                         target=k.target, baseline=k.baseline, months=series,
                         latest=latest, on_target=_on_target(k, latest), alerts=alerts[k.id],
                         open_alerts=open_alerts[k.id])
        (rates if _is_compliance(process, k.code) else plain).append(item)
    return plain, rates


def _feedback(session: Session, process: Process, start: date, end: date) -> FeedbackSummary:
    rows = list(session.exec(select(Feedback).where(Feedback.process_id == process.id,
                                                    col(Feedback.received_on) >= start, col(Feedback.received_on) <= end)
                             .order_by(col(Feedback.id).desc())))
    overdue = {fb.id for fb in rows if feedback.overdue(fb)}
    return FeedbackSummary(
        received=len(rows), by_category=dict(Counter(fb.category.value for fb in rows)),
        by_status=dict(Counter(fb.status.value for fb in rows)), overdue=len(overdue),
        items=[FeedbackItem(id=fb.id, category=fb.category, status=fb.status, received_on=fb.received_on,
                            text=fb.text[:300], anonymous=fb.anonymous, overdue=fb.id in overdue, issue_id=fb.issue_id)
               for fb in rows[:FEEDBACK_ITEMS]])


def _problems(session: Session, process: Process) -> list[ProblemItem]:
    rows = session.exec(select(Issue).join(Initiative, col(Initiative.id) == Issue.initiative_id).where(
        Initiative.process_id == process.id, col(Issue.status).in_(OPEN_STATUSES)).order_by(col(Issue.id)))
    return [ProblemItem(id=i.id, initiative_id=i.initiative_id, title=i.title, category=i.category, status=i.status,
                        impact=i.impact, urgency=i.urgency) for i in rows]


def _measures(session: Session, process: Process) -> list[MeasureItem]:
    rows = list(session.exec(select(Measure).join(Initiative, col(Initiative.id) == Measure.initiative_id).where(
        Initiative.process_id == process.id, col(Measure.status).not_in(CLOSED_STATUSES)).order_by(col(Measure.id))))
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_({m.owner_id for m in rows})))}
    now = today()
    return [MeasureItem(id=m.id, initiative_id=m.initiative_id, goal=m.goal, status=m.status, due_date=m.due_date,
                        overdue=m.due_date is not None and m.due_date < now,
                        owner=UserRef(id=m.owner_id, display_name=users[m.owner_id].display_name)
                        if m.owner_id in users else None) for m in rows]


def _version_item(v: SopVersion) -> SopVersionItem:
    return SopVersionItem(id=v.id, number=sops.number(v), effective_date=v.effective_date,
                          change_summary=v.change_summary or "")


def _sop(session: Session, process: Process, end: date) -> SopSummary:
    sop = sops.sop_of_process(session, process.id)
    if sop is None:
        return SopSummary(sop_id=None, in_force=None, review_interval_months=None, review_due=None, versions=[])
    versions = list(session.exec(select(SopVersion).where(
        SopVersion.sop_id == sop.id, SopVersion.state == SopState.published, col(SopVersion.effective_date) <= end)
        .order_by(col(SopVersion.effective_date).desc(), col(SopVersion.id).desc())))
    read = sops.sop_read(session, sop)
    current = session.get(SopVersion, read.current_version_id) if read.current_version_id else None
    return SopSummary(sop_id=sop.id, in_force=_version_item(current) if current else None,
                      review_interval_months=sop.review_interval_months, review_due=read.review_due,
                      versions=[_version_item(v) for v in versions])


def _risks(session: Session, process: Process, start: date, end: date) -> ReviewRisks:
    top = list(session.exec(select(Risk).where(Risk.process_id == process.id, Risk.status != RiskStatus.closed)
                            .order_by((col(Risk.likelihood) * col(Risk.impact)).desc(), col(Risk.id)).limit(10)))
    return ReviewRisks(summary=risks.register(session, process.id), top=risks.to_reads(session, top),
                       changes=risks.changes(session, process.id, start, end))


def _training(session: Session, process: Process) -> TrainingSummary:
    sop = sops.sop_of_process(session, process.id)
    current_id = sops.sop_read(session, sop).current_version_id if sop else None
    plan = rollout.plans_of_version(session, current_id) if current_id else None
    if plan is None:
        return TrainingSummary(plan_id=None, people=0, passed=0, acknowledged=0, coverage=None, departments=[])
    depts = rollout.readiness(session, plan).departments
    people, passed = sum(d.people for d in depts), sum(d.passed for d in depts)
    return TrainingSummary(
        plan_id=plan.id, people=people, passed=passed, acknowledged=sum(d.acknowledged for d in depts),
        coverage=passed / people if people else None,
        departments=[DepartmentTraining(code=d.code, name=d.name, people=d.people, passed=d.passed,
                                        acknowledged=d.acknowledged) for d in depts])


# ---------------------------------------------------------------- reads

def due(r: Review, on: date | None = None) -> bool:
    return r.status == ReviewStatus.planned and r.planned_on <= (on or today())


def to_reads(session: Session, items: list[Review]) -> list[ReviewRead]:
    if not items:
        return []
    ids = [r.id for r in items]
    processes = {p.id: p for p in session.exec(select(Process).where(col(Process.id).in_({r.process_id for r in items})))}
    findings = list(session.exec(select(ReviewFinding).where(col(ReviewFinding.review_id).in_(ids))
                                 .order_by(col(ReviewFinding.position))))
    decisions = list(session.exec(select(ReviewDecision).where(col(ReviewDecision.review_id).in_(ids))
                                  .order_by(col(ReviewDecision.position))))
    participants = list(session.exec(select(ReviewParticipant).where(col(ReviewParticipant.review_id).in_(ids))))
    user_ids = {p.user_id for p in participants} | {d.owner_id for d in decisions if d.owner_id}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(user_ids)))} if user_ids else {}

    def ref(user_id: int | None) -> UserRef | None:
        u = users.get(user_id) if user_id else None
        return UserRef(id=u.id, display_name=u.display_name) if u else None

    out = []
    for r in items:
        p = processes[r.process_id]
        out.append(ReviewRead(
            id=r.id, process=ProcessRef(id=p.id, code=p.code, name=p.name), year=r.year, quarter=r.quarter,
            label=label(r.year, r.quarter), planned_on=r.planned_on, status=r.status, due=due(r), held_on=r.held_on,
            participants=sorted((ref(x.user_id) for x in participants if x.review_id == r.id and ref(x.user_id)),
                                key=lambda u: u.display_name),
            findings=[FindingRead(id=f.id, text=f.text, category=f.category, issue_id=f.issue_id)
                      for f in findings if f.review_id == r.id],
            decisions=[DecisionRead(id=d.id, kind=d.kind, text=d.text, owner=ref(d.owner_id), due_on=d.due_on,
                                    initiative_id=d.initiative_id) for d in decisions if d.review_id == r.id],
            notes=r.notes, next_review_on=r.next_review_on, version=r.version, created_at=r.created_at,
            updated_at=r.updated_at))
    return out


def to_read(session: Session, r: Review) -> ReviewRead:
    return to_reads(session, [r])[0]


def detail(session: Session, r: Review) -> ReviewDetail:
    """The review with its pack: the kept one once held, prepared now while planned."""
    kept = Pack.model_validate(r.pack) if r.pack else pack(session, get_process(session, r.process_id), r.year,
                                                           r.quarter)
    return ReviewDetail(**to_read(session, r).model_dump(), pack=kept)


@dataclass(frozen=True)
class Upcoming:
    review: Review
    process: Process


def upcoming(session: Session, user: User, within_days: int) -> list[Upcoming]:
    """Planned reviews up to `within_days` ahead (and those overdue) of the processes `user` reviews."""
    horizon = today() + timedelta(days=within_days)
    rows = session.exec(select(Review, Process).join(Process, col(Process.id) == Review.process_id).where(
        Review.status == ReviewStatus.planned, col(Review.planned_on) <= horizon).order_by(col(Review.planned_on)))
    return [Upcoming(r, p) for r, p in rows if may_review(session, p, user)]
