"""BPMN 2.0 exports of the maps: an initiative's as-is map and an SOP version's flow."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep, reads_only
from app.core.etag import required_version, set_etag
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.spreadsheets import ExportLang
from app.maps import service
from app.maps.schemas import BpmnPreview, SopBpmnImport, SurveyBpmnImport
from app.sops import api as sops_api
from app.sops import service as sops
from app.survey import service as survey
from app.survey.schemas import ImportMode

router = APIRouter(tags=["maps"])
FILE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    413: {"description": "The file is larger than the limit (5 MB)"},
    422: {"description": "Not BPMN 2.0 XML, a DTD or entities, no process, or a step procopt cannot keep; "
                         "nothing is written"}}
BpmnFile = Annotated[UploadFile, File(description="A .bpmn file (BPMN 2.0 XML)")]
BPMN_TYPE = "application/bpmn+xml"
LangQuery = Annotated[ExportLang, Query(description="The language of the names (the other one goes into "
                                                    "`documentation` where procopt has it)")]


@router.get("/initiatives/{initiative_id}/map.bpmn", dependencies=[require_scope("read")], response_class=Response,
            responses={**TEAM_PROBLEMS, **file_answer(BPMN_TYPE, description="The as-is map as BPMN 2.0 XML")})
def survey_map_bpmn(initiative_id: Id, session: SessionDep, actor: CurrentActor,
                    lang: LangQuery = ExportLang.en) -> Response:
    """The initiative's as-is map (its survey steps) as BPMN 2.0 XML with a diagram: one pool, a lane per
    department, start and end events for input and output steps, tasks (service tasks for steps with systems),
    exclusive gateways for decisions, sequence flows in order. procopt's facts of each step (minutes, waiting,
    systems, problem flags) travel in `procopt` extension elements. Opens in Camunda Modeler, bpmn.io,
    Signavio and ARIS. Who: everyone signed in (scope `read`)."""
    doc = service.survey_map(session, initiative_id, service.lang_of(lang))
    return attachment(service.export(doc), BPMN_TYPE, f"initiative-{initiative_id}-as-is.bpmn")


@router.get("/sop-versions/{version_id}/flow.bpmn", dependencies=[require_scope("read")], response_class=Response,
            responses={**TEAM_PROBLEMS, **file_answer(BPMN_TYPE, description="The SOP version's flow as BPMN 2.0")})
def sop_flow_bpmn(version_id: Id, session: SessionDep, actor: CurrentActor,
                  lang: LangQuery = ExportLang.en) -> Response:
    """An SOP version's flow (its steps, with their control points and the version number in `procopt`
    extension elements) as BPMN 2.0 XML with a diagram, a lane per department. Who: those who may read the
    version (everyone signed in for published versions; scope `read`)."""
    doc = service.sop_flow(session, version_id, service.lang_of(lang), actor.user)
    name = f"sop-{doc.sop_version or 'draft'}-{version_id}.bpmn".replace("V", "v")
    return attachment(service.export(doc), BPMN_TYPE, name)


@router.post("/maps/bpmn/preview", response_model=BpmnPreview, dependencies=[require_scope("read")],
             responses=FILE_PROBLEMS)
@reads_only
def preview_bpmn(file: BpmnFile, session: SessionDep, actor: CurrentActor) -> BpmnPreview:
    """Read a BPMN 2.0 file as procopt would import it, writing nothing: its steps in flow order (tasks,
    sub-processes and call activities as activities, branching gateways as decisions, start and end events as
    inputs and outputs), its lanes (departments), and every element of the file, taken or not with the reason
    (boundary events, message flows, data objects, annotations, ...). A file procopt exported restores its own
    facts. XML is parsed by lxml with DTDs, entities and network access off; a file with a DTD is refused.
    Who: everyone signed in (scope `read`)."""
    p = service.plan(session, file.file.read(service.MAX_BYTES + 1))
    return BpmnPreview(name=p.imported.doc.name, lanes=[asdict(m) for m in p.lanes],
                       steps=[asdict(s) for s in p.imported.doc.steps],
                       report=[asdict(n) for n in p.imported.report], counts=p.imported.counts)


@router.post("/initiatives/{initiative_id}/survey/bpmn", response_model=SurveyBpmnImport,
             dependencies=[require_scope("write")],
             responses={**TEAM_PROBLEMS, **FILE_PROBLEMS})
def import_survey_bpmn(initiative_id: Id, session: SessionDep, actor: CurrentActor, file: BpmnFile,
                       mode: ImportMode = ImportMode.append) -> SurveyBpmnImport:
    """Import a BPMN 2.0 file onto the initiative's survey, all or nothing: its steps as `POST
    /maps/bpmn/preview` shows them, `append`ed after the current steps or `replace`-ing them. Lanes become the
    steps' departments where one matches by code or name (either language); a lane none matches is listed with
    `department: null` and its steps keep its name as their role. A file procopt exported restores its facts.
    Who: those who edit the survey (the initiative's team and administrators; scope `write`)."""
    p, steps = service.import_survey(session, initiative_id, file.file.read(service.MAX_BYTES + 1), mode.value,
                                     file.filename or "", actor.user)
    return SurveyBpmnImport(mode=mode.value, imported=len(steps), steps=survey.to_read(session, steps),
                            lanes=[asdict(m) for m in p.lanes], report=[asdict(n) for n in p.imported.report])


@router.post("/sop-versions/{version_id}/steps/bpmn", response_model=SopBpmnImport,
             dependencies=[require_scope("write")],
             responses={**TEAM_PATCH, **FILE_PROBLEMS,
                        409: {"description": "The version's state does not allow it (it is signed or published)"}})
def import_sop_bpmn(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, file: BpmnFile,
                    response: Response) -> SopBpmnImport:
    """Replace the steps of an SOP draft (or a version in review, which starts a new round) with a BPMN 2.0
    file's flow, all or nothing: activities and decisions become steps in flow order, a start event's name the
    next step's inputs, an end event's the previous step's outputs, lanes departments as on the survey import.
    A file exported from this SOP keeps each step's id, so its control points, RACI links, problems and
    countermeasures stay attached; a control point or RACI activity on a step the file does not have is a 422.
    Requires `If-Match` (the version's ETag). Who: those who edit the SOP draft (scope `write`)."""
    expected = required_version(request, sops_api.VERSION, version_id)
    p, v = service.import_sop(session, version_id, file.file.read(service.MAX_BYTES + 1), actor.user,
                              expected_version=expected)
    set_etag(response, sops_api.VERSION, v.id, v.version)
    return SopBpmnImport(version=sops.to_read(session, v),
                         imported=len(sops.content_of(v).steps), lanes=[asdict(m) for m in p.lanes],
                         report=[asdict(n) for n in p.imported.report])
