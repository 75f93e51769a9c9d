"""Demo data for YH-LC01 (user registration and activation) as the method tells it, across the domains.

The 4 steps of table 1 with the 30-minute manual review, the research behind them, the problems
found with their fishbone causes and 5-Whys chain, scored for the priority matrix. The initiative
has finished its diagnosis and is in root-cause analysis; one problem is still unscored, so its
gate shows what is missing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from app.core.calendar import today
from app.initiatives.models import Phase, ProjectRole, Trigger
from app.initiatives.schemas import AdvanceRequest, InitiativeCreate, MemberCreate, PhaseUpdate
from app.initiatives.service import advance, create_initiative, update_phase
from app.issues.schemas import CauseCreate, IssueCreate, WhyCreate
from app.issues.service import create_cause, create_issue, create_why
from app.processes.models import Process
from app.survey.schemas import ResearchCreate, StepCreate
from app.survey.service import create_record, create_step
from app.users.models import User

STEPS = [
    {"name": "用户填写信息 User fills in information", "kind": "input", "department": "operations",
     "role": "用户 User", "minutes": 5, "systems": ["App"]},
    {"name": "人工审核 Manual review", "kind": "activity", "department": "operations",
     "role": "运营专员 Operations specialist", "minutes": 30, "waiting_minutes": 45,
     "systems": ["CRM", "KYC", "Billing"], "problem_flags": ["efficiency", "collaboration"],
     "description": "审核需人工核对3个系统数据；跨部门无固定对接人。Review checks data in 3 systems by hand; "
                    "no fixed contact across departments."},
    {"name": "系统激活 System activation", "kind": "activity", "department": "technology",
     "role": "IT 工程师 IT engineer", "minutes": 2, "systems": ["Account service"], "problem_flags": ["risk"],
     "description": "激活失败时无告警。No alert when an activation fails."},
    {"name": "短信发送 SMS sent", "kind": "output", "department": "technology", "role": "系统 System",
     "minutes": 1, "waiting_minutes": 0.5, "systems": ["SMS gateway"], "problem_flags": ["quality"],
     "description": "部分用户收不到验证码。Some users never get the code."},
]


def load(session: Session) -> None:
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).first()
    if process is None:
        return
    people = {u.email: u for u in session.exec(select(User))}
    lead = people["lead@example.com"]
    start = today() - timedelta(days=16)
    ini = create_initiative(session, InitiativeCreate(
        process_id=process.id, title="用户激活提速 Activation in 5 minutes", trigger=Trigger.inefficiency,
        goal="激活时长 30 分钟 → 5 分钟，差错率 ≤ 1%。Activation time 30 min -> 5 min, error rate <= 1 %.",
        start_date=start, team=[
            MemberCreate(user_id=people["member@example.com"].id, project_role=ProjectRole.business),
            MemberCreate(user_id=people["it@example.com"].id, project_role=ProjectRole.it),
            MemberCreate(user_id=people["compliance@example.com"].id, project_role=ProjectRole.compliance),
        ]), lead)
    steps = [create_step(session, ini.id, StepCreate(**spec), lead) for spec in STEPS]
    review, activation, sms = steps[1], steps[2], steps[3]
    for method, days_ago, who, findings, linked in (
        ("interview", 15, "张伟 Zhang Wei (运营专员)",
         "手工从3个系统导出数据核对，每个用户约30分钟。Exports data from 3 systems by hand: about 30 min per user.",
         [review.id]),
        ("observation", 13, "王丽 Wang Li, 3 名审核员 reviewers",
         "申请在队列中平均等待45分钟才有人处理。Applications wait 45 min on average before a reviewer picks "
         "them up.", [review.id]),
        ("data_analysis", 11, "陈杰 Chen Jie (IT)",
         "激活平均耗时78分钟，行业基准10分钟；差错率5%。Average activation 78 min against a 10 min benchmark; "
         "error rate 5 %.", [review.id, activation.id, sms.id]),
    ):
        create_record(session, ini.id, ResearchCreate(method=method, conducted_on=today() - timedelta(days=days_ago),
                                                      participants=who, findings=findings, step_ids=linked), lead)
    advance(session, ini.id, AdvanceRequest(), lead)  # the diagnosis gate holds
    update_phase(session, ini.id, Phase.diagnosis, PhaseUpdate(actual_start=start,
                                                                actual_end=today() - timedelta(days=3)),
                 lead, expected_version=None)
    update_phase(session, ini.id, Phase.root_cause, PhaseUpdate(actual_start=today() - timedelta(days=2)),
                 lead, expected_version=None)

    def issue(**fields):  # noqa: ANN003, ANN202
        return create_issue(session, ini.id, IssueCreate(**fields), lead)

    slow = issue(title="人工审核耗时30分钟 Manual review takes 30 minutes", category="efficiency",
                 source="observation", step_ids=[review.id], impact=5, urgency=5, status="analysing",
                 owner_id=people["member@example.com"].id,
                 description="每个申请人工核对 CRM、KYC、Billing 三个系统。Each application is checked by hand "
                             "in CRM, KYC and Billing.")
    contact = issue(title="跨部门无固定对接人 No fixed contact across departments", category="collaboration",
                    source="interview", step_ids=[review.id], impact=4, urgency=3,
                    owner_id=lead.id)
    issue(title="短信验证码收不到 SMS codes not received", category="quality", source="feedback",
          step_ids=[sms.id], impact=2, urgency=4, owner_id=people["it@example.com"].id)
    issue(title="激活失败无告警 No alert when activation fails", category="risk", source="data",
          step_ids=[activation.id], impact=4, urgency=2, owner_id=people["compliance@example.com"].id)
    issue(title="报表格式调整 Report format tweak", category="quality", source="feedback", impact=1, urgency=1)
    issue(title="审批需纸质签字 Paper signature at approval", category="efficiency", source="observation",
          step_ids=[review.id], description="平均等待1天。1 day average wait.")

    def cause(issue_id: int, text: str, category: str | None = None, parent=None, root: bool = False):  # noqa: ANN001, ANN202
        return create_cause(session, issue_id, CauseCreate(category=category, text=text,
                                                           parent_id=parent.id if parent else None, is_root=root),
                            lead)

    by_hand = cause(slow.id, "人工核对3个系统 Checks 3 systems by hand", "method")
    not_synced = cause(slow.id, "系统A与B未同步 Systems A and B not synced", parent=by_hand)
    cause(slow.id, "没有接口 No interface between them", parent=not_synced, root=True)
    cause(slow.id, "审核员未受 KYC 系统培训 Reviewers not trained on KYC", "man")
    cause(slow.id, "KYC 查询慢 KYC system slow to answer", "machine")
    cause(slow.id, "用户资料不完整 Incomplete user data", "material")
    cause(slow.id, "高峰时段量大 3x volume at peak hours", "environment")
    cause(contact.id, "职责不清，无 RACI Unclear responsibility, no RACI", "method", root=True)
    cause(contact.id, "各部门各自排班 Each department plans its own shifts", "environment")
    for question, answer, root in (
        ("为什么审核要30分钟？Why does the review take 30 minutes?",
         "要在3个系统重复录入核对 Data is entered and checked again in 3 systems", False),
        ("为什么要重复录入？Why is it entered again?", "系统A与B未同步 Systems A and B are not synced", False),
        ("为什么未同步？Why are they not synced?", "两系统间没有接口 There is no interface between them", True),
    ):
        create_why(session, slow.id, WhyCreate(question=question, answer=answer, is_root=root), lead)
