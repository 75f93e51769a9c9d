"""Demo SOP of YH-LC01 as the method tells it: V1.0 built from the demo initiative's chain (the automatic
check of the 3 systems, activation in 5 minutes), reviewed for every department it covers, signed and
published on the day the rollout began (the metrics' story); V1.1 "新增短信通道优化步骤" by the manager
(经理), reviewed by the director (总监) among others, in force today: Table 4's example row.

The initiative stays in root-cause analysis (its demo shows a gate with something missing), and a draft
*from the initiative* is made in the design phase only: so V1.0 is a standalone revision by the process
owner (the initiative's leader), filled section by section from what `from_chain` makes of the initiative.
Everything goes through the services: every rule holds and every step is audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.initiatives.models import Initiative, ProjectRole
from app.initiatives.schemas import MemberCreate
from app.initiatives.service import add_member
from app.issues.models import Issue
from app.metrics.demo import DAYS, ROLLOUT_START
from app.metrics.models import Kpi
from app.processes.models import Process
from app.processes.service import get_process
from app.sops.models import SopVersion
from app.sops.schemas import (
    Bump,
    CommentCreate,
    CommentUpdate,
    Contingency,
    ContingencyKind,
    ControlPoint,
    FormItem,
    FormKind,
    NextRequest,
    PublishRequest,
    RaciActivity,
    RaciCell,
    ReviewerIn,
    Section,
    SopContent,
    SopCreate,
    Step,
    SubmitRequest,
    VoteRequest,
)
from app.sops.service import (
    add_comment,
    content_of,
    from_chain,
    next_version,
    publish,
    sign,
    start_standalone,
    submit,
    update_comment,
    update_section,
    vote,
)
from app.users.models import User

V1_0_DAYS_AGO = DAYS - 1 - ROLLOUT_START  # the first day of the rollout in the KPIs' observations
# Steps first: the RACI and the control points name steps by id.
SECTION_ORDER = [Section.steps, *(s for s in Section if s != Section.steps)]

AUTOMATED_CHECK = {
    "name": "自动校验3个系统 Automatic check against CRM, KYC and Billing",
    "role": "系统 System; 运营专员处理异常 the operations specialist handles exceptions",
    "inputs": "注册信息 Registration data", "outputs": "校验结果 Check result (pass / mismatch)",
    "instructions": "系统自动比对 CRM、KYC、Billing 数据；不一致时转运营专员人工复核。The system compares the data in "
                    "CRM, KYC and Billing; a mismatch goes to the operations specialist for a manual re-check.",
    "system_path": "CRM › 客户 Customers › 自动校验 Automatic check", "minutes": 2,
}
SMS_FALLBACK = {
    "name": "短信通道切换 SMS channel fallback", "department": "technology", "role": "系统 System",
    "inputs": "未送达的验证码 Undelivered code", "outputs": "经备用通道送达的验证码 Code delivered by the backup channel",
    "instructions": "60秒内未送达时，经备用短信通道重发；仍失败则改为语音验证码。When the code is not delivered "
                    "within 60 s, resend it through the backup SMS provider; if that fails too, call with a voice code.",
    "system_path": "短信网关 SMS gateway › 通道 Channels › 备用 Backup", "minutes": 1,
}
# The new step's RACI row, by role (the demo RACI's roles).
SMS_LETTERS = {"运营经理 Operations manager": "A", "技术工程师 IT engineer": "R", "客服 Customer service": "C"}


def load_sop(session: Session) -> None:
    ini = session.exec(select(Initiative).join(Process, col(Process.id) == Initiative.process_id)
                       .where(Process.code_norm == "YH-LC01").order_by(Initiative.id)).first()
    if ini is None:
        return
    people = {u.email: u for u in session.exec(select(User))}
    v1_0 = _v1_0(session, ini, people)
    _v1_1(session, ini, v1_0, people)


def _v1_0(session: Session, ini: Initiative, people: dict[str, User]) -> SopVersion:
    lead = people["lead@example.com"]
    process = get_process(session, ini.process_id)
    draft = start_standalone(session, process.code, SopCreate(), lead)
    _fill(session, draft.id, _designed(session, from_chain(session, ini, process)), lead)
    reviewers = [people[e] for e in ("member@example.com", "it@example.com", "director@example.com",
                                     "compliance@example.com")]
    _review(session, draft.id, lead, reviewers)
    it, check = people["it@example.com"], content_of(draft).steps[1]
    thread = add_comment(session, draft.id, CommentCreate(
        section=Section.steps, step_id=check.id,
        text="校验接口超时怎么办？What happens when the check API times out?"), it)
    add_comment(session, draft.id, CommentCreate(
        section=Section.steps, step_id=check.id, parent_id=thread.id,
        text="见应急方案：人工核对3个系统，24小时内补录。See the contingency plan: check the 3 systems by hand, "
             "back-filled within 24 hours."), lead)
    update_comment(session, draft.id, thread.id, CommentUpdate(resolved=True), it, expected_version=None)
    return _approve_and_publish(session, draft.id, reviewers, lead, PublishRequest(
        effective_date=today() - timedelta(days=V1_0_DAYS_AGO), note="首次发布 First release"))


def _designed(session: Session, content: SopContent) -> SopContent:
    """The draft as the team designs it: the manual review automated (the countermeasure), the activation
    time KPI, the control point, forms and contingencies of the method's example."""
    check = content.steps[1]  # the survey's manual review
    _rename_activity(content, check, AUTOMATED_CHECK["name"])
    for field, value in AUTOMATED_CHECK.items():
        setattr(check, field, value)
    content.purpose.kpi_id = session.exec(select(Kpi.id).where(Kpi.code_norm == "YH-LC01-ACT")).first()
    content.scope.scenarios = ["新用户注册 New user registration", "账户激活 Account activation"]
    content.control_points = [ControlPoint(
        step_id=check.id, approver_role="运营经理 Operations manager",
        description="校验不一致的申请须运营经理审批后方可激活。An application the check finds inconsistent is "
                    "activated only with the operations manager's approval.")]
    content.forms = [
        FormItem(name="用户激活申请表 User activation request form", kind=FormKind.form, location="App › 注册 Sign up"),
        FormItem(name="CRM", kind=FormKind.system, location="CRM › 客户 Customers › 激活 Activate"),
        FormItem(name="自动校验接口 Automatic check API", kind=FormKind.tool, location="KYC › API"),
    ]
    content.contingencies = [
        Contingency(situation="系统宕机或校验接口不可用 System down or the check API unavailable",
                    instead="纸质登记，人工核对3个系统 Paper register, the 3 systems checked by hand",
                    approver="运营经理 Operations manager", backfill_hours=24),
        Contingency(situation="企业客户批量开户 Bulk activation for a corporate customer",
                    instead="运营经理直接审批，跳过逐个审核 Approved directly by the operations manager, without the "
                            "one-by-one check", approver="运营经理 Operations manager", backfill_hours=24,
                    kind=ContingencyKind.special_case),
    ]
    return content


def _rename_activity(content: SopContent, step: Step, name: str) -> None:
    """The RACI row of a renamed step keeps following it (cells name their activity)."""
    for activity in content.raci.activities:
        if activity.step_id == step.id:
            old, activity.name = activity.name, name
            for cell in content.raci.cells:
                if cell.activity == old:
                    cell.activity = name


def _v1_1(session: Session, ini: Initiative, v1_0: SopVersion, people: dict[str, User]) -> SopVersion:
    lead, manager = people["lead@example.com"], people["manager@example.com"]
    add_member(session, ini.id, MemberCreate(user_id=manager.id, project_role=ProjectRole.business), lead)
    draft = next_version(session, v1_0.id, NextRequest(initiative_id=ini.id), manager)
    sms_issue = session.exec(select(Issue.id).where(Issue.initiative_id == ini.id,
                                                    col(Issue.title).startswith("短信验证码收不到"))).one()
    content = content_of(draft)
    content.steps.append(Step(**SMS_FALLBACK, issue_ids=[sms_issue]))
    update_section(session, draft.id, Section.steps, _dumped(content, Section.steps), manager,
                   expected_version=None)
    content = content_of(draft)
    step = content.steps[-1]
    content.raci.activities.append(RaciActivity(name=step.name, step_id=step.id))
    content.raci.cells += [RaciCell(activity=step.name, role=role, letters=letters)
                           for role, letters in SMS_LETTERS.items()]
    update_section(session, draft.id, Section.raci, _dumped(content, Section.raci), manager, expected_version=None)
    reviewers = [people[e] for e in ("director@example.com", "member@example.com", "it@example.com")]
    _review(session, draft.id, manager, reviewers)
    return _approve_and_publish(session, draft.id, reviewers, lead, PublishRequest(
        effective_date=today(), bump=Bump.minor, change_summary="新增短信通道优化步骤", note="解决验证码接收问题"))


def _dumped(content: SopContent, section: Section) -> Any:  # noqa: ANN401 - a section's JSON value
    return content.model_dump(mode="json")[section.value]


def _fill(session: Session, version_id: int, content: SopContent, actor: User) -> None:
    for section in SECTION_ORDER:
        update_section(session, version_id, section, _dumped(content, section), actor, expected_version=None)


def _review(session: Session, version_id: int, author: User, reviewers: list[User]) -> None:
    submit(session, version_id, SubmitRequest(reviewers=[ReviewerIn(user_id=u.id) for u in reviewers]), author,
           expected_version=None)


def _approve_and_publish(session: Session, version_id: int, reviewers: list[User], signer: User,
                         data: PublishRequest) -> SopVersion:
    """Every reviewer approves; the leader signs and publishes."""
    for reviewer in reviewers:
        vote(session, version_id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    sign(session, version_id, signer, expected_version=None)
    return publish(session, version_id, data, signer, expected_version=None)
