"""Demo pilot of YH-LC01 as the method tells it (Table 3's own row): SOP V1.0 run by 运营A组 (the observations
labelled team = A) for two weeks, on the days the KPIs' story has its pilot; average activation time 30 -> 8 min
(-73 %), satisfaction 4.5, the unmet problem "部分用户反馈手机号验证码收不到 → 短信通道需优化", decided adopt.

The pilot is an initiative of its own ("激活提速试点"), in the pilot phase: the demo's main initiative stays in
root-cause analysis (its pages show a gate with something missing). Its earlier phases were the main
initiative's work, so it is advanced to the pilot phase by its leader with a written override, as the service
allows. The decision does not start the next version: V1.1, which adds the SMS channel step the unmet problem
asks for, is already drafted and published by the manager (app/demo/yh_lc01_sop.py). Everything goes through
the services.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.initiatives.models import ProjectRole, Trigger
from app.initiatives.schemas import AdvanceRequest, InitiativeCreate, MemberCreate
from app.initiatives.service import advance, create_initiative
from app.metrics.demo import DAYS, PILOT_START, ROLLOUT_START
from app.metrics.models import Kpi
from app.pilots import service as pilots
from app.pilots.models import Decision
from app.pilots.schemas import (
    ActionIn,
    AnswerCreate,
    DecisionRequest,
    LogEntryCreate,
    PilotCreate,
    PilotKpiIn,
    PilotMemberIn,
    PilotUpdate,
    PromoteRequest,
    RetroCreate,
    UnmetCreate,
)
from app.processes.models import Process
from app.sops.models import SopVersion
from app.sops.service import number, sop_of_process
from app.survey.models import ProblemCategory
from app.users.models import User

OVERRIDE = "演示：诊断、根因与设计见主优化项目。Demo: the diagnosis, root cause and design are the main initiative's."
# (email, easier, risk under control, comment): the mean of both questions is 4.5.
ANSWERS = [
    ("member@example.com", 5, 4, "自动校验省了很多时间。The automatic check saves a lot of time."),
    ("it@example.com", 4, 5, ""),
    ("compliance@example.com", 5, 4, "审批留痕清楚。Approvals are traceable."),
    ("finance@example.com", 4, 5, "短信偶尔收不到。SMS codes sometimes do not arrive."),
]


def load_pilot(session: Session) -> None:
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).first()
    sop = sop_of_process(session, process.id) if process else None
    if sop is None:
        return
    v1_0 = session.exec(select(SopVersion).where(SopVersion.sop_id == sop.id).order_by(col(SopVersion.id))).first()
    people = {u.email: u for u in session.exec(select(User))}
    lead = people["lead@example.com"]
    start = today() - timedelta(days=DAYS - 1 - PILOT_START)
    end = today() - timedelta(days=DAYS - 1 - ROLLOUT_START)
    ini = create_initiative(session, InitiativeCreate(
        process_id=process.id, title="激活提速试点 Activation pilot, team A", trigger=Trigger.inefficiency,
        goal="运营A组试行 SOP V1.0 两周。Team A runs SOP V1.0 for two weeks.", start_date=start - timedelta(days=35),
        team=[MemberCreate(user_id=people["member@example.com"].id, project_role=ProjectRole.business),
              MemberCreate(user_id=people["it@example.com"].id, project_role=ProjectRole.it)]), lead)
    for _ in range(3):  # diagnosis -> root cause -> design -> pilot
        advance(session, ini.id, AdvanceRequest(override_reason=OVERRIDE), lead)
    kpis = {k.code: k for k in session.exec(select(Kpi).where(Kpi.process_id == process.id))}
    pilot = pilots.create_pilot(session, ini.id, PilotCreate(
        sop_version_id=v1_0.id, scope="运营A组 Operations team A", scope_labels={"team": "A"}, planned_start=start,
        planned_weeks=2, prediction="激活时长 30 分钟 → 8 分钟，差错率 5% → 2%。Activation 30 -> 8 min, errors 5 % -> 2 %.",
        anonymous_survey=True,
        kpis=[PilotKpiIn(kpi_id=kpis["YH-LC01-ACT"].id, target=10, expected=8),
              PilotKpiIn(kpi_id=kpis["YH-LC01-ERR"].id, target=0.02, expected=0.02)],
        members=[PilotMemberIn(user_id=people[email].id, briefed_on=start - timedelta(days=2))
                 for email, *_ in ANSWERS]), lead)
    pilot = pilots.update_pilot(session, pilot.id, PilotUpdate(actual_start=start), lead, expected_version=None)
    member = people["member@example.com"]
    for day, progress, problems in (
        (0, "A组 6 人按 V1.0 操作，自动校验上线。Six people of team A work to V1.0; the automatic check is live.",
         "新系统不熟悉，暂无提速。New system unfamiliar, no speed-up yet."),
        (3, "平均激活降到 12 分钟。Average activation down to 12 minutes.", ""),
        (8, "平均激活 8 分钟。Average activation 8 minutes.",
         "部分用户反馈手机号验证码收不到。Some users report that the SMS code never arrives."),
    ):
        entry = pilots.add_log_entry(session, pilot.id, LogEntryCreate(
            day=start + timedelta(days=day), progress=progress, problems=problems), member)
        if day == 8:
            pilots.promote(session, pilot.id, entry.id, PromoteRequest(category=ProblemCategory.quality), lead)
    week1 = pilots.add_retro(session, pilot.id, RetroCreate(
        week=1, held_on=start + timedelta(days=6), went_well="自动校验稳定。The automatic check is stable.",
        went_badly="新人不熟悉审批入口。Newcomers cannot find the approval screen.",
        actions=[ActionIn(text="联系短信服务商排查到达率 Ask the SMS vendor about delivery", owner_id=people["it@example.com"].id),
                 ActionIn(text="整理审批入口操作卡 A job aid for the approval screen", owner_id=member.id)]), lead)
    carried = [a.id for a in pilots.actions_of(session, pilot.id) if a.retro_id == week1.id]
    pilots.add_retro(session, pilot.id, RetroCreate(
        week=2, held_on=start + timedelta(days=13), went_well="激活 8 分钟达标。Activation at 8 minutes, on target.",
        went_badly="短信到达率仍低。SMS delivery is still low.", close_action_ids=carried[1:],
        actions=[ActionIn(text="短信通道优化纳入 V1.1 The SMS channel step goes into V1.1", owner_id=lead.id)]), lead)
    for email, easier, risk, comment in ANSWERS:
        pilots.answer(session, pilot.id, AnswerCreate(easier=easier, risk_controlled=risk, comment=comment),
                      people[email])
    pilots.add_unmet(session, pilot.id, UnmetCreate(
        problem="部分用户反馈手机号验证码收不到", cause="短信通道到达率低 SMS channel delivery", change="短信通道需优化"), lead)
    pilot = pilots.update_pilot(session, pilot.id, PilotUpdate(actual_end=end), lead, expected_version=None)
    pilots.decide(session, pilot.id, DecisionRequest(
        decision=Decision.adopt, reason=f"激活时长 -73%，满意度 4.5；短信通道在 {number(v1_0) or 'V1.0'} 之后的 V1.1 中优化。"
                                        "Activation -73 %, satisfaction 4.5; the SMS channel is fixed in V1.1."),
        lead, expected_version=None)
