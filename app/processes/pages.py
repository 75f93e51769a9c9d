"""Process registry pages: list with live search, create/edit forms, detail, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Conflict, Forbidden, PreconditionFailed, RuleViolation
from app.core.extensions import extend
from app.core.forms import FormData, parse_form, service_errors, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.templating import redirect, render
from app.departments.service import list_departments
from app.processes import service
from app.processes.models import ProcessStatus
from app.processes.schemas import ProcessCreate, ProcessRead, ProcessSort, ProcessUpdate

router = APIRouter(prefix="/processes")
PAGE_SIZE = 25


@router.get("")
def process_list(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query()] = "",
    department: Annotated[str, Query(max_length=40)] = "",
    sort: ProcessSort = ProcessSort.code,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    status_value = ProcessStatus(status) if status in ProcessStatus.__members__ else None
    flt = service.ProcessFilter(status=status_value, department=department or None, q=q or None, sort=sort)
    rows, next_cursor = service.list_processes(session, flt, limit=PAGE_SIZE, cursor=cursor)
    context = {
        "items": service.reads(rows),
        "next_cursor": next_cursor,
        "filters": {"q": q, "status": status, "department": department, "sort": sort.value},
        "departments": list_departments(session),
        "statuses": list(ProcessStatus),
        "can_create": service.can_create(actor.user),
    }
    # Live search and "more" ask for the rows only; a "more" request appends.
    block = "more_rows" if cursor else "rows"
    return render(request, "processes/list.html", context, block=block)


def _form_values(form: dict[str, Any]) -> dict[str, Any]:
    departments = form.get("departments", [])
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "owner_department": form.get("owner_department") or None,
        "departments": departments if isinstance(departments, list) else [departments],
    }
    if "code" in form:
        values["code"] = form["code"]
    return values


def _form(request: Request, session: Session, *, values: dict[str, Any], errors: dict[str, str],
          process: ProcessRead | None = None, status_code: int = 200) -> Response:
    return render(request, "processes/form.html", {
        "values": values,
        "errors": errors,
        "process": process,
        "departments": list_departments(session),
    }, block="form", status_code=status_code)


@router.get("/new")
def new_process(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    if not service.can_create(actor.user):
        raise Forbidden("Viewers cannot create processes.")
    return _form(request, session, values={"departments": []}, errors={})


@router.post("/new")
def create_process(request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    values = _form_values(form)
    data, errors = parse_form(ProcessCreate, values, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                process = service.create_process(session, data, actor.user)
        except (RuleViolation, Conflict) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/processes/{process.id}", flash="process_created")
    return _form(request, session, values=values, errors=errors, status_code=422)


@router.get("/{process_id}")
def process_detail(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    process = service.get_process(session, process_id)
    return render(request, "processes/detail.html", {
        "p": service.to_read(session, [process])[0],
        "can_edit": service.can_edit(actor.user, process),
        "can_see_history": service.can_see_history(actor.user),
        "departments": {d.code: d for d in list_departments(session)},
        # What the later domains relate to the process (its initiatives, KPIs, event logs): their sections.
        **extend("process_detail", session, process_id=process.id, user=actor.user),
    })


@router.get("/{process_id}/edit")
def edit_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    process = service.get_process(session, process_id)
    if not service.can_edit(actor.user, process):
        raise Forbidden("Only the process owner, leads and administrators may change this process.")
    read = service.to_read(session, [process])[0]
    return _form(request, session, values=read.model_dump(), errors={}, process=read)


@router.post("/{process_id}/edit")
def update_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    values = _form_values(form)
    values.pop("code", None)
    data, errors = parse_form(ProcessUpdate, values, gettext)
    expected = version(form)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_process(session, process_id, data, actor.user, expected_version=expected)
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this process while you were editing. "
                                         "Their version is shown below; apply your change again.")}
        except (RuleViolation, Conflict) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/processes/{process_id}", flash="process_updated")
    read = service.to_read(session, [service.get_process(session, process_id)])[0]
    shown = read.model_dump() if expected != read.version else {**read.model_dump(), **values}
    return _form(request, session, values=shown, errors=errors, process=read, status_code=422)


@router.post("/{process_id}/archive")
def archive_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    service.set_status(session, process_id, ProcessStatus.archived, actor.user, expected_version=None)
    return redirect(request, f"/processes/{process_id}", flash="process_archived")


@router.post("/{process_id}/restore")
def restore_process(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    service.set_status(session, process_id, ProcessStatus.active, actor.user, expected_version=None)
    return redirect(request, f"/processes/{process_id}", flash="process_restored")


@router.get("/{process_id}/history")
def process_history(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    records = service.process_history(session, process_id, actor.user)
    p = service.to_read(session, [service.get_process(session, process_id)])[0]
    return render(request, "processes/history.html", {"p": p, "records": records})

