"""Demo data from the method's own examples (never loaded in production)."""

from __future__ import annotations

from sqlmodel import Session, select

from app.demo.yh_lc01 import load as load_yh_lc01
from app.demo.yh_lc01_feedback import load_feedback
from app.demo.yh_lc01_pilot import load_pilot
from app.demo.yh_lc01_review import load_reviews
from app.demo.yh_lc01_rollout import load_rollout
from app.demo.yh_lc01_sop import load_sop
from app.demo.yh_lc02 import load_yh_lc02
from app.departments.models import Department
from app.measures.demo import load_measures
from app.metrics.demo import load_metrics
from app.processes.schemas import ProcessCreate
from app.processes.service import create_process
from app.raci.demo import load_raci
from app.risks.demo import load_risks
from app.users.models import Role, User
from app.users.schemas import UserCreate
from app.users.service import create_user, get_by_email

DEPARTMENTS = [
    ("operations", "Operations", "运营部"),
    ("product", "Product", "产品部"),
    ("technology", "Technology", "技术部"),
    ("customer_service", "Customer service", "客服部"),
    ("finance", "Finance", "财务部"),
    ("legal", "Legal and compliance", "法务合规部"),
]

# (email, display name, department, role, password) - printed by `make run`; demo only.
USERS = [
    ("admin@example.com", "Admin 管理员", "operations", Role.admin, "demo-admin-2026"),
    ("lead@example.com", "Wang Li 王丽 (ops manager)", "operations", Role.lead, "demo-lead-2026"),
    ("member@example.com", "Zhang Wei 张伟 (ops specialist)", "operations", Role.member, "demo-member-2026"),
    ("it@example.com", "Chen Jie 陈杰 (IT engineer)", "technology", Role.member, "demo-member-2026"),
    ("compliance@example.com", "Liu Yang 刘洋 (compliance)", "legal", Role.member, "demo-member-2026"),
    ("viewer@example.com", "Zhao Min 赵敏 (finance)", "finance", Role.viewer, "demo-viewer-2026"),
    # YH-LC02's finance head: reviews its SOP for finance, approves the large orders of its event log.
    ("finance@example.com", "Zhou Qiang 周强 (finance head)", "finance", Role.member, "demo-member-2026"),
    # Table 4's example row: the manager wrote V1.1, the director reviewed it.
    ("manager@example.com", "经理", "product", Role.lead, "demo-lead-2026"),
    ("director@example.com", "总监", "customer_service", Role.lead, "demo-lead-2026"),
]

PROCESSES = [
    {
        "code": "YH-LC01",
        "name": "用户注册激活流程 User registration and activation",
        "description": (
            "1. User fills in information -> 2. manual review -> 3. system activation -> 4. SMS sent. "
            "The review checks data in 3 systems by hand (30 min); no fixed contact across departments."
        ),
        "owner_department": "operations",
        "departments": ["operations", "technology", "customer_service"],
        "owner": "lead@example.com",
    },
    {
        "code": "YH-LC02",
        "name": "订单履约流程 Order fulfilment",
        "description": (
            "Order received -> credit and amount check (orders >= 10,000 need finance approval) -> "
            "picking -> shipping -> delivery confirmation."
        ),
        "owner_department": "operations",
        "departments": ["operations", "finance", "customer_service", "technology"],
        "owner": "member@example.com",
    },
]


def is_empty(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is None


def load(session: Session) -> None:
    """Load the demo set into an empty database."""
    for code, en, zh in DEPARTMENTS:
        session.add(Department(code=code, name_en=en, name_zh=zh))
    session.flush()
    for email, name, dept, role, password in USERS:
        create_user(session, UserCreate(email=email, display_name=name, department=dept, role=role,
                                        password=password), actor=None)
    session.flush()
    for spec in PROCESSES:
        owner = get_by_email(session, spec["owner"])
        data = ProcessCreate(**{k: v for k, v in spec.items() if k != "owner"})
        create_process(session, data, owner)
    load_initiatives(session)
    load_metrics(session)  # the KPIs of the initiative
    load_measures(session)
    load_sop(session)  # from the whole chain: survey, problems, RACI, KPIs, countermeasures
    load_pilot(session)  # V1.0 on team A: Table 3's row
    load_rollout(session)  # V1.1 in two waves: operations and product live, technology retraining
    load_feedback(session)  # its feedback channel: named and anonymous, replied, a problem, one overdue
    load_reviews(session)  # last quarter's review: findings, decisions, the next one planned
    load_yh_lc02(session)  # an SOP with control-point rules, and an event log checked against them
    load_risks(session)  # YH-LC02's control-point risks; the pilot's seeded risks reviewed


def load_initiatives(session: Session) -> None:
    """YH-LC01's initiative: survey, research, problems with causes and whys (app/demo/yh_lc01.py)."""
    load_yh_lc01(session)
    load_raci(session)


def credentials() -> list[tuple[str, str, str]]:
    return [(email, role.value, password) for email, _, _, role, password in USERS]
