"""Risk register (风险登记): `/processes/{id}/risks` (list, create, heat map, export), `/initiatives/{id}/risks`
(an initiative's), `/risks/{id}` (read, change, delete) and `/risks/{id}/control-points` (the links).

Every operation is for the keepers of the process's register: its owner, administrators and the team (not viewers)
of an initiative on the process, the people who triage its feedback; anyone else gets a 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.etag import required_version, set_etag
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH
from app.core.pagination import set_link_header
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.processes.service import get_process
from app.risks import records, service
from app.risks.models import RiskStatus
from app.risks.schemas import ControlPointLinks, HeatMap, RiskCreate, RiskPage, RiskRead, RiskUpdate

router = APIRouter(tags=["risks"])
RISK = "risk"
KEEPERS = {403: {"description": "Not a keeper of the process's register (its owner, an administrator, the team of "
                                "an initiative on it)"}, 404: {"description": "Not found"}}
KEEPERS_PATCH = {**TEAM_PATCH, **KEEPERS}
Scale = Annotated[int | None, Query(ge=1, le=5)]


def _filter(initiative_id: int | None, status_: RiskStatus | None, flagged: bool | None, likelihood: int | None,
            impact: int | None) -> service.RiskFilter:
    return service.RiskFilter(initiative_id=initiative_id, status=status_, flagged=flagged, likelihood=likelihood,
                              impact=impact)


@router.get("/processes/{process_id}/risks", response_model=RiskPage, dependencies=[require_scope("read")],
            responses=KEEPERS)
def list_risks(process_id: Id, request: Request, response: Response, session: SessionDep, actor: CurrentActor,
               initiative_id: Annotated[Id | None, Query()] = None,
               status_: Annotated[RiskStatus | None, Query(alias="status")] = None,
               flagged: bool | None = None, likelihood: Scale = None, impact: Scale = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None):
    """The process's risks, highest score (likelihood x impact) first, for the keepers of its register (its owner,
    administrators, the team of an initiative on it). Filters: an initiative, a status, whether flagged (a linked
    control point's latest measured compliance is below the risk's threshold), a cell of the heat map (likelihood
    and impact). A seeded risk (`seed`) holds the method's English texts as stored; the pages translate them."""
    rows, next_cursor = service.list_risks(session, process_id, actor.user,
                                           _filter(initiative_id, status_, flagged, likelihood, impact),
                                           limit=limit, cursor=cursor)
    set_link_header(request, response, next_cursor)
    return RiskPage(items=rows, next_cursor=next_cursor)


@router.get("/initiatives/{initiative_id}/risks", response_model=RiskPage, dependencies=[require_scope("read")],
            responses=KEEPERS)
def list_initiative_risks(initiative_id: Id, request: Request, response: Response, session: SessionDep,
                          actor: CurrentActor, status_: Annotated[RiskStatus | None, Query(alias="status")] = None,
                          flagged: bool | None = None, likelihood: Scale = None, impact: Scale = None,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None):
    """The initiative's risks (those of its process that name it; the five method risks are seeded when it is
    created), highest score first, for the keepers of the process's register."""
    rows, next_cursor = service.initiative_risks(session, initiative_id, actor.user,
                                                 _filter(None, status_, flagged, likelihood, impact),
                                                 limit=limit, cursor=cursor)
    set_link_header(request, response, next_cursor)
    return RiskPage(items=rows, next_cursor=next_cursor)


@router.get("/processes/{process_id}/risks/heat-map", response_model=HeatMap, dependencies=[require_scope("read")],
            responses=KEEPERS)
def heat_map(process_id: Id, session: SessionDep, actor: CurrentActor,
             initiative_id: Annotated[Id | None, Query()] = None,
             status_: Annotated[RiskStatus | None, Query(alias="status")] = None, flagged: bool | None = None):
    """Likelihood x impact: the 25 cells with their score, band and how many risks (not closed, unless `status`
    is closed) are in each, for the keepers of the process's register."""
    return service.heat_map(session, process_id, actor.user, _filter(initiative_id, status_, flagged, None, None))


@router.get("/processes/{process_id}/risks/export", dependencies=[require_scope("read")],
            responses={**KEEPERS, 200: {"content": {"text/csv": {}, XLSX_TYPE: {}},
                                        "description": "The process's risk register as a file"}})
def export_risks(process_id: Id, session: SessionDep, actor: CurrentActor,
                 initiative_id: Annotated[Id | None, Query()] = None,
                 status_: Annotated[RiskStatus | None, Query(alias="status")] = None,
                 format: ExportFormat = ExportFormat.xlsx, lang: ExportLang = ExportLang.zh_CN) -> Response:
    """The process's risk register (highest score first, at most 10,000) as CSV (UTF-8 with BOM) or XLSX, with
    column names and values in Simplified Chinese or English (the seeded risks' texts too), for the keepers of
    the register. No cell is ever a formula."""
    process = get_process(session, process_id)
    items, _ = service.list_risks(session, process.id, actor.user, _filter(initiative_id, status_, None, None, None),
                                  limit=10_000)
    name = f"risks-{process.code}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        body, media = records.to_csv(items, lang.value), "text/csv; charset=utf-8"
    else:
        body, media = records.to_xlsx(items, lang.value, f"{process.code} {process.name}"), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/processes/{process_id}/risks", status_code=status.HTTP_201_CREATED, response_model=RiskRead,
             dependencies=[require_scope("write")], responses=KEEPERS)
def create_risk(process_id: Id, data: RiskCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Add a risk to the process's register, for its keepers (its owner, administrators, the team of an initiative
    on it). The initiative must be one of the process, the owner a keeper of the register, the control points
    points of the process's SOP (422 at the field otherwise)."""
    return _one(session, response, service.create_risk(session, process_id, data, actor.user))


def _one(session, response: Response, risk) -> RiskRead:  # noqa: ANN001
    set_etag(response, RISK, risk.id, risk.version)
    return service.to_reads(session, [risk])[0]


@router.get("/risks/{risk_id}", response_model=RiskRead, dependencies=[require_scope("read")], responses=KEEPERS)
def read_risk(risk_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One risk with its linked control points' measured compliance and its flags, for the keepers of its process's
    register. The `ETag` is for `If-Match`."""
    return _one(session, response, service.read_one(session, risk_id, actor.user))


@router.patch("/risks/{risk_id}", response_model=RiskRead, dependencies=[require_scope("write")],
              responses=KEEPERS_PATCH)
def update_risk(risk_id: Id, data: RiskUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Change the fields sent (`control_point_ids`: the links, replaced), for the keepers of the process's register.
    `If-Match` (428 without, 412 when stale)."""
    risk = service.update_risk(session, risk_id, data, actor.user,
                               expected_version=required_version(request, RISK, risk_id))
    return _one(session, response, risk)


@router.put("/risks/{risk_id}/control-points", response_model=RiskRead, dependencies=[require_scope("write")],
            responses=KEEPERS_PATCH)
def set_control_points(risk_id: Id, data: ControlPointLinks, request: Request, session: SessionDep,
                       actor: CurrentActor, response: Response):
    """Link the risk to these control points of the process's SOP (any version's; the flag reads the version in
    force), replacing the links, for the keepers of the register. An id that is not a control point of the
    process's SOP is a 422 at `control_point_ids.<i>`. `If-Match`."""
    risk = service.set_control_points(session, risk_id, data.control_point_ids, actor.user,
                                      expected_version=required_version(request, RISK, risk_id))
    return _one(session, response, risk)


@router.delete("/risks/{risk_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_scope("write")],
               responses=KEEPERS_PATCH)
def delete_risk(risk_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a risk from the register (its audit trail stays), for the keepers of the process's register.
    `If-Match`."""
    service.delete_risk(session, risk_id, actor.user, expected_version=required_version(request, RISK, risk_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
