"""Demo rollout of YH-LC01 V1.1 (phase 5), by the pilot's initiative once its pilot was adopted: two waves,
operations in week 1 and product and technology in week 2, a 10-question test drafted from the version's control
point and steps and reviewed by the leader, a training session per wave. 王丽 and 张伟 (operations) and 经理
(product) passed and acknowledged, so operations and product are live; 陈杰 (technology) scored 70 and is marked
for retraining (需重新培训), so V1.1 is not yet in force in technology. The IT checklist has one item open, the
first wave its launch notice, the SOP's help channel a question answered. Everything goes through the services.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.core.config import get_settings
from app.departments.models import Department
from app.initiatives.models import Initiative
from app.initiatives.schemas import AdvanceRequest
from app.initiatives.service import advance
from app.pilots.models import Pilot
from app.processes.models import Process
from app.rollout import service as rollout
from app.rollout.models import ChecklistKind, Delivery, TestAttempt
from app.rollout.schemas import (
    AcknowledgeRequest,
    AnswerIn,
    AttemptSubmit,
    AttendanceIn,
    AttendanceUpdate,
    ChecklistCreate,
    ChecklistUpdate,
    HelpCreate,
    NoticeCreate,
    PeopleUpdate,
    PlanCreate,
    QuestionIn,
    SessionCreate,
    WaveIn,
)
from app.sops.models import SopVersion
from app.sops.service import content_hash, sop_of_process
from app.users.models import User

QUESTIONS = 10
# (email, questions answered right of 10): 70 is below the pass mark of 80.
SCORES = [("lead@example.com", 10), ("member@example.com", 9), ("manager@example.com", 8), ("it@example.com", 7)]


def _local(day, hour: int) -> datetime:  # noqa: ANN001
    tz = ZoneInfo(get_settings().business_timezone)
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def load_rollout(session: Session) -> None:
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).first()
    sop = sop_of_process(session, process.id) if process else None
    pilot = session.exec(select(Pilot).order_by(col(Pilot.id))).first()
    if sop is None or pilot is None:
        return
    v1_1 = session.exec(select(SopVersion).where(SopVersion.sop_id == sop.id, SopVersion.number_minor == 1)).first()
    ini = session.get(Initiative, pilot.initiative_id)
    people = {u.email: u for u in session.exec(select(User))}
    departments = {d.code: d for d in session.exec(select(Department))}
    lead = people["lead@example.com"]
    advance(session, ini.id, AdvanceRequest(), lead)  # the pilot was adopted: on to rollout
    now = today()
    plan = rollout.create_plan(session, ini.id, PlanCreate(
        sop_version_id=v1_1.id, note="V1.1 新增短信通道步骤：按部门分批培训。V1.1 adds the SMS channel step.",
        waves=[WaveIn(name="第1周：运营部 Week 1: operations", starts_on=now - timedelta(days=4), ends_on=now,
                      delivery=Delivery.per_department, department_ids=[departments["operations"].id]),
               WaveIn(name="第2周：产品部、技术部 Week 2: product, technology", starts_on=now - timedelta(days=1),
                      ends_on=now + timedelta(days=4), delivery=Delivery.live_online,
                      department_ids=[departments["product"].id, departments["technology"].id])]), lead)
    rollout.update_people(session, plan.id, PeopleUpdate(
        remove=[people["admin@example.com"].id],
        add=[{"user_id": people["it@example.com"].id, "sop_role": "IT"}]), lead)
    _questions(session, v1_1, lead)
    waves = rollout.waves(session, plan.id)
    for wave, day, emails in ((waves[0], now - timedelta(days=3), ("lead@example.com", "member@example.com")),
                              (waves[1], now - timedelta(days=1), ("manager@example.com", "it@example.com"))):
        ts = rollout.create_session(session, plan.id, SessionCreate(
            wave_id=wave.id, title="V1.1 培训：短信通道 V1.1 training: the SMS channel", held_on=day,
            trainer_id=lead.id, delivery=wave.delivery,
            materials=[{"title": "V1.1 培训课件 Slides", "url": "https://intranet.example.com/sop/yh-lc01/v1.1"}]),
            lead)
        rollout.record_attendance(session, ts.id, AttendanceUpdate(
            attendance=[AttendanceIn(user_id=people[e].id) for e in emails]), lead)
    digest = content_hash(v1_1.content)
    for email, right in SCORES:
        person = people[email]
        attempt, _ = rollout.start_attempt(session, plan.id, person)
        rollout.submit_attempt(session, attempt.id, AttemptSubmit(answers=_answers(attempt, right)), person)
        if right * 10 >= plan.pass_mark:
            rollout.acknowledge(session, plan.id, AcknowledgeRequest(content_hash=digest), person)
    it = people["it@example.com"]
    items = [(ChecklistKind.permissions, "审批流新增短信通道节点权限 Rights for the SMS channel step", it, True),
             (ChecklistKind.tool, "备用短信通道上线 The backup SMS channel deployed", it, True),
             (ChecklistKind.manual, "操作手册（含截图）更新 The manual with screenshots updated",
              people["member@example.com"], False)]
    for kind, text, owner, done in items:
        item = rollout.create_item(session, plan.id, ChecklistCreate(kind=kind, text=text, owner_id=owner.id), lead)
        if done:
            rollout.update_item(session, item.id, ChecklistUpdate(done=True), owner, expected_version=None)
    rollout.create_notice(session, plan.id, NoticeCreate(
        wave_id=waves[0].id, effective_at=_local(now, 9),
        text="YH-LC01 V1.1 今日 9:00 起在运营部生效：验证码未收到时走备用短信通道。V1.1 is in force in operations "
             "from 9:00 today: when no SMS code arrives, use the backup channel."), lead)
    question = rollout.ask(session, sop.id, HelpCreate(
        text="备用短信通道要手动切换吗？Is the backup SMS channel switched by hand?"), people["member@example.com"])
    rollout.answer(session, question.id, HelpCreate(
        text="不用，60 秒未送达自动切换。No: it switches by itself after 60 seconds without delivery."), it)


def _questions(session: Session, v: SopVersion, lead: User) -> None:
    """The version's drafts (in Chinese), reviewed by the leader; topped up by hand to ten, or trimmed to ten."""
    drafted = rollout.draft_questions(session, v.id, lead, "zh_CN").drafted
    for q in drafted[QUESTIONS:]:
        rollout.delete_question(session, q.id, lead, expected_version=None)
    for q in drafted[:QUESTIONS]:
        rollout.review_question(session, q.id, lead, expected_version=None)
    steps = v.content["steps"]
    for i in range(len(drafted), QUESTIONS):
        step = steps[i % len(steps)]
        rollout.create_question(session, v.id, QuestionIn(
            kind="true_false", text=f"「{step['name']}」是本流程的第 {i % len(steps) + 1} 步。",
            correct=[0], step_id=step["id"]), lead)


def _answers(attempt: TestAttempt, right: int) -> list[AnswerIn]:
    """The first `right` questions of the paper answered right, the others wrong (places as the paper shows)."""
    out = []
    for n, item in enumerate(attempt.paper):
        place = item["order"].index(item["correct"][0])
        out.append(AnswerIn(question_id=item["question_id"],
                            chosen=[place if n < right else (place + 1) % len(item["order"])]))
    return out
