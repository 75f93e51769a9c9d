from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlmodel import Session

from app.auth.deps import CurrentActor, check_reader, presented_credential, require_scope
from app.core.audit import AuditRead
from app.core.config import get_settings
from app.core.db import SessionDep, read_in_thread
from app.core.etag import optional_version, required_version, set_etag
from app.core.ids import Id
from app.core.pagination import set_link_header
from app.core.query import parse_query, query_parameters
from app.processes import service
from app.processes.models import Process, ProcessStatus
from app.processes.schemas import ProcessCreate, ProcessListQuery, ProcessPage, ProcessRead, ProcessUpdate

router = APIRouter(prefix="/processes", tags=["processes"])
ENTITY = "process"
_PROBLEMS = {
    403: {"description": "Your role or ownership does not allow this"},
    404: {"description": "No such process"},
}


def _one(session: Session, response: Response, process: Process) -> ProcessRead:
    set_etag(response, ENTITY, process.id, process.version)
    return service.to_read(session, [process])[0]


@router.get("", response_model=ProcessPage, openapi_extra=query_parameters(ProcessListQuery),
            responses={403: {"description": "The service token lacks the `read` scope"},
                       422: {"description": "A query parameter is not valid (`errors[]` names it)"}})
async def list_processes(request: Request) -> Response:
    """Processes, filtered and sorted, one keyset page at a time (`next_cursor` and `Link: rel=next`).
    Any account may list; service tokens need the `read` scope."""
    # The hottest read (BI tools poll it), so it declares no FastAPI parameters (solving them cost as much
    # as the rest of the request): it reads its query and credential itself, does all its database work,
    # the account check included, in one thread-pool trip, and serialises the page once, from the query's
    # rows (bench/api.py).
    credential = await presented_credential(request)  # first: a stranger learns nothing from a 422
    query = parse_query(request, ProcessListQuery)
    flt = service.ProcessFilter(status=query.status, department=query.department, q=query.q or None,
                                sort=query.sort)
    limit = min(query.limit, get_settings().page_size_max)

    def page(session: Session) -> tuple[list[dict], str | None]:
        check_reader(session, credential, "read")
        return service.list_processes(session, flt, limit=limit, cursor=query.cursor)

    items, next_cursor = await read_in_thread(page)
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
