"""Risk register rules: who keeps a process's register (the same people who triage its feedback:
`app.feedback.service.may_triage`), what a risk may name (an initiative of its process, an owner who may read the
register, control points of the process's SOP), the one audited write path, and the read model: the score and its
band, the linked control points' latest measured compliance, and the flags.

Measured compliance: `app.mining.service.publish_kpis` publishes, per control point with a rule of the SOP version
in force, the weekly compliance rate of the process's event logs as the KPI `<PROCESS>-CP<n>`, `n` being the
point's number in that version (its place among the version's control points, from 1, as `compliance_summary`
numbers them). A linked point (a UUID) is resolved to its number in the version in force today; its latest weekly
observation (the mean of that week's values, when several logs published it) is its measured compliance. A risk is
`flagged` when that rate is below its `compliance_threshold` for one of its points (closed risks never are): the
residual risk is no longer what it was. A point the version in force no longer has is shown as such, unmeasured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.core.config import get_settings
from app.core.errors import Forbidden, NotFound, rule
from app.core.labels import N_
from app.core.pagination import Cursor
from app.core.versioning import changes_of, check_version, delete_audited, save_new, save_update
from app.feedback.service import may_triage, version_in_force
from app.initiatives.models import Initiative
from app.initiatives.service import user_refs
from app.metrics.models import Kpi, Observation
from app.metrics.series import local_date
from app.mining.service import log_kpi_code
from app.processes.models import Process
from app.processes.service import get_process
from app.risks.models import Risk, RiskControlPoint, RiskSeed, RiskStatus
from app.risks.schemas import (
    NOT_NULL,
    Band,
    FlagReason,
    HeatCell,
    HeatMap,
    LinkedPoint,
    RegisterSummary,
    RiskChange,
    RiskCreate,
    RiskRead,
    RiskUpdate,
)
from app.sops import service as sops
from app.sops.models import SopVersion
from app.users.models import User

ENTITY = "risk"
REFUSED = N_("The process's owner and the team of an initiative on it keep its risk register.")
CURSOR_KEYS = ("score", "id")
SCAN = 200  # rows read at a time when a list is filtered on the computed flag


def band(score: int) -> Band:
    if score <= 4:
        return Band.low
    if score <= 9:
        return Band.medium
    return Band.high if score <= 16 else Band.critical


@dataclass(frozen=True)
class RiskFilter:
    initiative_id: int | None = None
    status: RiskStatus | None = None
    flagged: bool | None = None
    likelihood: int | None = None
    impact: int | None = None


# ---------------------------------------------------------------- rights and look-ups

def may_keep(session: Session, process: Process, actor: User) -> bool:
    """Who reads and keeps the register: the process's owner, administrators, the team (not viewers) of an
    initiative on the process; the same people who triage its feedback."""
    return may_triage(session, process, actor)


def _keeper(session: Session, process_id: int, actor: User) -> Process:
    process = get_process(session, process_id)
    if not may_keep(session, process, actor):
        raise Forbidden(REFUSED)
    return process


def get_risk(session: Session, risk_id: int) -> Risk:
    risk = session.get(Risk, risk_id)
    if risk is None:
        raise NotFound(N_("Risk {risk_id} not found."), params={"risk_id": risk_id})
    return risk


def read_one(session: Session, risk_id: int, actor: User) -> Risk:
    risk = get_risk(session, risk_id)
    _keeper(session, risk.process_id, actor)
    return risk


def _links(session: Session, risk_ids: Iterable[int]) -> dict[int, list[UUID]]:
    ids = list(risk_ids)
    out: dict[int, list[UUID]] = {i: [] for i in ids}
    if ids:
        for link in session.exec(select(RiskControlPoint).where(col(RiskControlPoint.risk_id).in_(ids))
                                 .order_by(col(RiskControlPoint.risk_id), col(RiskControlPoint.control_point_id))):
            out[link.risk_id].append(link.control_point_id)
    return out


def snapshot(session: Session, risk: Risk) -> dict[str, Any]:
    """What the audit trail keeps of a risk (its control points too: linking is a change of the risk)."""
    return {"id": risk.id, "process_id": risk.process_id, "initiative_id": risk.initiative_id,
            "seed": risk.seed.value if risk.seed else None, "description": risk.description, "signs": risk.signs,
            "likelihood": risk.likelihood, "impact": risk.impact, "owner_id": risk.owner_id,
            "response": risk.response, "status": RiskStatus(risk.status).value,
            "review_date": risk.review_date.isoformat() if risk.review_date else None,
            "compliance_threshold": risk.compliance_threshold,
            "control_point_ids": sorted(str(i) for i in _links(session, [risk.id])[risk.id]), "version": risk.version}


# ---------------------------------------------------------------- what a risk may name

def _check_initiative(session: Session, process: Process, initiative_id: int | None) -> None:
    if initiative_id is None:
        return
    ini = session.get(Initiative, initiative_id)
    if ini is None or ini.process_id != process.id:
        raise rule("Choose an initiative on the risk's process.", "initiative_id", "unknown_initiative")


def _check_owner(session: Session, process: Process, owner_id: int | None) -> None:
    if owner_id is None:
        return
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active or not may_keep(session, process, owner):
        raise rule("The owner must be someone who keeps the register: the process's owner, an administrator or a "
                   "member (not a viewer) of the team of an initiative on the process.", "owner_id", "unknown_owner")


def sop_control_points(session: Session, process_id: int) -> set[UUID]:
    """The ids of the control points of every version of the process's SOP (drafts too)."""
    sop = sops.sop_of_process(session, process_id)
    if sop is None:
        return set()
    found: set[UUID] = set()
    for content in session.exec(select(SopVersion.content).where(SopVersion.sop_id == sop.id)):
        for cp in (content or {}).get("control_points", []):
            if cp.get("id"):
                found.add(UUID(str(cp["id"])))
    return found


def _check_points(session: Session, process: Process, ids: list[UUID]) -> None:
    if not ids:
        return
    known = sop_control_points(session, process.id)
    for i, cp in enumerate(ids):
        if cp not in known:
            raise rule(f"{cp} is not a control point of the process's SOP.", f"control_point_ids.{i}",
                       "unknown_control_point")


def _set_links(session: Session, risk: Risk, ids: list[UUID]) -> None:
    session.exec(sa.delete(RiskControlPoint).where(col(RiskControlPoint.risk_id) == risk.id))
    session.add_all(RiskControlPoint(risk_id=risk.id, control_point_id=cp) for cp in ids)


# ---------------------------------------------------------------- writing

def new_risk(session: Session, process: Process, data: RiskCreate, actor: User, *,
             seed: RiskSeed | None = None) -> Risk:
    """Write a risk (and its links) the caller has checked, audited as created by `actor`."""
    fields = data.model_dump(exclude={"control_point_ids"})
    risk = Risk(process_id=process.id, seed=seed, created_by_id=actor.id, **fields)
    session.add(risk)
    session.flush()
    _set_links(session, risk, data.control_point_ids)
    return save_new(session, actor, risk, ENTITY, lambda r: snapshot(session, r))


def create_risk(session: Session, process_id: int, data: RiskCreate, actor: User) -> Risk:
    process = _keeper(session, process_id, actor)
    _check_initiative(session, process, data.initiative_id)
    _check_owner(session, process, data.owner_id)
    _check_points(session, process, data.control_point_ids)
    return new_risk(session, process, data, actor)


def _changing(session: Session, risk_id: int, actor: User, expected_version: int | None) -> tuple[Risk, Process]:
    risk = get_risk(session, risk_id)
    process = _keeper(session, risk.process_id, actor)
    check_version(risk, expected_version, "risk")
    return risk, process


def update_risk(session: Session, risk_id: int, data: RiskUpdate, actor: User, *,
                expected_version: int | None) -> Risk:
    """Change the fields sent (and the links, when `control_point_ids` is sent)."""
    risk, process = _changing(session, risk_id, actor, expected_version)
    changes = changes_of(data, NOT_NULL)
    if "initiative_id" in changes:
        _check_initiative(session, process, changes["initiative_id"])
    if "owner_id" in changes:
        _check_owner(session, process, changes["owner_id"])
    links = changes.pop("control_point_ids", None)
    if links is not None:
        links = [UUID(str(i)) for i in links]
        _check_points(session, process, links)
    before = snapshot(session, risk)
    if links is not None:
        _set_links(session, risk, links)
    return save_update(session, actor, risk, ENTITY, before, lambda r: snapshot(session, r), changes=changes)


def set_control_points(session: Session, risk_id: int, ids: list[UUID], actor: User, *,
                       expected_version: int | None) -> Risk:
    return update_risk(session, risk_id, RiskUpdate(control_point_ids=ids), actor, expected_version=expected_version)


def delete_risk(session: Session, risk_id: int, actor: User, *, expected_version: int | None) -> None:
    risk, _ = _changing(session, risk_id, actor, expected_version)
    delete_audited(session, actor, risk, ENTITY, snapshot(session, risk))


# ---------------------------------------------------------------- measured compliance

@dataclass(frozen=True)
class _Point:
    number: int
    description: str
    kpi: str | None  # the point has a rule: its compliance is published as this KPI


@dataclass(frozen=True)
class _Measured:
    points: dict[UUID, _Point]  # the control points of the version in force, by id
    rates: dict[str, tuple[float, date]]  # KPI code (upper case) -> latest weekly rate and its week


def _in_force_points(session: Session, process: Process) -> dict[UUID, _Point]:
    v = version_in_force(session, process.id)
    if v is None:
        return {}
    return {cp.id: _Point(n, cp.description, log_kpi_code(process.code, f"CP{n}") if cp.rule else None)
            for n, cp in enumerate(sops.content_of(v).control_points, start=1) if cp.id is not None}


def latest_rates(session: Session, process_id: int, codes: set[str]) -> dict[str, tuple[float, date]]:
    """The latest weekly observation of each of the process's KPIs `codes`: (mean value of that week, week)."""
    if not codes:
        return {}
    kpis = {k.id: k.code_norm for k in session.exec(select(Kpi).where(
        col(Kpi.code_norm).in_([c.upper() for c in codes]), Kpi.process_id == process_id))}
    if not kpis:
        return {}
    latest = (select(Observation.kpi_id, sa.func.max(Observation.ts).label("ts"))
              .where(col(Observation.kpi_id).in_(list(kpis))).group_by(col(Observation.kpi_id)).subquery())
    rows = session.exec(select(Observation.kpi_id, Observation.ts, sa.func.avg(Observation.value))
                        .join(latest, (col(Observation.kpi_id) == latest.c.kpi_id) & (col(Observation.ts) == latest.c.ts))
                        .group_by(col(Observation.kpi_id), col(Observation.ts)))
    tz = get_settings().business_timezone
    return {kpis[kpi_id]: (float(value), local_date(ts, tz)) for kpi_id, ts, value in rows}


def _measured(session: Session, processes: dict[int, Process], linked: dict[int, set[UUID]]) -> dict[int, _Measured]:
    """Per process with linked points: its version in force's points and their latest rates."""
    out: dict[int, _Measured] = {}
    for pid, ids in linked.items():
        if not ids:
            continue
        points = _in_force_points(session, processes[pid])
        codes = {p.kpi for cp, p in points.items() if cp in ids and p.kpi}
        out[pid] = _Measured(points, latest_rates(session, pid, codes))
    return out


def _linked_points(risk: Risk, ids: list[UUID], measured: _Measured | None) -> list[LinkedPoint]:
    out = []
    for cp in ids:
        point = measured.points.get(cp) if measured else None
        rate = measured.rates.get(point.kpi.upper()) if measured and point and point.kpi else None
        out.append(LinkedPoint(
            id=cp, number=point.number if point else None, description=point.description if point else None,
            in_force=point is not None, kpi=point.kpi if point else None, rate=rate[0] if rate else None,
            week=rate[1] if rate else None,
            below=rate is not None and rate[0] * 100 < risk.compliance_threshold))
    return out


# ---------------------------------------------------------------- reading

def to_reads(session: Session, items: list[Risk], on: date | None = None) -> list[RiskRead]:
    """The read model of `items` in a handful of queries: the links, the owners, and per process its version in
    force, the KPIs of the linked points and their latest observations."""
    if not items:
        return []
    now = on or today()
    links = _links(session, [r.id for r in items])
    processes = {p.id: p for p in session.exec(select(Process).where(col(Process.id).in_({r.process_id
                                                                                         for r in items})))}
    linked: dict[int, set[UUID]] = defaultdict(set)
    for r in items:
        linked[r.process_id] |= set(links[r.id])
    measured = _measured(session, processes, linked)
    users = user_refs(session, {r.owner_id for r in items})
    out = []
    for r in items:
        points = _linked_points(r, links[r.id], measured.get(r.process_id))
        closed = r.status == RiskStatus.closed
        reasons = [] if closed else [
            FlagReason(control_point_id=p.id, number=p.number, description=p.description, rate=p.rate, week=p.week)
            for p in points if p.below]
        score = r.likelihood * r.impact
        out.append(RiskRead(
            id=r.id, process_id=r.process_id, initiative_id=r.initiative_id, seed=r.seed, description=r.description,
            signs=r.signs, likelihood=r.likelihood, impact=r.impact, score=score, band=band(score),
            owner=users.get(r.owner_id) if r.owner_id else None, response=r.response, status=r.status,
            review_date=r.review_date, review_due=not closed and r.review_date is not None and r.review_date <= now,
            compliance_threshold=r.compliance_threshold, control_points=points, flagged=bool(reasons),
            flag_reasons=reasons, created_at=r.created_at, updated_at=r.updated_at, version=r.version))
    return out


def _score() -> Any:
    return col(Risk.likelihood) * col(Risk.impact)


def _query(process_id: int, flt: RiskFilter) -> Any:
    stmt = select(Risk).where(Risk.process_id == process_id)
    if flt.initiative_id is not None:
        stmt = stmt.where(Risk.initiative_id == flt.initiative_id)
    if flt.status is not None:
        stmt = stmt.where(Risk.status == flt.status)
    if flt.likelihood is not None:
        stmt = stmt.where(Risk.likelihood == flt.likelihood)
    if flt.impact is not None:
        stmt = stmt.where(Risk.impact == flt.impact)
    return stmt


def list_risks(session: Session, process_id: int, actor: User, flt: RiskFilter, *, limit: int,
               cursor: str | None = None) -> tuple[list[RiskRead], str | None]:
    """The process's risks (the keepers only), highest score first, then oldest first; keyset pages."""
    process = _keeper(session, process_id, actor)
    stmt = _query(process.id, flt).order_by(_score().desc(), col(Risk.id))
    if cursor:
        score, after = Cursor.decode(cursor, CURSOR_KEYS, (int, int)).values
        stmt = stmt.where((_score() < score) | ((_score() == score) & (col(Risk.id) > after)))
    found: list[RiskRead] = []
    offset = 0
    while len(found) <= limit:
        batch = list(session.exec(stmt.offset(offset).limit(limit + 1 if flt.flagged is None else SCAN)))
        reads = to_reads(session, batch)
        found += [r for r in reads if flt.flagged is None or r.flagged == flt.flagged]
        if flt.flagged is None or len(batch) < SCAN:
            break
        offset += SCAN
    if len(found) > limit:
        found = found[:limit]
        return found, Cursor(CURSOR_KEYS, (found[-1].score, found[-1].id)).encode()
    return found, None


def initiative_risks(session: Session, initiative_id: int, actor: User, flt: RiskFilter, *, limit: int,
                     cursor: str | None = None) -> tuple[list[RiskRead], str | None]:
    """An initiative's risks: those of its process that name it."""
    ini = session.get(Initiative, initiative_id)
    if ini is None:
        raise NotFound(N_("Initiative {initiative_id} not found."), params={"initiative_id": initiative_id})
    return list_risks(session, ini.process_id, actor, RiskFilter(initiative_id=ini.id, status=flt.status,
                                                                 flagged=flt.flagged, likelihood=flt.likelihood,
                                                                 impact=flt.impact), limit=limit, cursor=cursor)


def heat_map(session: Session, process_id: int, actor: User, flt: RiskFilter) -> HeatMap:
    """Counts per (likelihood, impact) of the risks the filters select (not a cell's own filter); closed risks
    only when `status` is closed."""
    process = _keeper(session, process_id, actor)
    stmt = _query(process.id, RiskFilter(initiative_id=flt.initiative_id, status=flt.status))
    if flt.status is None:
        stmt = stmt.where(Risk.status != RiskStatus.closed)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    if flt.flagged is None:
        grouped = select(Risk.likelihood, Risk.impact, sa.func.count()).where(
            col(Risk.id).in_(stmt.with_only_columns(col(Risk.id)))).group_by(col(Risk.likelihood), col(Risk.impact))
        for likelihood, impact, n in session.exec(grouped):
            counts[(likelihood, impact)] = n
    else:
        for r in to_reads(session, list(session.exec(stmt))):
            if r.flagged == flt.flagged:
                counts[(r.likelihood, r.impact)] += 1
    cells = [HeatCell(likelihood=li, impact=im, score=li * im, band=band(li * im), count=counts[(li, im)])
             for li in range(5, 0, -1) for im in range(1, 6)]
    return HeatMap(cells=cells, total=sum(counts.values()))


# ---------------------------------------------------------------- for the quarterly review

def register(session: Session, process_id: int) -> RegisterSummary:
    """The process's register at a glance: counts by status, the risks not closed by score band, the flagged ones
    and those due for review (highest score first). No rights are checked: the caller has."""
    process = get_process(session, process_id)
    risks = list(session.exec(select(Risk).where(Risk.process_id == process.id)
                              .order_by(_score().desc(), col(Risk.id))))
    by_status = dict.fromkeys(RiskStatus, 0)
    by_band = dict.fromkeys(Band, 0)
    for r in risks:
        by_status[RiskStatus(r.status)] += 1
        if r.status != RiskStatus.closed:
            by_band[band(r.likelihood * r.impact)] += 1
    active = to_reads(session, [r for r in risks if r.status != RiskStatus.closed])
    return RegisterSummary(process_id=process.id, total=len(risks), by_status=by_status, by_band=by_band,
                           flagged=[r for r in active if r.flagged], review_due=[r for r in active if r.review_due])


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(get_settings().business_timezone))


def changes(session: Session, process_id: int, start: date, end: date) -> list[RiskChange]:
    """The changes of the process's register from `start` to `end` (both included, business days in the business
    time zone), oldest first, from the audit trail of entity "risk": created, updated (control-point links too)
    and deleted risks, with the record before and after and the fields that changed. No rights are checked: the
    caller has."""
    if end < start:
        raise rule("The period ends before it starts.", "end", "date_order")
    stmt = (select(AuditRecord).where(AuditRecord.entity_type == ENTITY,
                                      col(AuditRecord.at) >= _day_start(start),
                                      col(AuditRecord.at) < _day_start(end + timedelta(days=1)))
            .order_by(col(AuditRecord.id)))
    out = []
    for rec in session.exec(stmt):
        state = rec.after or rec.before or {}
        if state.get("process_id") != process_id:
            continue
        before, after = rec.before or {}, rec.after or {}
        keys = [k for k in {**before, **after} if k not in ("id", "version")]
        changed = [k for k in keys if before.get(k) != after.get(k)]
        out.append(RiskChange(at=rec.at, risk_id=rec.entity_id, action=rec.action, actor_label=rec.actor_label,
                              before=rec.before, after=rec.after, changed=changed))
    return out


def owned_for_review(session: Session, user: User) -> list[RiskRead]:
    """The risks `user` owns that are due for review or flagged (My work), most urgent first."""
    risks = list(session.exec(select(Risk).where(Risk.owner_id == user.id, Risk.status != RiskStatus.closed)
                              .order_by(col(Risk.review_date), col(Risk.id))))
    return [r for r in to_reads(session, risks) if r.review_due or r.flagged]

