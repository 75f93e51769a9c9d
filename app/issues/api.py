from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.core.etag import required_version, set_etag
from app.core.ids import Id
from app.core.labels import N_
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.pagination import set_link_header
from app.issues import service
from app.issues.models import IssueStatus, ProblemCategory
from app.issues.schemas import (
    CauseCreate,
    CauseRead,
    CauseUpdate,
    IssueCreate,
    IssuePage,
    IssueRead,
    IssueSort,
    IssueUpdate,
    PriorityMatrix,
    QuadrantFilter,
    WhyCreate,
    WhyRead,
    WhyUpdate,
)

router = APIRouter(tags=["issues"])
ISSUE, CAUSE, WHY = "issue", "issue-cause", "issue-why"


def _issue(session, response: Response, issue) -> IssueRead:  # noqa: ANN001
    set_etag(response, ISSUE, issue.id, issue.version)
    return service.to_read(session, [issue])[0]


@router.get("/initiatives/{initiative_id}/issues", response_model=IssuePage,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def list_issues(
    initiative_id: Id,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    category: ProblemCategory | None = None,
    status_: Annotated[IssueStatus | None, Query(alias="status")] = None,
    quadrant: Annotated[QuadrantFilter | None, Query(description="Quadrant of the priority matrix")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text search in the title")] = None,
    sort: IssueSort = IssueSort.created,
    limit: Annotated[int, Query(ge=1, description="Page size; capped at PAGE_SIZE_MAX")] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """The initiative's problems, filtered, one keyset page at a time (`next_cursor`, `Link: rel=next`).
    `sort=priority` orders by impact x urgency, then impact, then oldest first (unscored last)."""
    flt = service.IssueFilter(category=category, status=status_, quadrant=quadrant, q=q or None, sort=sort)
    rows, next_cursor = service.list_issues(session, initiative_id, flt,
                                            limit=min(limit, get_settings().page_size_max), cursor=cursor)
    set_link_header(request, response, next_cursor)
    return IssuePage(items=service.to_read(session, rows), next_cursor=next_cursor)


@router.post("/initiatives/{initiative_id}/issues", status_code=status.HTTP_201_CREATED, response_model=IssueRead,
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_issue(initiative_id: Id, data: IssueCreate, session: SessionDep, actor: CurrentActor,
                 response: Response):
    """Record a problem (team members), linked to survey steps of the same initiative."""
    issue = service.create_issue(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/issues/{issue.id}"
    return _issue(session, response, issue)


@router.get("/initiatives/{initiative_id}/priority-matrix", response_model=PriorityMatrix,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def priority_matrix(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                    include_resolved: bool = False):
    """Impact x urgency: `do_first` (high, high), `schedule` (high impact, low urgency), `quick_fix`
    (low impact, high urgency), `defer` (low, low); high means >= the initiative's threshold. Within a
    quadrant: impact x urgency descending, then impact descending, then oldest first. Unscored problems
    are listed apart; resolved ones only with `include_resolved=true`."""
    return service.priority_matrix(session, initiative_id, include_resolved=include_resolved)


@router.get("/issues/{issue_id}", response_model=IssueRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_issue(issue_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One problem with its scores, quadrant and linked steps, with its `ETag` for a later `PATCH`."""
    return _issue(session, response, service.get_issue(session, issue_id))


@router.patch("/issues/{issue_id}", response_model=IssueRead, dependencies=[require_scope("write")],
              responses=TEAM_PATCH)
def update_issue(issue_id: Id, data: IssueUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                 response: Response):
    """Change a problem, e.g. score it (team members). Requires `If-Match`."""
    expected = required_version(request, ISSUE, issue_id)
    return _issue(session, response, service.update_issue(session, issue_id, data, actor.user,
                                                          expected_version=expected))


@router.delete("/issues/{issue_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_scope("write")],
               responses=TEAM_PROBLEMS)
def delete_issue(issue_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a problem with its causes and whys (team members)."""
    service.delete_issue(session, issue_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ fishbone

@router.get("/issues/{issue_id}/causes", response_model=list[CauseRead], dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def list_causes(issue_id: Id, session: SessionDep, actor: CurrentActor):
    """The fishbone in tree order: bone by bone (man, machine, material, method, environment), each cause
    followed by its sub-causes (`depth`). At most 200 causes per problem, so never paginated."""
    return service.cause_tree(session, issue_id)


@router.post("/issues/{issue_id}/causes", status_code=status.HTTP_201_CREATED, response_model=CauseRead,
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_cause(issue_id: Id, data: CauseCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Add a cause on a bone, or a sub-cause under `parent_id` (team members)."""
    cause = service.create_cause(session, issue_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/issues/{issue_id}/causes/{cause.id}"
    set_etag(response, CAUSE, cause.id, cause.version)
    return service.cause_read(session, issue_id, cause.id)


@router.get("/issues/{issue_id}/causes/{cause_id}", response_model=CauseRead,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def read_cause(issue_id: Id, cause_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One fishbone cause with its category, parent and root-cause flag."""
    cause = service.cause_read(session, issue_id, cause_id)
    set_etag(response, CAUSE, cause.id, cause.version)
    return cause


@router.patch("/issues/{issue_id}/causes/{cause_id}", response_model=CauseRead,
              dependencies=[require_scope("write")], responses=TEAM_PATCH)
def update_cause(issue_id: Id, cause_id: Id, data: CauseUpdate, request: Request, session: SessionDep,
                 actor: CurrentActor, response: Response):
    """Change a cause: text, root-cause mark, bone, or parent (a cycle is refused). Requires `If-Match`."""
    expected = required_version(request, CAUSE, cause_id)
    cause = service.update_cause(session, issue_id, cause_id, data, actor.user, expected_version=expected)
    set_etag(response, CAUSE, cause.id, cause.version)
    return service.cause_read(session, issue_id, cause.id)


@router.delete("/issues/{issue_id}/causes/{cause_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def delete_cause(issue_id: Id, cause_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a cause and its sub-causes (team members)."""
    service.delete_cause(session, issue_id, cause_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ 5-Whys

@router.get("/issues/{issue_id}/whys", response_model=list[WhyRead], dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def list_whys(issue_id: Id, session: SessionDep, actor: CurrentActor):
    """The 5-Whys chain in order (at most 10 links)."""
    return service.why_reads(session, issue_id)


@router.post("/issues/{issue_id}/whys", status_code=status.HTTP_201_CREATED, response_model=WhyRead,
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_why(issue_id: Id, data: WhyCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Ask the next why (team members); `is_root` ends the chain with its root cause."""
    why = service.create_why(session, issue_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/issues/{issue_id}/whys/{why.id}"
    set_etag(response, WHY, why.id, why.version)
    return WhyRead.model_validate(why, from_attributes=True)


@router.get("/issues/{issue_id}/whys/{why_id}", response_model=WhyRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_why(issue_id: Id, why_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One why -> because link of the problem's 5-Whys chain."""
    why = next((w for w in service.why_reads(session, issue_id) if w.id == why_id), None)
    if why is None:
        raise NotFound(N_("Why {why_id} not found in problem {issue_id}."), params={"why_id": why_id, "issue_id": issue_id})
    set_etag(response, WHY, why.id, why.version)
    return why


@router.patch("/issues/{issue_id}/whys/{why_id}", response_model=WhyRead, dependencies=[require_scope("write")],
              responses=TEAM_PATCH)
def update_why(issue_id: Id, why_id: Id, data: WhyUpdate, request: Request, session: SessionDep,
               actor: CurrentActor, response: Response):
    """Change a why; only the last one may be marked as the root cause. Requires `If-Match`."""
    expected = required_version(request, WHY, why_id)
    why = service.update_why(session, issue_id, why_id, data, actor.user, expected_version=expected)
    set_etag(response, WHY, why.id, why.version)
    return WhyRead.model_validate(why, from_attributes=True)


@router.delete("/issues/{issue_id}/whys/{why_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def delete_why(issue_id: Id, why_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a link from the 5-Whys chain (team members); the chain closes up."""
    service.delete_why(session, issue_id, why_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
