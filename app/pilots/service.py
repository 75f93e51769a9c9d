"""Pilots: the rules and the evaluation.

Who: everyone signed in reads pilots (as they read the initiative); the initiative's team (and administrators)
plans and runs them, writes the retrospectives and the unmet problems; the team and the pilot's people write the
daily log; each of the pilot's people answers the survey once; the leader (or an administrator) decides.

A pilot belongs to an initiative in the pilot phase and runs an approved or published version of the SOP of the
initiative's process; an initiative has at most one undecided pilot at a time (`adapt` starts the next round).

The evaluation is computed from the KPIs' observations whose labels match the pilot's `scope_labels`, in three
windows of the business time zone's calendar days: before (`baseline_weeks` before the start), during (the actual
start, or the planned one, to the actual end, or the planned end; while it runs, to today), after (from the end,
as long as the pilot ran, once it has ended). Each window's value is aggregated the KPI's way and compared the way
the KPI comparison does it (`metrics.aggregate.compare`): 30 -> 8 min is -73.3 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.calendar import today
from app.core.config import get_settings
from app.core.db import lock_key, utcnow
from app.core.errors import Conflict, Forbidden, NotFound, rule
from app.core.labels import N_
from app.core.versioning import changes_of, check_version, delete_audited, save_new, save_update
from app.initiatives.models import Initiative, Phase
from app.initiatives.schemas import BackToDesignRequest
from app.initiatives.service import (
    back_to_design,
    editable,
    get_initiative,
    membership,
    require_manage,
    user_refs,
)
from app.issues.models import IssueSource
from app.issues.schemas import IssueCreate
from app.issues.service import create_issue
from app.metrics import aggregate
from app.metrics.models import Aggregation, Kpi
from app.metrics.schemas import LABEL_KEY_PATTERN
from app.metrics.series import window_stats
from app.pilots.models import (
    Decision,
    Pilot,
    PilotAction,
    PilotAnswer,
    PilotKpi,
    PilotLogEntry,
    PilotMember,
    PilotRespondent,
    PilotRetro,
    PilotUnmet,
)
from app.pilots.schemas import (
    ActionRead,
    ActionUpdate,
    AnswerCreate,
    DecisionRequest,
    Evaluation,
    KpiEvaluation,
    LogEntryCreate,
    LogEntryRead,
    PilotCreate,
    PilotKpiIn,
    PilotKpiRead,
    PilotMemberIn,
    PilotMemberRead,
    PilotRead,
    PilotStatus,
    PilotUpdate,
    PromoteRequest,
    QuestionResult,
    RetroCreate,
    RetroRead,
    SopVersionRef,
    StageValue,
    SurveyRead,
    Table3Row,
    UnmetCreate,
    UnmetRead,
    Window,
)
from app.processes.models import Process
from app.sops import service as sops
from app.sops.models import SopState, SopVersion
from app.sops.schemas import CommentCreate, NextRequest, Section
from app.users.models import Role, User

# Fewer observations than this behind a figure and it is flagged: with under 30 values a mean (or a rate) still
# moves a lot with each one, the usual rule of thumb for when a sample's mean starts to behave normally.
MIN_OBSERVATIONS = 30
# An anonymous survey shows its results from this many answers on: with fewer, each answer can be guessed.
MIN_ANONYMOUS_ANSWERS = 3
PILOTABLE = (SopState.approved, SopState.published)


# ---------------------------------------------------------------- reading and rights

def get_pilot(session: Session, pilot_id: int) -> Pilot:
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(N_("Pilot {pilot_id} not found."), params={"pilot_id": pilot_id})
    return pilot


def list_pilots(session: Session, initiative_id: int) -> list[Pilot]:
    get_initiative(session, initiative_id)
    return list(session.exec(select(Pilot).where(Pilot.initiative_id == initiative_id).order_by(col(Pilot.round))))


def is_member(session: Session, pilot: Pilot, user: User) -> bool:
    return session.get(PilotMember, (pilot.id, user.id)) is not None


def may_log(session: Session, pilot: Pilot, user: User) -> bool:
    """The team (and administrators) and the pilot's own people write the daily log."""
    ini = get_initiative(session, pilot.initiative_id)
    return user.role == Role.admin or membership(session, ini.id, user) is not None or is_member(session, pilot, user)


def _editable(session: Session, actor: User, pilot: Pilot) -> Initiative:
    ini = editable(session, actor, pilot.initiative_id)
    if pilot.decision is not None:
        raise Conflict(N_("The pilot is decided: it no longer changes."), decision=pilot.decision.value)
    return ini


def planned_end(pilot: Pilot) -> date:
    return pilot.planned_start + timedelta(weeks=pilot.planned_weeks)


def status(pilot: Pilot, now: date | None = None) -> PilotStatus:
    if pilot.decision is not None:
        return PilotStatus.decided
    if pilot.actual_end is not None:
        return PilotStatus.finished
    if pilot.actual_start is not None:
        return PilotStatus.running
    return PilotStatus.planned


# ---------------------------------------------------------------- planning

def _version(session: Session, ini: Initiative, version_id: int) -> SopVersion:
    v = session.get(SopVersion, version_id)
    if v is None or sops.get_sop(session, v.sop_id).process_id != ini.process_id:
        raise rule("Choose a version of the SOP of the initiative's process.", "sop_version_id", "unknown_version")
    if v.state not in PILOTABLE:
        raise rule("A pilot runs an approved or published SOP version.", "sop_version_id", "not_approved")
    return v


def _kpis(session: Session, ini: Initiative, items: list[PilotKpiIn]) -> list[Kpi]:
    kpis = []
    for i, item in enumerate(items):
        kpi = session.get(Kpi, item.kpi_id)
        if kpi is None or kpi.process_id != ini.process_id:
            raise rule("Choose KPIs of the initiative's process.", f"kpis.{i}.kpi_id", "unknown_kpi")
        kpis.append(kpi)
    return kpis


def _members(session: Session, items: list[PilotMemberIn]) -> None:
    for i, item in enumerate(items):
        user = session.get(User, item.user_id)
        if user is None or not user.is_active:
            raise rule("The pilot's people must be active users.", f"members.{i}.user_id", "unknown_user")


def _scope_labels(labels: dict[str, str]) -> None:
    """Names observations' labels can have, other than the columns the evaluation reads them beside."""
    for name in labels:
        if name in ("kpi_id", "ts", "value") or not re.fullmatch(LABEL_KEY_PATTERN, name):
            raise rule("A scope label is named like the observations' labels: a letter, then letters, digits or _ "
                       "(not kpi_id, ts or value).", f"scope_labels.{name}", "label_name")


def _set_kpis(session: Session, pilot: Pilot, items: list[PilotKpiIn], kpis: list[Kpi]) -> None:
    session.exec(sa.delete(PilotKpi).where(col(PilotKpi.pilot_id) == pilot.id))
    session.add_all(PilotKpi(pilot_id=pilot.id, kpi_id=item.kpi_id, position=i,
                             target=item.target if item.target is not None else kpi.target, expected=item.expected)
                    for i, (item, kpi) in enumerate(zip(items, kpis, strict=True)))


def _set_members(session: Session, pilot: Pilot, items: list[PilotMemberIn]) -> None:
    answered = {r.user_id for r in session.exec(select(PilotRespondent).where(PilotRespondent.pilot_id == pilot.id))}
    gone = answered - {m.user_id for m in items}
    if gone:
        raise rule("Someone who answered the survey stays in the pilot.", "members", "answered")
    session.exec(sa.delete(PilotMember).where(col(PilotMember.pilot_id) == pilot.id))
    session.add_all(PilotMember(pilot_id=pilot.id, user_id=m.user_id, briefed_on=m.briefed_on) for m in items)


def create_pilot(session: Session, initiative_id: int, data: PilotCreate, actor: User) -> Pilot:
    ini = editable(session, actor, initiative_id)
    lock_key(session, f"pilots:{ini.id}")  # two plans at once: one round number, one undecided pilot
    if ini.current_phase != Phase.pilot:
        raise rule("Pilots are run in the pilot phase.", "initiative", "phase_order")
    open_ = session.exec(select(Pilot.id).where(Pilot.initiative_id == ini.id,
                                                col(Pilot.decision).is_(None))).first()
    if open_ is not None:
        raise Conflict(N_("Pilot {pilot_id} is not decided yet: decide it before the next round."),
                       params={"pilot_id": open_})
    _version(session, ini, data.sop_version_id)
    kpis = _kpis(session, ini, data.kpis)
    _members(session, data.members)
    _scope_labels(data.scope_labels)
    rounds = session.exec(select(func.max(Pilot.round)).where(Pilot.initiative_id == ini.id)).one() or 0
    pilot = Pilot(initiative_id=ini.id, round=rounds + 1, created_by_id=actor.id,
                  **data.model_dump(exclude={"kpis", "members"}))
    session.add(pilot)
    session.flush()
    _set_kpis(session, pilot, data.kpis, kpis)
    _set_members(session, pilot, data.members)
    session.flush()
    record(session, actor, "create", "pilot", pilot.id, None, snapshot(session, pilot))
    return pilot


def update_pilot(session: Session, pilot_id: int, data: PilotUpdate, actor: User, *,
                 expected_version: int | None) -> Pilot:
    pilot = get_pilot(session, pilot_id)
    ini = _editable(session, actor, pilot)
    check_version(pilot, expected_version, "pilot")
    changes = changes_of(data, ("scope", "scope_labels", "planned_start", "planned_weeks", "baseline_weeks",
                                "prediction", "anonymous_survey", "kpis", "members"))
    before = snapshot(session, pilot)
    if "anonymous_survey" in changes and changes["anonymous_survey"] != pilot.anonymous_survey and \
            session.exec(select(PilotAnswer.id).where(PilotAnswer.pilot_id == pilot.id)).first() is not None:
        raise rule("The survey has answers: whether it is anonymous no longer changes.", "anonymous_survey",
                   "answered")
    if "scope_labels" in changes:
        _scope_labels(changes["scope_labels"])
    start = changes.get("actual_start", pilot.actual_start)
    end = changes.get("actual_end", pilot.actual_end)
    if end is not None and (start is None or end <= start):
        raise rule("The pilot ends after it starts.", "actual_end", "before_start")
    if start is not None and start > today():
        raise rule("The actual start cannot be in the future.", "actual_start", "future")
    if end is not None and end > today() + timedelta(days=1):
        raise rule("The actual end cannot be in the future.", "actual_end", "future")
    if "kpis" in changes:
        items = data.kpis or []
        _set_kpis(session, pilot, items, _kpis(session, ini, items))
        changes.pop("kpis")
    if "members" in changes:
        _members(session, data.members or [])
        _set_members(session, pilot, data.members or [])
        changes.pop("members")
    return save_update(session, actor, pilot, "pilot", before, lambda p: snapshot(session, p), changes=changes)


# ---------------------------------------------------------------- daily log

def add_log_entry(session: Session, pilot_id: int, data: LogEntryCreate, actor: User) -> PilotLogEntry:
    pilot = get_pilot(session, pilot_id)
    if not may_log(session, pilot, actor):
        raise Forbidden(N_("The initiative's team and the pilot's people write the daily log."))
    if pilot.decision is not None:
        raise Conflict(N_("The pilot is decided: it no longer changes."), decision=pilot.decision.value)
    if not (data.progress or data.problems):
        raise rule("Write the day's progress or its problems.", "progress", "missing")
    if data.day > today():
        raise rule("A log entry is for today or a day before.", "day", "future")
    entry = PilotLogEntry(pilot_id=pilot.id, author_id=actor.id, **data.model_dump())
    return save_new(session, actor, entry, "pilot_log_entry", _plain)


def log_entries(session: Session, pilot_id: int) -> list[PilotLogEntry]:
    get_pilot(session, pilot_id)
    return list(session.exec(select(PilotLogEntry).where(PilotLogEntry.pilot_id == pilot_id)
                             .order_by(col(PilotLogEntry.day).desc(), col(PilotLogEntry.id).desc())))


def get_log_entry(session: Session, pilot_id: int, entry_id: int) -> PilotLogEntry:
    entry = session.get(PilotLogEntry, entry_id)
    if entry is None or entry.pilot_id != pilot_id:
        raise NotFound(N_("Log entry {entry_id} not found."), params={"entry_id": entry_id})
    return entry


def promote(session: Session, pilot_id: int, entry_id: int, data: PromoteRequest, actor: User) -> PilotLogEntry:
    """The entry's problems as a problem of the initiative (the issues domain's own rules), linked once; by the
    team, until the pilot is decided."""
    pilot = get_pilot(session, pilot_id)
    _editable(session, actor, pilot)
    entry = get_log_entry(session, pilot_id, entry_id)
    if entry.issue_id is not None:
        raise Conflict(N_("This entry is already problem {issue_id}."), params={"issue_id": entry.issue_id})
    if not entry.problems:
        raise rule("The entry names no problem.", "problems", "missing")
    title = data.title or entry.problems.strip().splitlines()[0][:200]
    issue = create_issue(session, pilot.initiative_id, IssueCreate(
        title=title, description=f"{entry.day.isoformat()}: {entry.problems}", category=data.category,
        source=IssueSource.observation), actor)
    before = _plain(entry)
    return save_update(session, actor, entry, "pilot_log_entry", before, _plain, changes={"issue_id": issue.id})


# ---------------------------------------------------------------- retrospectives

def _open_actions(session: Session, pilot_id: int) -> list[PilotAction]:
    return list(session.exec(select(PilotAction).where(PilotAction.pilot_id == pilot_id,
                                                       col(PilotAction.closed_week).is_(None))
                             .order_by(col(PilotAction.id))))


def add_retro(session: Session, pilot_id: int, data: RetroCreate, actor: User) -> PilotRetro:
    pilot = get_pilot(session, pilot_id)
    _editable(session, actor, pilot)
    if session.exec(select(PilotRetro.id).where(PilotRetro.pilot_id == pilot.id, PilotRetro.week == data.week)
                    ).first() is not None:
        raise rule(f"Week {data.week} has its retrospective already.", "week", "duplicate")
    if data.held_on > today():
        raise rule("A retrospective is recorded once it was held: today or a day before.", "held_on", "future")
    later = session.exec(select(func.max(PilotRetro.week)).where(PilotRetro.pilot_id == pilot.id)).one()
    if later is not None and data.week < later:
        raise rule("Retrospectives follow the weeks: this week is before the last one.", "week", "order")
    for i, action in enumerate(data.actions):
        if action.owner_id is not None:
            user = session.get(User, action.owner_id)
            if user is None or not user.is_active:
                raise rule("The owner must be an active user.", f"actions.{i}.owner_id", "unknown_user")
    open_ids = {a.id for a in _open_actions(session, pilot.id)}
    if set(data.close_action_ids) - open_ids:
        raise rule("Close open actions of this pilot's earlier weeks.", "close_action_ids", "unknown_action")
    retro = PilotRetro(pilot_id=pilot.id, week=data.week, held_on=data.held_on, went_well=data.went_well,
                       went_badly=data.went_badly)
    session.add(retro)
    session.flush()
    for action in _open_actions(session, pilot.id):
        if action.id in data.close_action_ids:
            action.closed_week = data.week
            session.add(action)
    session.add_all(PilotAction(pilot_id=pilot.id, retro_id=retro.id, text=a.text, owner_id=a.owner_id)
                    for a in data.actions)
    session.flush()
    record(session, actor, "create", "pilot_retro", retro.id, None,
           {**_plain(retro), "actions": [a.text for a in data.actions], "closed": data.close_action_ids})
    return retro


def retros(session: Session, pilot_id: int) -> list[PilotRetro]:
    get_pilot(session, pilot_id)
    return list(session.exec(select(PilotRetro).where(PilotRetro.pilot_id == pilot_id).order_by(col(PilotRetro.week))))


def get_action(session: Session, action_id: int) -> PilotAction:
    action = session.get(PilotAction, action_id)
    if action is None:
        raise NotFound(N_("Action {action_id} not found."), params={"action_id": action_id})
    return action


def update_action(session: Session, action_id: int, data: ActionUpdate, actor: User, *,
                  expected_version: int | None) -> PilotAction:
    action = get_action(session, action_id)
    pilot = get_pilot(session, action.pilot_id)
    _editable(session, actor, pilot)
    check_version(action, expected_version, "action")
    retro = session.get(PilotRetro, action.retro_id)
    if data.closed_week is not None and retro is not None and data.closed_week < retro.week:
        raise rule("An action is closed in its own week or a later one.", "closed_week", "order")
    before = _plain(action)
    return save_update(session, actor, action, "pilot_action", before, _plain,
                       changes={"closed_week": data.closed_week})


def actions_of(session: Session, pilot_id: int) -> list[PilotAction]:
    return list(session.exec(select(PilotAction).where(PilotAction.pilot_id == pilot_id).order_by(col(PilotAction.id))))


# ---------------------------------------------------------------- survey

def answer(session: Session, pilot_id: int, data: AnswerCreate, actor: User) -> None:
    """One answer per person of the pilot; an anonymous pilot stores the answer without the account."""
    pilot = get_pilot(session, pilot_id)
    if not is_member(session, pilot, actor):
        raise Forbidden(N_("Only the pilot's people answer its survey."))
    if pilot.decision is not None:
        raise Conflict(N_("The pilot is decided: it no longer changes."), decision=pilot.decision.value)
    if session.get(PilotRespondent, (pilot.id, actor.id)) is not None:
        raise Conflict(N_("You answered this survey already."))
    session.add(PilotRespondent(pilot_id=pilot.id, user_id=actor.id))
    session.add(PilotAnswer(pilot_id=pilot.id, user_id=None if pilot.anonymous_survey else actor.id,
                            **data.model_dump()))
    session.flush()
    record(session, actor, "answer", "pilot", pilot.id, None, {"anonymous": pilot.anonymous_survey})


def _question(values: list[int]) -> QuestionResult:
    return QuestionResult(mean=sum(values) / len(values) if values else None,
                          distribution={str(k): values.count(k) for k in range(1, 6)})


def survey(session: Session, pilot_id: int, actor: User | None) -> SurveyRead:
    """The results (hidden for an anonymous survey with too few answers) and, for `actor`, whether they may
    answer."""
    pilot = get_pilot(session, pilot_id)
    answers = list(session.exec(select(PilotAnswer).where(PilotAnswer.pilot_id == pilot.id)
                                .order_by(col(PilotAnswer.user_id), col(PilotAnswer.id))))
    people = session.exec(select(func.count()).select_from(PilotMember).where(PilotMember.pilot_id == pilot.id)).one()
    shown = not pilot.anonymous_survey or len(answers) >= MIN_ANONYMOUS_ANSWERS
    easier = [a.easier for a in answers]
    risk = [a.risk_controlled for a in answers]
    both = easier + risk
    member = actor is not None and is_member(session, pilot, actor)
    answered = actor is not None and session.get(PilotRespondent, (pilot.id, actor.id)) is not None
    comments = [a.comment for a in answers if a.comment]
    if pilot.anonymous_survey:
        comments.sort()  # no order of answering to go by
    return SurveyRead(anonymous=pilot.anonymous_survey, people=people, answered=len(answers), shown=shown,
                      min_answers=MIN_ANONYMOUS_ANSWERS if pilot.anonymous_survey else 1,
                      satisfaction=(sum(both) / len(both) if both else None) if shown else None,
                      easier=_question(easier) if shown else None, risk_controlled=_question(risk) if shown else None,
                      comments=comments if shown else [], you_answered=answered,
                      you_may_answer=member and not answered and pilot.decision is None)


# ---------------------------------------------------------------- unmet problems

def add_unmet(session: Session, pilot_id: int, data: UnmetCreate, actor: User) -> PilotUnmet:
    pilot = get_pilot(session, pilot_id)
    _editable(session, actor, pilot)
    return save_new(session, actor, PilotUnmet(pilot_id=pilot.id, **data.model_dump()), "pilot_unmet", _plain)


def unmet_of(session: Session, pilot_id: int) -> list[PilotUnmet]:
    return list(session.exec(select(PilotUnmet).where(PilotUnmet.pilot_id == pilot_id).order_by(col(PilotUnmet.id))))


def delete_unmet(session: Session, unmet_id: int, actor: User) -> None:
    item = session.get(PilotUnmet, unmet_id)
    if item is None:
        raise NotFound(N_("Unmet problem {unmet_id} not found."), params={"unmet_id": unmet_id})
    _editable(session, actor, get_pilot(session, item.pilot_id))
    delete_audited(session, actor, item, "pilot_unmet", _plain(item))


# ---------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class Windows:
    before: tuple[date, date]
    during: tuple[date, date]
    after: tuple[date, date] | None


def windows(pilot: Pilot, now: date | None = None) -> Windows:
    now = now or today()
    start = pilot.actual_start or pilot.planned_start
    # running: up to today, even past the planned end (the pilot runs until its end is recorded)
    end = pilot.actual_end or (now + timedelta(days=1) if pilot.actual_start else planned_end(pilot))
    before = (start - timedelta(weeks=pilot.baseline_weeks), start)
    after = (pilot.actual_end, pilot.actual_end + (end - start)) if pilot.actual_end else None
    return Windows(before, (start, max(end, start)), after)


def _stage(stats: dict[str, float] | None, aggregation: str) -> StageValue:
    n = int(stats["count"]) if stats else 0
    return StageValue(value=stats[aggregation] if stats else None, count=n, too_few=n < MIN_OBSERVATIONS)


def _rate(before: StageValue, other: StageValue | None) -> float | None:
    if other is None or before.value is None or other.value is None or before.value == 0:
        return None
    return (other.value - before.value) / before.value


def _kpi_rows(session: Session, pilot_id: int) -> list[tuple[PilotKpi, Kpi]]:
    """The pilot's KPIs in their order, each with its link (target, expected)."""
    return list(session.exec(select(PilotKpi, Kpi).join(Kpi, col(Kpi.id) == PilotKpi.kpi_id)
                             .where(PilotKpi.pilot_id == pilot_id).order_by(col(PilotKpi.position))))


def evaluate(session: Session, pilot_id: int, now: date | None = None) -> Evaluation:
    pilot = get_pilot(session, pilot_id)
    w = windows(pilot, now)
    tz = get_settings().business_timezone
    rows = _kpi_rows(session, pilot.id)
    days = [w.before[0], w.before[1], w.during[1], *([w.after[1]] if w.after else [])]
    stats = window_stats(session, [k.id for _, k in rows], days, tz, pilot.scope_labels,
                         quantiles=[k.id for _, k in rows if k.aggregation in (Aggregation.p50, Aggregation.p95)])
    names = ("before", "during", "after")[:len(days) - 1]
    out = []
    for link, kpi in rows:
        got = {name: _stage(stats.get((kpi.id, i)), kpi.aggregation.value) for i, name in enumerate(names)}
        before, during, after = got["before"], got["during"], got.get("after")
        comparison = None
        if during.value is not None:  # without a baseline value only the target can be judged
            comparison = aggregate.compare(during.value if before.value is None else before.value, [during.value],
                                           direction=kpi.direction.value, target=link.target, aggregation="mean")
        out.append(KpiEvaluation(
            kpi_id=kpi.id, code=kpi.code, name_en=kpi.name_en, name_zh=kpi.name_zh, unit=kpi.unit,
            aggregation=kpi.aggregation, direction=kpi.direction, target=link.target, expected=link.expected,
            before=before, during=during, after=after, diff_rate=_rate(before, during),
            diff_rate_after=_rate(before, after),
            improved=comparison["improved"] if comparison and before.value is not None else None,
            met_target=comparison["met_target"] if comparison else None))
    return Evaluation(pilot_id=pilot.id, scope_labels=pilot.scope_labels, before=Window(start=w.before[0], end=w.before[1]),
                      during=Window(start=w.during[0], end=w.during[1]),
                      after=Window(start=w.after[0], end=w.after[1]) if w.after else None,
                      min_observations=MIN_OBSERVATIONS, kpis=out)


# ---------------------------------------------------------------- decision

def decide(session: Session, pilot_id: int, data: DecisionRequest, actor: User, *,
           expected_version: int | None) -> Pilot:
    """adopt (optionally starting the SOP's next version as a draft, with each unmet problem as an open comment on
    its steps), adapt (another round may start), abandon
    (the initiative goes back to design). The leader or an administrator decides, once, after the end."""
    pilot = get_pilot(session, pilot_id)
    ini = get_initiative(session, pilot.initiative_id)
    require_manage(session, actor, ini)
    check_version(pilot, expected_version, "pilot")
    if pilot.decision is not None:
        raise Conflict(N_("The pilot is decided: it no longer changes."), decision=pilot.decision.value)
    if pilot.actual_end is None:
        raise rule("End the pilot (its actual end) before deciding.", "actual_end", "not_ended")
    if data.start_next_version and data.decision != Decision.adopt:
        raise rule("Only an adopted pilot starts the next version.", "start_next_version", "not_adopted")
    before = snapshot(session, pilot)
    changes: dict[str, Any] = {"decision": data.decision, "decision_reason": data.reason, "decided_by_id": actor.id,
                               "decided_at": utcnow()}
    if data.start_next_version:
        nxt = sops.next_version(session, pilot.sop_version_id, NextRequest(initiative_id=ini.id), actor)
        changes["next_version_id"] = nxt.id
        for item in unmet_of(session, pilot.id):  # what the next version is for: an open thread each, on its steps
            text = " → ".join(x for x in (item.problem, item.change) if x)
            sops.add_comment(session, nxt.id, CommentCreate(
                section=Section.steps, text=f"试点第 {pilot.round} 轮未达标 Unmet in pilot round {pilot.round}: {text}"
                                            + (f"（{item.cause}）" if item.cause else "")), actor)
    saved = save_update(session, actor, pilot, "pilot", before, lambda p: snapshot(session, p), changes=changes)
    if data.decision == Decision.abandon:
        back_to_design(session, ini.id, BackToDesignRequest(reason=data.reason), actor)
    return saved


def adopted(session: Session, initiative_id: int) -> bool:
    """The pilot gate: a pilot of the initiative was decided "adopt"."""
    return session.exec(select(Pilot.id).where(Pilot.initiative_id == initiative_id,
                                               Pilot.decision == Decision.adopt)).first() is not None


# ---------------------------------------------------------------- Table 3

def table3(session: Session, pilot_id: int, locale: str) -> list[Table3Row]:
    pilot = get_pilot(session, pilot_id)
    ini = get_initiative(session, pilot.initiative_id)
    process = session.get(Process, ini.process_id)
    result = evaluate(session, pilot.id)
    poll = survey(session, pilot.id, None)
    unmet = [f"{u.problem} → {u.change}" if u.change else u.problem for u in unmet_of(session, pilot.id)]
    zh = locale.startswith("zh")
    return [Table3Row(process=f"{process.code} {process.name}" if process else "", scope=pilot.scope,
                      kpi=(k.name_zh if zh and k.name_zh else k.name_en), before=k.before.value,
                      after=k.during.value, unit="%" if k.aggregation == Aggregation.rate else k.unit, diff_rate=k.diff_rate, satisfaction=poll.satisfaction,
                      unmet=unmet) for k in result.kpis]


# ---------------------------------------------------------------- reads

def _plain(entity: Any) -> dict[str, Any]:
    return entity.model_dump(mode="json", exclude={"created_at", "updated_at"})


def snapshot(session: Session, pilot: Pilot) -> dict[str, Any]:
    data = _plain(pilot)
    data["kpis"] = [k.kpi_id for k in session.exec(select(PilotKpi).where(PilotKpi.pilot_id == pilot.id)
                                                   .order_by(col(PilotKpi.position)))]
    data["members"] = [m.user_id for m in session.exec(select(PilotMember).where(PilotMember.pilot_id == pilot.id))]
    return data


def to_read(session: Session, pilot: Pilot) -> PilotRead:
    v = session.get(SopVersion, pilot.sop_version_id)
    kpis = _kpi_rows(session, pilot.id)
    members = list(session.exec(select(PilotMember).where(PilotMember.pilot_id == pilot.id)
                                .order_by(col(PilotMember.user_id))))
    answered = {r.user_id for r in session.exec(select(PilotRespondent).where(PilotRespondent.pilot_id == pilot.id))}
    users = user_refs(session, {m.user_id for m in members} | {pilot.decided_by_id})
    return PilotRead(
        id=pilot.id, initiative_id=pilot.initiative_id,
        sop_version=SopVersionRef(id=v.id, number=sops.number(v), state=v.state.value), round=pilot.round,
        scope=pilot.scope, scope_labels=pilot.scope_labels, status=status(pilot), planned_start=pilot.planned_start,
        planned_end=planned_end(pilot), planned_weeks=pilot.planned_weeks, actual_start=pilot.actual_start,
        actual_end=pilot.actual_end, baseline_weeks=pilot.baseline_weeks, prediction=pilot.prediction,
        anonymous_survey=pilot.anonymous_survey,
        kpis=[PilotKpiRead(kpi_id=k.id, code=k.code, name_en=k.name_en, name_zh=k.name_zh, unit=k.unit,
                           aggregation=k.aggregation, direction=k.direction, target=link.target,
                           expected=link.expected) for link, k in kpis],
        members=[PilotMemberRead(user=users[m.user_id], briefed_on=m.briefed_on, answered=m.user_id in answered)
                 for m in members if m.user_id in users],
        decision=pilot.decision, decision_reason=pilot.decision_reason,
        decided_by=users.get(pilot.decided_by_id) if pilot.decided_by_id else None, decided_at=pilot.decided_at,
        next_version_id=pilot.next_version_id, version=pilot.version, created_at=pilot.created_at,
        updated_at=pilot.updated_at)


def log_reads(session: Session, entries: list[PilotLogEntry]) -> list[LogEntryRead]:
    users = user_refs(session, {e.author_id for e in entries})
    return [LogEntryRead(id=e.id, pilot_id=e.pilot_id, day=e.day, progress=e.progress, problems=e.problems,
                         issue_id=e.issue_id, author=users.get(e.author_id) if e.author_id else None,
                         created_at=e.created_at) for e in entries]


def retro_reads(session: Session, pilot_id: int, items: list[PilotRetro]) -> list[RetroRead]:
    rows = actions_of(session, pilot_id)
    actions = list(zip(rows, action_reads(session, pilot_id, rows), strict=True))
    out = []
    for r in items:
        own = [read for a, read in actions if a.retro_id == r.id]
        carried = [read for _, read in actions
                   if read.week < r.week and (read.closed_week is None or read.closed_week >= r.week)]
        out.append(RetroRead(id=r.id, pilot_id=r.pilot_id, week=r.week, held_on=r.held_on, went_well=r.went_well,
                             went_badly=r.went_badly, actions=own, carried=carried))
    return out


def action_reads(session: Session, pilot_id: int, items: list[PilotAction]) -> list[ActionRead]:
    weeks = {r.id: r.week for r in retros(session, pilot_id)}
    users = user_refs(session, {a.owner_id for a in items})
    return [ActionRead(id=a.id, week=weeks.get(a.retro_id, 0), text=a.text,
                       owner=users.get(a.owner_id) if a.owner_id else None, closed_week=a.closed_week,
                       version=a.version) for a in items]


def unmet_reads(items: list[PilotUnmet]) -> list[UnmetRead]:
    return [UnmetRead(id=u.id, pilot_id=u.pilot_id, problem=u.problem, cause=u.cause, change=u.change,
                      version=u.version) for u in items]
