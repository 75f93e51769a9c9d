"""Rules and queries of the current-state survey (table 1) and research records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.errors import NotFound, RuleViolation, field_error, rule
from app.core.ids import Id, Position
from app.core.labels import N_
from app.core.pagination import Cursor, page_window
from app.core.versioning import changes_of, check_version, save_update
from app.departments.models import Department
from app.departments.service import by_codes, list_departments
from app.initiatives.models import Initiative
from app.initiatives.schemas import UserRef
from app.initiatives.service import editable, get_initiative
from app.processes.service import get_process
from app.processes.service import to_read as process_read
from app.survey import table1
from app.survey.models import ProblemCategory, ResearchRecord, ResearchRecordStep, SurveyStep
from app.survey.schemas import (
    DepartmentTotal,
    ResearchCreate,
    ResearchRead,
    ResearchUpdate,
    StepCreate,
    StepRead,
    StepUpdate,
    SurveySummary,
)
from app.survey.table1 import ExportContext
from app.users.models import User

MAX_STEPS = 500


def fmt_minutes(value: Decimal | float | int | None) -> str:
    """30 -> "30", 2.50 -> "2.5": minutes as people write them."""
    if value is None:
        return ""
    d = Decimal(str(value)).normalize()
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d, "f")


# ---------------------------------------------------------------- steps

def get_step(session: Session, step_id: int) -> SurveyStep:
    step = session.get(SurveyStep, step_id)
    if step is None:
        raise NotFound(N_("Survey step {step_id} not found."), params={"step_id": step_id})
    return step


def all_steps(session: Session, initiative_id: int) -> list[SurveyStep]:
    return list(session.exec(select(SurveyStep).where(SurveyStep.initiative_id == initiative_id)
                             .order_by(SurveyStep.position, SurveyStep.id)))


def list_steps(session: Session, initiative_id: int, *, limit: int, cursor: str | None
               ) -> tuple[list[SurveyStep], str | None]:
    get_initiative(session, initiative_id)
    stmt = select(SurveyStep).where(SurveyStep.initiative_id == initiative_id)
    keys = ("position", "id")
    if cursor:
        position, last_id = Cursor.decode(cursor, keys, (Position, Id)).values
        stmt = stmt.where(sa.tuple_(SurveyStep.position, SurveyStep.id) > (position, last_id))
    rows = list(session.exec(stmt.order_by(SurveyStep.position, SurveyStep.id).limit(limit + 1)))
    return page_window(rows, limit, lambda s: Cursor(keys, (s.position, s.id)))


def _department_id(session: Session, code: str | None, field: str = "department") -> int | None:
    return by_codes(session, [code], field)[0].id if code else None


def _renumber(session: Session, steps: list[SurveyStep]) -> None:
    """Positions 1..n in the given order (a position change alone does not bump a step's version)."""
    for i, step in enumerate(steps, start=1):
        if step.position != i:
            step.position = i
            session.add(step)


def _apply_flags(step: SurveyStep, flags: list[ProblemCategory]) -> None:
    for category in ProblemCategory:
        setattr(step, f"flag_{category.value}", category in flags)


def _check_capacity(session: Session, initiative_id: int, adding: int) -> None:
    count = session.exec(select(func.count()).select_from(SurveyStep)
                         .where(SurveyStep.initiative_id == initiative_id)).one()
    if count + adding > MAX_STEPS:
        raise rule(f"A survey has at most {MAX_STEPS} steps.", "position", "too_long")


def new_step(session: Session, initiative_id: int, data: StepCreate, position: int) -> SurveyStep:
    step = SurveyStep(
        initiative_id=initiative_id, position=position, name=data.name, kind=data.kind,
        department_id=_department_id(session, data.department), role=data.role, minutes=data.minutes,
        waiting_minutes=data.waiting_minutes, systems=list(data.systems), description=data.description)
    _apply_flags(step, data.problem_flags)
    return step


def create_step(session: Session, initiative_id: int, data: StepCreate, actor: User) -> SurveyStep:
    ini = editable(session, actor, initiative_id)
    _check_capacity(session, ini.id, 1)
    steps = all_steps(session, ini.id)
    index = len(steps) if data.position is None else min(data.position, len(steps) + 1) - 1
    step = new_step(session, ini.id, data, index + 1)
    session.add(step)
    session.flush()
    steps.insert(index, step)
    _renumber(session, steps)
    session.flush()
    record(session, actor, "create", "survey_step", step.id, None, snapshot(session, step))
    return step


def update_step(session: Session, step_id: int, data: StepUpdate, actor: User, *,
                expected_version: int | None) -> SurveyStep:
    step = get_step(session, step_id)
    editable(session, actor, step.initiative_id)
    check_version(step, expected_version, "survey step")
    changes = changes_of(data, ("name", "kind", "role", "minutes", "waiting_minutes", "systems", "problem_flags",
                       "description"))
    before = snapshot(session, step)
    if "department" in changes:
        step.department_id = _department_id(session, changes.pop("department"))
    if "problem_flags" in changes:
        _apply_flags(step, changes.pop("problem_flags"))
    for key, value in changes.items():
        setattr(step, key, list(value) if key == "systems" else value)
    return save_update(session, actor, step, "survey_step", before, lambda e: snapshot(session, e))


def delete_step(session: Session, step_id: int, actor: User) -> None:
    step = get_step(session, step_id)
    editable(session, actor, step.initiative_id)
    before = snapshot(session, step)
    initiative_id = step.initiative_id
    session.delete(step)
    session.flush()
    _renumber(session, all_steps(session, initiative_id))
    session.flush()
    record(session, actor, "delete", "survey_step", step_id, before, None)


def move_step(session: Session, step_id: int, position: int, actor: User) -> SurveyStep:
    step = get_step(session, step_id)
    editable(session, actor, step.initiative_id)
    steps = all_steps(session, step.initiative_id)
    old = step.position
    steps.remove(step)
    steps.insert(min(position, len(steps) + 1) - 1, step)
    _renumber(session, steps)
    session.flush()
    if step.position != old:
        record(session, actor, "reorder", "survey_step", step.id, {"position": old}, {"position": step.position})
    return step


def reorder(session: Session, initiative_id: int, step_ids: list[int], actor: User) -> list[SurveyStep]:
    ini = editable(session, actor, initiative_id)
    steps = all_steps(session, ini.id)
    by_id = {s.id: s for s in steps}
    if len(step_ids) != len(steps) or set(step_ids) != set(by_id):
        raise rule("Send every step of this initiative exactly once, in the new order.", "step_ids",
                   "not_a_permutation")
    before = [s.id for s in steps]
    ordered = [by_id[i] for i in step_ids]
    _renumber(session, ordered)
    session.flush()
    record(session, actor, "reorder", "initiative", ini.id, {"steps": before}, {"steps": step_ids})
    return ordered


def steps_of_initiative(session: Session, initiative_id: int, step_ids: list[int], field: str) -> list[int]:
    """Check that every id names a step of this initiative (422 naming the others)."""
    if not step_ids:
        return []
    found = set(session.exec(select(SurveyStep.id).where(
        col(SurveyStep.id).in_(step_ids), SurveyStep.initiative_id == initiative_id)))
    wrong = [i for i in step_ids if i not in found]
    if wrong:
        raise RuleViolation(
            f"Not a survey step of this initiative: {', '.join(map(str, wrong))}.",
            errors=[field_error(field, f"not a step of this initiative: {i}", "unknown_step") for i in wrong])
    return step_ids


def department_codes(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids_ = {i for i in ids if i is not None}
    if not ids_:
        return {}
    return {d.id: d.code for d in session.exec(select(Department).where(col(Department.id).in_(ids_)))}


def to_read(session: Session, steps: list[SurveyStep]) -> list[StepRead]:
    codes = department_codes(session, {s.department_id for s in steps})
    return [StepRead(
        id=s.id, initiative_id=s.initiative_id, position=s.position, name=s.name, kind=s.kind,
        department=codes.get(s.department_id), role=s.role, minutes=Decimal(s.minutes),
        waiting_minutes=Decimal(s.waiting_minutes), systems=list(s.systems or []), problem_flags=s.flags,
        description=s.description, created_at=s.created_at, updated_at=s.updated_at, version=s.version,
    ) for s in steps]


def snapshot(session: Session, step: SurveyStep) -> dict[str, Any]:
    return to_read(session, [step])[0].model_dump(mode="json", exclude={"created_at", "updated_at"})


def summary(session: Session, initiative_id: int) -> SurveySummary:
    get_initiative(session, initiative_id)
    return summarize(to_read(session, all_steps(session, initiative_id)))


def summarize(steps: list[StepRead]) -> SurveySummary:
    """Totals of table 1: working and waiting minutes overall and per department, flags per category."""
    per: dict[str | None, list[Decimal]] = {}
    order: list[str | None] = []
    for s in steps:
        if s.department not in per:
            per[s.department] = [Decimal(0), Decimal(0), Decimal(0)]
            order.append(s.department)
        acc = per[s.department]
        acc[0] += 1
        acc[1] += s.minutes
        acc[2] += s.waiting_minutes
    if None in order:  # steps without a department last, as on the map
        order.remove(None)
        order.append(None)
    minutes = sum((s.minutes for s in steps), Decimal(0))
    waiting = sum((s.waiting_minutes for s in steps), Decimal(0))
    total = minutes + waiting
    return SurveySummary(
        steps=len(steps), minutes=minutes, waiting_minutes=waiting, total_minutes=total,
        waiting_share=round(float(waiting / total), 4) if total else None,
        departments=[DepartmentTotal(department=d, steps=int(per[d][0]), minutes=per[d][1],
                                     waiting_minutes=per[d][2], total_minutes=per[d][1] + per[d][2])
                     for d in order],
        flagged={c: sum(1 for s in steps if c in s.problem_flags) for c in ProblemCategory},
    )


# ---------------------------------------------------------------- research records

def get_record(session: Session, record_id: int) -> ResearchRecord:
    rec = session.get(ResearchRecord, record_id)
    if rec is None:
        raise NotFound(N_("Research record {record_id} not found."), params={"record_id": record_id})
    return rec


def _set_record_steps(session: Session, rec: ResearchRecord, step_ids: list[int]) -> None:
    session.exec(sa.delete(ResearchRecordStep).where(ResearchRecordStep.record_id == rec.id))
    session.add_all(ResearchRecordStep(record_id=rec.id, step_id=i) for i in step_ids)


def create_record(session: Session, initiative_id: int, data: ResearchCreate, actor: User) -> ResearchRecord:
    ini = editable(session, actor, initiative_id)
    steps_of_initiative(session, ini.id, data.step_ids, "step_ids")
    rec = ResearchRecord(initiative_id=ini.id, method=data.method, conducted_on=data.conducted_on,
                         participants=data.participants, findings=data.findings, created_by_id=actor.id)
    session.add(rec)
    session.flush()
    _set_record_steps(session, rec, data.step_ids)
    session.flush()
    record(session, actor, "create", "research_record", rec.id, None, record_snapshot(session, rec))
    return rec


def update_record(session: Session, record_id: int, data: ResearchUpdate, actor: User, *,
                  expected_version: int | None) -> ResearchRecord:
    rec = get_record(session, record_id)
    editable(session, actor, rec.initiative_id)
    check_version(rec, expected_version, "research record")
    changes = changes_of(data, ("method", "conducted_on", "participants", "findings", "step_ids"))
    before = record_snapshot(session, rec)
    if "step_ids" in changes:
        _set_record_steps(session, rec, steps_of_initiative(session, rec.initiative_id,
                                                            changes.pop("step_ids"), "step_ids"))
    return save_update(session, actor, rec, "research_record", before, lambda e: record_snapshot(session, e), changes=changes)


def delete_record(session: Session, record_id: int, actor: User) -> None:
    rec = get_record(session, record_id)
    editable(session, actor, rec.initiative_id)
    before = record_snapshot(session, rec)
    session.delete(rec)
    session.flush()
    record(session, actor, "delete", "research_record", record_id, before, None)


def list_records(session: Session, initiative_id: int, *, limit: int, cursor: str | None
                 ) -> tuple[list[ResearchRecord], str | None]:
    """Newest survey date first."""
    get_initiative(session, initiative_id)
    stmt = select(ResearchRecord).where(ResearchRecord.initiative_id == initiative_id)
    keys = ("conducted_on", "id")
    if cursor:
        day, last_id = Cursor.decode(cursor, keys, (date, Id)).values
        stmt = stmt.where(sa.tuple_(ResearchRecord.conducted_on, ResearchRecord.id) < (day, last_id))
    rows = list(session.exec(stmt.order_by(col(ResearchRecord.conducted_on).desc(),
                                           col(ResearchRecord.id).desc()).limit(limit + 1)))
    return page_window(rows, limit, lambda r: Cursor(keys, (r.conducted_on.isoformat(), r.id)))


def records_to_read(session: Session, records: list[ResearchRecord]) -> list[ResearchRead]:
    if not records:
        return []
    ids = [r.id for r in records]
    links: dict[int, list[int]] = {}
    for link in session.exec(select(ResearchRecordStep).where(col(ResearchRecordStep.record_id).in_(ids))
                             .order_by(ResearchRecordStep.step_id)):
        links.setdefault(link.record_id, []).append(link.step_id)
    users = {u.id: u for u in session.exec(select(User).where(
        col(User.id).in_({r.created_by_id for r in records if r.created_by_id})))}
    return [ResearchRead(
        id=r.id, initiative_id=r.initiative_id, method=r.method, conducted_on=r.conducted_on,
        participants=r.participants, findings=r.findings, step_ids=links.get(r.id, []),
        created_by=UserRef(id=users[r.created_by_id].id, display_name=users[r.created_by_id].display_name)
        if r.created_by_id in users else None,
        created_at=r.created_at, updated_at=r.updated_at, version=r.version) for r in records]


def record_snapshot(session: Session, rec: ResearchRecord) -> dict[str, Any]:
    return records_to_read(session, [rec])[0].model_dump(mode="json", exclude={"created_at", "updated_at"})


# ---------------------------------------------------------------- table 1 import / export

def import_table(session: Session, initiative_id: int, content: bytes, filename: str, mode: str,
                 actor: User) -> list[SurveyStep]:
    """Import table 1 (CSV or XLSX): all rows or none. `replace` deletes the current steps first."""

    ini = editable(session, actor, initiative_id)
    try:
        rows = table1.read_rows(content, filename)
    except table1.TableFormatError as exc:
        raise RuleViolation(str(exc), errors=[field_error("file", str(exc), "import_file")]) from exc
    parsed = table1.parse(rows, list_departments(session))
    if parsed.errors:
        first = parsed.errors[0]
        raise RuleViolation(
            f"Nothing was imported: {len(parsed.errors)} problem(s), the first in row {first['row']}: "
            f"{first['message']}", errors=parsed.errors[:200])
    return import_steps(session, ini, [data for _, data in parsed.rows], mode, actor, {"file": filename[:200]})


def import_steps(session: Session, ini: Initiative, rows: list[StepCreate], mode: str, actor: User,
                 source: dict[str, Any]) -> list[SurveyStep]:
    """Write imported steps (table 1, BPMN), all or none: `append` after the current ones, `replace` instead of
    them. `ini` is one the actor may edit (`editable`); `source` says where they came from, for the audit."""
    if not rows:
        raise rule("The file has no steps.", "file", "import_empty")
    existing = all_steps(session, ini.id)
    before = {"steps": [s.name for s in existing]}
    if mode == "replace":
        for step in existing:
            session.delete(step)
        session.flush()
        existing = []
    else:
        _check_capacity(session, ini.id, len(rows))
    created = []
    for i, data in enumerate(rows, start=len(existing) + 1):
        step = new_step(session, ini.id, data, i)
        session.add(step)
        created.append(step)
    session.flush()
    record(session, actor, "import", "initiative", ini.id, before,
           {"mode": mode, **source, "imported": [s.name for s in created]})
    return created


def export_context(session: Session, initiative_id: int, lang: str):  # noqa: ANN201

    ini = get_initiative(session, initiative_id)
    process = process_read(session, [get_process(session, ini.process_id)])[0]
    labels = {d.code: d.label(lang) for d in list_departments(session)}
    return ini, process, ExportContext(process_name=process.name, departments_involved=process.departments,
                                       department_labels=labels, lang=lang)  # type: ignore[arg-type]
