"""The rollout work waiting for a person (see `app.core.work`): training sessions to attend, the test to take or
retake (or the retraining it waits for), the version to acknowledge, launch notices of their department, and help
questions waiting for an answer from the team."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.core.config import get_settings
from app.core.labels import N_
from app.core.work import Urgency, WorkItem, provider, urgency
from app.metrics.series import local_date
from app.processes.models import Process
from app.rollout.models import (
    HelpAnswer,
    HelpQuestion,
    LaunchNotice,
    RolloutDepartment,
    RolloutPerson,
    RolloutPlan,
    RolloutWave,
    TrainingAttendance,
    TrainingSession,
)
from app.rollout.service import may_answer, my_test
from app.sops import service as sops
from app.sops.models import Sop, SopVersion
from app.users.models import User

# A launch notice stays on My work this many days after the version took effect.
NOTICE_DAYS = 14
SOON_DAYS = 7


def plan_href(plan_id: int, anchor: str = "") -> str:
    return f"/rollout-plans/{plan_id}" + (f"#{anchor}" if anchor else "")


def my_plans(session: Session, user: User) -> list[tuple[RolloutPlan, RolloutWave, str]]:
    """The plans the user is in the scope of, with their wave and a title ("YH-LC01 用户注册激活 V1.1")."""
    stmt = (select(RolloutPlan, RolloutWave, Process, SopVersion)
            .join(RolloutPerson, col(RolloutPerson.plan_id) == RolloutPlan.id)
            .join(RolloutDepartment, (col(RolloutDepartment.plan_id) == RolloutPlan.id)
                  & (col(RolloutDepartment.department_id) == RolloutPerson.department_id))
            .join(RolloutWave, col(RolloutWave.id) == RolloutDepartment.wave_id)
            .join(SopVersion, col(SopVersion.id) == RolloutPlan.sop_version_id)
            .join(Sop, col(Sop.id) == SopVersion.sop_id)
            .join(Process, col(Process.id) == Sop.process_id)
            .where(RolloutPerson.user_id == user.id).order_by(col(RolloutPlan.id)))
    return [(plan, wave, f"{p.code} {p.name} {sops.number(v) or ''}".strip())
            for plan, wave, p, v in session.exec(stmt)]


@provider("rollout_training", N_("Training sessions to attend"))
def trainings(session: Session, user: User) -> list[WorkItem]:
    """Sessions of the user's wave from today on, where their attendance is not recorded yet."""
    now, items = today(), []
    for plan, wave, title in my_plans(session, user):
        recorded = select(TrainingAttendance.session_id).where(TrainingAttendance.user_id == user.id)
        for ts in session.exec(select(TrainingSession).where(TrainingSession.wave_id == wave.id,
                                                             col(TrainingSession.held_on) >= now,
                                                             col(TrainingSession.id).not_in(recorded))):
            items.append(WorkItem(kind="rollout_training", title=f"{title}: {ts.title}",
                                  link=plan_href(plan.id, "sessions"), due_date=ts.held_on,
                                  urgency=urgency(ts.held_on, now, SOON_DAYS)))
    return items


@provider("rollout_test", N_("Tests to take or retake"))
def tests(session: Session, user: User) -> list[WorkItem]:
    """The test of each plan the user has not passed: to take, to retake, or waiting for retraining."""
    now, items = today(), []
    for plan, wave, title in my_plans(session, user):
        mine = my_test(session, plan.id, user)
        if mine.passed or (not mine.may_start and mine.open_attempt_id is None and not mine.retraining):
            continue
        link = f"/rollout-plans/{plan.id}/test"
        items.append(WorkItem(kind="rollout_test", title=title, link=link, due_date=wave.ends_on,
                              urgency=urgency(wave.ends_on, now, SOON_DAYS), count=mine.attempts_left))
    return items


@provider("rollout_acknowledge", N_("SOP versions to acknowledge"))
def acknowledgements(session: Session, user: User) -> list[WorkItem]:
    now, items = today(), []
    for plan, wave, title in my_plans(session, user):
        if not my_test(session, plan.id, user).acknowledged:
            items.append(WorkItem(kind="rollout_acknowledge", title=title, link=f"/rollout-plans/{plan.id}/test",
                                  due_date=wave.ends_on, urgency=urgency(wave.ends_on, now, SOON_DAYS)))
    return items


@provider("rollout_launch", N_("Launch notices"))
def launches(session: Session, user: User) -> list[WorkItem]:
    """The launch notice of the user's wave, from its publication until NOTICE_DAYS after it took effect."""
    tz = get_settings().business_timezone
    now, items = today(), []
    for plan, wave, title in my_plans(session, user):
        notice = session.exec(select(LaunchNotice).where(LaunchNotice.wave_id == wave.id)).first()
        if notice is None:
            continue
        day = local_date(notice.effective_at, tz)
        if day + timedelta(days=NOTICE_DAYS) >= now:
            items.append(WorkItem(kind="rollout_launch", title=f"{title}: {notice.text[:120]}",
                                  link=plan_href(plan.id, "notices"), due_date=day, urgency=Urgency.normal))
    return items


@provider("rollout_help", N_("Help questions to answer"))
def help_questions(session: Session, user: User) -> list[WorkItem]:
    """Unanswered questions in the help channel of the SOPs the user answers for."""
    answered = select(HelpAnswer.question_id)
    stmt = (select(HelpQuestion, Sop, Process).join(Sop, col(Sop.id) == HelpQuestion.sop_id)
            .join(Process, col(Process.id) == Sop.process_id)
            .where(col(HelpQuestion.id).not_in(answered)).order_by(col(HelpQuestion.id)))
    return [WorkItem(kind="rollout_help", title=f"{p.code}: {q.text[:120]}", link=f"/sops/{sop.id}#help-{q.id}")
            for q, sop, p in session.exec(stmt) if may_answer(session, sop, user)]
