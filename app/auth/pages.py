"""Login, logout and service tokens pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.auth import service
from app.auth.api import NO_STORE, client_address
from app.auth.deps import COOKIE_NAME, CurrentActor, OptionalActor
from app.auth.schemas import ServiceTokenCreate
from app.core.config import get_settings
from app.core.db import SessionDep, undo_on_error
from app.core.errors import AppError, NotAuthenticated, TooManyRequests
from app.core.forms import FormData, parse_form, service_errors
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.security import create_access_token
from app.core.templating import redirect, render
from app.pages import safe_next
from app.users.service import end_sessions

router = APIRouter()


def _secure(request: Request) -> bool:
    forced = get_settings().cookie_secure
    return forced if forced is not None else request.url.scheme == "https"


@router.get("/login")
def login_form(request: Request, actor: OptionalActor, next: str | None = None) -> Response:  # noqa: A002
    if actor is not None:
        return redirect(request, safe_next(next, "/processes"))
    return render(request, "auth/login.html", {"next": safe_next(next, "/processes"), "email": ""})


@router.post("/login")
def login(request: Request, session: SessionDep, form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    email = str(form.get("email", "")).strip()
    target = safe_next(str(form.get("next") or ""), "/processes")
    try:
        user = service.authenticate(session, email, str(form.get("password", "")), client_address(request))
    except TooManyRequests as exc:
        response = render(request, "auth/login.html", {
            "next": target, "email": email,
            "error": gettext("Too many failed logins. Try again in %(minutes)s minutes.")
            % {"minutes": max(1, int(exc.headers["Retry-After"]) // 60)},
        }, status_code=429)
        response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    except NotAuthenticated:
        # Rendered, not raised: the unit of work commits the recorded failure.
        return render(request, "auth/login.html", {
            "next": target, "email": email, "error": gettext("Incorrect email or password."),
        }, status_code=401)
    settings = get_settings()
    response = redirect(request, target, flash="logged_in")
    response.set_cookie(
        COOKIE_NAME,
        create_access_token(str(user.id), generation=user.token_generation),
        max_age=settings.access_token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Log out: the cookie is deleted and its token ended, with every other token of the account (a copy
    of the cookie used as a Bearer token, other browsers)."""
    if actor.token is None:
        end_sessions(session, actor.user.id)
    response = redirect(request, "/login", flash="logged_out")
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


@router.get("/admin/tokens")
def tokens_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    tokens = service.list_service_tokens(session, actor.user)
    return render(request, "auth/tokens.html", {"tokens": tokens, "values": {}, "errors": {}})


@router.post("/admin/tokens")
def create_token(request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    scopes = form.get("scopes", [])
    values = {"name": form.get("name", ""), "scopes": scopes if isinstance(scopes, list) else [scopes]}
    data, errors = parse_form(ServiceTokenCreate, values, gettext)
    secret = None
    if data is not None:
        try:
            with undo_on_error(session):
                _, secret = service.create_service_token(session, data, actor.user)
        except AppError as exc:
            errors = service_errors(exc, gettext)
    tokens = service.list_service_tokens(session, actor.user)
    response = render(request, "auth/tokens.html",
                      {"tokens": tokens, "values": {} if secret else values, "errors": errors, "secret": secret},
                      status_code=422 if errors else 200)
    if secret:
        response.headers.update(NO_STORE)  # the page shows the secret: no cache may keep it
    return response


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(token_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    service.revoke_service_token(session, token_id, actor.user)
    return redirect(request, "/admin/tokens", flash="token_revoked")
