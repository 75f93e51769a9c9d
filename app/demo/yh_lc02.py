"""Demo SOP and event log of YH-LC02 order fulfilment: the method's two control-point rules and a log that
follows them mostly, so the SOP page and the log page show a real compliance figure.

V1.0 (a standalone revision by the process owner, reviewed by finance and customer service, in force since
six weeks ago) declares the case attributes `amount`, `urgent` and `channel` and two control points:
1. orders >= 10,000 need the finance head's approval before shipping; its special case: an urgent order
   >= 100,000 may be approved by the operations head instead;
2. such an urgent order's finance approval is back-filled within 24 hours of the operations head's approval.
The log (`DEMO_LOG`, 60 orders over the last five weeks, made the same way each time) has a few violations of
each kind: a missing approval, an approval by a clerk, one after shipping, a late back-fill. Everything goes
through the services, and its KPIs (cycle time, rework, compliance per control point) are published.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, select

from app.core.calendar import today
from app.mining import service as mining
from app.processes.models import Process
from app.sops.schemas import EditSection, PublishRequest, ReviewerIn, SopCreate, SubmitRequest, VoteRequest
from app.sops.service import publish, sign, start_standalone, submit, update_section, vote
from app.users.models import User

STEPS = [
    ("接收订单 Order received", "operations", "订单专员 Order clerk", 5),
    ("信用与金额检查 Credit and amount check", "finance", "订单专员 Order clerk", 10),
    ("财务审批 Finance approval", "finance", "财务主管 Finance head", 15),
    ("拣货 Picking", "operations", "仓库 Warehouse", 30),
    ("发货 Shipping", "operations", "仓库 Warehouse", 20),
    ("签收确认 Delivery confirmation", "customer_service", "客服 Customer service", 5),
]
# The log's activity names (what the order system records) and roles.
RECEIVED, CHECK, FINANCE, OPS, PICK, SHIP, DELIVERED = (
    "接收订单 Order received", "信用检查 Credit check", "财务审批 Finance approval",
    "运营负责人审批 Operations head approval", "拣货 Picking", "发货 Shipping", "签收确认 Delivery confirmed")
FINANCE_HEAD, OPS_HEAD, CLERK, WAREHOUSE = "finance_head", "operations_head", "order_clerk", "warehouse"
ROLES = ["订单专员 Order clerk", "财务主管 Finance head", "仓库 Warehouse", "客服 Customer service"]
CP_FINANCE, CP_BACKFILL = uuid.UUID("5b8f0c2e-0a51-4b53-9d38-7d1b0e3c0001"), uuid.UUID(
    "5b8f0c2e-0a51-4b53-9d38-7d1b0e3c0002")
V1_0_DAYS_AGO = 42
DEMO_LOG = "订单系统导出 Order system export (demo)"


def _sections(step_ids: list[str]) -> dict[EditSection, object]:
    return {
        EditSection.purpose: {"text": "订单按标准履约；大额订单经财务审批。Orders are fulfilled to one standard; large "
                                      "orders are approved by finance before they ship."},
        EditSection.scope: {"scenarios": ["线上与门店订单 Online and shop orders"],
                            "departments": ["operations", "finance", "customer_service"]},
        EditSection.attributes: [{"name": "amount", "type": "number"}, {"name": "urgent", "type": "boolean"},
                                 {"name": "channel", "type": "text"}],
        EditSection.control_points: [
            {"id": str(CP_FINANCE), "step_id": step_ids[2], "approver_role": "财务主管 Finance head",
             "description": "订单金额 ≥ 10,000 须财务主管审批后方可发货。Orders of 10,000 or more ship only after the "
                            "finance head's approval.",
             "rule": {"condition": "amount >= 10000.0",
                      "requirement": {"activity": FINANCE, "before": SHIP, "role": FINANCE_HEAD}}},
            {"id": str(CP_BACKFILL), "step_id": step_ids[2], "approver_role": "财务主管 Finance head",
             "description": "紧急大额订单由运营负责人先批的，财务须在 24 小时内补批。An urgent large order approved by "
                            "the operations head is back-filled by finance within 24 hours.",
             "rule": {"condition": "amount >= 100000.0 && urgent",
                      "requirement": {"activity": FINANCE, "after": OPS, "within_minutes": 1440,
                                      "role": FINANCE_HEAD}}},
        ],
        EditSection.contingencies: [
            {"kind": "special_case", "situation": "紧急且金额 ≥ 100,000 的订单 An urgent order of 100,000 or more",
             "instead": "运营负责人审批即可发货，财务 24 小时内补批 The operations head's approval is enough to ship; "
                        "finance approves within 24 hours", "approver": "运营负责人 Operations head",
             "backfill_hours": 24, "control_point_id": str(CP_FINANCE), "condition": "amount >= 100000.0 && urgent"},
            {"situation": "订单系统宕机 Order system down", "instead": "纸质订单登记，恢复后补录 Paper order register, "
             "entered when the system is back", "approver": "运营负责人 Operations head", "backfill_hours": 24},
        ],
    }


def load_yh_lc02(session: Session) -> None:
    """YH-LC02's SOP V1.0 with the two rules, and its demo event log with the KPIs published."""
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC02")).first()
    if process is None:
        return
    people = {u.email: u for u in session.exec(select(User))}
    owner = people["member@example.com"]
    draft = start_standalone(session, process.code, SopCreate(), owner)
    draft = update_section(session, draft.id, EditSection.steps, [
        {"name": name, "department": dept, "role": role, "minutes": minutes} for name, dept, role, minutes in STEPS],
        owner, expected_version=None)
    step_ids = [s["id"] for s in draft.content["steps"]]
    raci = {"roles": ROLES, "activities": [{"name": name, "step_id": sid} for (name, *_), sid in
                                           zip(STEPS, step_ids, strict=True)],
            "cells": [{"activity": name, "role": role, "letters": "AR"} for name, _, role, _ in STEPS]}
    for section, value in {EditSection.raci: raci, **_sections(step_ids)}.items():
        update_section(session, draft.id, section, value, owner, expected_version=None)
    reviewers = [people[e] for e in ("finance@example.com", "director@example.com", "lead@example.com")]
    submit(session, draft.id, SubmitRequest(reviewers=[ReviewerIn(user_id=u.id) for u in reviewers]), owner,
           expected_version=None)
    for reviewer in reviewers:
        vote(session, draft.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    sign(session, draft.id, owner, expected_version=None)
    publish(session, draft.id, PublishRequest(effective_date=today() - timedelta(days=V1_0_DAYS_AGO),
                                              note="首次发布 First release"), owner, expected_version=None)
    log = mining.import_log(session, process_id=process.id, initiative_id=None, name=DEMO_LOG,
                            filename="yh-lc02-orders.csv", data=demo_log(), options=mining.ImportOptions(),
                            actor=owner)
    mining.publish_kpis(session, log.id, owner)


def demo_log(cases: int = 60, seed: int = 2026) -> bytes:
    """The orders of the last five weeks as the order system exports them: one row per event, the order's
    amount, urgency and channel on each row."""
    rng = random.Random(seed)
    start = datetime.combine(today() - timedelta(days=35), time(1, 0), UTC)
    rows = ["case_id,activity,timestamp,resource,role,amount,urgent,channel"]
    for n in range(cases):
        case_id = f"SO-{n + 1:04d}"
        kind = n % 20
        amount = rng.choice([1200, 3800, 6500, 8800]) if kind < 9 else rng.choice([12000, 25000, 48000, 76000])
        urgent = kind in (15, 16, 17)
        if urgent:
            amount = rng.choice([120000, 180000, 260000])
        channel = rng.choice(["web", "app", "shop"])
        t = start + timedelta(hours=n * 12 + rng.randrange(0, 6))
        events = [(RECEIVED, CLERK, 0), (CHECK, CLERK, rng.randrange(10, 40))]
        if urgent:
            backfill = 30 * 60 if kind == 17 and n < 20 else rng.randrange(120, 900)  # one late back-fill
            events += [(OPS, OPS_HEAD, 20), (PICK, WAREHOUSE, 60), (SHIP, WAREHOUSE, 90),
                       (FINANCE, FINANCE_HEAD, backfill - 170)]
        elif amount >= 10000:
            if kind == 9 and n < 40:  # shipped without the approval
                events += [(PICK, WAREHOUSE, 60), (SHIP, WAREHOUSE, 120)]
            elif kind == 10 and n < 40:  # approved by a clerk
                events += [(FINANCE, CLERK, 30), (PICK, WAREHOUSE, 60), (SHIP, WAREHOUSE, 90)]
            elif kind == 11 and n < 20:  # approved after shipping
                events += [(PICK, WAREHOUSE, 60), (SHIP, WAREHOUSE, 90), (FINANCE, FINANCE_HEAD, 200)]
            else:
                events += [(FINANCE, FINANCE_HEAD, rng.randrange(30, 240)), (PICK, WAREHOUSE, 60),
                           (SHIP, WAREHOUSE, 90)]
        else:
            events += [(PICK, WAREHOUSE, 60), (SHIP, WAREHOUSE, 90)]
        events.append((DELIVERED, CLERK, rng.randrange(600, 2800)))
        for activity, role, minutes in events:
            t += timedelta(minutes=minutes)
            resource = {CLERK: "李娜", FINANCE_HEAD: "周强", OPS_HEAD: "王丽", WAREHOUSE: "孙浩"}[role]
            rows.append(f"{case_id},{activity},{t.isoformat()},{resource},{role},{amount},{str(urgent).lower()},"
                        f"{channel}")
    return ("\n".join(rows) + "\n").encode()
