"""Demo quarterly reviews of YH-LC01 (季度复盘会): the last quarter's, held ten working days after it ended, with
王丽, 张伟, 陈杰 and 刘洋, two findings and two decisions (a small iteration, and a new round on the approval
bottleneck that 王丽 may open from the page); its record plans the next one. Everything goes through the service,
so the held review keeps the pack of its quarter as the data showed it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from app.core.calendar import today
from app.processes.models import Process
from app.reviews import service as reviews
from app.reviews.schemas import DecisionIn, FindingIn, RecordRequest, ReviewCreate
from app.users.models import User

FINDINGS = [
    ("审批环节随业务量增长再次成为瓶颈：高峰期人工审核排队超过二十分钟。", "efficiency"),
    ("部分审核人为赶时效跳过身份证照片核对，审核记录中无法追溯。", "risk"),
]
DECISIONS = [
    ("small_iteration", "V1.2：在审核步骤中加入照片核对的必填勾选项，并在培训中补充案例。", "member@example.com", 20),
    ("new_round", "新一轮优化：引入自动核验，人工只处理异常件（阶段 3-5）。", "lead@example.com", 45),
]
PARTICIPANTS = ("lead@example.com", "member@example.com", "it@example.com", "compliance@example.com")


def load_reviews(session: Session) -> None:
    process = session.exec(select(Process).where(Process.code == "YH-LC01")).one()
    users = {u.email: u for u in session.exec(select(User))}
    lead = users["lead@example.com"]
    year, quarter = reviews.quarter_of(today())
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    held_on = min(reviews.default_planned_on(year, quarter), today())
    review = reviews.create_review(session, process.id, ReviewCreate(year=year, quarter=quarter, planned_on=held_on),
                                   lead)
    reviews.record(session, review.id, RecordRequest(
        held_on=held_on, participant_ids=[users[e].id for e in PARTICIPANTS],
        findings=[FindingIn(text=text, category=category) for text, category in FINDINGS],
        decisions=[DecisionIn(kind=kind, text=text, owner_id=users[owner].id, due_on=held_on + timedelta(days=days))
                   for kind, text, owner, days in DECISIONS],
        notes="季度数据显示激活时长已稳定在 8 分钟左右，但高峰期波动明显。"), lead, expected_version=review.version)
