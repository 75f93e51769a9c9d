from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status

from app.auth.deps import CurrentActor, require_scope
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.errors import PayloadTooLarge
from app.core.etag import required_version, set_etag
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.pagination import set_link_header
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.survey import asis_map, service, table1
from app.survey.schemas import (
    ImportMode,
    ImportResult,
    ResearchCreate,
    ResearchPage,
    ResearchRead,
    ResearchUpdate,
    StepCreate,
    StepMove,
    StepOrder,
    StepPage,
    StepRead,
    StepUpdate,
    SurveySummary,
)

router = APIRouter(tags=["survey"])
STEP, RECORD = "survey-step", "research-record"






def _limit(limit: int) -> int:
    return min(limit, get_settings().page_size_max)


# ------------------------------------------------------------------ steps

@router.get("/initiatives/{initiative_id}/survey/steps", response_model=StepPage,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def list_steps(initiative_id: Id, request: Request, response: Response, session: SessionDep,
               actor: CurrentActor, limit: Annotated[int, Query(ge=1)] = 200,
               cursor: Annotated[str | None, Query(max_length=1000)] = None):
    """The survey steps in order (keyset pages by position)."""
    rows, next_cursor = service.list_steps(session, initiative_id, limit=_limit(limit), cursor=cursor)
    set_link_header(request, response, next_cursor)
    return StepPage(items=service.to_read(session, rows), next_cursor=next_cursor)


@router.post("/initiatives/{initiative_id}/survey/steps", status_code=status.HTTP_201_CREATED,
             response_model=StepRead, dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_step(initiative_id: Id, data: StepCreate, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Add a step (team members): last, or at `position` (the steps after it move down)."""
    step = service.create_step(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/survey/steps/{step.id}"
    set_etag(response, STEP, step.id, step.version)
    return service.to_read(session, [step])[0]


@router.post("/initiatives/{initiative_id}/survey/steps/reorder", response_model=list[StepRead],
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def reorder_steps(initiative_id: Id, data: StepOrder, session: SessionDep, actor: CurrentActor):
    """Put every step in a new order (all the initiative's step ids, each once)."""
    return service.to_read(session, service.reorder(session, initiative_id, data.step_ids, actor.user))


@router.get("/survey/steps/{step_id}", response_model=StepRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_step(step_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One survey step (table 1 row), with its `ETag` for a later `PATCH`."""
    step = service.get_step(session, step_id)
    set_etag(response, STEP, step.id, step.version)
    return service.to_read(session, [step])[0]


@router.patch("/survey/steps/{step_id}", response_model=StepRead, dependencies=[require_scope("write")],
              responses=TEAM_PATCH)
def update_step(step_id: Id, data: StepUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Change a step (team members). Requires `If-Match`."""
    expected = required_version(request, STEP, step_id)
    step = service.update_step(session, step_id, data, actor.user, expected_version=expected)
    set_etag(response, STEP, step.id, step.version)
    return service.to_read(session, [step])[0]


@router.post("/survey/steps/{step_id}/move", response_model=StepRead, dependencies=[require_scope("write")],
             responses=TEAM_PROBLEMS)
def move_step(step_id: Id, data: StepMove, session: SessionDep, actor: CurrentActor, response: Response):
    """Move a step to another position (team members)."""
    step = service.move_step(session, step_id, data.position, actor.user)
    set_etag(response, STEP, step.id, step.version)
    return service.to_read(session, [step])[0]


@router.delete("/survey/steps/{step_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def delete_step(step_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a step (team members); the steps after it move up."""
    service.delete_step(session, step_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/initiatives/{initiative_id}/survey/summary", response_model=SurveySummary,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def survey_summary(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """Totals: working and waiting minutes, per department, share of waiting, steps flagged per category."""
    return service.summary(session, initiative_id)


@router.get("/initiatives/{initiative_id}/survey/map", response_model=asis_map.AsIsMap,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def survey_map(initiative_id: Id, session: SessionDep, actor: CurrentActor,
               lang: ExportLang = ExportLang.en):
    """The as-is map's layout: a lane per department, one column per step, with SVG coordinates and paths."""
    _, _, ctx = service.export_context(session, initiative_id, lang.value)
    steps = service.to_read(session, service.all_steps(session, initiative_id))
    return asis_map.layout(steps, ctx.department_labels, "未指定" if lang == ExportLang.zh_CN else "Unassigned")


@router.get("/initiatives/{initiative_id}/survey/export", dependencies=[require_scope("read")],
            responses={**TEAM_PROBLEMS, 200: {"content": {"text/csv": {}, XLSX_TYPE: {}},
                                          "description": "Table 1 as a file"}})
def export_table(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                 format: ExportFormat = ExportFormat.xlsx, lang: ExportLang = ExportLang.zh_CN) -> Response:
    """Table 1 (current-state survey) as CSV (UTF-8 with BOM) or XLSX, with the method's column names
    in Simplified Chinese or English. Opens in Excel and WPS; imports back as it is."""
    ini, process, ctx = service.export_context(session, initiative_id, lang.value)
    steps = service.to_read(session, service.all_steps(session, initiative_id))
    name = f"table1-{process.code}-{ini.id}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        body, media = table1.to_csv(steps, ctx), "text/csv; charset=utf-8"
    else:
        body, media = table1.to_xlsx(steps, ctx, service.summarize(steps)), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/initiatives/{initiative_id}/survey/import", response_model=ImportResult,
             dependencies=[require_scope("write")],
             responses={**TEAM_PROBLEMS, 413: {"description": "File too large"},
                        422: {"description": "Bad rows: `errors[]` names each row and column; nothing imported"}})
def import_table(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                 file: Annotated[UploadFile, File(description="Table 1 as .csv or .xlsx")],
                 mode: ImportMode = ImportMode.append):
    """Import table 1 (team members): all rows or none. `append` adds the steps after the current ones,
    `replace` deletes the current steps first (with their links to problems and research)."""
    content = file.file.read(table1.MAX_BYTES + 1)
    if len(content) > table1.MAX_BYTES:
        raise PayloadTooLarge(f"The file is larger than {table1.MAX_BYTES // (1024 * 1024)} MB.")
    steps = service.import_table(session, initiative_id, content, file.filename or "", mode.value, actor.user)
    return ImportResult(mode=mode.value, imported=len(steps), steps=service.to_read(session, steps))


# ------------------------------------------------------------------ research records

@router.get("/initiatives/{initiative_id}/research-records", response_model=ResearchPage,
            dependencies=[require_scope("read")], responses=TEAM_PROBLEMS)
def list_records(initiative_id: Id, request: Request, response: Response, session: SessionDep,
                 actor: CurrentActor, limit: Annotated[int, Query(ge=1)] = 50,
                 cursor: Annotated[str | None, Query(max_length=1000)] = None):
    """Interviews, observations, questionnaires and data analyses, newest first."""
    rows, next_cursor = service.list_records(session, initiative_id, limit=_limit(limit), cursor=cursor)
    set_link_header(request, response, next_cursor)
    return ResearchPage(items=service.records_to_read(session, rows), next_cursor=next_cursor)


@router.post("/initiatives/{initiative_id}/research-records", status_code=status.HTTP_201_CREATED,
             response_model=ResearchRead, dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def create_record(initiative_id: Id, data: ResearchCreate, session: SessionDep, actor: CurrentActor,
                  response: Response):
    """Record research (team members), linked to the steps it concerns (steps of this initiative only)."""
    rec = service.create_record(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/research-records/{rec.id}"
    set_etag(response, RECORD, rec.id, rec.version)
    return service.records_to_read(session, [rec])[0]


@router.get("/research-records/{record_id}", response_model=ResearchRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_record(record_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One research record (interview, observation, questionnaire or data analysis) and its linked steps."""
    rec = service.get_record(session, record_id)
    set_etag(response, RECORD, rec.id, rec.version)
    return service.records_to_read(session, [rec])[0]


@router.patch("/research-records/{record_id}", response_model=ResearchRead,
              dependencies=[require_scope("write")], responses=TEAM_PATCH)
def update_record(record_id: Id, data: ResearchUpdate, request: Request, session: SessionDep,
                  actor: CurrentActor, response: Response):
    """Change a research record (team members). Requires `If-Match`."""
    expected = required_version(request, RECORD, record_id)
    rec = service.update_record(session, record_id, data, actor.user, expected_version=expected)
    set_etag(response, RECORD, rec.id, rec.version)
    return service.records_to_read(session, [rec])[0]


@router.delete("/research-records/{record_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def delete_record(record_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Delete a research record (team members)."""
    service.delete_record(session, record_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
