"""The page shell: home and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse

from app.auth.deps import OptionalActor
from app.core.i18n import LANG_COOKIE, LOCALES

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
