"""Rules and queries of initiatives: team, phases and gates; shared by the JSON API and the pages.

Authorization (object level): administrators do everything; the team leader manages the team,
the phases and the initiative's settings; team members (not viewers) edit its content (survey,
research, problems); everyone else reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import AuditRecord, history, record
from app.core.calendar import today
from app.core.errors import Conflict, Forbidden, NotFound, RuleViolation, field_error, rule
from app.core.events import emit
from app.core.ids import Id
from app.core.labels import N_
from app.core.pagination import Cursor, page_window
from app.core.versioning import bump, changes_of, check_version
from app.initiatives import gates
from app.initiatives.models import (
    PHASE_DAYS,
    PHASES,
    Initiative,
    InitiativeMember,
    InitiativePhase,
    InitiativeStatus,
    Phase,
    ProjectRole,
)
from app.initiatives.schemas import (
    AdvanceRequest,
    BackToDesignRequest,
    GateRead,
    InitiativeCreate,
    InitiativeRead,
    InitiativeUpdate,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    PhaseRead,
    PhaseState,
    PhaseUpdate,
    ProcessRef,
    UserRef,
)
from app.processes.models import Process, ProcessStatus
from app.users.models import Role, User

CREATOR_ROLES = (Role.admin, Role.lead)
# Criteria that no override can waive.
HARD_CRITERIA = frozenset({"last_phase", "initiative_active"})
MAX_TEAM = 50


@dataclass(frozen=True)
class InitiativeFilter:
    status: InitiativeStatus | None = None
    phase: Phase | None = None
    process_id: int | None = None
    member_id: int | None = None  # initiatives whose team includes this user
    q: str | None = None


# ---------------------------------------------------------------- authorization

def user_refs(session: Session, ids: set[int | None]) -> dict[int, UserRef]:
    """The people with these ids (None left out) as the API names them, by id, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: UserRef(id=u.id, display_name=u.display_name)
            for u in session.exec(select(User).where(col(User.id).in_(wanted)))}


def get_initiative(session: Session, initiative_id: int) -> Initiative:
    ini = session.get(Initiative, initiative_id)
    if ini is None:
        raise NotFound(N_("Initiative {initiative_id} not found."), params={"initiative_id": initiative_id})
    return ini


def membership(session: Session, initiative_id: int, user: User) -> InitiativeMember | None:
    return session.exec(select(InitiativeMember).where(
        InitiativeMember.initiative_id == initiative_id, InitiativeMember.user_id == user.id)).first()


def can_create(actor: User) -> bool:
    return actor.role in CREATOR_ROLES


def can_edit(session: Session, actor: User, ini: Initiative) -> bool:
    """Edit the initiative's content: team members (not viewers) and administrators."""
    if actor.role == Role.admin:
        return True
    return actor.role != Role.viewer and membership(session, ini.id, actor) is not None


def works_on_process(session: Session, actor: User, process: Process) -> bool:
    """Administrators, the process's owner, and the team (not viewers) of some initiative on the process: one
    query, however many initiatives it has (who triages its feedback, keeps its risks, answers its SOP's help)."""
    if actor.role == Role.admin or process.owner_id == actor.id:
        return True
    if actor.role == Role.viewer:
        return False
    return session.exec(select(InitiativeMember.id)
                        .join(Initiative, col(Initiative.id) == InitiativeMember.initiative_id)
                        .where(Initiative.process_id == process.id, InitiativeMember.user_id == actor.id)
                        ).first() is not None


def can_manage(session: Session, actor: User, ini: Initiative) -> bool:
    """Manage team, phases and settings: the leader and administrators."""
    if actor.role == Role.admin:
        return True
    m = membership(session, ini.id, actor)
    return actor.role != Role.viewer and m is not None and m.project_role == ProjectRole.leader


def require_edit(session: Session, actor: User, ini: Initiative) -> None:
    if not can_edit(session, actor, ini):
        raise Forbidden("Only the initiative's team members and administrators may change its content.")


def require_manage(session: Session, actor: User, ini: Initiative) -> None:
    if not can_manage(session, actor, ini):
        raise Forbidden("Only the initiative's leader and administrators may do this.")


def editable(session: Session, actor: User, initiative_id: int) -> Initiative:
    """The initiative, when the actor may edit its content."""
    ini = get_initiative(session, initiative_id)
    require_edit(session, actor, ini)
    return ini


# ---------------------------------------------------------------- create, update

def _team_user(session: Session, user_id: int, field: str) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise rule("Team members must be active users.", field, "unknown_user", "unknown or inactive user")
    if user.role == Role.viewer:
        raise rule("Viewers cannot be team members; they read only.", field, "viewer_member",
                   "viewers cannot be team members")
    return user


def default_plan(start: date, phases: tuple[Phase, ...] = PHASES) -> list[tuple[Phase, date, date]]:
    """Consecutive phases from `start`, each as long as the method plans it."""
    plan = []
    for phase in phases:
        end = start + timedelta(days=PHASE_DAYS[phase] - 1)
        plan.append((phase, start, end))
        start = end + timedelta(days=1)
    return plan


def create_initiative(session: Session, data: InitiativeCreate, actor: User) -> Initiative:
    if not can_create(actor):
        raise Forbidden("Only leads and administrators start initiatives.")
    process = session.get(Process, data.process_id)
    if process is None:
        raise rule(f"Process {data.process_id} does not exist.", "process_id", "unknown_process",
                   "unknown process")
    leader = _team_user(session, data.leader_id or actor.id, "leader_id")
    seen = {leader.id}
    for i, m in enumerate(data.team):
        if m.project_role == ProjectRole.leader:
            raise rule("Name the leader with leader_id; a team has exactly one leader.",
                       f"team.{i}.project_role", "second_leader", "only one leader")
        if m.user_id in seen:
            raise rule(f"User {m.user_id} is named twice.", f"team.{i}.user_id", "duplicate", "named twice")
        _team_user(session, m.user_id, f"team.{i}.user_id")
        seen.add(m.user_id)
    ini = Initiative(process_id=process.id, title=data.title, trigger=data.trigger, goal=data.goal,
                     priority_threshold=data.priority_threshold, created_by_id=actor.id)
    session.add(ini)
    session.flush()
    start = data.start_date or today()
    for phase, p_start, p_end in default_plan(start):
        session.add(InitiativePhase(initiative_id=ini.id, phase=phase, planned_start=p_start, planned_end=p_end,
                                    actual_start=today() if phase == Phase.diagnosis else None))
    session.add(InitiativeMember(initiative_id=ini.id, user_id=leader.id, project_role=ProjectRole.leader))
    for m in data.team:
        session.add(InitiativeMember(initiative_id=ini.id, user_id=m.user_id, project_role=m.project_role))
    session.flush()
    record(session, actor, "create", "initiative", ini.id, None, snapshot(session, ini))
    emit("initiative_created", session, initiative=ini, actor=actor)  # later domains' part (app.core.events)
    return ini


def update_initiative(session: Session, initiative_id: int, data: InitiativeUpdate, actor: User, *,
                      expected_version: int | None) -> Initiative:
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    check_version(ini, expected_version, "initiative")
    changes = changes_of(data, ("title", "trigger", "goal", "status", "priority_threshold"))
    before = snapshot(session, ini)
    for key, value in changes.items():
        setattr(ini, key, value)
    return _bump(session, ini, actor, "update", before)


def _bump(session: Session, ini: Initiative, actor: User, action: str, before: dict[str, Any],
          reason: str | None = None, extra: dict[str, Any] | None = None) -> Initiative:
    bump(ini)
    session.add(ini)
    session.flush()
    after = snapshot(session, ini)
    if extra:
        after.update(extra)
    record(session, actor, action, "initiative", ini.id, before, after, reason=reason)
    return ini


# ---------------------------------------------------------------- team

def _member(session: Session, ini: Initiative, member_id: int) -> InitiativeMember:
    m = session.get(InitiativeMember, member_id)
    if m is None or m.initiative_id != ini.id:
        raise NotFound(N_("Team member {member_id} not found in initiative {ini_id}."), params={"member_id": member_id, "ini_id": ini.id})
    return m


def _leader(session: Session, ini_id: int) -> InitiativeMember | None:
    return session.exec(select(InitiativeMember).where(
        InitiativeMember.initiative_id == ini_id, InitiativeMember.project_role == ProjectRole.leader)).first()


def _hand_over(session: Session, ini: Initiative, new_leader: InitiativeMember | None) -> None:
    """The current leader becomes a business member (flushed first: one leader at a time)."""
    old = _leader(session, ini.id)
    if old is not None and (new_leader is None or old.id != new_leader.id):
        old.project_role = ProjectRole.business
        bump(old)
        session.add(old)
        session.flush()


def team(session: Session, initiative_id: int) -> list[MemberRead]:
    get_initiative(session, initiative_id)
    return _team_reads(session, [initiative_id]).get(initiative_id, [])


def add_member(session: Session, initiative_id: int, data: MemberCreate, actor: User) -> InitiativeMember:
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    user = _team_user(session, data.user_id, "user_id")
    if membership(session, ini.id, user) is not None:
        raise Conflict(f"{user.display_name} is already on the team.",
                       errors=[field_error("user_id", "already on the team", "conflict")])
    count = session.exec(select(sa.func.count()).select_from(InitiativeMember)
                         .where(InitiativeMember.initiative_id == ini.id)).one()
    if count >= MAX_TEAM:
        raise rule(f"A team has at most {MAX_TEAM} members.", "user_id", "too_long")
    before = snapshot(session, ini)
    if data.project_role == ProjectRole.leader:
        _hand_over(session, ini, None)
    m = InitiativeMember(initiative_id=ini.id, user_id=user.id, project_role=data.project_role)
    session.add(m)
    session.flush()
    _bump(session, ini, actor, "add_member", before)
    return m


def update_member(session: Session, initiative_id: int, member_id: int, data: MemberUpdate, actor: User, *,
                  expected_version: int | None) -> InitiativeMember:
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    m = _member(session, ini, member_id)
    check_version(m, expected_version, "team member")
    if m.project_role == data.project_role:
        return m
    if m.project_role == ProjectRole.leader:
        raise rule("A team has exactly one leader: make another member the leader instead.",
                   "project_role", "leader_required")
    before = snapshot(session, ini)
    if data.project_role == ProjectRole.leader:
        _hand_over(session, ini, m)
    m.project_role = data.project_role
    bump(m)
    session.add(m)
    session.flush()
    _bump(session, ini, actor, "update", before)
    return m


def remove_member(session: Session, initiative_id: int, member_id: int, actor: User) -> None:
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    m = _member(session, ini, member_id)
    if m.project_role == ProjectRole.leader:
        raise rule("The leader cannot leave the team: make another member the leader first.",
                   "member_id", "leader_required")
    before = snapshot(session, ini)
    session.delete(m)
    session.flush()
    _bump(session, ini, actor, "remove_member", before)


# ---------------------------------------------------------------- phases and gates

def phases_of(session: Session, initiative_id: int) -> dict[Phase, InitiativePhase]:
    rows = session.exec(select(InitiativePhase).where(InitiativePhase.initiative_id == initiative_id))
    return {p.phase: p for p in rows}


def update_phase(session: Session, initiative_id: int, phase: Phase, data: PhaseUpdate, actor: User, *,
                 expected_version: int | None) -> InitiativePhase:
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    row = phases_of(session, ini.id)[phase]
    check_version(row, expected_version, "phase")
    changes = changes_of(data, ("planned_start", "planned_end"))
    before = snapshot(session, ini)
    old_end = row.planned_end
    for key, value in changes.items():
        setattr(row, key, value)
    if row.planned_end < row.planned_start:
        raise rule("The planned end is before the planned start.", "planned_end", "date_order")
    if row.actual_start and row.actual_end and row.actual_end < row.actual_start:
        raise rule("The actual end is before the actual start.", "actual_end", "date_order")
    bump(row)
    session.add(row)
    session.flush()
    _bump(session, ini, actor, "update", before)
    if row.planned_end != old_end:
        emit("phase_replanned", session, initiative=ini, phase=phase, old_end=old_end, new_end=row.planned_end,
             actor=actor)
    return row


def gate(session: Session, initiative_id: int) -> GateRead:
    return gates.evaluate(session, get_initiative(session, initiative_id))


def advance(session: Session, initiative_id: int, data: AdvanceRequest, actor: User, *,
            expected_version: int | None = None) -> Initiative:
    """Move to the next phase when its gate holds; otherwise 422 naming every unmet criterion.

    The leader (or an administrator) may override a failed gate with a written reason, kept in the audit log.
    """
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    check_version(ini, expected_version, "initiative")
    result = gates.evaluate(session, ini)
    unmet = [c for c in result.criteria if not c.met]
    hard = [c for c in unmet if c.code in HARD_CRITERIA]
    if hard or (unmet and not data.override_reason):
        shown = hard or unmet
        raise RuleViolation(
            "The phase gate does not hold: " + " ".join(c.message for c in shown),
            errors=[{"loc": ["gate", c.code], "field": "gate", "message": c.message, "type": c.code,
                     "params": c.params} for c in shown],
            phase=ini.current_phase.value, overridable=not hard,
        )
    before = snapshot(session, ini)
    rows = phases_of(session, ini.id)
    now = today()
    current, nxt = rows[ini.current_phase], rows[ini.current_phase.next]
    current.actual_end = max(now, current.actual_start) if current.actual_start else now
    current.actual_start = current.actual_start or now
    nxt.actual_start, nxt.actual_end = now, None
    for row in (current, nxt):
        bump(row)
        session.add(row)
    ini.current_phase = nxt.phase
    override = bool(unmet)
    return _bump(session, ini, actor, "advance_override" if override else "advance", before,
                 reason=data.override_reason if override else None,
                 extra={"unmet": [c.code for c in unmet]} if override else None)


BACK_TO_DESIGN_FROM = (Phase.pilot, Phase.rollout, Phase.monitoring)


def back_to_design(session: Session, initiative_id: int, data: BackToDesignRequest, actor: User, *,
                   expected_version: int | None = None) -> Initiative:
    """A failed pilot (or a quarterly review) returns to design; phases 3-6 are planned again from today."""
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    check_version(ini, expected_version, "initiative")
    if ini.current_phase not in BACK_TO_DESIGN_FROM:
        raise rule("Only an initiative in pilot, rollout or monitoring can return to design.",
                   "phase", "phase_order")
    if ini.status != InitiativeStatus.active:
        raise rule("The initiative must be active.", "status", "initiative_active")
    before = snapshot(session, ini)
    rows = phases_of(session, ini.id)
    now = today()
    rows[ini.current_phase].actual_end = now
    for phase, p_start, p_end in default_plan(now, PHASES[Phase.design.index:]):
        row = rows[phase]
        row.planned_start, row.planned_end = p_start, p_end
        if phase == Phase.design:
            row.actual_start, row.actual_end = now, None
        elif phase != ini.current_phase:
            row.actual_start, row.actual_end = None, None
        bump(row)
        session.add(row)
    # The phase being left keeps its actual dates (for the record) until it starts again.
    ini.current_phase = Phase.design
    return _bump(session, ini, actor, "back_to_design", before, reason=data.reason)


def start_at_design(session: Session, initiative_id: int, reason: str, actor: User) -> Initiative:
    """A new round on a standard in force (opened by a quarterly review) starts at design: its diagnosis and
    root cause are the review's, so those phases are done today and phases 3-6 are planned from today. Only for
    an initiative still in its diagnosis; the leader or an administrator."""
    ini = get_initiative(session, initiative_id)
    require_manage(session, actor, ini)
    if ini.current_phase != Phase.diagnosis:
        raise rule("Only an initiative still in its diagnosis can start at design.", "phase", "phase_order")
    before = snapshot(session, ini)
    rows = phases_of(session, ini.id)
    now = today()
    for phase in (Phase.diagnosis, Phase.root_cause):
        row = rows[phase]
        row.planned_start, row.planned_end, row.actual_start, row.actual_end = now, now, now, now
        bump(row)
        session.add(row)
    for phase, p_start, p_end in default_plan(now, PHASES[Phase.design.index:]):
        row = rows[phase]
        row.planned_start, row.planned_end = p_start, p_end
        row.actual_start = now if phase == Phase.design else None
        bump(row)
        session.add(row)
    ini.current_phase = Phase.design
    return _bump(session, ini, actor, "start_at_design", before, reason=reason)


# ---------------------------------------------------------------- reads

def _team_reads(session: Session, ids: list[int]) -> dict[int, list[MemberRead]]:
    rows = session.exec(
        select(InitiativeMember, User).join(User, User.id == InitiativeMember.user_id)
        .where(col(InitiativeMember.initiative_id).in_(ids)).order_by(InitiativeMember.id)
    ).all()
    order = {r: i for i, r in enumerate(ProjectRole)}
    out: dict[int, list[MemberRead]] = {}
    for m, u in sorted(rows, key=lambda r: (order[r[0].project_role], r[0].id)):
        out.setdefault(m.initiative_id, []).append(MemberRead(
            id=m.id, user=UserRef(id=u.id, display_name=u.display_name), project_role=m.project_role,
            version=m.version))
    return out


def phase_reads(ini: Initiative, rows: dict[Phase, InitiativePhase], now: date | None = None) -> list[PhaseRead]:
    now = now or today()
    live = ini.status in (InitiativeStatus.active, InitiativeStatus.on_hold)
    out = []
    for phase in PHASES:
        row = rows[phase]
        if phase.index < ini.current_phase.index:
            state, late = PhaseState.done, bool(row.actual_end and row.actual_end > row.planned_end)
        elif phase == ini.current_phase:
            state, late = PhaseState.current, live and now > row.planned_end
        else:
            state, late = PhaseState.upcoming, live and now > row.planned_start
        out.append(PhaseRead(phase=phase, number=phase.index + 1, planned_start=row.planned_start,
                             planned_end=row.planned_end, actual_start=row.actual_start,
                             actual_end=row.actual_end, state=state, late=late, version=row.version))
    return out


def to_read(session: Session, items: list[Initiative]) -> list[InitiativeRead]:
    """Shape initiatives for output with four queries in all (no N+1)."""
    if not items:
        return []
    ids = [i.id for i in items]
    processes = {p.id: p for p in session.exec(
        select(Process).where(col(Process.id).in_({i.process_id for i in items})))}
    teams = _team_reads(session, ids)
    phases: dict[int, dict[Phase, InitiativePhase]] = {}
    for row in session.exec(select(InitiativePhase).where(col(InitiativePhase.initiative_id).in_(ids))):
        phases.setdefault(row.initiative_id, {})[row.phase] = row
    now = today()
    out = []
    for ini in items:
        team_ = teams.get(ini.id, [])
        leader = next((m.user for m in team_ if m.project_role == ProjectRole.leader), None)
        p = processes[ini.process_id]
        phase_list = phase_reads(ini, phases[ini.id], now)
        out.append(InitiativeRead(
            id=ini.id, process=ProcessRef(id=p.id, code=p.code, name=p.name), title=ini.title,
            trigger=ini.trigger, goal=ini.goal, status=ini.status, current_phase=ini.current_phase,
            late=phase_list[ini.current_phase.index].late, priority_threshold=ini.priority_threshold,
            leader=leader, team=team_, phases=phase_list, created_at=ini.created_at,
            updated_at=ini.updated_at, version=ini.version))
    return out


def snapshot(session: Session, ini: Initiative) -> dict[str, Any]:
    return to_read(session, [ini])[0].model_dump(
        mode="json", exclude={"created_at", "updated_at", "late", "process"})


def list_initiatives(session: Session, flt: InitiativeFilter, *, limit: int, cursor: str | None
                     ) -> tuple[list[Initiative], str | None]:
    """Newest first, one keyset page at a time."""
    stmt = select(Initiative)
    if flt.status is not None:
        stmt = stmt.where(Initiative.status == flt.status)
    if flt.phase is not None:
        stmt = stmt.where(Initiative.current_phase == flt.phase)
    if flt.process_id is not None:
        stmt = stmt.where(Initiative.process_id == flt.process_id)
    if flt.member_id is not None:
        stmt = stmt.where(col(Initiative.id).in_(
            select(InitiativeMember.initiative_id).where(InitiativeMember.user_id == flt.member_id)))
    if flt.q:
        stmt = stmt.where(sa.func.lower(Initiative.title).contains(flt.q.strip().lower(), autoescape=True))
    keys = ("id",)
    if cursor:
        (last_id,) = Cursor.decode(cursor, keys, (Id,)).values
        stmt = stmt.where(Initiative.id < last_id)
    rows = list(session.exec(stmt.order_by(col(Initiative.id).desc()).limit(limit + 1)))
    return page_window(rows, limit, lambda i: Cursor(keys, (i.id,)))


def can_see_history(session: Session, actor: User, ini: Initiative) -> bool:
    return actor.role in CREATOR_ROLES or can_edit(session, actor, ini)


def initiative_history(session: Session, initiative_id: int, actor: User) -> list[AuditRecord]:
    ini = get_initiative(session, initiative_id)
    if not can_see_history(session, actor, ini):
        raise Forbidden("Only the team, leads and administrators see the history.")
    return history(session, "initiative", initiative_id)


def phase_row(session: Session, initiative_id: int, phase: Phase) -> InitiativePhase:
    get_initiative(session, initiative_id)
    return phases_of(session, initiative_id)[phase]


def phase_read(session: Session, initiative_id: int, phase: Phase) -> PhaseRead:
    ini = get_initiative(session, initiative_id)
    return phase_reads(ini, phases_of(session, initiative_id))[phase.index]


def member(session: Session, initiative_id: int, member_id: int) -> MemberRead:
    ini = get_initiative(session, initiative_id)
    _member(session, ini, member_id)
    return next(m for m in _team_reads(session, [ini.id])[ini.id] if m.id == member_id)


def candidate_members(session: Session) -> list[User]:
    """People who can be on a team: active, not viewers (for the pages' pickers)."""
    return list(session.exec(select(User).where(col(User.is_active).is_(True), User.role != Role.viewer)
                             .order_by(User.display_name).limit(1000)))


def active_processes(session: Session) -> list[Process]:

    return list(session.exec(select(Process).where(Process.status == ProcessStatus.active)
                             .order_by(Process.code_norm).limit(1000)))
