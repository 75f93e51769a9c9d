"""Demo risks: YH-LC02's two control-point risks (linked to the points of its SOP in force, so its published
event-log compliance flags them or not), and the pilot initiative of YH-LC01 whose seeded risks the team reviewed
when its pilot ended (their review dates had passed while the demo's history was made up)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.feedback.service import version_in_force
from app.initiatives.models import Initiative, Phase
from app.processes.models import Process
from app.risks import service
from app.risks.models import Risk, RiskStatus
from app.risks.schemas import RiskCreate, RiskUpdate
from app.sops import service as sops
from app.users.models import User

REVIEWED = (Phase.pilot, Phase.rollout, Phase.monitoring)  # an initiative this far on had its risks reviewed


def load_risks(session: Session) -> None:
    people = {u.email: u for u in session.exec(select(User))}
    lc02 = session.exec(select(Process).where(Process.code_norm == "YH-LC02")).first()
    v = version_in_force(session, lc02.id) if lc02 else None
    points = [cp.id for cp in sops.content_of(v).control_points if cp.id] if v else []
    if lc02 is not None and len(points) >= 2:
        owner = people["member@example.com"]
        for data in (
            RiskCreate(description="大额订单未经财务审批即发货 Large orders shipped without the finance head's approval",
                       signs="发货后才补录审批；月底对账发现差异 Approvals entered after shipping; differences at the "
                             "month-end reconciliation", likelihood=3, impact=5, owner_id=owner.id,
                       response="发货前系统校验财务审批，每周看关键节点合规率 The system checks the approval before "
                                "shipping; the control point's compliance is watched weekly",
                       status=RiskStatus.mitigating, review_date=today() + timedelta(days=45),
                       compliance_threshold=95, control_point_ids=[points[0]]),
            RiskCreate(description="紧急订单财务补批超时 Urgent orders back-filled late by finance",
                       signs="运营负责人先批后，财务超过 24 小时才补批 Finance approves more than 24 hours after the "
                             "operations head", likelihood=2, impact=4, owner_id=owner.id,
                       response="补批提醒推送给财务主管 A reminder goes to the finance head",
                       review_date=today() + timedelta(days=45), compliance_threshold=90,
                       control_point_ids=[points[1]])):
            service.create_risk(session, lc02.id, data, owner)
    lead = people.get("lead@example.com")
    on = select(Initiative).join(Process, col(Process.id) == Initiative.process_id).where(
        Process.code_norm == "YH-LC01", col(Initiative.current_phase).in_(REVIEWED))
    for ini in session.exec(on).all():
        for risk in session.exec(select(Risk).where(Risk.initiative_id == ini.id, col(Risk.seed).is_not(None),
                                                    col(Risk.review_date) < today())).all():
            service.update_risk(session, risk.id, RiskUpdate(status=RiskStatus.mitigating,
                                                             review_date=today() + timedelta(days=30)),
                                lead, expected_version=None)
