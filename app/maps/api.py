"""BPMN 2.0 exports of the maps: an initiative's as-is map and an SOP version's flow."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PROBLEMS
from app.core.spreadsheets import ExportLang
from app.maps import service
from app.maps.schemas import BpmnPreview

router = APIRouter(tags=["maps"])
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
             responses={413: {"description": "The file is larger than the limit"},
                        422: {"description": "Not BPMN 2.0 XML, a DTD or entities, or no process"}})
def preview_bpmn(file: Annotated[UploadFile, File(description="A .bpmn file (BPMN 2.0 XML)")],
                 actor: CurrentActor) -> BpmnPreview:
    """Read a BPMN 2.0 file as procopt would import it, writing nothing: its steps in flow order (tasks,
    sub-processes and call activities as activities, branching gateways as decisions, start and end events as
    inputs and outputs), its lanes (departments), and every element of the file, taken or not with the reason
    (boundary events, message flows, data objects, annotations, ...). A file procopt exported restores its own
    facts. XML is parsed by lxml with DTDs, entities and network access off; a file with a DTD is refused.
    Who: everyone signed in (scope `read`)."""
    imported = service.preview(file.file.read(service.MAX_BYTES + 1))
    return BpmnPreview(name=imported.doc.name, lanes=imported.doc.lanes,
                       steps=[asdict(s) for s in imported.doc.steps],
                       report=[asdict(n) for n in imported.report], counts=imported.counts)
