"""Countermeasures (table 2): `/initiatives/{id}/measures` and `/measures/{id}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.etag import required_version, set_etag
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.issues.service import get_issue
from app.measures import service, table2
from app.measures.models import MeasureStatus
from app.measures.schemas import MeasureCreate, MeasurePage, MeasureRead, MeasureUpdate

router = APIRouter(tags=["measures"])
MEASURE = "measure"






def _measure(session, response: Response, measure) -> MeasureRead:  # noqa: ANN001
    set_etag(response, MEASURE, measure.id, measure.version)
    return service.to_read(session, [measure])[0]


@router.get("/initiatives/{initiative_id}/measures", response_model=MeasurePage,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def list_measures(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                  status_: Annotated[MeasureStatus | None, Query(alias="status")] = None,
                  department: Annotated[str | None, Query(max_length=40, description="Department code")] = None,
                  overdue: bool | None = None):
    """The initiative's countermeasures (table 2), oldest first; `overdue` flags those due before today
    (business time zone) that are neither done nor dropped. At most 500 per initiative, so never paginated."""
    flt = service.MeasureFilter(status=status_, department=department or None, overdue=overdue)
    return MeasurePage(items=service.to_read(session, service.list_measures(session, initiative_id, flt)))


@router.post("/initiatives/{initiative_id}/measures", status_code=status.HTTP_201_CREATED,
             response_model=MeasureRead, dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_measure(initiative_id: Id, data: MeasureCreate, session: SessionDep, actor: CurrentActor,
                   response: Response):
    """Plan a countermeasure (team members) for problems of the same initiative."""
    measure = service.create_measure(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/measures/{measure.id}"
    return _measure(session, response, measure)


@router.get("/initiatives/{initiative_id}/measures/export", dependencies=[require_scope("read")],
            responses={**TEAM_PROBLEMS, 200: {"content": {"text/csv": {}, XLSX_TYPE: {}},
                                          "description": "Table 2 as a file"}})
def export_measures(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                    format: ExportFormat = ExportFormat.xlsx, lang: ExportLang = ExportLang.zh_CN) -> Response:
    """Table 2 (optimization plan) as CSV (UTF-8 with BOM) or XLSX, with the method's column names in
    Simplified Chinese or English."""
    ini, code, ctx = service.export_context(session, initiative_id, lang.value)
    rows = service.to_read(session, service.list_measures(session, initiative_id))
    name = f"table2-{code}-{ini.id}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        body, media = table2.to_csv(rows, ctx), "text/csv; charset=utf-8"
    else:
        body, media = table2.to_xlsx(rows, ctx), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/measures/{measure_id}", response_model=MeasureRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_measure(measure_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One countermeasure with its problems, owner, due date, status, overdue flag and expected effect."""
    return _measure(session, response, service.get_measure(session, measure_id))


@router.patch("/measures/{measure_id}", response_model=MeasureRead, dependencies=[require_scope("write")],
              responses=TEAM_PATCH)
def update_measure(measure_id: Id, data: MeasureUpdate, request: Request, session: SessionDep,
                   actor: CurrentActor, response: Response):
    """Change a countermeasure, e.g. its status or progress (team members). Requires `If-Match`."""
    expected = required_version(request, MEASURE, measure_id)
    return _measure(session, response, service.update_measure(session, measure_id, data, actor.user,
                                                              expected_version=expected))


@router.delete("/measures/{measure_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def delete_measure(measure_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a countermeasure (team members)."""
    service.delete_measure(session, measure_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/issues/{issue_id}/measures", response_model=list[MeasureRead], dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def issue_measures(issue_id: Id, session: SessionDep, actor: CurrentActor):
    """The countermeasures that address a problem."""

    get_issue(session, issue_id)
    return service.to_read(session, service.measures_of_issue(session, issue_id))
