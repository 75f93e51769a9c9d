from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from app.auth.deps import CurrentActor, require_scope
from app.core.audit import AuditRead
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.etag import optional_version, required_version, set_etag
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.initiatives import service
from app.initiatives.models import Initiative, InitiativeStatus, Phase
from app.initiatives.schemas import (
    AdvanceRequest,
    BackToDesignRequest,
    GateRead,
    InitiativeCreate,
    InitiativePage,
    InitiativeRead,
    InitiativeUpdate,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    PhaseRead,
    PhaseUpdate,
)

router = APIRouter(prefix="/initiatives", tags=["initiatives"])
ENTITY, MEMBER, PHASE = "initiative", "initiative-member", "initiative-phase"
_PROBLEMS = {403: {"description": "Not on the team, or not its leader"},
             404: {"description": "No such initiative"}}
_PATCH = {**_PROBLEMS, 412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}}
_GATE = {**_PROBLEMS, 422: {"description": "The gate does not hold: `errors[]` lists every unmet criterion"}}


def _one(session: Session, response: Response, ini: Initiative) -> InitiativeRead:
    set_etag(response, ENTITY, ini.id, ini.version)
    return service.to_read(session, [ini])[0]


@router.get("", response_model=InitiativePage, dependencies=[require_scope("read")])
def list_initiatives(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    status_: Annotated[InitiativeStatus | None, Query(alias="status")] = None,
    phase: Phase | None = None,
    process_id: Annotated[Id | None, Query()] = None,
    mine: Annotated[bool, Query(description="Only initiatives whose team includes me")] = False,
    q: Annotated[str | None, Query(max_length=200, description="Text search in the title")] = None,
    limit: Annotated[int, Query(ge=1, description="Page size; capped at PAGE_SIZE_MAX")] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """Initiatives, newest first, one keyset page at a time (`next_cursor` and `Link: rel=next`)."""
    flt = service.InitiativeFilter(status=status_, phase=phase, process_id=process_id,
                                   member_id=actor.user.id if mine else None, q=q or None)
    rows, next_cursor = service.list_initiatives(session, flt, limit=min(limit, get_settings().page_size_max),
                                                 cursor=cursor)
    set_link_header(request, response, next_cursor)
    return InitiativePage(items=service.to_read(session, rows), next_cursor=next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InitiativeRead,
             dependencies=[require_scope("write")], responses={403: {"description": "Leads and administrators only"}})
def create_initiative(data: InitiativeCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Start an initiative on a process (leads and administrators). The caller leads it unless `leader_id`
    names someone else; the six phases are planned from `start_date` with the method's durations."""
    ini = service.create_initiative(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/initiatives/{ini.id}"
    return _one(session, response, ini)


@router.get("/{initiative_id}", response_model=InitiativeRead, dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def read_initiative(initiative_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One initiative with its team and phases (current phase, late flags), and its `ETag`."""
    return _one(session, response, service.get_initiative(session, initiative_id))


@router.patch("/{initiative_id}", response_model=InitiativeRead, dependencies=[require_scope("write")],
              responses=_PATCH)
def update_initiative(initiative_id: Id, data: InitiativeUpdate, request: Request, session: SessionDep,
                      actor: CurrentActor, response: Response):
    """Change title, trigger, goal, status or priority threshold (leader, administrators). Requires `If-Match`."""
    expected = required_version(request, ENTITY, initiative_id)
    ini = service.update_initiative(session, initiative_id, data, actor.user, expected_version=expected)
    return _one(session, response, ini)


@router.get("/{initiative_id}/history", response_model=list[AuditRead], dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def initiative_history(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """The audit trail (settings, team, phases, gate overrides with their reasons), newest first."""
    return service.initiative_history(session, initiative_id, actor.user)


# ------------------------------------------------------------------ team

@router.get("/{initiative_id}/team", response_model=list[MemberRead], dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def list_team(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """The team: the leader first (at most 50 members, so never paginated)."""
    return service.team(session, initiative_id)


@router.post("/{initiative_id}/team", status_code=status.HTTP_201_CREATED, response_model=MemberRead,
             dependencies=[require_scope("write")], responses={**_PROBLEMS, 409: {"description": "Already a member"}})
def add_member(initiative_id: Id, data: MemberCreate, session: SessionDep, actor: CurrentActor,
               response: Response):
    """Add a member (leader, administrators). Adding a `leader` hands the leadership over."""
    m = service.add_member(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/initiatives/{initiative_id}/team/{m.id}"
    set_etag(response, MEMBER, m.id, m.version)
    return service.member(session, initiative_id, m.id)


@router.get("/{initiative_id}/team/{member_id}", response_model=MemberRead,
            dependencies=[require_scope("read")], responses=_PROBLEMS)
def read_member(initiative_id: Id, member_id: Id, session: SessionDep, actor: CurrentActor,
                response: Response):
    """One member of the initiative's team."""
    m = service.member(session, initiative_id, member_id)
    set_etag(response, MEMBER, m.id, m.version)
    return m


@router.patch("/{initiative_id}/team/{member_id}", response_model=MemberRead,
              dependencies=[require_scope("write")], responses=_PATCH)
def update_member(initiative_id: Id, member_id: Id, data: MemberUpdate, request: Request,
                  session: SessionDep, actor: CurrentActor, response: Response):
    """Change a member's project role (leader, administrators). Requires `If-Match`."""
    expected = required_version(request, MEMBER, member_id)
    m = service.update_member(session, initiative_id, member_id, data, actor.user, expected_version=expected)
    set_etag(response, MEMBER, m.id, m.version)
    return service.member(session, initiative_id, m.id)


@router.delete("/{initiative_id}/team/{member_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=_PROBLEMS)
def remove_member(initiative_id: Id, member_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a member (not the leader) (leader, administrators)."""
    service.remove_member(session, initiative_id, member_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ phases

@router.get("/{initiative_id}/phases/{phase}", response_model=PhaseRead, dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def read_phase(initiative_id: Id, phase: Phase, session: SessionDep, actor: CurrentActor, response: Response):
    """One phase of the initiative with its planned and actual dates and whether it is late."""
    row = service.phase_row(session, initiative_id, phase)
    set_etag(response, PHASE, row.id, row.version)
    return service.phase_read(session, initiative_id, phase)


@router.patch("/{initiative_id}/phases/{phase}", response_model=PhaseRead, dependencies=[require_scope("write")],
              responses=_PATCH)
def update_phase(initiative_id: Id, phase: Phase, data: PhaseUpdate, request: Request, session: SessionDep,
                 actor: CurrentActor, response: Response):
    """Change a phase's planned (or actual) dates (leader, administrators). Requires `If-Match`."""
    row = service.phase_row(session, initiative_id, phase)
    expected = required_version(request, PHASE, row.id)
    row = service.update_phase(session, initiative_id, phase, data, actor.user, expected_version=expected)
    set_etag(response, PHASE, row.id, row.version)
    return service.phase_read(session, initiative_id, phase)


@router.get("/{initiative_id}/gate", response_model=GateRead, dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def read_gate(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """The current phase's gate: each criterion and whether it holds."""
    return service.gate(session, initiative_id)


@router.post("/{initiative_id}/advance", response_model=InitiativeRead, dependencies=[require_scope("write")],
             responses=_GATE)
def advance(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor, response: Response,
            data: AdvanceRequest | None = None):
    """Move to the next phase when the gate holds (leader, administrators); otherwise 422 listing every
    unmet criterion. Send `override_reason` to advance anyway: the reason is kept in the audit log.
    `If-Match` is honoured when sent."""
    ini = service.advance(session, initiative_id, data or AdvanceRequest(), actor.user,
                          expected_version=optional_version(request, ENTITY, initiative_id))
    return _one(session, response, ini)


@router.post("/{initiative_id}/back-to-design", response_model=InitiativeRead,
             dependencies=[require_scope("write")], responses=_GATE)
def back_to_design(initiative_id: Id, data: BackToDesignRequest, request: Request, session: SessionDep,
                   actor: CurrentActor, response: Response):
    """A failed pilot (or a quarterly review) returns to design (leader, administrators); the reason is
    audited and phases 3-6 are planned again from today."""
    ini = service.back_to_design(session, initiative_id, data, actor.user,
                                 expected_version=optional_version(request, ENTITY, initiative_id))
    return _one(session, response, ini)
