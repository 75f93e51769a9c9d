from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_person, require_scope
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.core.work import WorkPage, work_for
from app.users import service
from app.users.schemas import UserCreate, UserPage, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead)
def read_me(session: SessionDep, actor: CurrentActor):
    """The caller's own account (for a service token: the account that created it)."""
    return service.to_read(session, actor.user)


@router.get("/me/work", response_model=WorkPage, dependencies=[require_scope("read")])
def read_my_work(session: SessionDep, actor: CurrentActor):
    """What waits for the caller (the "My work" page's items): SOP reviews to do, their drafts with open
    comments, sign-offs, SOPs due for their periodic review, and what later domains add. Only the caller's
    own work; a service token gets its owner's (it needs the `read` scope)."""
    return work_for(session, actor.user)


@router.get("", response_model=UserPage, dependencies=[require_person()])
def list_users(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
):
    """Accounts, oldest first (administrators and leads)."""
    limit = min(limit, get_settings().page_size_max)
    rows, next_cursor = service.list_users(session, actor.user, limit=limit, cursor=cursor)
    set_link_header(request, response, next_cursor)
    return UserPage(items=[service.to_read(session, u) for u in rows], next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserRead, dependencies=[require_person()])
def create_user(data: UserCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Create an account (administrators)."""
    user = service.create_user(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return service.to_read(session, user)


@router.get("/{user_id}", response_model=UserRead, dependencies=[require_person()])
def read_user(user_id: Id, session: SessionDep, actor: CurrentActor):
    """One account (administrators and leads, or yourself)."""
    if actor.user.id != user_id:
        service.require_manager(actor.user)
    return service.to_read(session, service.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserRead, dependencies=[require_person()])
def update_user(user_id: Id, data: UserUpdate, session: SessionDep, actor: CurrentActor):
    """Change an account's name, department, role, active flag or password (administrators)."""
    return service.to_read(session, service.update_user(session, user_id, data, actor.user))
