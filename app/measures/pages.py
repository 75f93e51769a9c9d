"""Table 2 page: the initiative's countermeasures, filtered, edited in place (htmx row swaps), exported."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import PreconditionFailed, RuleViolation
from app.core.extensions import extends
from app.core.forms import FormData, as_list, number, parse_form, service_errors, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.templating import is_htmx, redirect, render
from app.departments.service import list_departments
from app.initiatives.pages import initiative_context
from app.initiatives.service import can_edit, candidate_members, get_initiative
from app.issues.models import Issue
from app.measures import service
from app.measures.labels import FORM_MESSAGES
from app.measures.models import EffectDirection, MeasureStatus, MeasureType
from app.measures.schemas import MeasureCreate, MeasureRead, MeasureUpdate
from app.measures.table2 import effect_text, num
from app.users.models import User

router = APIRouter()
FIELDS = ("goal", "description", "type", "department", "due_date", "status", "progress_notes", "effect_metric",
          "effect_unit", "effect_baseline", "effect_target", "effect_direction")


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def _values(form: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in FIELDS}
    for key in ("department", "due_date", "effect_baseline", "effect_target", "effect_direction"):
        values[key] = values[key] or None
    values["status"] = values["status"] or "planned"
    values["issue_ids"] = [number(v) for v in as_list(form.get("issue_ids"))]
    values["owner_id"] = number(form.get("owner_id"))
    return values


def _edit_values(read: MeasureRead) -> dict[str, Any]:
    values = read.model_dump()
    values.update(issue_ids=[i.id for i in read.issues], owner_id=read.owner.id if read.owner else None,
                  effect_baseline=num(read.effect_baseline), effect_target=num(read.effect_target))
    return values


def _choices(session: Session, initiative_id: Id) -> dict[str, Any]:
    return {"types": list(MeasureType), "statuses": list(MeasureStatus), "directions": list(EffectDirection),
            "departments": list_departments(session), "people": candidate_members(session),
            "problems": list(session.exec(select(Issue).where(Issue.initiative_id == initiative_id)
                                          .order_by(col(Issue.id))))}


def _page(request: Request, session: Session, actor: User, initiative_id: Id, *, status: str = "",
          department: str = "", overdue: str = "", issue: int | None = None, editing: int | None = None,
          errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
          edit_values: dict[str, Any] | None = None, block: str | None = None, status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    flt = service.MeasureFilter(
        status=MeasureStatus(status) if status in MeasureStatus.__members__ else None,
        department=department or None, overdue={"yes": True, "no": False}.get(overdue))
    ctx.update(_choices(session, initiative_id))
    items = service.to_read(session, service.list_measures(session, initiative_id, flt))
    if editing is not None and edit_values is None:
        edit_values = next((_edit_values(m) for m in items if m.id == editing), None)
    ctx.update({
        "tab": "measures", "items": items, "edit_values": edit_values,
        "filters": {"status": status, "department": department, "overdue": overdue}, "effect": effect_text, "num": num,
        "editing": editing, "errors": errors or {},
        "values": values or {"status": "planned", "issue_ids": [issue] if issue else []},
    })
    return render(request, "measures/table2.html", ctx, block=block, status_code=status_code)


@router.get("/initiatives/{initiative_id}/measures")
def measure_table(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  status: Annotated[str, Query(max_length=20)] = "",
                  department: Annotated[str, Query(max_length=40)] = "",
                  overdue: Annotated[str, Query(max_length=5)] = "",
                  issue: Annotated[Id | None, Query(description="Preselect this problem in the form")] = None,
                  edit: Annotated[Id | None, Query()] = None) -> Response:
    return _page(request, session, actor.user, initiative_id, status=status, department=department,
                 overdue=overdue, issue=issue, editing=edit, block="rows")


@router.post("/initiatives/{initiative_id}/measures/new")
def create_measure(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    gettext = _gettext(request)
    values = _values(form)
    data, errors = parse_form(MeasureCreate, values, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.create_measure(session, initiative_id, data, actor.user)
        except RuleViolation as exc:
            errors = _own_messages(exc, gettext)
        else:
            return redirect(request, f"/initiatives/{initiative_id}/measures", flash="measure_created")
    return _page(request, session, actor.user, initiative_id, errors=errors, values=values,
                 block="new_measure", status_code=422)


def _own_messages(exc: RuleViolation, gettext) -> dict[str, str]:  # noqa: ANN001
    errors = service_errors(exc, gettext)
    for err in exc.errors or []:
        field = (err.get("field") or "").split(".")[0]
        msgid = FORM_MESSAGES.get(err.get("type", ""))
        if msgid and field:
            errors[field] = gettext(msgid)
    return errors


def _row(request: Request, session: Session, actor: User, measure_id: Id, *, editing: bool,
         errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
         status_code: int = 200) -> Response:
    measure = service.get_measure(session, measure_id)
    ini = get_initiative(session, measure.initiative_id)
    read = service.to_read(session, [measure])[0]
    ctx: dict[str, Any] = {"m": read, "can_edit": can_edit(session, actor, ini), "ini": {"id": ini.id},
                           "effect": effect_text, "num": num, "errors": errors or {},
                           "values": values or _edit_values(read)}
    ctx.update(_choices(session, measure.initiative_id))
    template = "measures/_edit_row.html" if editing else "measures/_row.html"
    return render(request, template, ctx, status_code=status_code)


@router.get("/measures/{measure_id}/edit")
def edit_row(measure_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The row as a form (htmx); without htmx, the table with that row open."""
    measure = service.get_measure(session, measure_id)
    if not is_htmx(request):
        return redirect(request, f"/initiatives/{measure.initiative_id}/measures?edit={measure_id}")
    return _row(request, session, actor.user, measure_id, editing=True)


@router.get("/measures/{measure_id}/row")
def show_row(measure_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The row as shown (htmx cancel)."""
    measure = service.get_measure(session, measure_id)
    if not is_htmx(request):
        return redirect(request, f"/initiatives/{measure.initiative_id}/measures")
    return _row(request, session, actor.user, measure_id, editing=False)


@router.post("/measures/{measure_id}/edit")
def update_measure(measure_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    gettext = _gettext(request)
    measure = service.get_measure(session, measure_id)
    initiative_id = measure.initiative_id
    values = _values(form)
    data, errors = parse_form(MeasureUpdate, values, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_measure(session, measure_id, data, actor.user, expected_version=version(form))
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this countermeasure; reload to see the changes.")}
        except RuleViolation as exc:
            errors = _own_messages(exc, gettext)
        else:
            if is_htmx(request):
                return _row(request, session, actor.user, measure_id, editing=False)
            return redirect(request, f"/initiatives/{initiative_id}/measures")
    values["version"] = version(form)
    if is_htmx(request):
        return _row(request, session, actor.user, measure_id, editing=True, errors=errors, values=values,
                    status_code=422)
    return _page(request, session, actor.user, initiative_id, editing=measure_id, errors=errors,
                 edit_values=values, status_code=422)


@router.post("/measures/{measure_id}/delete")
def delete_measure(measure_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    initiative_id = service.delete_measure(session, measure_id, actor.user)
    return redirect(request, f"/initiatives/{initiative_id}/measures", flash="measure_deleted")


@extends("issue_detail")
def _issue_countermeasures(session: Session, issue_id: int) -> dict[str, Any]:
    """The issue page lists the countermeasures that address the problem."""
    return {"countermeasures": service.issue_measure_reads(session, issue_id)}
