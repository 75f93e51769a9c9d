"""The page shell: home, the language switch, and My work (what waits for the signed-in user)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.auth.deps import CurrentActor, OptionalActor
from app.core.db import SessionDep
from app.core.i18n import LANG_COOKIE, LOCALES
from app.core.templating import render
from app.core.work import by_kind, work_for

router = APIRouter()


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@router.get("/")
def home(actor: OptionalActor) -> RedirectResponse:
    return RedirectResponse("/processes" if actor else "/login", status_code=303)


@router.get("/lang")
def switch_language(
    set_: Annotated[str, Query(alias="set")],
    next_: Annotated[str | None, Query(alias="next")] = None,
) -> RedirectResponse:
    response = RedirectResponse(safe_next(next_), status_code=303)
    if set_ in LOCALES:
        response.set_cookie(LANG_COOKIE, set_, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/my-work")
def my_work(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Every kind of work (`app.core.work`) with what of it waits for the signed-in user, and only theirs."""
    groups = by_kind(session, actor.user)
    return render(request, "work/my_work.html", {"groups": groups, "total": sum(len(items) for _, items in groups)})


@router.get("/my-work/count")
def my_work_count(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The navigation's badge, loaded after the page (htmx): how many items wait."""
    return render(request, "work/_count.html", {"total": len(work_for(session, actor.user).items)})
