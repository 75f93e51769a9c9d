"""Factories: realistic records built through the services, and ready-made API credentials."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlmodel import Session, select

from app.auth.schemas import ServiceTokenCreate
from app.auth.service import create_service_token
from app.core.security import create_access_token
from app.departments.models import Department
from app.processes.models import Process
from app.processes.schemas import ProcessCreate
from app.processes.service import create_process
from app.users.models import Role, User
from app.users.schemas import UserCreate
from app.users.service import create_user

_seq = itertools.count(1)
DEPARTMENTS = [("operations", "Operations", "运营部"), ("technology", "Technology", "技术部"),
               ("finance", "Finance", "财务部"), ("legal", "Legal", "法务部")]
PASSWORD = "correct horse battery staple"


@dataclass
class Factory:
    session: Session

    def departments(self) -> dict[str, Department]:
        existing = {d.code: d for d in self.session.exec(select(Department))}
        for code, en, zh in DEPARTMENTS:
            if code not in existing:
                existing[code] = Department(code=code, name_en=en, name_zh=zh)
                self.session.add(existing[code])
        self.session.flush()
        return existing

    def user(self, role: Role | str = Role.member, *, email: str | None = None, password: str = PASSWORD,
             department: str | None = "operations", active: bool = True) -> User:
        self.departments()
        n = next(_seq)
        user = create_user(self.session, UserCreate(
            email=email or f"user{n}@example.com", display_name=f"User {n}", role=Role(role),
            password=password, department=department), actor=None)
        if not active:
            user.is_active = False
            self.session.add(user)
        self.session.flush()
        return user

    def process(self, owner: User | None = None, **fields: object) -> Process:
        self.departments()
        owner = owner or self.user(Role.member)
        n = next(_seq)
        data = {"code": f"T-{n:04d}", "name": f"Process {n}", "owner_department": "operations",
                "departments": ["operations", "technology"]}
        data.update(fields)
        process = create_process(self.session, ProcessCreate(**data), owner)
        self.session.flush()  # the audit record too, so requests see it
        return process

    def service_token(self, scopes: list[str], owner: User | None = None) -> str:
        owner = owner or self.user(Role.admin)
        _, secret = create_service_token(self.session, ServiceTokenCreate(name="bi", scopes=scopes), owner)
        self.session.flush()
        return secret

    @staticmethod
    def bearer(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(str(user.id))}"}
