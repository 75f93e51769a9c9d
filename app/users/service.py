"""Accounts: creation, administration and lookups."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.audit import record
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from app.core.ids import Id
from app.core.labels import N_
from app.core.pagination import Cursor, page_window
from app.core.security import hash_password
from app.departments.models import Department
from app.departments.service import by_codes
from app.users.models import Role, User
from app.users.schemas import UserCreate, UserRead, UserUpdate


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email_norm == normalize_email(email))).first()


def to_read(session: Session, user: User) -> UserRead:
    dept = session.get(Department, user.department_id) if user.department_id else None
    data = UserRead.model_validate(user)
    data.department = dept.code if dept else None
    return data


def _snapshot(session: Session, user: User) -> dict:
    return to_read(session, user).model_dump(mode="json", exclude={"created_at", "updated_at"})


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.admin:
        raise Forbidden("Only administrators manage accounts.")


def create_user(session: Session, data: UserCreate, actor: User | None) -> User:
    """Create an account. `actor=None` is the shell (`procopt create-user`) or demo loader."""
    _require_admin(actor)
    if get_by_email(session, data.email):
        raise Conflict(f"An account with the email {data.email} already exists.",
                       errors=[{"loc": ["body", "email"], "field": "email",
                                "message": "already registered", "type": "conflict"}])
    dept_id = by_codes(session, [data.department], "department")[0].id if data.department else None
    user = User(
        email=data.email,
        email_norm=normalize_email(data.email),
        display_name=data.display_name,
        department_id=dept_id,
        role=data.role,
        password_hash=hash_password(data.password),
    )
    session.add(user)
    session.flush()
    record(session, actor, "create", "user", user.id, None, _snapshot(session, user))
    return user


def update_user(session: Session, user_id: int, data: UserUpdate, actor: User) -> User:
    _require_admin(actor)
    user = get_user(session, user_id)
    before = _snapshot(session, user)
    changes = data.model_dump(exclude_unset=True)
    if user.id == actor.id and (changes.get("role") not in (None, Role.admin) or changes.get("is_active") is False):
        raise RuleViolation("You cannot remove your own administrator rights or disable yourself.")
    if "department" in changes:
        code = changes.pop("department")
        user.department_id = by_codes(session, [code], "department")[0].id if code else None
    ends_sessions = False
    if "password" in changes:
        password = changes.pop("password")
        if password is not None:
            user.password_hash = hash_password(password)
            ends_sessions = True
    for key, value in changes.items():
        if value is None:
            raise RuleViolation(f"{key} cannot be null.",
                                errors=[{"loc": ["body", key], "field": key, "message": "may not be null",
                                         "type": "null"}])
        if (key == "role" and value != user.role) or (key == "is_active" and value is False and user.is_active):
            ends_sessions = True
        setattr(user, key, value)
    if ends_sessions:
        # Earlier tokens of the account stop working (app/auth/deps.py); the next login gets the new one.
        user.token_generation += 1
    user.updated_at = utcnow()
    user.version += 1
    session.add(user)
    session.flush()
    record(session, actor, "update", "user", user.id, before, _snapshot(session, user))
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """Logout: every token issued to the account so far stops working (its token generation moves on,
    in one statement, so that concurrent logouts and changes each count)."""
    session.exec(sa.update(User).where(User.id == user_id)
                    .values(token_generation=User.token_generation + 1))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("User {user_id} not found."), params={"user_id": user_id})
    return user


def require_manager(actor: User) -> None:
    if actor.role not in (Role.admin, Role.lead):
        raise Forbidden("Only administrators and leads see other accounts.")


def list_users(session: Session, actor: User, *, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
    require_manager(actor)
    stmt = select(User).order_by(User.id)
    if cursor:
        after = Cursor.decode(cursor, ("id",), (Id,))
        stmt = stmt.where(User.id > after.values[0])
    rows = list(session.exec(stmt.limit(limit + 1)))
    return page_window(rows, limit, lambda u: Cursor(("id",), (u.id,)))
