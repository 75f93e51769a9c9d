"""Survey pages: table 1 editable in place (htmx), totals, research records (also edited in place),
import/export, the as-is map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import PreconditionFailed, RuleViolation
from app.core.forms import FormData, as_list, number, parse_form, service_errors, split, submit, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.templating import is_htmx, redirect, render
from app.departments.service import list_departments
from app.initiatives.pages import initiative_context
from app.initiatives.service import can_edit, editable, get_initiative
from app.survey import asis_map, service, table1
from app.survey.models import ProblemCategory, ResearchMethod, StepKind
from app.survey.schemas import ResearchCreate, ResearchRead, ResearchUpdate, StepCreate, StepUpdate
from app.users.models import User

router = APIRouter()
STEP_FIELDS = ("name", "kind", "department", "role", "minutes", "waiting_minutes", "systems", "problem_flags",
               "description")


def _step_values(form: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "kind": form.get("kind") or "activity",
        "department": form.get("department") or None,
        "role": form.get("role", ""),
        "minutes": str(form.get("minutes", "")).strip().replace(",", ".") or None,
        "waiting_minutes": str(form.get("waiting_minutes", "")).strip().replace(",", ".") or "0",
        "systems": split(form.get("systems")),
        "problem_flags": as_list(form.get("problem_flags")),
        "description": form.get("description", ""),
    }
    if str(form.get("position", "")).strip():
        values["position"] = number(form.get("position"))
    return values


def _step_names(steps: list) -> dict[int, str]:
    """Each step's label as records show it: "2. Manual review"."""
    return {s.id: f"{s.position}. {s.name}" for s in steps}


def _record_values(form: dict[str, Any]) -> dict[str, Any]:
    return {"method": form.get("method", ""), "conducted_on": form.get("conducted_on") or None,
            "participants": form.get("participants", ""), "findings": form.get("findings", ""),
            "step_ids": [number(v) for v in as_list(form.get("step_ids"))]}


def _record_shown(rec: ResearchRead) -> dict[str, Any]:
    """A stored research record as the values of its edit form (with the version the form expects)."""
    return {"method": rec.method.value, "conducted_on": rec.conducted_on.isoformat(),
            "participants": rec.participants, "findings": rec.findings, "step_ids": rec.step_ids,
            "version": rec.version}


def survey_page(request: Request, session: Session, actor: User, initiative_id: Id, *,
                editing: int | None = None, step_errors: dict[str, str] | None = None,
                step_values: dict[str, Any] | None = None, new_errors: dict[str, str] | None = None,
                new_values: dict[str, Any] | None = None, import_errors: list[dict[str, Any]] | None = None,
                research_errors: dict[str, str] | None = None, research_values: dict[str, Any] | None = None,
                record_editing: int | None = None, record_errors: dict[str, str] | None = None,
                record_values: dict[str, Any] | None = None, block: str | None = None,
                status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    steps = service.to_read(session, service.all_steps(session, initiative_id))
    locale = negotiate(request)
    departments = list_departments(session)
    records = service.records_to_read(session, service.list_records(session, initiative_id, limit=200,
                                                                    cursor=None)[0])
    if record_values is None:
        record_values = next((_record_shown(r) for r in records if r.id == record_editing), None)
    ctx.update({
        "tab": "survey",
        "steps": steps,
        "summary": service.summarize(steps),
        "departments": departments,
        "dept_labels": {d.code: d.label(locale) for d in departments},
        "kinds": list(StepKind),
        "categories": list(ProblemCategory),
        "methods": list(ResearchMethod),
        "editing": editing,
        "step_errors": step_errors or {},
        "step_values": step_values,
        "new_errors": new_errors or {},
        "new_values": new_values or {"kind": "activity"},
        "import_errors": import_errors or [],
        "records": records,
        "step_names": _step_names(steps),
        "research_errors": research_errors or {},
        "research_values": research_values or {},
        "record_editing": record_editing,
        "record_errors": record_errors or {},
        "record_values": record_values or {},
        "export_lang": "zh_CN" if locale.startswith("zh") else "en",
        "num": service.fmt_minutes,
    })
    return render(request, "survey/survey.html", ctx, block=block, status_code=status_code)


@router.get("/initiatives/{initiative_id}/survey")
def survey(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
           edit: Annotated[Id | None, Query()] = None, edit_record: Annotated[Id | None, Query()] = None
           ) -> Response:
    return survey_page(request, session, actor.user, initiative_id, editing=edit, record_editing=edit_record,
                       block="survey")


def _after_change(request: Request, session: Session, actor: User, initiative_id: Id) -> Response:
    if is_htmx(request):
        return survey_page(request, session, actor, initiative_id, block="survey")
    return redirect(request, f"/initiatives/{initiative_id}/survey")


@router.post("/initiatives/{initiative_id}/survey/steps")
def create_step(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    values = _step_values(form)
    done = submit(session, gettext, StepCreate, values,
                  lambda data: service.create_step(session, initiative_id, data, actor.user))
    if done.ok:
        return _after_change(request, session, actor.user, initiative_id)
    return survey_page(request, session, actor.user, initiative_id, new_errors=done.errors, new_values=values,
                       block="survey", status_code=422)


@router.get("/survey/steps/{step_id}/edit")
def edit_step(step_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    step = service.get_step(session, step_id)
    if not is_htmx(request):
        return redirect(request, f"/initiatives/{step.initiative_id}/survey?edit={step_id}#step-{step_id}")
    return survey_page(request, session, actor.user, step.initiative_id, editing=step_id, block="survey")


@router.post("/survey/steps/{step_id}/edit")
def update_step(step_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    step = service.get_step(session, step_id)
    initiative_id = step.initiative_id
    values = _step_values(form)
    values.pop("position", None)
    done = submit(session, gettext, StepUpdate, values,
                  lambda data: service.update_step(session, step_id, data, actor.user, expected_version=version(form)),
                  stale=gettext("Someone else changed this step meanwhile; it is shown again below."))
    if done.ok:
        return _after_change(request, session, actor.user, initiative_id)
    return survey_page(request, session, actor.user, initiative_id, editing=step_id, step_errors=done.errors,
                       step_values=None if done.stale else values, block="survey", status_code=422)


@router.post("/survey/steps/{step_id}/move")
def move_step(step_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
              form: FormData) -> Response:
    position = number(form.get("position"))
    step = service.get_step(session, step_id)
    if isinstance(position, int) and position >= 1:
        service.move_step(session, step_id, position, actor.user)
    return _after_change(request, session, actor.user, step.initiative_id)


@router.post("/survey/steps/{step_id}/delete")
def delete_step(step_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    initiative_id = service.get_step(session, step_id).initiative_id
    service.delete_step(session, step_id, actor.user)
    return _after_change(request, session, actor.user, initiative_id)


@router.post("/initiatives/{initiative_id}/survey/import")
def import_table(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 file: Annotated[UploadFile, File()], mode: Annotated[str, Form()] = "append") -> Response:
    gettext = gettext_for(negotiate(request))
    content = file.file.read(table1.MAX_BYTES + 1)
    try:
        with undo_on_error(session):
            if len(content) > table1.MAX_BYTES:
                raise RuleViolation("The file is larger than 2 MB.", errors=[{"message": "The file is larger than 2 MB."}])
            service.import_table(session, initiative_id, content, file.filename or "",
                                 "replace" if mode == "replace" else "append", actor.user)
    except RuleViolation as exc:
        errors = [{"row": e.get("row"), "column": e.get("column"),
                   "message": gettext(e.get("message") or exc.detail)} for e in (exc.errors or [])] or \
            [{"row": None, "column": None, "message": gettext(exc.detail)}]
        return survey_page(request, session, actor.user, initiative_id, import_errors=errors, status_code=422)
    return redirect(request, f"/initiatives/{initiative_id}/survey", flash="survey_imported")


@router.post("/initiatives/{initiative_id}/research")
def add_record(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    values = _record_values(form)
    done = submit(session, gettext, ResearchCreate, values,
                  lambda data: service.create_record(session, initiative_id, data, actor.user))
    if done.ok:
        if is_htmx(request):
            return survey_page(request, session, actor.user, initiative_id, block="research")
        return redirect(request, f"/initiatives/{initiative_id}/survey#research")
    return survey_page(request, session, actor.user, initiative_id, research_errors=done.errors,
                       research_values=values, block="research", status_code=422)


def _record_row(request: Request, session: Session, actor: User, record_id: Id, *, editing: bool,
                errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                status_code: int = 200) -> Response:
    """One research record for htmx: as shown, or as its edit form."""
    rec = service.records_to_read(session, [service.get_record(session, record_id)])[0]
    ini = get_initiative(session, rec.initiative_id)
    steps = service.all_steps(session, rec.initiative_id)
    ctx: dict[str, Any] = {
        "r": rec,
        "can_edit": can_edit(session, actor, ini),
        "methods": list(ResearchMethod),
        "steps": steps,
        "step_names": _step_names(steps),
        "values": values or _record_shown(rec),
        "errs": errors or {},
    }
    template = "survey/_record_edit.html" if editing else "survey/_record.html"
    return render(request, template, ctx, status_code=status_code)


@router.get("/research-records/{record_id}/edit")
def edit_record(record_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The record as a form (htmx); without htmx, the survey page with that record open."""
    rec = service.get_record(session, record_id)
    editable(session, actor.user, rec.initiative_id)
    if not is_htmx(request):
        return redirect(request, f"/initiatives/{rec.initiative_id}/survey?edit_record={record_id}#record-{record_id}")
    return _record_row(request, session, actor.user, record_id, editing=True)


@router.get("/research-records/{record_id}/row")
def show_record(record_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The record as shown (htmx cancel)."""
    rec = service.get_record(session, record_id)
    if not is_htmx(request):
        return redirect(request, f"/initiatives/{rec.initiative_id}/survey#record-{record_id}")
    return _record_row(request, session, actor.user, record_id, editing=False)


@router.post("/research-records/{record_id}/edit")
def update_record(record_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    gettext = gettext_for(negotiate(request))
    rec = service.get_record(session, record_id)
    initiative_id, dated = rec.initiative_id, rec.conducted_on
    editable(session, actor.user, initiative_id)  # refused before any form is shown again
    values: dict[str, Any] | None = _record_values(form)
    data, errors = parse_form(ResearchUpdate, values, gettext)
    if values["conducted_on"] is None:  # the form always sends every field: an empty date is a missing one
        errors.setdefault("conducted_on", gettext("This field is required."))
        data = None
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_record(session, record_id, data, actor.user, expected_version=version(form))
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this research record meanwhile; it is shown again.")}
            values = None  # the record as it is now, with its current version
        except RuleViolation as exc:
            errors = service_errors(exc, gettext)
        else:
            if not is_htmx(request):
                return redirect(request, f"/initiatives/{initiative_id}/survey#record-{record_id}")
            if data.conducted_on == dated:
                return _record_row(request, session, actor.user, record_id, editing=False)
            # The records are listed by date: show the list again, with this one in its new place.
            response = survey_page(request, session, actor.user, initiative_id, block="research")
            response.headers["HX-Retarget"] = "#research"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
    if values is not None:
        values["version"] = version(form)  # what was typed, still against the version it was typed on
    if is_htmx(request):
        return _record_row(request, session, actor.user, record_id, editing=True, errors=errors, values=values,
                           status_code=422)
    return survey_page(request, session, actor.user, initiative_id, record_editing=record_id,
                       record_errors=errors, record_values=values, status_code=422)


@router.post("/research-records/{record_id}/delete")
def delete_record(record_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    initiative_id = service.get_record(session, record_id).initiative_id
    service.delete_record(session, record_id, actor.user)
    if is_htmx(request):
        return survey_page(request, session, actor.user, initiative_id, block="research")
    return redirect(request, f"/initiatives/{initiative_id}/survey#research")


@router.get("/initiatives/{initiative_id}/map")
def as_is_map(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    ctx = initiative_context(session, actor.user, initiative_id)
    gettext = gettext_for(negotiate(request))
    locale = negotiate(request)
    labels = {d.code: d.label(locale) for d in list_departments(session)}
    steps = service.to_read(session, service.all_steps(session, initiative_id))
    ctx.update({"tab": "map", "map": asis_map.layout(steps, labels, gettext("No department")),
                "summary": service.summarize(steps), "categories": list(ProblemCategory),
                "num": service.fmt_minutes, "label_width": asis_map.LABEL_W})
    return render(request, "survey/map.html", ctx)


@router.get("/initiatives/{initiative_id}/map.svg")
def as_is_map_svg(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The as-is map as an SVG file to download (the page's drawing with its lane labels and styles inside),
    in the user's language."""
    ctx = initiative_context(session, actor.user, initiative_id)
    gettext = gettext_for(negotiate(request))
    locale = negotiate(request)
    labels = {d.code: d.label(locale) for d in list_departments(session)}
    steps = service.to_read(session, service.all_steps(session, initiative_id))
    ctx.update({"map": asis_map.layout(steps, labels, gettext("No department")), "summary": service.summarize(steps),
                "num": service.fmt_minutes, "label_width": asis_map.LABEL_W})
    response = render(request, "survey/map_export.svg", ctx)
    ini = ctx["ini"]
    name = f"asis-map-{ini.process.code}-{ini.id}-{'zh_CN' if locale.startswith('zh') else 'en'}.svg"
    return Response(response.body, media_type="image/svg+xml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Vary": response.headers["Vary"]})
