"""RACI API: the matrix, its roles and activities, cells, the check, CSV/XLSX export and CSV import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.errors import PayloadTooLarge
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.raci import service
from app.raci.models import RaciActivity, RaciRole
from app.raci.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    CellBatch,
    CellSet,
    ImportResult,
    RaciRead,
    Reorder,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    Violation,
)

router = APIRouter(tags=["raci"])
BASE = "/initiatives/{initiative_id}/raci"
_PROBLEMS = {403: {"description": "Not on the initiative's team"}, 404: {"description": "Not found"},
             422: {"description": "Bad input; nothing changed"}}
READ, WRITE = [require_scope("read")], [require_scope("write")]






@router.get(BASE, response_model=RaciRead, dependencies=READ, responses=_PROBLEMS)
def read_matrix(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """Roles (columns) and activities (rows) in order, and the non-empty cells."""
    return service.to_read(service.matrix(session, initiative_id))


@router.get(BASE + "/check", response_model=list[Violation], response_model_exclude_none=True,
            dependencies=READ, responses=_PROBLEMS)
def check(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor):
    """Violations, errors first: an activity without A, with more than one A, without R; warnings: a role
    without R or A, more than 3 C, everyone involved. Messages in the caller's language."""
    return service.check(service.matrix(session, initiative_id), gettext_for(negotiate(request)))


@router.put(BASE + "/cells", response_model=RaciRead, dependencies=WRITE, responses=_PROBLEMS)
def set_cells(initiative_id: Id, data: CellSet | CellBatch, session: SessionDep, actor: CurrentActor):
    """Set one cell (`{"activity_id", "role_id", "letters"}`) or several (`{"cells": [...]}`), all or none.
    Letters: any of R, A, C, I as a string ("AR") or a list; "" or [] empties the cell."""
    cells = data.cells if isinstance(data, CellBatch) else [data]
    return service.to_read(service.set_cells(session, initiative_id, cells, actor.user))


# ------------------------------------------------------------------ roles

@router.post(BASE + "/roles", status_code=status.HTTP_201_CREATED, response_model=RoleRead, dependencies=WRITE,
             responses=_PROBLEMS)
def create_role(initiative_id: Id, data: RoleCreate, session: SessionDep, actor: CurrentActor):
    """Add a column: a department or position, optionally linked to a team member (`member_user_id`)."""
    return service.create_role(session, initiative_id, data, actor.user)


@router.patch(BASE + "/roles/{role_id}", response_model=RoleRead, dependencies=WRITE, responses=_PROBLEMS)
def update_role(initiative_id: Id, role_id: Id, data: RoleUpdate, session: SessionDep, actor: CurrentActor):
    """Rename a role or change its team member."""
    return service.update_role(session, initiative_id, role_id, data, actor.user)


@router.delete(BASE + "/roles/{role_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=_PROBLEMS)
def delete_role(initiative_id: Id, role_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a role and its cells."""
    service.delete_item(session, RaciRole, initiative_id, role_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(BASE + "/roles/reorder", response_model=list[RoleRead], dependencies=WRITE, responses=_PROBLEMS)
def reorder_roles(initiative_id: Id, data: Reorder, session: SessionDep, actor: CurrentActor):
    """Put every role in a new order (all ids, each once)."""
    return service.reorder(session, RaciRole, initiative_id, data.ids, actor.user)


# ------------------------------------------------------------------ activities

@router.post(BASE + "/activities", status_code=status.HTTP_201_CREATED, response_model=ActivityRead,
             dependencies=WRITE, responses=_PROBLEMS)
def create_activity(initiative_id: Id, data: ActivityCreate, session: SessionDep, actor: CurrentActor):
    """Add a row, last or at `position`; `survey_step_id` links it to a survey step of this initiative."""
    return service.create_activity(session, initiative_id, data, actor.user)


@router.post(BASE + "/activities/from-survey", status_code=status.HTTP_201_CREATED,
             response_model=list[ActivityRead], dependencies=WRITE, responses=_PROBLEMS)
def activities_from_survey(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """One activity per survey step not yet in the matrix, in the survey's order."""
    return service.activities_from_survey(session, initiative_id, actor.user)


@router.patch(BASE + "/activities/{activity_id}", response_model=ActivityRead, dependencies=WRITE,
              responses=_PROBLEMS)
def update_activity(initiative_id: Id, activity_id: Id, data: ActivityUpdate, session: SessionDep,
                    actor: CurrentActor):
    """Rename an activity."""
    return service.update_activity(session, initiative_id, activity_id, data, actor.user)


@router.delete(BASE + "/activities/{activity_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=_PROBLEMS)
def delete_activity(initiative_id: Id, activity_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove an activity and its cells."""
    service.delete_item(session, RaciActivity, initiative_id, activity_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(BASE + "/activities/reorder", response_model=list[ActivityRead], dependencies=WRITE,
             responses=_PROBLEMS)
def reorder_activities(initiative_id: Id, data: Reorder, session: SessionDep, actor: CurrentActor):
    """Put every activity in a new order (all ids, each once)."""
    return service.reorder(session, RaciActivity, initiative_id, data.ids, actor.user)


# ------------------------------------------------------------------ files

@router.get(BASE + "/export", dependencies=READ,
            responses={**_PROBLEMS, 200: {"content": {"text/csv": {}, XLSX_TYPE: {}},
                                          "description": "The matrix as a file"}})
def export(initiative_id: Id, session: SessionDep, actor: CurrentActor, format: ExportFormat = ExportFormat.csv,
           lang: ExportLang = ExportLang.en) -> Response:
    """The matrix as CSV (UTF-8 with BOM) or XLSX: activities down, roles across; imports back as it is."""
    m = service.matrix(session, initiative_id)
    if format == ExportFormat.csv:
        body, media = service.to_csv(m, lang.value), "text/csv; charset=utf-8"
    else:
        body, media = service.to_xlsx(m, lang.value), XLSX_TYPE
    name = f"raci-{initiative_id}.{format.value}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post(BASE + "/import", response_model=ImportResult, dependencies=WRITE,
             responses={**_PROBLEMS, 413: {"description": "File too large"}})
def import_csv(initiative_id: Id, session: SessionDep, actor: CurrentActor,
               file: Annotated[UploadFile, File(description="The matrix as CSV, laid out as the export")]):
    """Import a CSV (all or nothing): roles and activities matched by name, new ones added; a bad letter is
    reported in `errors[]` with its row and column."""
    content = file.file.read(service.MAX_IMPORT_BYTES + 1)
    if len(content) > service.MAX_IMPORT_BYTES:
        raise PayloadTooLarge("The file is larger than 1 MB.")
    return service.import_csv(session, initiative_id, content, actor.user)
