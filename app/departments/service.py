from __future__ import annotations

from sqlmodel import Session, select

from app.core.audit import record
from app.core.errors import Conflict, Forbidden, RuleViolation
from app.departments.models import Department
from app.departments.schemas import DepartmentCreate
from app.users.models import Role, User


def list_departments(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(Department.code)))


def by_codes(session: Session, codes: list[str], field: str) -> list[Department]:
    """Resolve department codes, failing with a field error naming the unknown ones."""
    wanted = list(dict.fromkeys(codes))
    found = {d.code: d for d in session.exec(select(Department).where(Department.code.in_(wanted)))}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise RuleViolation(
            f"Unknown department: {', '.join(unknown)}",
            errors=[{"loc": ["body", field], "field": field, "message": f"unknown department: {c}",
                     "type": "unknown_department"} for c in unknown],
        )
    return [found[c] for c in wanted]


def create_department(session: Session, data: DepartmentCreate, actor: User) -> Department:
    if actor.role != Role.admin:
        raise Forbidden("Only administrators manage departments.")
    if session.exec(select(Department).where(Department.code == data.code)).first():
        raise Conflict(f"Department {data.code} already exists.")
    dept = Department(**data.model_dump())
    session.add(dept)
    session.flush()
    record(session, actor, "create", "department", dept.id, None, data.model_dump())
    return dept
