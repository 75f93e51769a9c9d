"""Demo RACI of YH-LC01's activation process: the survey steps as activities, one A per step."""

from __future__ import annotations

from sqlmodel import Session, select

from app.initiatives.models import Initiative
from app.processes.models import Process
from app.raci.schemas import CellSet, RoleCreate
from app.raci.service import activities_from_survey, create_role, set_cells
from app.users.models import User

# (name, team member's e-mail or None)
ROLES = [
    ("运营专员 Operations specialist", "member@example.com"),
    ("运营经理 Operations manager", "lead@example.com"),
    ("技术工程师 IT engineer", "it@example.com"),
    ("客服 Customer service", None),
    ("合规 Compliance", "compliance@example.com"),
]
# Letters per survey step (in order), one string per role (in ROLES order).
LETTERS = [
    ("R", "A", "", "C", ""),     # user fills in information
    ("R", "A", "", "I", "C"),    # manual review
    ("I", "", "RA", "", ""),     # system activation
    ("", "A", "R", "I", ""),     # SMS sent
]


def load_raci(session: Session) -> None:
    ini = session.exec(select(Initiative).join(Process, Process.id == Initiative.process_id)
                       .where(Process.code_norm == "YH-LC01").order_by(Initiative.id)).first()
    if ini is None:
        return
    lead = session.exec(select(User).where(User.email == "lead@example.com")).one()
    people = {u.email: u.id for u in session.exec(select(User))}
    roles = [create_role(session, ini.id, RoleCreate(name=name, member_user_id=people.get(email) if email else None),
                         lead) for name, email in ROLES]
    acts = activities_from_survey(session, ini.id, lead)
    cells = [CellSet(activity_id=a.id, role_id=r.id, letters=v)
             for a, row in zip(acts, LETTERS, strict=False) for r, v in zip(roles, row, strict=True) if v]
    set_cells(session, ini.id, cells, lead)
