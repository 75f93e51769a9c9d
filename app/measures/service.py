"""Rules and queries of countermeasures (table 2): each addresses problems of its own initiative."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.calendar import today
from app.core.errors import NotFound, rule
from app.core.labels import N_
from app.core.versioning import changes_of, check_version, delete_audited, save_update
from app.departments.models import Department
from app.departments.service import by_codes, list_departments
from app.initiatives.schemas import UserRef
from app.initiatives.service import editable, get_initiative
from app.issues.models import Issue
from app.measures.models import CLOSED_STATUSES, Measure, MeasureIssue, MeasureStatus
from app.measures.schemas import IssueRef, MeasureCreate, MeasureRead, MeasureUpdate
from app.measures.table2 import ExportContext
from app.processes.service import get_process
from app.users.models import User

MAX_MEASURES = 500  # per initiative: table 2 is one page, never paginated


@dataclass(frozen=True)
class MeasureFilter:
    status: MeasureStatus | None = None
    department: str | None = None  # department code
    overdue: bool | None = None


def is_overdue(due: date | None, status: MeasureStatus, now: date | None = None) -> bool:
    return due is not None and due < (now or today()) and status not in CLOSED_STATUSES


def get_measure(session: Session, measure_id: int) -> Measure:
    measure = session.get(Measure, measure_id)
    if measure is None:
        raise NotFound(N_("Countermeasure {measure_id} not found."), params={"measure_id": measure_id})
    return measure


def _issues(session: Session, initiative_id: int, issue_ids: list[int]) -> list[int]:
    """The ids, when every one is a problem of this initiative; a 422 naming `issue_ids` otherwise."""
    found = set(session.exec(select(Issue.id).where(col(Issue.id).in_(issue_ids),
                                                    Issue.initiative_id == initiative_id)))
    if len(found) != len(set(issue_ids)):
        raise rule("Choose problems of this initiative.", "issue_ids", "unknown_issue",
                   "not a problem of this initiative")
    return issue_ids


def _owner(session: Session, owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    user = session.get(User, owner_id)
    if user is None or not user.is_active:
        raise rule("The owner must be an active user.", "owner_id", "unknown_user", "unknown or inactive user")
    return owner_id


def _department(session: Session, code: str | None) -> int | None:
    return by_codes(session, [code], "department")[0].id if code else None


def _set_issues(session: Session, measure: Measure, issue_ids: list[int]) -> None:
    session.exec(sa.delete(MeasureIssue).where(MeasureIssue.measure_id == measure.id))
    session.add_all(MeasureIssue(measure_id=measure.id, issue_id=i) for i in issue_ids)


def create_measure(session: Session, initiative_id: int, data: MeasureCreate, actor: User) -> Measure:
    ini = editable(session, actor, initiative_id)
    issue_ids = _issues(session, ini.id, data.issue_ids)
    n = session.exec(select(func.count()).select_from(Measure).where(Measure.initiative_id == ini.id)).one()
    if n >= MAX_MEASURES:
        raise rule(f"An initiative has at most {MAX_MEASURES} countermeasures.", "goal", "too_long")
    fields = data.model_dump(exclude={"issue_ids", "department", "owner_id"})
    measure = Measure(initiative_id=ini.id, department_id=_department(session, data.department),
                      owner_id=_owner(session, data.owner_id), **fields)
    session.add(measure)
    session.flush()
    _set_issues(session, measure, issue_ids)
    session.flush()
    record(session, actor, "create", "measure", measure.id, None, snapshot(session, measure))
    return measure


def update_measure(session: Session, measure_id: int, data: MeasureUpdate, actor: User, *,
                   expected_version: int | None) -> Measure:
    measure = get_measure(session, measure_id)
    editable(session, actor, measure.initiative_id)
    check_version(measure, expected_version, "countermeasure")
    changes = changes_of(data, ("goal", "issue_ids", "description", "type", "status", "progress_notes", "effect_metric",
                       "effect_unit"))
    before = snapshot(session, measure)
    # Check everything before writing anything.
    issue_ids = _issues(session, measure.initiative_id, changes.pop("issue_ids")) if "issue_ids" in changes \
        else None
    if "department" in changes:
        changes["department_id"] = _department(session, changes.pop("department"))
    if "owner_id" in changes:
        changes["owner_id"] = _owner(session, changes["owner_id"])
    if issue_ids is not None:
        _set_issues(session, measure, issue_ids)
    return save_update(session, actor, measure, "measure", before, lambda e: snapshot(session, e), changes=changes)


def delete_measure(session: Session, measure_id: int, actor: User) -> int:
    measure = get_measure(session, measure_id)
    editable(session, actor, measure.initiative_id)
    delete_audited(session, actor, measure, "measure", snapshot(session, measure))
    return measure.initiative_id


def list_measures(session: Session, initiative_id: int, flt: MeasureFilter | None = None) -> list[Measure]:
    ini = get_initiative(session, initiative_id)
    flt = flt or MeasureFilter()
    stmt = select(Measure).where(Measure.initiative_id == ini.id)
    if flt.status is not None:
        stmt = stmt.where(Measure.status == flt.status)
    if flt.department:
        stmt = stmt.join(Department, Department.id == Measure.department_id).where(
            Department.code == flt.department)
    overdue_clause = sa.and_(col(Measure.due_date).is_not(None), col(Measure.due_date) < today(),
                             col(Measure.status).not_in(CLOSED_STATUSES))
    if flt.overdue is True:
        stmt = stmt.where(overdue_clause)
    elif flt.overdue is False:
        stmt = stmt.where(sa.not_(overdue_clause))
    return list(session.exec(stmt.order_by(col(Measure.id))))


def measures_of_issue(session: Session, issue_id: int) -> list[Measure]:
    return list(session.exec(select(Measure).join(MeasureIssue, MeasureIssue.measure_id == Measure.id)
                             .where(MeasureIssue.issue_id == issue_id).order_by(col(Measure.id))))


def to_read(session: Session, measures: list[Measure]) -> list[MeasureRead]:
    """Shape measures for output with a fixed number of queries (no N+1)."""
    if not measures:
        return []
    ids = [m.id for m in measures]
    issues: dict[int, list[IssueRef]] = {}
    for measure_id, issue_id, title in session.exec(
            select(MeasureIssue.measure_id, Issue.id, Issue.title).join(Issue, Issue.id == MeasureIssue.issue_id)
            .where(col(MeasureIssue.measure_id).in_(ids)).order_by(col(Issue.id))):
        issues.setdefault(measure_id, []).append(IssueRef(id=issue_id, title=title))
    owners = {u.id: u for u in session.exec(select(User).where(
        col(User.id).in_({m.owner_id for m in measures if m.owner_id})))}
    departments = dict(session.exec(select(Department.id, Department.code).where(
        col(Department.id).in_({m.department_id for m in measures if m.department_id}))).all())
    now = today()
    return [MeasureRead(
        id=m.id, initiative_id=m.initiative_id, goal=m.goal, issues=issues.get(m.id, []),
        description=m.description, type=m.type, department=departments.get(m.department_id),
        owner=UserRef(id=m.owner_id, display_name=owners[m.owner_id].display_name) if m.owner_id in owners
        else None,
        due_date=m.due_date, status=m.status, overdue=is_overdue(m.due_date, m.status, now),
        progress_notes=m.progress_notes, effect_metric=m.effect_metric, effect_unit=m.effect_unit,
        effect_baseline=m.effect_baseline, effect_target=m.effect_target, effect_direction=m.effect_direction,
        created_at=m.created_at, updated_at=m.updated_at, version=m.version) for m in measures]


def snapshot(session: Session, measure: Measure) -> dict[str, Any]:
    return to_read(session, [measure])[0].model_dump(mode="json", exclude={"created_at", "updated_at", "overdue"})


def export_context(session: Session, initiative_id: int, lang: str):  # noqa: ANN201

    ini = get_initiative(session, initiative_id)
    process = get_process(session, ini.process_id)
    labels = {d.code: d.label(lang) for d in list_departments(session)}
    return ini, process.code, ExportContext(process_name=process.name, department_labels=labels,
                                            lang=lang)  # type: ignore[arg-type]


def issue_measure_reads(session: Session, issue_id: int) -> list[MeasureRead]:
    """A problem's countermeasures, for its page."""
    return to_read(session, measures_of_issue(session, issue_id))
