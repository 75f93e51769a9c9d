"""Map pages: a BPMN file in the bpmn.io viewer (procopt's own export of the as-is map or of an SOP version's
flow, drawn by bpmn-js from `static/vendor/`), and the BPMN import onto a survey or an SOP draft: a preview
listing every element of the file, then the import."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, reads_only, undo_on_error
from app.core.errors import Conflict, PayloadTooLarge, PreconditionFailed, RuleViolation
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.templating import is_htmx, redirect, render
from app.departments.service import list_departments
from app.initiatives.pages import initiative_context
from app.initiatives.service import editable
from app.maps import service
from app.sops import service as sops
from app.users.models import User

router = APIRouter()


def _lang(request: Request) -> str:
    return "zh_CN" if negotiate(request).startswith("zh") else "en"


@router.get("/initiatives/{initiative_id}/map/bpmn")
def survey_map_viewer(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The as-is map's BPMN export, drawn by the bpmn.io viewer."""
    ctx = initiative_context(session, actor.user, initiative_id)
    gettext = gettext_for(negotiate(request))
    ctx.update({"title": gettext("As-is map as BPMN"),
                "bpmn_url": f"/api/v1/initiatives/{initiative_id}/map.bpmn?lang={_lang(request)}",
                "back_url": f"/initiatives/{initiative_id}/map", "back_label": gettext("As-is map")})
    return render(request, "maps/viewer.html", ctx)


@router.get("/sop-versions/{version_id}/flow/bpmn")
def sop_flow_viewer(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """An SOP version's flow as BPMN, drawn by the bpmn.io viewer."""
    v = sops.read_version(session, version_id, actor.user)
    gettext = gettext_for(negotiate(request))
    title, number = gettext("SOP flow as BPMN"), sops.number(v) or gettext("Draft")
    ctx = {"title": f"{title} · {number}",
           "bpmn_url": f"/api/v1/sop-versions/{version_id}/flow.bpmn?lang={_lang(request)}",
           "back_url": f"/sop-versions/{version_id}", "back_label": gettext("SOP version")}
    return render(request, "maps/viewer.html", ctx)


# ---------------------------------------------------------------- import

BpmnUpload = Annotated[UploadFile, File()]


def _preview_view(session: SessionDep, request: Request, p: service.Plan) -> dict[str, Any]:
    """The file's report as the page shows it: every element, what it became or why not, in the reader's
    language; the lanes with the departments they match."""
    gettext = gettext_for(negotiate(request))
    labels = {d.code: d.label(negotiate(request)) for d in list_departments(session)}
    rows = [{"id": n.id, "type": n.type, "name": n.name, "taken": n.taken, "taken_as": n.taken_as,
             "reason": service.reason_text(n, gettext)} for n in p.imported.report]
    return {"name": p.imported.doc.name, "steps": p.imported.doc.steps, "rows": rows,
            "lanes": [{"lane": m.lane, "department": labels.get(m.department or "")} for m in p.lanes],
            "taken": sum(1 for n in p.imported.report if n.taken),
            "not_taken": Counter(n.type for n in p.imported.report if not n.taken).most_common()}


def _import_page(request: Request, session: SessionDep, ctx: dict[str, Any], *, preview: dict[str, Any] | None = None,
                 error: str | None = None, status_code: int = 200) -> Response:
    ctx.update({"preview": preview, "error": error})
    block = "preview" if is_htmx(request) else None
    return render(request, "maps/import.html", ctx, block=block, status_code=status_code)


def _survey_ctx(session: SessionDep, request: Request, actor: User, initiative_id: int) -> dict[str, Any]:
    editable(session, actor, initiative_id)
    ctx = initiative_context(session, actor, initiative_id)
    gettext = gettext_for(negotiate(request))
    base = f"/initiatives/{initiative_id}/survey/bpmn"
    ctx.update({"target": "survey", "title": gettext("Import BPMN onto the survey"), "action": base,
                "preview_action": f"{base}/preview", "back_url": f"/initiatives/{initiative_id}/survey",
                "back_label": gettext("Current-state survey")})
    return ctx


def _sop_ctx(session: SessionDep, request: Request, actor: User, version_id: int) -> dict[str, Any]:
    v = sops.get_version(session, version_id)
    sops.require_edit(session, v, actor)
    gettext = gettext_for(negotiate(request))
    base = f"/sop-versions/{version_id}/steps/bpmn"
    title, number = gettext("Import BPMN as the SOP steps"), sops.number(v) or gettext("Draft")
    return {"target": "sop", "v": v, "version": v.version, "frozen": v.state not in sops.EDITABLE_STATES, "action": base, "preview_action": f"{base}/preview",
            "title": f"{title} · {number}",
            "back_url": f"/sop-versions/{version_id}/edit", "back_label": gettext("Edit the SOP"),
            "steps_now": len(sops.content_of(v).steps)}


@router.get("/initiatives/{initiative_id}/survey/bpmn")
def survey_import_page(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _import_page(request, session, _survey_ctx(session, request, actor.user, initiative_id))


@router.post("/initiatives/{initiative_id}/survey/bpmn/preview")
@reads_only
def survey_import_preview(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                          file: BpmnUpload) -> Response:
    """What the import would take, written nowhere."""
    ctx = _survey_ctx(session, request, actor.user, initiative_id)
    return _previewed(request, session, ctx, file)


@router.post("/initiatives/{initiative_id}/survey/bpmn")
def survey_import(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor, file: BpmnUpload,
                  mode: Annotated[str, Form()] = "append") -> Response:
    ctx = _survey_ctx(session, request, actor.user, initiative_id)
    gettext = gettext_for(negotiate(request))
    try:
        with undo_on_error(session):
            service.import_survey(session, initiative_id, file.file.read(service.MAX_BYTES + 1),
                                  "replace" if mode == "replace" else "append", file.filename or "", actor.user)
    except (RuleViolation, PayloadTooLarge) as exc:
        return _import_page(request, session, ctx, error=exc.translated(gettext), status_code=422)
    return redirect(request, f"/initiatives/{initiative_id}/survey", flash="survey_imported")


@router.get("/sop-versions/{version_id}/steps/bpmn")
def sop_import_page(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _import_page(request, session, _sop_ctx(session, request, actor.user, version_id))


@router.post("/sop-versions/{version_id}/steps/bpmn/preview")
@reads_only
def sop_import_preview(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                       file: BpmnUpload) -> Response:
    ctx = _sop_ctx(session, request, actor.user, version_id)
    return _previewed(request, session, ctx, file)


@router.post("/sop-versions/{version_id}/steps/bpmn")
def sop_import(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, file: BpmnUpload,
               version: Annotated[int, Form()] = -1) -> Response:
    ctx = _sop_ctx(session, request, actor.user, version_id)
    gettext = gettext_for(negotiate(request))
    try:
        with undo_on_error(session):
            service.import_sop(session, version_id, file.file.read(service.MAX_BYTES + 1), actor.user,
                               expected_version=version)
    except PreconditionFailed:
        return _import_page(request, session, ctx, status_code=422, error=gettext(
            "Someone changed the SOP while you were importing: nothing was imported. Look at the draft, then "
            "import again."))
    except (RuleViolation, PayloadTooLarge, Conflict) as exc:
        return _import_page(request, session, ctx, error=exc.translated(gettext), status_code=422)
    return redirect(request, f"/sop-versions/{version_id}/edit#sec-steps", flash="sop_steps_imported")


def _previewed(request: Request, session: SessionDep, ctx: dict[str, Any], file: UploadFile) -> Response:
    gettext = gettext_for(negotiate(request))
    try:
        p = service.plan(session, file.file.read(service.MAX_BYTES + 1))
    except (RuleViolation, PayloadTooLarge) as exc:
        return _import_page(request, session, ctx, error=exc.translated(gettext), status_code=422)
    return _import_page(request, session, ctx, preview=_preview_view(session, request, p))
