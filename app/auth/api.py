from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from app.auth import service
from app.auth.deps import CurrentActor, require_person
from app.auth.schemas import ServiceTokenCreate, ServiceTokenCreated, ServiceTokenRead, TokenResponse
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.errors import NotAuthenticated
from app.core.http_errors import problem_response
from app.core.ids import Id
from app.core.security import create_access_token
from app.users.service import end_sessions

router = APIRouter(tags=["auth"])
# Responses carrying a credential must not be stored by any cache (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={401: {"description": "Wrong email or password"},
               429: {"description": "Too many failed logins; see `Retry-After`"}},
)
def issue_token(
    request: Request,
    response: Response,
    session: SessionDep,
    username: Annotated[str, Form(description="The account's email.")],
    password: Annotated[str, Form()],
):
    """OAuth2 password flow: exchange an email and password for a Bearer access token."""
    try:
        user = service.authenticate(session, username, password, client_address(request))
    except NotAuthenticated as exc:
        # Answer without raising so the unit of work commits the recorded failure.
        return problem_response(request, exc)
    minutes = get_settings().access_token_minutes
    response.headers.update(NO_STORE)
    return TokenResponse(access_token=create_access_token(str(user.id), generation=user.token_generation),
                         expires_in=minutes * 60)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_person()])
def logout(session: SessionDep, actor: CurrentActor) -> Response:
    """End the caller's sessions: every access token issued to the account so far (this one, other
    devices' and the login cookie) stops working. Log in again for a new one."""
    end_sessions(session, actor.user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/service-tokens", status_code=status.HTTP_201_CREATED, response_model=ServiceTokenCreated,
             dependencies=[require_person()])
def create_service_token(data: ServiceTokenCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Create a machine credential (administrators). The secret is returned once, in `token`."""
    token, secret = service.create_service_token(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/service-tokens/{token.id}"
    response.headers.update(NO_STORE)
    return ServiceTokenCreated(**ServiceTokenRead.model_validate(token).model_dump(), token=secret)


@router.get("/service-tokens", response_model=list[ServiceTokenRead], dependencies=[require_person()])
def list_service_tokens(session: SessionDep, actor: CurrentActor):
    """All service tokens, without their secrets (administrators)."""
    return service.list_service_tokens(session, actor.user)


@router.delete("/service-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_person()])
def revoke_service_token(token_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Revoke a token: it stops working at once."""
    service.revoke_service_token(session, token_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

