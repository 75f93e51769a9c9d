"""Rules and queries of KPI definitions, alert rules and alerts, shared by the JSON API and the pages.

Authorization: reading is open to every signed-in person. Creating KPIs, recording observations and
acknowledging alerts is for members, leads and administrators (not viewers); changing a KPI and its alert
rules for its owner, leads and administrators. On top of these, a KPI of an initiative follows the team rule
of `app.initiatives.service.can_edit`: only the initiative's team members (not viewers) and administrators
create, change or acknowledge its KPIs, rules and alerts (a lead who is not on the team reads only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import AuditRecord, history, record
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from app.core.ids import Id
from app.core.labels import N_
from app.core.pagination import Cursor, page_window
from app.core.versioning import check_version
from app.initiatives import service as initiatives
from app.initiatives.models import Initiative
from app.metrics import aggregate
from app.metrics.models import (
    AlertRuleKind,
    AlertStatus,
    Kpi,
    KpiAlert,
    KpiAlertRule,
    Observation,
)
from app.metrics.schemas import (
    AlertRead,
    AlertRuleCreate,
    AlertRuleRead,
    AlertRuleUpdate,
    KpiCreate,
    KpiRead,
    KpiUpdate,
    Ref,
)
from app.metrics.series import (
    SeriesQuery,
    local_date,
    period_floor,
    period_next,
    period_prev,
    series_frame,
    value_column,
)
from app.processes.models import Process
from app.users.models import Role, User

EDITOR_ROLES = (Role.admin, Role.lead)


# ---------------------------------------------------------------- permissions

TEAM_ONLY = "Only the initiative's team members and administrators may {what}."


def on_team(session: Session, actor: User, initiative_id: int | None) -> bool:
    """The team rule for what belongs to an initiative (none: no team rule): its team members (not viewers)
    and administrators, as `app.initiatives.service.can_edit`."""
    if initiative_id is None:
        return True
    ini = session.get(Initiative, initiative_id)
    return ini is not None and initiatives.can_edit(session, actor, ini)


def require_team(session: Session, actor: User, initiative_id: int | None, what: str) -> None:
    if not on_team(session, actor, initiative_id):
        raise Forbidden(TEAM_ONLY.format(what=what))


def can_create(actor: User) -> bool:
    return actor.role != Role.viewer


def can_edit(session: Session, actor: User, kpi: Kpi) -> bool:
    """Change the KPI and its alert rules: its owner (a member), leads and administrators; for a KPI of an
    initiative, only those of them on its team (administrators always)."""
    by_role = actor.role in EDITOR_ROLES or (actor.role == Role.member and kpi.owner_id == actor.id)
    return by_role and on_team(session, actor, kpi.initiative_id)


def can_ingest(actor: User) -> bool:
    return actor.role != Role.viewer


def can_acknowledge(session: Session, actor: User, kpi: Kpi) -> bool:
    """Acknowledge the KPI's alerts: not viewers; for a KPI of an initiative, its team and administrators."""
    return actor.role != Role.viewer and on_team(session, actor, kpi.initiative_id)


def can_see_history(actor: User) -> bool:
    return actor.role in EDITOR_ROLES


def require_edit(session: Session, actor: User, kpi: Kpi) -> None:
    if not on_team(session, actor, kpi.initiative_id):
        raise Forbidden(TEAM_ONLY.format(what="change the KPIs of this initiative"))
    if not can_edit(session, actor, kpi):
        raise Forbidden("Only the KPI owner, leads and administrators may change this KPI.")


# ---------------------------------------------------------------- KPIs

def _field_error(field: str, message: str, type_: str, where: str = "body") -> list[dict[str, Any]]:
    return [{"loc": [where, field], "field": field, "message": message, "type": type_}]


def get_kpi(session: Session, kpi_id: int) -> Kpi:
    kpi = session.get(Kpi, kpi_id)
    if kpi is None:
        raise NotFound(N_("KPI {kpi_id} not found."), params={"kpi_id": kpi_id})
    return kpi


def kpis_by_codes(session: Session, codes: Sequence[str], field: str = "kpi") -> list[Kpi]:
    """The KPIs named by `codes` (case-insensitive), in that order; 422 naming the unknown ones."""
    norms = [c.strip().upper() for c in codes]
    found = {k.code_norm: k for k in session.exec(select(Kpi).where(col(Kpi.code_norm).in_(set(norms))))}
    unknown = [c for c, n in zip(codes, norms, strict=True) if n not in found]
    if unknown:
        raise RuleViolation(f"Unknown KPI code(s): {', '.join(unknown[:20])}.",
                            errors=_field_error(field, "unknown KPI", "unknown_kpi", "query"))
    return [found[n] for n in norms]


def _process_id(session: Session, process_id: int | None) -> int | None:
    if process_id is not None and session.get(Process, process_id) is None:
        raise RuleViolation("The process does not exist.",
                            errors=_field_error("process_id", "unknown process", "unknown_process"))
    return process_id


def _initiative_id(session: Session, initiative_id: int | None, process_id: int | None) -> int | None:
    """An existing initiative, of the KPI's process when it has one."""
    if initiative_id is None:
        return None
    ini = session.get(Initiative, initiative_id)
    if ini is None or (process_id is not None and ini.process_id != process_id):
        raise RuleViolation("The initiative does not exist or belongs to another process.",
                            errors=_field_error("initiative_id", "unknown initiative, or one of another process",
                                                "unknown_initiative"))
    return initiative_id


def _owner(session: Session, owner_id: int, actor: User) -> int:
    if owner_id != actor.id and actor.role not in EDITOR_ROLES:
        raise Forbidden("Only leads and administrators may make someone else the owner.")
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        raise RuleViolation("The owner must be an active user.",
                            errors=_field_error("owner_id", "unknown or inactive user", "unknown_user"))
    return owner_id


def _check_rate(aggregation: Any, target: float | None, baseline: float | None) -> None:
    if aggregation == "rate":
        for name, value in (("target", target), ("baseline", baseline)):
            if value is not None and not 0 <= value <= 1:
                raise RuleViolation(f"A rate KPI's {name} is a share between 0 and 1 (0.05 = 5 %).",
                                    errors=_field_error(name, "must lie between 0 and 1", "rate_range"))


def create_kpi(session: Session, data: KpiCreate, actor: User) -> Kpi:
    if not can_create(actor):
        raise Forbidden("Viewers cannot create KPIs.")
    code_norm = data.code.upper()
    if session.exec(select(Kpi.id).where(Kpi.code_norm == code_norm)).first() is not None:
        raise Conflict(f"A KPI with the code {data.code} already exists.",
                       errors=_field_error("code", "already used", "conflict"))
    _check_rate(data.aggregation, data.target, data.baseline)
    initiative_id = _initiative_id(session, data.initiative_id, data.process_id)
    require_team(session, actor, initiative_id, "add KPIs to this initiative")
    kpi = Kpi(
        code=data.code, code_norm=code_norm, name_en=data.name_en, name_zh=data.name_zh,
        description=data.description, unit=data.unit, direction=data.direction, aggregation=data.aggregation,
        target=data.target, baseline=data.baseline, process_id=_process_id(session, data.process_id),
        initiative_id=initiative_id,
        owner_id=_owner(session, data.owner_id or actor.id, actor),
    )
    session.add(kpi)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent create won the race for the code
        raise Conflict(f"A KPI with the code {data.code} already exists.") from exc
    record(session, actor, "create", "kpi", kpi.id, None, snapshot(session, kpi))
    return kpi


def update_kpi(session: Session, kpi_id: int, data: KpiUpdate, actor: User, *, expected_version: int) -> Kpi:
    kpi = get_kpi(session, kpi_id)
    require_edit(session, actor, kpi)
    check_version(kpi, expected_version, "KPI")
    before = snapshot(session, kpi)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name_en", "name_zh", "description", "unit", "direction", "aggregation", "owner_id"):
        if key in changes and changes[key] is None:
            raise RuleViolation(f"{key} cannot be null.", errors=_field_error(key, "may not be null", "null"))
    if "process_id" in changes:
        changes["process_id"] = _process_id(session, changes["process_id"])
    if "initiative_id" in changes or "process_id" in changes:
        changes["initiative_id"] = _initiative_id(session, changes.get("initiative_id", kpi.initiative_id),
                                                  changes.get("process_id", kpi.process_id))
        if changes["initiative_id"] != kpi.initiative_id:
            require_team(session, actor, changes["initiative_id"], "add KPIs to this initiative")
    if "owner_id" in changes and changes["owner_id"] != kpi.owner_id:
        changes["owner_id"] = _owner(session, changes["owner_id"], actor)
    _check_rate(changes.get("aggregation", kpi.aggregation), changes.get("target", kpi.target),
                changes.get("baseline", kpi.baseline))
    if changes.get("aggregation", kpi.aggregation) == "rate" and kpi.aggregation != "rate":
        outside = session.exec(select(Observation.id).where(
            Observation.kpi_id == kpi.id, sa.or_(Observation.value < 0, Observation.value > 1)).limit(1)).first()
        if outside is not None:
            raise RuleViolation("Observations of this KPI lie outside [0, 1]; it cannot become a rate.",
                                errors=_field_error("aggregation", "values outside [0, 1]", "rate_range"))
    for key, value in changes.items():
        setattr(kpi, key, value)
    kpi.version += 1
    kpi.updated_at = utcnow()
    session.add(kpi)
    session.flush()
    record(session, actor, "update", "kpi", kpi.id, before, snapshot(session, kpi))
    return kpi


def snapshot(session: Session, kpi: Kpi) -> dict[str, Any]:
    return to_read(session, [kpi])[0].model_dump(mode="json", exclude={"created_at", "updated_at"})


def to_read(session: Session, kpis: list[Kpi]) -> list[KpiRead]:
    if not kpis:
        return []
    processes = {p.id: p for p in session.exec(
        select(Process).where(col(Process.id).in_({k.process_id for k in kpis if k.process_id})))}
    owners = {u.id: u for u in session.exec(select(User).where(col(User.id).in_({k.owner_id for k in kpis})))}
    return [
        KpiRead(
            id=k.id, code=k.code, name_en=k.name_en, name_zh=k.name_zh, description=k.description, unit=k.unit,
            direction=k.direction, aggregation=k.aggregation, target=k.target, baseline=k.baseline,
            process=Ref(id=k.process_id, code=processes[k.process_id].code) if k.process_id else None,
            initiative_id=k.initiative_id,
            owner=Ref(id=k.owner_id, display_name=owners[k.owner_id].display_name),
            created_at=k.created_at, updated_at=k.updated_at, version=k.version,
        )
        for k in kpis
    ]


@dataclass(frozen=True)
class KpiFilter:
    process_id: int | None = None
    initiative_id: int | None = None
    q: str | None = None


def list_kpis(session: Session, flt: KpiFilter, *, limit: int, cursor: str | None
              ) -> tuple[list[Kpi], str | None]:
    stmt = select(Kpi)
    if flt.process_id is not None:
        stmt = stmt.where(Kpi.process_id == flt.process_id)
    if flt.initiative_id is not None:
        stmt = stmt.where(Kpi.initiative_id == flt.initiative_id)
    if flt.q:
        needle = flt.q.strip()
        stmt = stmt.where(sa.or_(
            col(Kpi.code_norm).contains(needle.upper(), autoescape=True),
            col(Kpi.name_en).icontains(needle, autoescape=True),
            col(Kpi.name_zh).contains(needle, autoescape=True),
        ))
    keys = ("code",)
    if cursor:
        (last,) = Cursor.decode(cursor, keys, (str,)).values
        stmt = stmt.where(Kpi.code_norm > last)
    rows = list(session.exec(stmt.order_by(col(Kpi.code_norm)).limit(limit + 1)))
    return page_window(rows, limit, lambda k: Cursor(keys, (k.code_norm,)))


def kpi_history(session: Session, kpi_id: int, actor: User) -> list[AuditRecord]:
    if not can_see_history(actor):
        raise Forbidden("Only administrators and leads see the history.")
    get_kpi(session, kpi_id)
    return history(session, "kpi", kpi_id)


# ---------------------------------------------------------------- alert rules

def rule_read(rule: KpiAlertRule) -> AlertRuleRead:
    return AlertRuleRead.model_validate(rule, from_attributes=True)


def list_rules(session: Session, kpi_id: int) -> list[KpiAlertRule]:
    get_kpi(session, kpi_id)
    return list(session.exec(select(KpiAlertRule).where(KpiAlertRule.kpi_id == kpi_id).order_by(
        col(KpiAlertRule.id))))


def get_rule(session: Session, kpi_id: int, rule_id: int) -> KpiAlertRule:
    rule = session.get(KpiAlertRule, rule_id)
    if rule is None or rule.kpi_id != kpi_id:
        raise NotFound(N_("Alert rule {rule_id} of KPI {kpi_id} not found."), params={"rule_id": rule_id, "kpi_id": kpi_id})
    return rule


def create_rule(session: Session, kpi_id: int, data: AlertRuleCreate, actor: User) -> KpiAlertRule:
    kpi = get_kpi(session, kpi_id)
    require_edit(session, actor, kpi)
    if data.kind == AlertRuleKind.target_breach and kpi.target is None:
        raise RuleViolation("This KPI has no target to breach; set one first.",
                            errors=_field_error("kind", "the KPI has no target", "no_target"))
    rule = KpiAlertRule(kpi_id=kpi.id, kind=data.kind, grain=data.grain, percent=data.percent,
                        periods=data.periods, is_active=data.is_active, created_by_id=actor.id)
    session.add(rule)
    session.flush()
    record(session, actor, "create", "kpi_alert_rule", rule.id, None, rule_read(rule).model_dump(mode="json"))
    evaluate_alerts(session, [kpi.id])
    return rule


def update_rule(session: Session, kpi_id: int, rule_id: int, data: AlertRuleUpdate, actor: User, *,
                expected_version: int) -> KpiAlertRule:
    kpi = get_kpi(session, kpi_id)
    require_edit(session, actor, kpi)
    rule = get_rule(session, kpi_id, rule_id)
    check_version(rule, expected_version, "alert rule")
    before = rule_read(rule).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    if rule.kind == AlertRuleKind.target_breach and {"percent", "periods"} & changes.keys():
        raise RuleViolation("A target breach rule takes no percent or periods.")
    for key in ("grain", "percent", "periods", "is_active"):
        if key in changes:
            if changes[key] is None:
                raise RuleViolation(f"{key} cannot be null.", errors=_field_error(key, "may not be null", "null"))
            setattr(rule, key, changes[key])
    rule.version += 1
    rule.updated_at = utcnow()
    session.add(rule)
    session.flush()
    record(session, actor, "update", "kpi_alert_rule", rule.id, before, rule_read(rule).model_dump(mode="json"))
    evaluate_alerts(session, [kpi.id])
    return rule


# ---------------------------------------------------------------- alerts

def _rule_dict(rule: KpiAlertRule) -> dict[str, Any]:
    if rule.kind == AlertRuleKind.worsening:
        return {"kind": "worsening", "percent": rule.percent, "periods": rule.periods}
    return {"kind": "target_breach"}


def evaluate_alerts(session: Session, kpi_ids: Sequence[int], *, tz: str | None = None) -> list[int]:
    """Evaluate the active rules of these KPIs on their latest period; return the alerts raised or changed.

    One alert per rule and period: a later evaluation of the same period updates its value, and resolves it
    when the condition no longer holds (an acknowledged alert is left as it is)."""
    rules = list(session.exec(select(KpiAlertRule).where(
        col(KpiAlertRule.kpi_id).in_(list(kpi_ids)), col(KpiAlertRule.is_active).is_(True))))
    if not rules:
        return []
    tz = tz or get_settings().business_timezone
    touched: list[int] = []
    kpis = {k.id: k for k in session.exec(select(Kpi).where(col(Kpi.id).in_({r.kpi_id for r in rules})))}
    latest = dict(session.execute(sa.select(Observation.kpi_id, sa.func.max(Observation.ts)).where(
        col(Observation.kpi_id).in_(list(kpis))).group_by(Observation.kpi_id)).all())
    for rule in rules:
        kpi, last_ts = kpis[rule.kpi_id], latest.get(rule.kpi_id)
        if last_ts is None:
            continue
        last_period = period_floor(local_date(last_ts, tz), rule.grain)
        first = last_period
        for _ in range(rule.periods or 0):
            first = period_prev(first, rule.grain)
        frame = series_frame(session, [kpi.id], SeriesQuery(rule.grain, first, period_next(last_period, rule.grain),
                                                            tz))
        found = aggregate.check_alert_rules(
            frame, aggregation=kpi.aggregation.value, direction=kpi.direction.value, target=kpi.target,
            rules=[_rule_dict(rule)])
        alert_id = _upsert_alert(session, kpi, rule, last_period, found[0] if found else None)
        if alert_id is not None:
            touched.append(alert_id)
    return touched


def _upsert_alert(session: Session, kpi: Kpi, rule: KpiAlertRule, period: date,
                  found: aggregate.Alert | None) -> int | None:
    existing = session.exec(select(KpiAlert).where(KpiAlert.rule_id == rule.id,
                                                   KpiAlert.period_start == period)).first()
    if found is None:
        if existing is not None and existing.status == AlertStatus.open:
            before = alert_snapshot(existing)
            existing.status = AlertStatus.resolved
            _touch(session, existing)
            record(session, None, "resolve", "kpi_alert", existing.id, before, alert_snapshot(existing))
            return existing.id
        return None
    params = dict(found["message_params"].items())
    if existing is None:
        alert = KpiAlert(kpi_id=kpi.id, rule_id=rule.id, kind=rule.kind, grain=rule.grain, period_start=period,
                         value=found["value"], reference=found["reference"], params=params)
        session.add(alert)
        session.flush()
        record(session, None, "raise", "kpi_alert", alert.id, None, alert_snapshot(alert))
        return alert.id
    if existing.status == AlertStatus.acknowledged or (
            existing.status == AlertStatus.open and (existing.value, existing.reference) == (found["value"],
                                                                                               found["reference"])):
        return None  # nothing new to say
    before = alert_snapshot(existing)
    existing.value, existing.reference, existing.params = found["value"], found["reference"], params
    existing.status = AlertStatus.open
    _touch(session, existing)
    record(session, None, "update", "kpi_alert", existing.id, before, alert_snapshot(existing))
    return existing.id


def _touch(session: Session, alert: KpiAlert) -> None:
    alert.version += 1
    alert.updated_at = utcnow()
    session.add(alert)
    session.flush()


def alert_snapshot(alert: KpiAlert) -> dict[str, Any]:
    return {"kpi_id": alert.kpi_id, "rule_id": alert.rule_id, "kind": alert.kind.value,
            "period_start": alert.period_start.isoformat(), "value": alert.value, "reference": alert.reference,
            "status": alert.status.value, "version": alert.version}


def get_alert(session: Session, alert_id: int) -> KpiAlert:
    alert = session.get(KpiAlert, alert_id)
    if alert is None:
        raise NotFound(N_("Alert {alert_id} not found."), params={"alert_id": alert_id})
    return alert


def acknowledge(session: Session, alert_id: int, actor: User, *, expected_version: int | None) -> KpiAlert:
    if actor.role == Role.viewer:
        raise Forbidden("Viewers cannot acknowledge alerts.")
    alert = get_alert(session, alert_id)
    require_team(session, actor, get_kpi(session, alert.kpi_id).initiative_id,
                 "acknowledge the alerts of this initiative's KPIs")
    check_version(alert, expected_version, "alert")
    if alert.status == AlertStatus.acknowledged:
        return alert
    before = alert_snapshot(alert)
    alert.status = AlertStatus.acknowledged
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = actor.id
    _touch(session, alert)
    record(session, actor, "acknowledge", "kpi_alert", alert.id, before, alert_snapshot(alert))
    return alert


@dataclass(frozen=True)
class AlertFilter:
    status: AlertStatus | None = None
    kpi_ids: tuple[int, ...] | None = None


def list_alerts(session: Session, flt: AlertFilter, *, limit: int, cursor: str | None
                ) -> tuple[list[KpiAlert], str | None]:
    """Newest first."""
    stmt = select(KpiAlert)
    if flt.status is not None:
        stmt = stmt.where(KpiAlert.status == flt.status)
    if flt.kpi_ids is not None:
        stmt = stmt.where(col(KpiAlert.kpi_id).in_(flt.kpi_ids))
    keys = ("id",)
    if cursor:
        (last,) = Cursor.decode(cursor, keys, (Id,)).values
        stmt = stmt.where(col(KpiAlert.id) < last)
    rows = list(session.exec(stmt.order_by(col(KpiAlert.id).desc()).limit(limit + 1)))
    return page_window(rows, limit, lambda a: Cursor(keys, (a.id,)))


def alerts_read(session: Session, alerts: list[KpiAlert]) -> list[AlertRead]:
    if not alerts:
        return []
    codes = dict(session.execute(sa.select(Kpi.id, Kpi.code).where(
        col(Kpi.id).in_({a.kpi_id for a in alerts}))).all())
    users = {u.id: u for u in session.exec(select(User).where(
        col(User.id).in_({a.acknowledged_by_id for a in alerts if a.acknowledged_by_id})))}
    return [
        AlertRead(
            id=a.id, kpi=codes[a.kpi_id], kpi_id=a.kpi_id, rule_id=a.rule_id, kind=a.kind, grain=a.grain,
            period_start=a.period_start, value=a.value, reference=a.reference, params=a.params, status=a.status,
            raised_at=a.raised_at, updated_at=a.updated_at, acknowledged_at=a.acknowledged_at,
            acknowledged_by=Ref(id=a.acknowledged_by_id, display_name=users[a.acknowledged_by_id].display_name)
            if a.acknowledged_by_id in users else None,
            version=a.version,
        )
        for a in alerts
    ]


def kpi_value_column(kpi: Kpi) -> str:
    return value_column(kpi)
