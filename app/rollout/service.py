"""Rollout: the rules of the plan, its training, tests, acknowledgements and readiness.

Who: everyone signed in reads a plan, its waves, sessions, launch notices, checklist and the readiness counts; the
initiative's team (and administrators) plans (waves, people, sessions, notices, the checklist, the question bank)
and sees the people's results (scores, not answers); a session's trainer (or the team) records its attendance;
each person in scope takes only their own test and sees only their own answers, and acknowledges for themselves;
the leader (or an administrator) records a department's exception. Everyone signed in asks in an SOP's help
channel; the team of an initiative of the process, its owner and administrators answer.

Readiness: a person is ready when they passed the test (score >= the plan's pass mark) and acknowledged the
version's content (its hash). Whoever passed the test of the version this one replaces (`previous_version_id`) is
retrained on the change only: their test holds just the questions on the steps and control points that changed
(none: nothing to take) and they acknowledge the changes. Below the pass mark a person needs retraining (需重新培训):
the next attempt opens once they attended a training session held on or after the day of the failed one, up to
the plan's attempts. A department is ready when everyone in its scope is (or the leader recorded an exception);
`ready_at` keeps when it first was, and the version is in force there from then, not before its effective date.
For the departments of a plan that is the only way the version applies to them; other departments follow the
effective date (`applicable`).
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.calendar import today
from app.core.config import get_settings
from app.core.db import lock_key, utcnow
from app.core.errors import Conflict, Forbidden, NotFound, rule
from app.core.i18n import gettext_for
from app.core.labels import N_
from app.core.versioning import bump, changes_of, check_version, delete_audited, save_new, save_update
from app.departments.models import Department
from app.initiatives.models import Initiative, Phase
from app.initiatives.schemas import UserRef
from app.initiatives.service import (
    can_edit,
    editable,
    get_initiative,
    require_manage,
    user_refs,
    works_on_process,
)
from app.metrics.series import local_date, local_midnight
from app.pilots.models import Decision, Pilot
from app.processes.models import Process
from app.rollout.models import (
    Acknowledgement,
    ChecklistItem,
    HelpAnswer,
    HelpQuestion,
    LaunchNotice,
    QuestionKind,
    RolloutDepartment,
    RolloutPerson,
    RolloutPlan,
    RolloutWave,
    TestAttempt,
    TestQuestion,
    TrainingAttendance,
    TrainingSession,
)
from app.rollout.records import RecordRow
from app.rollout.schemas import (
    AcknowledgementRead,
    AcknowledgeRequest,
    AnswerResult,
    Applicable,
    AttemptRead,
    AttemptSubmit,
    AttemptSummary,
    AttendanceUpdate,
    ChecklistCreate,
    ChecklistRead,
    ChecklistUpdate,
    DepartmentReadiness,
    DraftResult,
    ExceptionRequest,
    HelpAnswerRead,
    HelpCreate,
    HelpQuestionRead,
    MaterialRead,
    MyTest,
    NoticeCreate,
    NoticeRead,
    PaperQuestion,
    PeopleUpdate,
    PersonStatus,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    QuestionIn,
    QuestionRead,
    Readiness,
    SessionCreate,
    SessionRead,
    SessionUpdate,
    Standing,
    WaveIn,
    WaveRead,
    WaveUpdate,
)
from app.sops import service as sops
from app.sops.diff import Change, diff_contents
from app.sops.models import Sop, SopState, SopVersion
from app.sops.schemas import SopContent
from app.users.models import Role, User

ROLLABLE = (SopState.approved, SopState.published)
_random = secrets.SystemRandom()


def _plain(entity: Any) -> dict[str, Any]:
    return entity.model_dump(mode="json", exclude={"created_at", "updated_at"})


def _active_user(session: Session, user_id: int, field_: str) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise rule("Choose an active user.", field_, "unknown_user")
    return user


# ---------------------------------------------------------------- reading and rights

def get_plan(session: Session, plan_id: int) -> RolloutPlan:
    plan = session.get(RolloutPlan, plan_id)
    if plan is None:
        raise NotFound(N_("Rollout plan {plan_id} not found."), params={"plan_id": plan_id})
    return plan


def list_plans(session: Session, initiative_id: int) -> list[RolloutPlan]:
    get_initiative(session, initiative_id)
    return list(session.exec(select(RolloutPlan).where(RolloutPlan.initiative_id == initiative_id)
                             .order_by(col(RolloutPlan.id))))


def plans_of_version(session: Session, version_id: int) -> RolloutPlan | None:
    return session.exec(select(RolloutPlan).where(RolloutPlan.sop_version_id == version_id)).first()


def may_plan(session: Session, plan: RolloutPlan, actor: User) -> bool:
    return can_edit(session, actor, get_initiative(session, plan.initiative_id))


def _team(session: Session, plan: RolloutPlan, actor: User) -> Initiative:
    return editable(session, actor, plan.initiative_id)


def get_wave(session: Session, wave_id: int) -> RolloutWave:
    wave = session.get(RolloutWave, wave_id)
    if wave is None:
        raise NotFound(N_("Wave {wave_id} not found."), params={"wave_id": wave_id})
    return wave


def waves(session: Session, plan_id: int) -> list[RolloutWave]:
    return list(session.exec(select(RolloutWave).where(RolloutWave.plan_id == plan_id)
                             .order_by(col(RolloutWave.position), col(RolloutWave.id))))


def departments_of(session: Session, plan_id: int) -> list[RolloutDepartment]:
    return list(session.exec(select(RolloutDepartment).where(RolloutDepartment.plan_id == plan_id)))


def person(session: Session, plan: RolloutPlan, user_id: int) -> RolloutPerson | None:
    return session.get(RolloutPerson, (plan.id, user_id))


# ---------------------------------------------------------------- the plan

def _version(session: Session, ini: Initiative, version_id: int) -> SopVersion:
    v = session.get(SopVersion, version_id)
    if v is None or sops.get_sop(session, v.sop_id).process_id != ini.process_id:
        raise rule("Choose a version of the SOP of the initiative's process.", "sop_version_id", "unknown_version")
    if v.state not in ROLLABLE:
        raise rule("A rollout takes an approved or published SOP version.", "sop_version_id", "not_approved")
    return v


def _previous_rolled_out(session: Session, v: SopVersion) -> SopVersion | None:
    """The version `v` replaces that had a rollout: the newest other published version of the SOP with a plan."""
    stmt = (select(SopVersion).join(RolloutPlan, col(RolloutPlan.sop_version_id) == SopVersion.id)
            .where(SopVersion.sop_id == v.sop_id, SopVersion.id != v.id, SopVersion.state == SopState.published)
            .order_by(col(SopVersion.number_major).desc(), col(SopVersion.number_minor).desc()))
    return session.exec(stmt).first()


def _adopted_pilot(session: Session, ini: Initiative) -> Pilot | None:
    return session.exec(select(Pilot).where(Pilot.initiative_id == ini.id, Pilot.decision == Decision.adopt)
                        .order_by(col(Pilot.round).desc())).first()


def create_plan(session: Session, initiative_id: int, data: PlanCreate, actor: User) -> RolloutPlan:
    ini = editable(session, actor, initiative_id)
    lock_key(session, f"rollout:{ini.id}")
    if ini.current_phase != Phase.rollout:
        raise rule("A rollout is planned in the rollout phase.", "initiative", "phase_order")
    v = _version(session, ini, data.sop_version_id)
    if plans_of_version(session, v.id) is not None:
        raise Conflict(N_("This SOP version has a rollout plan already."), sop_version_id=v.id)
    previous = _previous_rolled_out(session, v)
    pilot = _adopted_pilot(session, ini)
    plan = RolloutPlan(initiative_id=ini.id, sop_version_id=v.id, pilot_id=pilot.id if pilot else None,
                       previous_version_id=previous.id if previous else None, pass_mark=data.pass_mark,
                       max_attempts=data.max_attempts, note=data.note, created_by_id=actor.id)
    session.add(plan)
    session.flush()
    for i, wave in enumerate(data.waves):
        _add_wave(session, plan, wave, i, f"waves.{i}")
    session.flush()
    record(session, actor, "create", "rollout_plan", plan.id, None, snapshot(session, plan))
    return plan


def update_plan(session: Session, plan_id: int, data: PlanUpdate, actor: User, *,
                expected_version: int | None) -> RolloutPlan:
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    check_version(plan, expected_version, "rollout plan")
    before = snapshot(session, plan)
    changes = changes_of(data, ("pass_mark", "max_attempts", "note"))
    moved = {k for k in ("pass_mark", "max_attempts") if k in changes and changes[k] != getattr(plan, k)}
    if moved and _submitted(session, plan.id):
        raise rule("People took the test: its pass mark and attempts no longer change.", "pass_mark", "tested")
    return save_update(session, actor, plan, "rollout_plan", before, lambda p: snapshot(session, p), changes=changes)


def _submitted(session: Session, plan_id: int) -> bool:
    return session.exec(select(TestAttempt.id).where(TestAttempt.plan_id == plan_id)).first() is not None


def snapshot(session: Session, plan: RolloutPlan) -> dict[str, Any]:
    data = _plain(plan)
    data["waves"] = [_wave_state(session, w) for w in waves(session, plan.id)]
    return data


def _department(session: Session, department_id: int, field_: str) -> Department:
    d = session.get(Department, department_id)
    if d is None:
        raise rule("Choose a department.", field_, "unknown_department")
    return d


def _add_wave(session: Session, plan: RolloutPlan, data: WaveIn, position: int, loc: str) -> RolloutWave:
    wave = RolloutWave(plan_id=plan.id, position=position, **data.model_dump(exclude={"department_ids"}))
    session.add(wave)
    session.flush()
    taken = {d.department_id for d in departments_of(session, plan.id)}
    prefix = f"{loc}." if loc else ""
    for j, department_id in enumerate(data.department_ids):
        _department(session, department_id, f"{prefix}department_ids.{j}")
        if department_id in taken:
            raise rule("A department is in one wave of a plan.", f"{prefix}department_ids.{j}", "duplicate")
        session.add(RolloutDepartment(plan_id=plan.id, department_id=department_id, wave_id=wave.id))
        session.flush()
        _scope_department(session, plan, department_id)
    return wave


def _scope_department(session: Session, plan: RolloutPlan, department_id: int) -> None:
    """Everyone active in the department comes into the scope (people already in it keep their place)."""
    inside = set(session.exec(select(RolloutPerson.user_id).where(RolloutPerson.plan_id == plan.id)))
    users = session.exec(select(User.id).where(User.department_id == department_id, col(User.is_active).is_(True)))
    session.add_all(RolloutPerson(plan_id=plan.id, user_id=u, department_id=department_id)
                    for u in users if u not in inside)


def add_wave(session: Session, plan_id: int, data: WaveIn, actor: User) -> RolloutWave:
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    lock_key(session, f"rollout-plan:{plan.id}")
    before = snapshot(session, plan)
    position = len(waves(session, plan.id))
    wave = _add_wave(session, plan, data, position, "")  # errors name the body's own fields
    session.flush()
    record(session, actor, "update", "rollout_plan", plan.id, before, snapshot(session, plan))
    return wave


def update_wave(session: Session, wave_id: int, data: WaveUpdate, actor: User, *,
                expected_version: int | None) -> RolloutWave:
    wave = get_wave(session, wave_id)
    plan = get_plan(session, wave.plan_id)
    _team(session, plan, actor)
    check_version(wave, expected_version, "wave")
    before = _wave_state(session, wave)
    changes = changes_of(data, ("name", "starts_on", "ends_on", "delivery", "department_ids"))
    if changes.get("ends_on", wave.ends_on) < changes.get("starts_on", wave.starts_on):
        raise rule("A wave ends on or after its start.", "ends_on", "before_start")
    departments = changes.pop("department_ids", None)
    if departments is not None and set(departments) != set(before["departments"]):
        plan_before = snapshot(session, plan)
        _set_departments(session, plan, wave, departments)
        # The plan's scope changed too (a department may have left another wave): audited as add_wave does.
        record(session, actor, "update", "rollout_plan", plan.id, plan_before, snapshot(session, plan))
    return save_update(session, actor, wave, "rollout_wave", before, lambda w: _wave_state(session, w),
                       changes=changes)


def get_wave_departments(session: Session, wave: RolloutWave) -> list[int]:
    return sorted(session.exec(select(RolloutDepartment.department_id).where(RolloutDepartment.wave_id == wave.id)))


def _wave_state(session: Session, wave: RolloutWave) -> dict[str, Any]:
    """A wave as audited: its fields and its departments."""
    return {**_plain(wave), "departments": get_wave_departments(session, wave)}


def _set_departments(session: Session, plan: RolloutPlan, wave: RolloutWave, wanted: list[int]) -> None:
    """The wave's departments as `wanted`: added ones come into the scope, or move here from another wave with their
    people; the ones taken out leave the scope. A live department stays where it is; the wave it leaves keeps one."""
    lock_key(session, f"rollout-plan:{plan.id}")
    rows = {d.department_id: d for d in departments_of(session, plan.id)}
    for j, department_id in enumerate(wanted):
        _department(session, department_id, f"department_ids.{j}")
        row = rows.get(department_id)
        if row is None or row.wave_id == wave.id:
            continue
        if row.ready_at is not None:
            raise rule("A live department stays in its wave.", f"department_ids.{j}", "live_department")
        if all(d in wanted for d, other in rows.items() if other.wave_id == row.wave_id):
            raise rule("The wave it leaves would have no department left: delete that wave instead.",
                       f"department_ids.{j}", "last_department")
    for department_id, row in rows.items():
        if row.wave_id == wave.id and department_id not in wanted and row.ready_at is not None:
            raise rule("A live department stays in its wave.", "department_ids", "live_department")
    removed = [d for d, row in rows.items() if row.wave_id == wave.id and d not in wanted]
    if removed:
        session.exec(sa.delete(RolloutPerson).where(col(RolloutPerson.plan_id) == plan.id,
                                                    col(RolloutPerson.department_id).in_(removed)))
        session.exec(sa.delete(RolloutDepartment).where(col(RolloutDepartment.plan_id) == plan.id,
                                                        col(RolloutDepartment.department_id).in_(removed)))
    left: set[int] = set()
    for department_id in wanted:
        row = rows.get(department_id)
        if row is None:
            session.add(RolloutDepartment(plan_id=plan.id, department_id=department_id, wave_id=wave.id))
            session.flush()
            _scope_department(session, plan, department_id)
        elif row.wave_id != wave.id:
            left.add(row.wave_id)
            row.wave_id = wave.id
            session.add(row)
    # The waves the moved departments left are changed too: a form of one still listing its department is now
    # stale (412), not a way to take it back unseen.
    for wave_id in sorted(left):
        other = session.get(RolloutWave, wave_id)
        check_version(other, other.version, "wave")  # locked (and read again) before it changes
        bump(other)
        session.add(other)
    session.flush()


def delete_wave(session: Session, wave_id: int, actor: User, *, expected_version: int | None) -> None:
    wave = get_wave(session, wave_id)
    plan = get_plan(session, wave.plan_id)
    _team(session, plan, actor)
    check_version(wave, expected_version, "wave")
    rows = [d for d in departments_of(session, plan.id) if d.wave_id == wave.id]
    depts = [d.department_id for d in rows]
    if any(d.ready_at is not None for d in rows):
        raise Conflict(N_("A department of this wave is live: the wave stays."), wave_id=wave.id)
    if session.exec(select(TrainingSession.id).where(TrainingSession.wave_id == wave.id)).first() is not None:
        raise Conflict(N_("The wave has training sessions: delete them first."), wave_id=wave.id)
    session.exec(sa.delete(RolloutPerson).where(col(RolloutPerson.plan_id) == plan.id,
                                                col(RolloutPerson.department_id).in_(depts)))
    session.exec(sa.delete(RolloutDepartment).where(col(RolloutDepartment.wave_id) == wave.id))
    delete_audited(session, actor, wave, "rollout_wave", _plain(wave))


def update_people(session: Session, plan_id: int, data: PeopleUpdate, actor: User) -> None:
    """Adjust the scope: people added (in one of the plan's departments) or moved, people taken out."""
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    lock_key(session, f"rollout-plan:{plan.id}")
    plan_departments = {d.department_id for d in departments_of(session, plan.id)}
    removed = set(data.remove)
    if removed & {p.user_id for p in data.add}:
        raise rule("Add or remove a person, not both.", "remove", "duplicate")
    changed: set[int] = set()
    before = {p.user_id: p.department_id for p in session.exec(select(RolloutPerson).where(
        RolloutPerson.plan_id == plan.id, col(RolloutPerson.user_id).in_(removed | {p.user_id for p in data.add})))}
    for i, item in enumerate(data.add):
        user = _active_user(session, item.user_id, f"add.{i}.user_id")
        department_id = item.department_id or user.department_id
        if department_id not in plan_departments:
            raise rule("A person of the scope is in one of the plan's departments.", f"add.{i}.department_id",
                       "unknown_department")
        row = person(session, plan, user.id) or RolloutPerson(plan_id=plan.id, user_id=user.id,
                                                               department_id=department_id)
        row.department_id, row.sop_role = department_id, item.sop_role
        session.add(row)
        changed.add(department_id)
    if removed:
        session.exec(sa.delete(RolloutPerson).where(col(RolloutPerson.plan_id) == plan.id,
                                                    col(RolloutPerson.user_id).in_(removed)))
    session.flush()
    changed |= set(before.values())
    record(session, actor, "update", "rollout_people", plan.id,
           {"people": {str(k): v for k, v in sorted(before.items())}},
           {"added": [p.model_dump(mode="json") for p in data.add], "removed": sorted(removed)})
    settle(session, plan, changed)


def record_exception(session: Session, plan_id: int, department_id: int, data: ExceptionRequest,
                     actor: User) -> RolloutDepartment:
    plan = get_plan(session, plan_id)
    require_manage(session, actor, get_initiative(session, plan.initiative_id))
    row = session.get(RolloutDepartment, (plan.id, department_id))
    if row is None:
        raise NotFound(N_("Department {department_id} is not in this rollout."), params={"department_id": department_id})
    before = _plain(row)
    row.exception_reason, row.exception_by_id = data.reason, actor.id
    if row.ready_at is None:
        row.ready_at = utcnow()
    session.add(row)
    session.flush()
    record(session, actor, "update", "rollout_department", plan.id, before, _plain(row), reason=data.reason)
    return row


def to_read(session: Session, plan: RolloutPlan) -> PlanRead:
    v = session.get(SopVersion, plan.sop_version_id)
    depts = departments_of(session, plan.id)
    return PlanRead(
        id=plan.id, initiative_id=plan.initiative_id, sop_version_id=plan.sop_version_id,
        sop_version_number=sops.number(v), previous_version_id=plan.previous_version_id, pilot_id=plan.pilot_id,
        pass_mark=plan.pass_mark, max_attempts=plan.max_attempts, note=plan.note,
        waves=[wave_read(w, depts) for w in waves(session, plan.id)], version=plan.version)


def wave_read(w: RolloutWave, depts: list[RolloutDepartment]) -> WaveRead:
    return WaveRead(id=w.id, position=w.position, name=w.name, starts_on=w.starts_on, ends_on=w.ends_on,
                    delivery=w.delivery, department_ids=sorted(d.department_id for d in depts if d.wave_id == w.id),
                    version=w.version)


# ---------------------------------------------------------------- what changed since the previous version

@dataclass(frozen=True)
class Changes:
    """The steps and control points of the plan's version that are new or changed since the previous one, and
    the roles that hold an R or an A for those steps."""

    steps: frozenset[str] = frozenset()
    control_points: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


def changes(session: Session, plan: RolloutPlan) -> Changes | None:
    """None when the plan replaces no rolled-out version."""
    if plan.previous_version_id is None:
        return None
    old = session.get(SopVersion, plan.previous_version_id)
    new = session.get(SopVersion, plan.sop_version_id)
    if old is None or new is None:
        return None
    content = sops.content_of(new)
    diff = diff_contents(sops.content_of(old), content)
    kept = (Change.added, Change.changed, Change.moved)
    steps = frozenset(str(i.new.id) for i in diff.steps.items if i.change in kept and i.new and i.new.id)
    cps = frozenset(str(i.new.id) for i in diff.control_points.items if i.change in kept and i.new and i.new.id)
    activities = {a.name for a in content.raci.activities if a.step_id and str(a.step_id) in steps}
    roles = {c.role for c in content.raci.cells if c.activity in activities and set(c.letters) & {"R", "A"}}
    roles |= {s.role for s in content.steps if s.id and str(s.id) in steps and s.role}
    return Changes(steps, cps, frozenset(roles))


def _passed_previous(session: Session, plan: RolloutPlan) -> set[int]:
    if plan.previous_version_id is None:
        return set()
    previous = plans_of_version(session, plan.previous_version_id)
    if previous is None:
        return set()
    return set(session.exec(select(TestAttempt.user_id).where(TestAttempt.plan_id == previous.id,
                                                              col(TestAttempt.passed).is_(True))))


# ---------------------------------------------------------------- readiness

@dataclass
class _Person:
    """A person of the scope as readiness needs them: plain rows (columns, not ORM records: with 2,000 people,
    building records was most of the time)."""

    row: Any  # (user_id, department_id, sop_role)
    user: UserRef
    attended: int = 0
    last_attended: date | None = None
    attempts: list[Any] = field(default_factory=list)  # (user_id, id, submitted_at, score, passed), by number
    ack: Any = None  # (user_id, acknowledged_at)
    delta: bool = False


def _people(session: Session, plan: RolloutPlan, department_ids: set[int] | None = None,
            user_id: int | None = None) -> list[_Person]:
    """Everyone in the scope (of those departments; or that one person) with their attendance, attempts and
    acknowledgement, in a handful of queries whatever the number of people."""
    where = [RolloutPerson.plan_id == plan.id]
    if user_id is not None:
        where.append(RolloutPerson.user_id == user_id)
    if department_ids is not None:
        where.append(col(RolloutPerson.department_id).in_(department_ids))
    rows = session.exec(select(RolloutPerson.user_id, RolloutPerson.department_id, RolloutPerson.sop_role,
                               User.display_name).join(User, col(User.id) == RolloutPerson.user_id)
                        .where(*where).order_by(User.display_name, col(User.id))).all()
    people = {r.user_id: _Person(r, UserRef(id=r.user_id, display_name=r.display_name)) for r in rows}
    if not people:
        return []
    inside = select(RolloutPerson.user_id).where(*where)
    seen = session.exec(
        select(TrainingAttendance.user_id, func.count(), func.max(TrainingSession.held_on))
        .join(TrainingSession, col(TrainingSession.id) == TrainingAttendance.session_id)
        .where(TrainingSession.plan_id == plan.id, col(TrainingAttendance.attended).is_(True),
               col(TrainingAttendance.user_id).in_(inside))
        .group_by(TrainingAttendance.user_id))
    for user_id, n, last in seen:
        people[user_id].attended, people[user_id].last_attended = n, last
    for a in session.exec(select(TestAttempt.user_id, TestAttempt.id, TestAttempt.submitted_at, TestAttempt.score,
                                 TestAttempt.passed)
                          .where(TestAttempt.plan_id == plan.id, col(TestAttempt.user_id).in_(inside))
                          .order_by(col(TestAttempt.number))):
        people[a.user_id].attempts.append(a)
    for ack in session.exec(select(Acknowledgement.user_id, Acknowledgement.acknowledged_at)
                            .where(Acknowledgement.plan_id == plan.id, col(Acknowledgement.user_id).in_(inside))):
        people[ack.user_id].ack = ack
    for user_id in _passed_previous(session, plan) & people.keys():
        people[user_id].delta = True
    return list(people.values())


@dataclass(frozen=True)
class _Standing:
    passed: bool
    retraining: bool
    best: int | None
    submitted: int
    open_id: int | None


def _standing(p: _Person, delta_questions: int) -> _Standing:
    """Where a person stands; `delta_questions`: how many questions the change-only test has (a person retrained
    on the change with none to take counts as passed)."""
    done = [a for a in p.attempts if a.submitted_at is not None]
    open_ = next((a.id for a in p.attempts if a.submitted_at is None), None)
    passed = any(a.passed for a in done) or (p.delta and delta_questions == 0)
    best = max((a.score for a in done if a.score is not None), default=None)
    retraining = False
    if done and not passed and not done[-1].passed:
        failed_on = local_date(done[-1].submitted_at, get_settings().business_timezone)
        retraining = p.last_attended is None or p.last_attended < failed_on
    return _Standing(passed, retraining, best, len(done), open_)


def _delta_question_count(session: Session, plan: RolloutPlan, change: Changes | None) -> int:
    if change is None:
        return 0
    return len(_paper_questions(session, plan, change))


def person_statuses(session: Session, plan: RolloutPlan, department_ids: set[int] | None = None
                    ) -> list[PersonStatus]:
    change = changes(session, plan)
    n_delta = _delta_question_count(session, plan, change)
    out = []
    for p in _people(session, plan, department_ids):
        s = _standing(p, n_delta)
        out.append(PersonStatus(
            user=p.user, department_id=p.row.department_id, sop_role=p.row.sop_role, delta=p.delta,
            priority=bool(p.delta and change and p.row.sop_role in change.roles), attended=p.attended,
            attempts=s.submitted, best_score=s.best, passed=s.passed, retraining=s.retraining,
            acknowledged=p.ack is not None, acknowledged_at=p.ack.acknowledged_at if p.ack else None))
    out.sort(key=lambda x: (not x.priority, x.passed and x.acknowledged))
    return out


STANDING: dict[Standing, Callable[[PersonStatus], bool]] = {
    Standing.retraining: lambda p: p.retraining,
    Standing.not_passed: lambda p: not p.passed,
    Standing.passed: lambda p: p.passed,
    Standing.not_acknowledged: lambda p: not p.acknowledged,
    Standing.priority: lambda p: p.priority,
}


def select_people(people: list[PersonStatus], *, department_id: int | None = None, standing: Standing | None = None,
                  name: str = "") -> list[PersonStatus]:
    """The people of a department and a standing whose name holds `name` (case-insensitive), in the list's order."""
    needle = name.strip().casefold()
    return [p for p in people if (department_id is None or p.department_id == department_id)
            and (standing is None or STANDING[standing](p)) and (not needle or needle in p.user.display_name.casefold())]


def in_force_since(v: SopVersion, ready_at: datetime | None) -> datetime | None:
    if v.state != SopState.published or v.effective_date is None or ready_at is None:
        return None
    return max(ready_at, local_midnight(v.effective_date, get_settings().business_timezone))


def readiness(session: Session, plan: RolloutPlan, department_ids: set[int] | None = None) -> Readiness:
    v = session.get(SopVersion, plan.sop_version_id)
    rows = {d.department_id: d for d in departments_of(session, plan.id)
            if department_ids is None or d.department_id in department_ids}
    names = {d.id: d for d in session.exec(select(Department).where(col(Department.id).in_(rows.keys())))}
    statuses = person_statuses(session, plan, set(rows))
    by_department: dict[int, list[PersonStatus]] = defaultdict(list)
    for s in statuses:
        by_department[s.department_id].append(s)
    order = {w.id: w.position for w in waves(session, plan.id)}
    out = []
    for department_id, row in sorted(rows.items(), key=lambda kv: (order.get(kv[1].wave_id, 0), names[kv[0]].code)):
        people = by_department.get(department_id, [])
        tested = [p for p in people if p.attempts or p.passed]
        everyone = bool(people) and all(p.passed and p.acknowledged for p in people)
        out.append(DepartmentReadiness(
            department_id=department_id, code=names[department_id].code, name=names[department_id].name_en,
            wave_id=row.wave_id, people=len(people), attended=sum(1 for p in people if p.attended),
            passed=sum(1 for p in people if p.passed), acknowledged=sum(1 for p in people if p.acknowledged),
            retraining=sum(1 for p in people if p.retraining),
            pass_rate=(sum(1 for p in tested if p.passed) / len(tested)) if tested else None,
            ready=everyone or bool(row.exception_reason), ready_at=row.ready_at,
            exception_reason=row.exception_reason, in_force_since=in_force_since(v, row.ready_at)))
    return Readiness(plan_id=plan.id, departments=out, ready=bool(out) and all(d.ready for d in out))


def settle(session: Session, plan: RolloutPlan, department_ids: set[int]) -> None:
    """Keep when each of these departments first became ready (it goes live then; later changes to the scope
    do not take it back)."""
    if not department_ids:
        return
    pending = {d.department_id for d in departments_of(session, plan.id)
               if d.department_id in department_ids and d.ready_at is None}
    if not pending:
        return
    now = utcnow()
    for d in readiness(session, plan, pending).departments:
        if d.ready:
            row = session.get(RolloutDepartment, (plan.id, d.department_id))
            row.ready_at = now
            session.add(row)
            record(session, None, "update", "rollout_department", plan.id, {"department_id": d.department_id,
                                                                             "ready_at": None},
                   {"department_id": d.department_id, "ready_at": now.isoformat()})
    session.flush()


def plan_ready(session: Session, initiative_id: int) -> bool:
    """The rollout gate: the initiative has a plan, and every department of every plan of it is ready."""
    plans = list_plans(session, initiative_id)
    return bool(plans) and all(readiness(session, p).ready for p in plans)


def checklist_done(session: Session, initiative_id: int) -> tuple[bool, int]:
    """The checklist gate: every item of the initiative's plans is done (and how many are open)."""
    open_ = session.exec(select(func.count()).select_from(ChecklistItem)
                         .join(RolloutPlan, col(RolloutPlan.id) == ChecklistItem.plan_id)
                         .where(RolloutPlan.initiative_id == initiative_id, col(ChecklistItem.done).is_(False))).one()
    return open_ == 0, open_


# ---------------------------------------------------------------- which version applies

def applicable(session: Session, process_ref: str, department_code: str, at: date | None) -> Applicable:
    """The version that applies to a department on a day (today by default): the newest published version in
    effect then whose rollout reached the department by then, or that has no rollout there."""
    process = sops.resolve_process(session, process_ref)
    department = session.exec(select(Department).where(
        func.lower(Department.code) == department_code.strip().lower())).first()
    if department is None:
        raise rule("Name a department by its code.", "department", "unknown_department")
    at = at or today()
    tz = get_settings().business_timezone
    sop = sops.sop_of_process(session, process.id)
    versions = [] if sop is None else list(session.exec(
        select(SopVersion).where(SopVersion.sop_id == sop.id, SopVersion.state == SopState.published,
                                 col(SopVersion.effective_date) <= at)
        .order_by(col(SopVersion.effective_date).desc(), col(SopVersion.number_major).desc(),
                  col(SopVersion.number_minor).desc())))
    rollouts = {} if not versions else dict(session.exec(
            select(RolloutPlan.sop_version_id, RolloutDepartment)
            .join(RolloutDepartment, col(RolloutDepartment.plan_id) == RolloutPlan.id)
            .where(col(RolloutPlan.sop_version_id).in_([v.id for v in versions]),
                   RolloutDepartment.department_id == department.id)).all())
    for v in versions:
        row = rollouts.get(v.id)
        if row is None:
            return Applicable(process_id=process.id, department_id=department.id, at=at, version_id=v.id,
                              number=sops.number(v), since=local_midnight(v.effective_date, tz), rolled_out=False)
        since = in_force_since(v, row.ready_at)
        if since is not None and local_date(since, tz) <= at:
            return Applicable(process_id=process.id, department_id=department.id, at=at, version_id=v.id,
                              number=sops.number(v), since=since, rolled_out=True)
    return Applicable(process_id=process.id, department_id=department.id, at=at, version_id=None, number=None,
                      since=None, rolled_out=False)


# ---------------------------------------------------------------- training sessions

def get_session(session: Session, session_id: int) -> TrainingSession:
    ts = session.get(TrainingSession, session_id)
    if ts is None:
        raise NotFound(N_("Training session {session_id} not found."), params={"session_id": session_id})
    return ts


def list_sessions(session: Session, plan_id: int) -> list[TrainingSession]:
    get_plan(session, plan_id)
    return list(session.exec(select(TrainingSession).where(TrainingSession.plan_id == plan_id)
                             .order_by(col(TrainingSession.held_on), col(TrainingSession.id))))


def create_session(session: Session, plan_id: int, data: SessionCreate, actor: User) -> TrainingSession:
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    wave = session.get(RolloutWave, data.wave_id)
    if wave is None or wave.plan_id != plan.id:
        raise rule("Choose a wave of this plan.", "wave_id", "unknown_wave")
    if data.trainer_id is not None:
        _active_user(session, data.trainer_id, "trainer_id")
    ts = TrainingSession(plan_id=plan.id, **data.model_dump(exclude={"materials"}),
                         materials=[m.model_dump(mode="json") for m in data.materials])
    return save_new(session, actor, ts, "training_session", _plain)


def update_session(session: Session, session_id: int, data: SessionUpdate, actor: User, *,
                   expected_version: int | None) -> TrainingSession:
    ts = get_session(session, session_id)
    _team(session, get_plan(session, ts.plan_id), actor)
    check_version(ts, expected_version, "training session")
    changes = changes_of(data, ("title", "held_on", "delivery", "materials"))
    if changes.get("trainer_id") is not None:
        _active_user(session, changes["trainer_id"], "trainer_id")
    if "materials" in changes:
        changes["materials"] = [m.model_dump(mode="json") for m in data.materials or []]
    return save_update(session, actor, ts, "training_session", _plain(ts), _plain, changes=changes)


def delete_session(session: Session, session_id: int, actor: User, *, expected_version: int | None) -> None:
    ts = get_session(session, session_id)
    _team(session, get_plan(session, ts.plan_id), actor)
    check_version(ts, expected_version, "training session")
    if session.exec(select(TrainingAttendance).where(TrainingAttendance.session_id == ts.id)).first() is not None:
        raise Conflict(N_("The session has attendance recorded: it stays."), session_id=ts.id)
    delete_audited(session, actor, ts, "training_session", _plain(ts))


def may_record_attendance(session: Session, ts: TrainingSession, actor: User) -> bool:
    return ts.trainer_id == actor.id or may_plan(session, get_plan(session, ts.plan_id), actor)


def record_attendance(session: Session, session_id: int, data: AttendanceUpdate, actor: User) -> TrainingSession:
    ts = get_session(session, session_id)
    if not may_record_attendance(session, ts, actor):
        raise Forbidden(N_("The session's trainer and the initiative's team record attendance."))
    if ts.held_on > today():
        raise rule("Attendance is recorded once the session was held.", "attendance", "future")
    plan = get_plan(session, ts.plan_id)
    ids = [a.user_id for a in data.attendance]
    if len(ids) != len(set(ids)):
        raise rule("Each person once.", "attendance", "duplicate")
    inside = set(session.exec(select(RolloutPerson.user_id).where(RolloutPerson.plan_id == plan.id,
                                                                  col(RolloutPerson.user_id).in_(ids))))
    for i, a in enumerate(data.attendance):
        if a.user_id not in inside:
            raise rule("Attendance is recorded for the plan's people.", f"attendance.{i}.user_id", "not_in_scope")
    before = {str(a.user_id): a.attended for a in session.exec(select(TrainingAttendance).where(
        TrainingAttendance.session_id == ts.id, col(TrainingAttendance.user_id).in_(ids)))}
    for a in data.attendance:
        row = session.get(TrainingAttendance, (ts.id, a.user_id)) or TrainingAttendance(session_id=ts.id,
                                                                                         user_id=a.user_id)
        row.attended = a.attended
        session.add(row)
    session.flush()
    record(session, actor, "update", "training_attendance", ts.id, before,
           {str(a.user_id): a.attended for a in data.attendance})
    return ts


def session_reads(session: Session, items: list[TrainingSession]) -> list[SessionRead]:
    ids = [s.id for s in items]
    marks: dict[int, dict[int, bool]] = defaultdict(dict)
    if ids:
        for a in session.exec(select(TrainingAttendance).where(col(TrainingAttendance.session_id).in_(ids))):
            marks[a.session_id][a.user_id] = a.attended
    users = user_refs(session, {s.trainer_id for s in items})
    return [SessionRead(id=s.id, plan_id=s.plan_id, wave_id=s.wave_id, title=s.title, held_on=s.held_on,
                        trainer=users.get(s.trainer_id) if s.trainer_id else None, delivery=s.delivery,
                        materials=[MaterialRead(**m) for m in s.materials],
                        attended=sorted(u for u, v in marks[s.id].items() if v),
                        absent=sorted(u for u, v in marks[s.id].items() if not v), version=s.version)
            for s in items]


# ---------------------------------------------------------------- the question bank

def _bank_version(session: Session, version_id: int, actor: User) -> SopVersion:
    """The version, when the actor keeps its question bank: the team of an initiative of the SOP's process (the
    one that wrote the version, the one that rolls it out), and administrators."""
    v = sops.get_version(session, version_id)
    if actor.role == Role.admin:
        return v
    process_id = sops.get_sop(session, v.sop_id).process_id
    for ini in session.exec(select(Initiative).where(Initiative.process_id == process_id)):
        if can_edit(session, actor, ini):
            return v
    raise Forbidden(N_("The initiative's team keeps the question bank."))


def get_question(session: Session, question_id: int) -> TestQuestion:
    q = session.get(TestQuestion, question_id)
    if q is None:
        raise NotFound(N_("Question {question_id} not found."), params={"question_id": question_id})
    return q


def list_questions(session: Session, version_id: int, actor: User) -> list[TestQuestion]:
    _bank_version(session, version_id, actor)
    return _questions(session, version_id)


def _questions(session: Session, version_id: int) -> list[TestQuestion]:
    return list(session.exec(select(TestQuestion).where(TestQuestion.sop_version_id == version_id)
                             .order_by(col(TestQuestion.position), col(TestQuestion.id))))


def _check_links(content: SopContent, data: QuestionIn) -> None:
    if data.step_id is not None and data.step_id not in {s.id for s in content.steps}:
        raise rule("The question tests a step of this version.", "step_id", "unknown_step")
    if data.control_point_id is not None and data.control_point_id not in {c.id for c in content.control_points}:
        raise rule("The question tests a control point of this version.", "control_point_id", "unknown_control_point")


def _question_fields(data: QuestionIn) -> dict[str, Any]:
    return {"kind": data.kind, "text": data.text, "options": list(data.options), "correct": sorted(data.correct),
            "step_id": str(data.step_id) if data.step_id else None,
            "control_point_id": str(data.control_point_id) if data.control_point_id else None}


def create_question(session: Session, version_id: int, data: QuestionIn, actor: User) -> TestQuestion:
    v = _bank_version(session, version_id, actor)
    _check_links(sops.content_of(v), data)
    position = session.exec(select(func.count()).select_from(TestQuestion)
                            .where(TestQuestion.sop_version_id == v.id)).one()
    q = TestQuestion(sop_version_id=v.id, position=position, reviewed_by_id=actor.id, reviewed_at=utcnow(),
                     **_question_fields(data))
    return save_new(session, actor, q, "test_question", _plain)


def update_question(session: Session, question_id: int, data: QuestionIn, actor: User, *,
                    expected_version: int | None) -> TestQuestion:
    """Replace a question: the person who edits it reviewed it."""
    q = get_question(session, question_id)
    v = _bank_version(session, q.sop_version_id, actor)
    check_version(q, expected_version, "question")
    _check_links(sops.content_of(v), data)
    return save_update(session, actor, q, "test_question", _plain(q), _plain,
                       changes={**_question_fields(data), "reviewed_by_id": actor.id, "reviewed_at": utcnow()})


def review_question(session: Session, question_id: int, actor: User, *, expected_version: int | None) -> TestQuestion:
    q = get_question(session, question_id)
    _bank_version(session, q.sop_version_id, actor)
    check_version(q, expected_version, "question")
    return save_update(session, actor, q, "test_question", _plain(q), _plain,
                       changes={"reviewed_by_id": actor.id, "reviewed_at": utcnow()})


def delete_question(session: Session, question_id: int, actor: User, *, expected_version: int | None) -> None:
    q = get_question(session, question_id)
    _bank_version(session, q.sop_version_id, actor)
    check_version(q, expected_version, "question")
    delete_audited(session, actor, q, "test_question", _plain(q))


_THRESHOLD = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(>=|>)\s*(\d+(?:\.\d+)?)")


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _others(right: str, pool: list[str], n: int = 3) -> list[str]:
    seen, out = {right}, []
    for item in pool:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out[:n]


def _shuffled(right: str, wrong: list[str]) -> tuple[list[str], list[int]]:
    options = [right, *wrong]
    _random.shuffle(options)
    return options, [options.index(right)]


def _drafts(content: SopContent, _: Callable[[str], str]) -> list[tuple[str, dict[str, Any]]]:
    """(source, question fields) for each question the version's control points and steps suggest, worded by
    `_` (a gettext of the requester's language)."""
    out: list[tuple[str, dict[str, Any]]] = []
    roles = list(dict.fromkeys([*content.raci.roles, *(s.role for s in content.steps),
                                *(c.approver_role for c in content.control_points)]))
    for cp in content.control_points:
        if cp.id is None:
            continue
        match = _THRESHOLD.search(cp.rule.condition) if cp.rule else None
        if match:
            name, value = match.group(1), float(match.group(3))
            wrong = [_amount(x) for x in (value / 10, value / 2, value * 10) if x != value]
            options, correct = _shuffled(_amount(value), _others(_amount(value), wrong))
            what = cp.approver_role or cp.rule.requirement.activity
            out.append((f"cp-threshold:{cp.id}", {
                "kind": QuestionKind.single, "options": options, "correct": correct, "control_point_id": str(cp.id),
                "text": _("From which %(attribute)s on is «%(what)s» required?") % {"attribute": name, "what": what}}))
        if cp.approver_role:
            wrong = _others(cp.approver_role, roles)
            if wrong:
                options, correct = _shuffled(cp.approver_role, wrong)
                out.append((f"cp-approver:{cp.id}", {
                    "kind": QuestionKind.single, "options": options, "correct": correct,
                    "control_point_id": str(cp.id),
                    "text": _("Who approves at the control point «%(point)s»?") % {"point": cp.description}}))
    names = [s.name for s in content.steps]
    for i, step in enumerate(content.steps):
        if step.id is None:
            continue
        if step.role:
            wrong = _others(step.role, roles)
            if wrong:
                options, correct = _shuffled(step.role, wrong)
                out.append((f"step-role:{step.id}", {
                    "kind": QuestionKind.single, "options": options, "correct": correct, "step_id": str(step.id),
                    "text": _("Who does the step «%(step)s»?") % {"step": step.name}}))
        if i + 1 < len(content.steps):
            right = content.steps[i + 1].name
            wrong = _others(right, [n for n in names if n != step.name])
            if wrong:
                options, correct = _shuffled(right, wrong)
                out.append((f"step-next:{step.id}", {
                    "kind": QuestionKind.single, "options": options, "correct": correct, "step_id": str(step.id),
                    "text": _("Which step comes right after «%(step)s»?") % {"step": step.name}}))
    return out


def draft_questions(session: Session, version_id: int, actor: User, locale: str) -> DraftResult:
    """Draft questions from the version's control points and steps, in `locale`; each waits for a person's review.
    A source drafted before is skipped, so drafting again adds only what is new."""
    v = _bank_version(session, version_id, actor)
    existing = {q.drafted_from for q in _questions(session, v.id) if q.drafted_from}
    position = len(_questions(session, v.id))
    drafted, skipped = [], 0
    for source, fields in _drafts(sops.content_of(v), gettext_for(locale)):
        if source in existing:
            skipped += 1
            continue
        q = save_new(session, actor, TestQuestion(sop_version_id=v.id, position=position, drafted_from=source,
                                                  **fields), "test_question", _plain)
        position += 1
        drafted.append(q)
    return DraftResult(drafted=question_reads(session, drafted), skipped=skipped)


def question_reads(session: Session, items: list[TestQuestion]) -> list[QuestionRead]:
    users = user_refs(session, {q.reviewed_by_id for q in items})
    return [QuestionRead(id=q.id, sop_version_id=q.sop_version_id, position=q.position, kind=q.kind, text=q.text,
                         options=q.options, correct=q.correct, step_id=q.step_id, control_point_id=q.control_point_id,
                         drafted=q.drafted_from is not None, reviewed=q.reviewed_at is not None,
                         reviewed_by=users.get(q.reviewed_by_id) if q.reviewed_by_id else None, version=q.version)
            for q in items]


# ---------------------------------------------------------------- tests

def _paper_questions(session: Session, plan: RolloutPlan, change: Changes | None) -> list[TestQuestion]:
    """The reviewed questions of the plan's version; of a change-only test, those on what changed."""
    questions = [q for q in _questions(session, plan.sop_version_id) if q.reviewed_at is not None]
    if change is not None:
        questions = [q for q in questions if (q.step_id in change.steps) or (q.control_point_id in change.control_points)]
    return questions


TRUE_FALSE = ["true", "false"]  # the options of a true/false question, as the API names them (pages translate)


def _options(item: dict[str, Any]) -> list[str]:
    return TRUE_FALSE if item["kind"] == QuestionKind.true_false else list(item["options"])


def _me(session: Session, plan: RolloutPlan, actor: User) -> _Person:
    people = _people(session, plan, user_id=actor.id)
    if not people:
        raise Forbidden(N_("Only the people in the rollout's scope take its test."))
    return people[0]


def my_test(session: Session, plan_id: int, actor: User) -> MyTest:
    plan = get_plan(session, plan_id)
    v = session.get(SopVersion, plan.sop_version_id)
    found = _people(session, plan, user_id=actor.id)
    if not found:
        return MyTest(plan_id=plan.id, in_scope=False, delta=False, questions=0, attempts=[], attempts_left=0,
                      passed=False, retraining=False, may_start=False, open_attempt_id=None, acknowledged=False,
                      content_hash=sops.content_hash(v.content))
    me = found[0]
    change = changes(session, plan) if me.delta else None
    n = len(_paper_questions(session, plan, change))
    s = _standing(me, n)
    left = max(0, plan.max_attempts - s.submitted)
    return MyTest(plan_id=plan.id, in_scope=True, delta=me.delta, questions=n,
                  attempts=attempt_summaries(session, list(session.exec(
                      select(TestAttempt).where(TestAttempt.plan_id == plan.id, TestAttempt.user_id == actor.id)
                      .order_by(col(TestAttempt.number))))), attempts_left=left, passed=s.passed,
                  retraining=s.retraining,
                  may_start=not s.passed and not s.retraining and left > 0 and n > 0 and s.open_id is None,
                  open_attempt_id=s.open_id, acknowledged=me.ack is not None,
                  content_hash=sops.content_hash(v.content))


def start_attempt(session: Session, plan_id: int, actor: User) -> tuple[TestAttempt, bool]:
    """The actor's open attempt, or a new one with the questions and their options shuffled; (attempt, new)."""
    plan = get_plan(session, plan_id)
    lock_key(session, f"attempt:{plan.id}:{actor.id}")  # two clicks: one attempt
    me = _me(session, plan, actor)
    change = changes(session, plan) if me.delta else None
    questions = _paper_questions(session, plan, change)
    s = _standing(me, len(questions))
    if s.open_id is not None:
        return session.get(TestAttempt, s.open_id), False
    if s.passed:
        raise Conflict(N_("You passed this test already."))
    if s.submitted >= plan.max_attempts:
        raise Conflict(N_("No attempts left: {max_attempts} were allowed."), params={"max_attempts": plan.max_attempts})
    if s.retraining:
        raise Conflict(N_("Retraining first: the next attempt opens once you attended a training session after "
                          "the failed one."), retraining=True)
    if not questions:
        raise Conflict(N_("The test has no reviewed questions yet."))
    _random.shuffle(questions)
    paper = []
    for q in questions:
        order = list(range(2 if q.kind == QuestionKind.true_false else len(q.options)))
        if q.kind != QuestionKind.true_false:
            _random.shuffle(order)
        paper.append({"question_id": q.id, "kind": q.kind.value, "text": q.text, "options": q.options,
                      "order": order, "correct": q.correct})
    attempt = TestAttempt(plan_id=plan.id, user_id=actor.id, number=len(me.attempts) + 1, delta=me.delta,
                          started_at=utcnow(), paper=paper)
    session.add(attempt)
    session.flush()
    record(session, actor, "create", "test_attempt", attempt.id, None,
           {"plan_id": plan.id, "number": attempt.number, "delta": attempt.delta,
            "questions": [p["question_id"] for p in paper]})
    return attempt, True


def get_attempt(session: Session, attempt_id: int, actor: User) -> TestAttempt:
    """An attempt, for its own person only (another's is not found: its existence is not theirs to know)."""
    attempt = session.get(TestAttempt, attempt_id)
    if attempt is None or attempt.user_id != actor.id:
        raise NotFound(N_("Test attempt {attempt_id} not found."), params={"attempt_id": attempt_id})
    return attempt


def submit_attempt(session: Session, attempt_id: int, data: AttemptSubmit, actor: User) -> TestAttempt:
    attempt = get_attempt(session, attempt_id, actor)
    session.refresh(attempt, with_for_update=True)
    if attempt.submitted_at is not None:
        raise Conflict(N_("This attempt was submitted: a retake is a new attempt."))
    plan = get_plan(session, attempt.plan_id)
    by_id = {p["question_id"]: p for p in attempt.paper}
    chosen: dict[int, list[int]] = {}
    for i, answer in enumerate(data.answers):
        item = by_id.get(answer.question_id)
        if item is None or answer.question_id in chosen:
            raise rule("Answer each question of the attempt once.", f"answers.{i}.question_id", "unknown_question")
        n = len(item["order"])
        if any(c < 0 or c >= n for c in answer.chosen) or len(set(answer.chosen)) != len(answer.chosen):
            raise rule("Choose options of the question, each once.", f"answers.{i}.chosen", "unknown_option")
        if item["kind"] != QuestionKind.multiple and len(answer.chosen) > 1:
            raise rule("This question takes one answer.", f"answers.{i}.chosen", "one_answer")
        chosen[answer.question_id] = sorted(answer.chosen)
    answers, right = [], 0
    for item in attempt.paper:
        picked = chosen.get(item["question_id"], [])
        answers.append(picked)
        # The paper shows option `order[k]` at place k: a place chosen is that original option.
        if sorted(item["order"][k] for k in picked) == sorted(item["correct"]):
            right += 1
    total = len(attempt.paper)
    attempt.answers = answers
    attempt.score = (200 * right + total) // (2 * total)  # rounded half up: 7 of 9 is 78
    attempt.passed = attempt.score >= plan.pass_mark
    attempt.submitted_at = utcnow()
    session.add(attempt)
    session.flush()
    record(session, actor, "update", "test_attempt", attempt.id, None,
           {"score": attempt.score, "passed": attempt.passed, "number": attempt.number})
    row = person(session, plan, actor.id)
    if row is not None and attempt.passed:
        settle(session, plan, {row.department_id})
    return attempt


def attempt_read(session: Session, attempt: TestAttempt) -> AttemptRead:
    plan = get_plan(session, attempt.plan_id)
    user = session.get(User, attempt.user_id)
    questions, results = [], None
    for item in attempt.paper:
        shown = _options(item)
        questions.append(PaperQuestion(question_id=item["question_id"], kind=item["kind"], text=item["text"],
                                       options=[shown[k] for k in item["order"]]))
    if attempt.submitted_at is not None and attempt.answers is not None:
        results = [AnswerResult(question_id=item["question_id"], chosen=picked,
                                right=sorted(item["order"][k] for k in picked) == sorted(item["correct"]))
                   for item, picked in zip(attempt.paper, attempt.answers, strict=True)]
    return AttemptRead(id=attempt.id, plan_id=attempt.plan_id, user=UserRef(id=user.id, display_name=user.display_name),
                       number=attempt.number, delta=attempt.delta, started_at=attempt.started_at,
                       submitted_at=attempt.submitted_at, pass_mark=plan.pass_mark, questions=questions,
                       results=results, score=attempt.score, passed=attempt.passed)


def attempt_summaries(session: Session, attempts: list[TestAttempt]) -> list[AttemptSummary]:
    users = user_refs(session, {a.user_id for a in attempts})
    return [AttemptSummary(id=a.id, user=users[a.user_id], number=a.number, delta=a.delta, started_at=a.started_at,
                           submitted_at=a.submitted_at, score=a.score, passed=a.passed)
            for a in attempts if a.user_id in users]


def plan_attempts(session: Session, plan_id: int, actor: User) -> list[AttemptSummary]:
    """Every attempt at the plan's test, for the team: scores, not answers."""
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    return attempt_summaries(session, list(session.exec(select(TestAttempt).where(TestAttempt.plan_id == plan.id)
                                                        .order_by(col(TestAttempt.id)))))


def require_results(session: Session, plan: RolloutPlan, actor: User) -> None:
    """The people's results (scores, who passed) are the team's to see."""
    _team(session, plan, actor)


# ---------------------------------------------------------------- read and acknowledge

def acknowledge(session: Session, plan_id: int, data: AcknowledgeRequest, actor: User) -> Acknowledgement:
    plan = get_plan(session, plan_id)
    me = _me(session, plan, actor)
    v = session.get(SopVersion, plan.sop_version_id)
    if data.content_hash != sops.content_hash(v.content):
        raise rule("The version changed since you read it: read it again.", "content_hash", "stale")
    if me.ack is not None:
        return session.get(Acknowledgement, (plan.id, actor.id))
    ack = Acknowledgement(plan_id=plan.id, user_id=actor.id, content_hash=data.content_hash, delta=me.delta,
                          acknowledged_at=utcnow())
    session.add(ack)
    session.flush()
    record(session, actor, "create", "acknowledgement", plan.id, None,
           {"user_id": actor.id, "content_hash": ack.content_hash, "delta": ack.delta})
    settle(session, plan, {me.row.department_id})
    return ack


def acknowledgement_read(session: Session, ack: Acknowledgement) -> AcknowledgementRead:
    user = session.get(User, ack.user_id)
    return AcknowledgementRead(plan_id=ack.plan_id, user=UserRef(id=user.id, display_name=user.display_name),
                               content_hash=ack.content_hash, delta=ack.delta, acknowledged_at=ack.acknowledged_at)


# ---------------------------------------------------------------- launch notices

def create_notice(session: Session, plan_id: int, data: NoticeCreate, actor: User) -> LaunchNotice:
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    wave = session.get(RolloutWave, data.wave_id)
    if wave is None or wave.plan_id != plan.id:
        raise rule("Choose a wave of this plan.", "wave_id", "unknown_wave")
    if session.exec(select(LaunchNotice.id).where(LaunchNotice.wave_id == wave.id)).first() is not None:
        raise Conflict(N_("The wave has its launch notice already."), wave_id=wave.id)
    notice = LaunchNotice(plan_id=plan.id, wave_id=wave.id, effective_at=data.effective_at, text=data.text,
                          published_by_id=actor.id)
    return save_new(session, actor, notice, "launch_notice", _plain)


def list_notices(session: Session, plan_id: int) -> list[LaunchNotice]:
    get_plan(session, plan_id)
    return list(session.exec(select(LaunchNotice).where(LaunchNotice.plan_id == plan_id)
                             .order_by(col(LaunchNotice.effective_at))))


def notice_reads(session: Session, items: list[LaunchNotice]) -> list[NoticeRead]:
    users = user_refs(session, {n.published_by_id for n in items})
    by_wave: dict[int, list[int]] = defaultdict(list)
    for plan_id in {n.plan_id for n in items}:
        for d in departments_of(session, plan_id):
            by_wave[d.wave_id].append(d.department_id)
    return [NoticeRead(id=n.id, plan_id=n.plan_id, wave_id=n.wave_id, effective_at=n.effective_at, text=n.text,
                       published_by=users.get(n.published_by_id) if n.published_by_id else None,
                       created_at=n.created_at, department_ids=sorted(by_wave[n.wave_id])) for n in items]


# ---------------------------------------------------------------- IT configuration checklist

def get_item(session: Session, item_id: int) -> ChecklistItem:
    item = session.get(ChecklistItem, item_id)
    if item is None:
        raise NotFound(N_("Checklist item {item_id} not found."), params={"item_id": item_id})
    return item


def list_items(session: Session, plan_id: int) -> list[ChecklistItem]:
    get_plan(session, plan_id)
    return list(session.exec(select(ChecklistItem).where(ChecklistItem.plan_id == plan_id)
                             .order_by(col(ChecklistItem.id))))


def create_item(session: Session, plan_id: int, data: ChecklistCreate, actor: User) -> ChecklistItem:
    plan = get_plan(session, plan_id)
    _team(session, plan, actor)
    if data.owner_id is not None:
        _active_user(session, data.owner_id, "owner_id")
    return save_new(session, actor, ChecklistItem(plan_id=plan.id, **data.model_dump()), "checklist_item", _plain)


def update_item(session: Session, item_id: int, data: ChecklistUpdate, actor: User, *,
                expected_version: int | None) -> ChecklistItem:
    """The team changes an item; its owner marks it done (or not)."""
    item = get_item(session, item_id)
    plan = get_plan(session, item.plan_id)
    changes = changes_of(data, ("kind", "text", "done"))
    if not may_plan(session, plan, actor) and not (item.owner_id == actor.id and changes.keys() <= {"done"}):
        raise Forbidden(N_("The initiative's team keeps the checklist; an item's owner marks it done."))
    check_version(item, expected_version, "checklist item")
    if changes.get("owner_id") is not None:
        _active_user(session, changes["owner_id"], "owner_id")
    if "done" in changes and changes["done"] != item.done:
        changes["done_at"], changes["done_by_id"] = (utcnow(), actor.id) if changes["done"] else (None, None)
    return save_update(session, actor, item, "checklist_item", _plain(item), _plain, changes=changes)


def delete_item(session: Session, item_id: int, actor: User, *, expected_version: int | None) -> None:
    item = get_item(session, item_id)
    _team(session, get_plan(session, item.plan_id), actor)
    check_version(item, expected_version, "checklist item")
    delete_audited(session, actor, item, "checklist_item", _plain(item))


def item_reads(session: Session, items: list[ChecklistItem]) -> list[ChecklistRead]:
    users = user_refs(session, {i.owner_id for i in items} | {i.done_by_id for i in items})
    return [ChecklistRead(id=i.id, plan_id=i.plan_id, kind=i.kind, text=i.text,
                          owner=users.get(i.owner_id) if i.owner_id else None, done=i.done, done_at=i.done_at,
                          done_by=users.get(i.done_by_id) if i.done_by_id else None, version=i.version)
            for i in items]


# ---------------------------------------------------------------- the help channel

def may_answer(session: Session, sop: Sop, actor: User) -> bool:
    """The team of an initiative of the SOP's process, the process's owner and administrators answer."""
    return works_on_process(session, actor, session.get(Process, sop.process_id))


def ask(session: Session, sop_id: int, data: HelpCreate, actor: User) -> HelpQuestion:
    sop = sops.get_sop(session, sop_id)
    return save_new(session, actor, HelpQuestion(sop_id=sop.id, author_id=actor.id, text=data.text),
                    "help_question", _plain)


def get_help_question(session: Session, question_id: int) -> HelpQuestion:
    q = session.get(HelpQuestion, question_id)
    if q is None:
        raise NotFound(N_("Help question {question_id} not found."), params={"question_id": question_id})
    return q


def answer(session: Session, question_id: int, data: HelpCreate, actor: User) -> HelpAnswer:
    q = get_help_question(session, question_id)
    if not may_answer(session, sops.get_sop(session, q.sop_id), actor):
        raise Forbidden(N_("The process's team answers the help channel."))
    return save_new(session, actor, HelpAnswer(question_id=q.id, author_id=actor.id, text=data.text), "help_answer",
                    _plain)


def help_thread(session: Session, sop_id: int) -> list[HelpQuestionRead]:
    sops.get_sop(session, sop_id)
    return help_reads(session, list(session.exec(select(HelpQuestion).where(HelpQuestion.sop_id == sop_id)
                                                 .order_by(col(HelpQuestion.id).desc()))))


def help_reads(session: Session, questions: list[HelpQuestion]) -> list[HelpQuestionRead]:
    answers: dict[int, list[HelpAnswer]] = defaultdict(list)
    if questions:
        for a in session.exec(select(HelpAnswer).where(col(HelpAnswer.question_id).in_([q.id for q in questions]))
                              .order_by(col(HelpAnswer.id))):
            answers[a.question_id].append(a)
    users = user_refs(session, {q.author_id for q in questions} | {a.author_id for v in answers.values() for a in v})
    return [HelpQuestionRead(id=q.id, sop_id=q.sop_id, author=users.get(q.author_id) if q.author_id else None,
                             text=q.text, created_at=q.created_at,
                             answers=[answer_read(a, users) for a in answers[q.id]]) for q in questions]


def answer_read(a: HelpAnswer, users: dict[int, UserRef]) -> HelpAnswerRead:
    return HelpAnswerRead(id=a.id, author=users.get(a.author_id) if a.author_id else None, text=a.text,
                          created_at=a.created_at)


# ---------------------------------------------------------------- the training record

def training_record(session: Session, plan_id: int, actor: User, lang: str, *, wave_id: int | None = None,
                    department_id: int | None = None) -> tuple[list[RecordRow], str]:
    """The training record's rows (wave, department, person, attendance, attempts, best score, passed,
    retraining, acknowledged) and its title, for the team."""
    plan = get_plan(session, plan_id)
    require_results(session, plan, actor)
    rows = {d.department_id: d for d in departments_of(session, plan.id)
            if (wave_id is None or d.wave_id == wave_id) and (department_id is None or d.department_id == department_id)}
    names = {d.id: d for d in session.exec(select(Department).where(col(Department.id).in_(rows.keys())))}
    wave_names = {w.id: w.name for w in waves(session, plan.id)}
    emails = dict(session.exec(select(User.id, User.email).join(
        RolloutPerson, col(RolloutPerson.user_id) == User.id).where(RolloutPerson.plan_id == plan.id)).all())
    tz = get_settings().business_timezone
    zh = lang == "zh_CN"
    out = []
    for p in person_statuses(session, plan, set(rows)):
        d = names[p.department_id]
        out.append(RecordRow(
            wave=wave_names[rows[p.department_id].wave_id], department=d.name_zh if zh else d.name_en,
            person=p.user.display_name, email=emails.get(p.user.id, ""), attended=p.attended, attempts=p.attempts,
            best_score=p.best_score, passed=p.passed, retraining=p.retraining,
            acknowledged=p.acknowledged_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
            if p.acknowledged_at else ""))
    out.sort(key=lambda r: (r.wave, r.department, r.person))
    v = session.get(SopVersion, plan.sop_version_id)
    process = session.get(Process, sops.get_sop(session, v.sop_id).process_id)
    return out, f"{process.code} {process.name} {sops.number(v) or ''}".strip()
