"""Demo countermeasures for YH-LC01 (table 2), as in the method's example."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.initiatives.models import Initiative
from app.issues.models import Issue
from app.measures.models import EffectDirection, MeasureStatus, MeasureType
from app.measures.schemas import MeasureCreate
from app.measures.service import create_measure
from app.processes.models import Process
from app.users.models import User


def load_measures(session: Session) -> None:
    ini = session.exec(select(Initiative).join(Process, col(Process.id) == Initiative.process_id)
                       .where(Process.code_norm == "YH-LC01")).first()
    if ini is None:
        return
    people = {u.email: u for u in session.exec(select(User))}
    issues = {i.title.split(" ", 1)[0]: i for i in session.exec(select(Issue).where(Issue.initiative_id == ini.id))}
    slow, contact = issues.get("人工审核耗时30分钟"), issues.get("跨部门无固定对接人")
    lead = people["lead@example.com"]
    if slow is not None:
        # The method's example row: "activation <= 5 min" - "slow review" - "build an automatic check
        # against the 3 systems" - technology - (date) - "30 -> 5 min, error rate <= 1 %".
        create_measure(session, ini.id, MeasureCreate(
            goal="激活 ≤ 5 分钟，差错率 ≤ 1% Activation <= 5 min, error rate <= 1 %", issue_ids=[slow.id],
            description="建立3个系统的自动校验 Build an automatic check against the 3 systems",
            type=MeasureType.automate, department="technology", owner_id=people["it@example.com"].id,
            due_date=today() + timedelta(days=21), status=MeasureStatus.in_progress,
            progress_notes="接口方案已评审 Interface design reviewed",
            effect_metric="激活时长 Activation time", effect_unit="min", effect_baseline=Decimal(30),
            effect_target=Decimal(5), effect_direction=EffectDirection.lower_is_better), lead)
    if contact is not None:
        create_measure(session, ini.id, MeasureCreate(
            goal="每个环节一个 R、一个 A One R and one A per activity", issue_ids=[contact.id],
            description="制定 RACI 并设跨部门周会 Set up a RACI and a weekly cross-department meeting",
            type=MeasureType.raci, department="operations", owner_id=lead.id,
            due_date=today() + timedelta(days=7), effect_metric="转交等待 Hand-over wait", effect_unit="min",
            effect_baseline=Decimal(45), effect_target=Decimal(10),
            effect_direction=EffectDirection.lower_is_better), lead)
