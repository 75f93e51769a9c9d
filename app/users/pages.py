"""Account administration pages (administrators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.auth.deps import CurrentActor
from app.core.db import SessionDep
from app.core.errors import AppError, Forbidden
from app.core.forms import FormData, submit
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.templating import redirect, render
from app.departments.service import list_departments
from app.users import service
from app.users.models import Role, User
from app.users.schemas import UserCreate, UserUpdate

router = APIRouter(prefix="/admin/users")


def _require_admin(actor: User) -> None:
    if actor.role != Role.admin:
        raise Forbidden("Only administrators manage accounts.")


def _form(request: Request, session: Session, *, values: dict[str, Any], errors: dict[str, str],
          user: Any = None, status_code: int = 200) -> Response:
    return render(request, "users/form.html", {
        "values": values, "errors": errors, "user": user,
        "departments": list_departments(session), "roles": list(Role),
    }, block="form", status_code=status_code)


@router.get("")
def user_list(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    _require_admin(actor.user)
    users, _ = service.list_users(session, actor.user, limit=1000, cursor=None)
    return render(request, "users/list.html", {"users": [service.to_read(session, u) for u in users]})


@router.get("/new")
def new_user(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    _require_admin(actor.user)
    return _form(request, session, values={"role": "member"}, errors={})


@router.post("/new")
def create_user(request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    _require_admin(actor.user)
    gettext = gettext_for(negotiate(request))
    values = {k: form.get(k, "") for k in ("email", "display_name", "role", "password")}
    values["department"] = form.get("department") or None
    done = submit(session, gettext, UserCreate, values, lambda data: service.create_user(session, data, actor.user),
                  refused=(AppError,))
    if done.ok:
        return redirect(request, "/admin/users", flash="user_created")
    values.pop("password")
    return _form(request, session, values=values, errors=done.errors, status_code=422)


@router.get("/{user_id}/edit")
def edit_user(user_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    _require_admin(actor.user)
    user = service.to_read(session, service.get_user(session, user_id))
    return _form(request, session, values=user.model_dump(), errors={}, user=user)


@router.post("/{user_id}/edit")
def update_user(user_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    _require_admin(actor.user)  # before anything: a refused form would show the account's details
    gettext = gettext_for(negotiate(request))
    values: dict[str, Any] = {k: form.get(k, "") for k in ("display_name", "role")}
    values["department"] = form.get("department") or None
    values["is_active"] = form.get("is_active") == "on"
    if form.get("password"):
        values["password"] = form["password"]
    done = submit(session, gettext, UserUpdate, values,
                  lambda data: service.update_user(session, user_id, data, actor.user), refused=(AppError,))
    if done.ok:
        return redirect(request, "/admin/users", flash="user_updated")
    user = service.to_read(session, service.get_user(session, user_id))
    values.pop("password", None)
    return _form(request, session, values={**user.model_dump(), **values}, errors=done.errors, user=user,
                 status_code=422)
