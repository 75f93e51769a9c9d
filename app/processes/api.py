from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from app.auth.deps import CurrentActor, require_scope
from app.core.audit import AuditRead
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.etag import optional_version, required_version, set_etag
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.processes import service
from app.processes.models import Process, ProcessStatus
from app.processes.schemas import (
    ProcessCreate,
    ProcessListQuery,
    ProcessPage,
    ProcessRead,
    ProcessSort,
    ProcessUpdate,
)

router = APIRouter(prefix="/processes", tags=["processes"])
ENTITY = "process"
_STATUSES = tuple(s.value for s in ProcessStatus)
_SORTS = tuple(s.value for s in ProcessSort)
_PROBLEMS = {
    403: {"description": "Your role or ownership does not allow this"},
    404: {"description": "No such process"},
}


def _one(session: Session, response: Response, process: Process) -> ProcessRead:
    set_etag(response, ENTITY, process.id, process.version)
    return service.to_read(session, [process])[0]


class ListQuery(ProcessListQuery):
    """The list's query: `ProcessListQuery` with its two enums as plain strings, which OpenAPI then shows
    inline (an enum is a `$ref`) and the handler passes on without converting."""

    status: Literal[_STATUSES] | None = None  # type: ignore[valid-type]
    sort: Literal[_SORTS] = ProcessSort.code.value  # type: ignore[valid-type]


@router.get("", response_model=ProcessPage, dependencies=[require_scope("read")],
            responses={403: {"description": "The service token lacks the `read` scope"},
                       422: {"description": "A query parameter is not valid (`errors[]` names it)"}})
def list_processes(request: Request, session: SessionDep, actor: CurrentActor,
                   query: Annotated[ListQuery, Query()]) -> Response:
    """Processes, filtered and sorted, one keyset page at a time (`next_cursor` and `Link: rel=next`).
    Any account may list; service tokens need the `read` scope."""
    # FastAPI solves the caller (a dependency) before it validates the query: a stranger gets a 401, not a
    # 422 that tells what the query may hold. The page is serialised once, from the query's rows.
    flt = service.ProcessFilter(status=query.status, department=query.department, q=query.q or None,
                                sort=ProcessSort(query.sort))
    items, next_cursor = service.list_processes(session, flt, limit=min(query.limit, get_settings().page_size_max),
                                                cursor=query.cursor)
    answer = Response(service.page_json(items, next_cursor), media_type="application/json")
    set_link_header(request, answer, next_cursor)
    return answer


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProcessRead,
             dependencies=[require_scope("write")], responses={409: {"description": "Code already used"}})
def create_process(data: ProcessCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Register a process (members, leads and administrators)."""
    process = service.create_process(session, data, actor.user)
    response.headers["Location"] = f"/api/v1/processes/{process.id}"
    return _one(session, response, process)


@router.get("/{process_id}", response_model=ProcessRead, dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def read_process(process_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One process, with its `ETag` for a later `PATCH`."""
    return _one(session, response, service.get_process(session, process_id))


@router.patch(
    "/{process_id}",
    response_model=ProcessRead,
    dependencies=[require_scope("write")],
    responses={**_PROBLEMS, 412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}},
)
def update_process(process_id: Id, data: ProcessUpdate, request: Request, session: SessionDep,
                   actor: CurrentActor, response: Response):
    """Change a process. Requires `If-Match` with the ETag last read."""
    expected = required_version(request, ENTITY, process_id)
    process = service.update_process(session, process_id, data, actor.user, expected_version=expected)
    return _one(session, response, process)


@router.post("/{process_id}/archive", response_model=ProcessRead, dependencies=[require_scope("write")],
             responses=_PROBLEMS)
def archive_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    response: Response):
    """Archive a process (owner, leads, administrators). `If-Match` is honoured when sent."""
    process = service.set_status(session, process_id, ProcessStatus.archived, actor.user,
                                 expected_version=optional_version(request, ENTITY, process_id))
    return _one(session, response, process)


@router.post("/{process_id}/restore", response_model=ProcessRead, dependencies=[require_scope("write")],
             responses=_PROBLEMS)
def restore_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    response: Response):
    """Make an archived process active again."""
    process = service.set_status(session, process_id, ProcessStatus.active, actor.user,
                                 expected_version=optional_version(request, ENTITY, process_id))
    return _one(session, response, process)


@router.get("/{process_id}/history", response_model=list[AuditRead], dependencies=[require_scope("read")],
            responses=_PROBLEMS)
def process_history(process_id: Id, session: SessionDep, actor: CurrentActor):
    """The audit trail of a process, newest first (administrators and leads)."""
    return service.process_history(session, process_id, actor.user)
