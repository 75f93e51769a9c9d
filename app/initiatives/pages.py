"""Initiative pages: list, create, overview (team, phases, gate), settings, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, func, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Conflict, Forbidden, PreconditionFailed, RuleViolation
from app.core.extensions import Section, extend, extends
from app.core.forms import FormData, number, parse_form, service_errors, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import FLASH, N_
from app.core.templating import is_htmx, redirect, render
from app.initiatives import service
from app.initiatives.gates import MESSAGES as GATE_MESSAGES
from app.initiatives.models import PHASES, Initiative, InitiativeStatus, Phase, ProjectRole, Trigger
from app.initiatives.schemas import (
    AdvanceRequest,
    BackToDesignRequest,
    InitiativeCreate,
    InitiativeUpdate,
    MemberCreate,
    MemberUpdate,
    PhaseUpdate,
)
from app.users.models import User

router = APIRouter()
PAGE_SIZE = 25
FLASH.setdefault("initiative_closed", N_("Initiative closed."))
# Sections of the overview whose forms say "saved" when they come back (`?saved=<section>`).
SAVED_SECTIONS = ("team", "phases")
# At most this many related records in a section of another page (the process page); the rest behind a link.
RELATED_ITEMS = 10


def section_saved(request: Request, url: str, section: str, render_section: Callable[[], Response]) -> Response:
    """The answer of a form of one section of a page (`#<section>` on `url`) once it has saved.

    htmx: the section again, rendered by `render_section`, which the form swaps in (`hx-target`) so what
    changed shows at once. A plain post: a redirect to `url?saved=<section>#<section>`. Never a redirect to
    `url#<section>` alone: for htmx (`HX-Redirect`) a URL that differs from the page only in its fragment is
    a jump within the page, nothing is loaded and the change does not show until the page is reloaded."""
    if is_htmx(request):
        return render_section()
    return redirect(request, f"{url}{'&' if '?' in url else '?'}saved={section}#{section}")


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def initiative_context(session: Session, actor: User, initiative_id: Id) -> dict[str, Any]:
    """What every initiative page shows in its header: the initiative, its phases and the caller's rights."""
    ini = service.get_initiative(session, initiative_id)
    return {
        "ini": service.to_read(session, [ini])[0],
        "can_edit": service.can_edit(session, actor, ini),
        "can_manage": service.can_manage(session, actor, ini),
    }


def gate_view(gettext, gate) -> list[dict[str, Any]]:  # noqa: ANN001
    """Gate criteria with their message in the user's language."""
    def text(c) -> str:  # noqa: ANN001
        key = c.message_key
        return gettext(GATE_MESSAGES[key]).format(**c.params) if key in GATE_MESSAGES else c.message
    return [{"code": c.code, "met": c.met, "text": text(c)} for c in gate.criteria]


@router.get("/initiatives")
def initiative_list(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    phase: Annotated[str, Query(max_length=20)] = "",
    mine: Annotated[str, Query(max_length=5)] = "",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    flt = service.InitiativeFilter(
        status=InitiativeStatus(status) if status in InitiativeStatus.__members__ else None,
        phase=Phase(phase) if phase in Phase.__members__ else None,
        member_id=actor.user.id if mine else None, q=q or None)
    rows, next_cursor = service.list_initiatives(session, flt, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "initiatives/list.html", {
        "items": service.to_read(session, rows),
        "next_cursor": next_cursor,
        "filters": {"q": q, "status": status, "phase": phase, "mine": mine},
        "statuses": list(InitiativeStatus),
        "phases": PHASES,
        "can_create": service.can_create(actor.user),
    }, block="more_rows" if cursor else "rows")


def _form(request: Request, session: Session, actor: User, *, values: dict[str, Any], errors: dict[str, str],
          ini: Any = None, status_code: int = 200) -> Response:
    return render(request, "initiatives/form.html", {
        "values": values, "errors": errors, "ini": ini,
        "processes": service.active_processes(session),
        "people": service.candidate_members(session),
        "triggers": list(Trigger),
        "statuses": list(InitiativeStatus),
        "can_pick_leader": actor.role.value in ("admin", "lead"),
    }, block="form", status_code=status_code)


def _create_values(form: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k, "") for k in ("title", "trigger", "goal")}
    for key in ("process_id", "leader_id", "priority_threshold"):
        raw = str(form.get(key) or "").strip()
        if raw:
            values[key] = number(raw)
    if form.get("start_date"):
        values["start_date"] = form["start_date"]
    return values


@router.get("/initiatives/new")
def new_initiative(request: Request, session: SessionDep, actor: CurrentActor,
                   process_id: Annotated[Id | None, Query()] = None) -> Response:
    if not service.can_create(actor.user):
        raise Forbidden("Only leads and administrators start initiatives.")
    return _form(request, session, actor.user, errors={},
                 values={"process_id": process_id, "priority_threshold": 3, "trigger": "inefficiency"})


@router.post("/initiatives/new")
def create_initiative(request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    values = _create_values(form)
    data, errors = parse_form(InitiativeCreate, values, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                ini = service.create_initiative(session, data, actor.user)
        except (RuleViolation, Forbidden) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/initiatives/{ini.id}", flash="initiative_created")
    return _form(request, session, actor.user, values=values, errors=errors, status_code=422)


def _overview(request: Request, session: Session, actor: User, initiative_id: Id, *,
              errors: dict[str, dict[str, str]] | None = None, block: str | None = None,
              status_code: int = 200, override_open: bool = False, saved: str | None = None) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    gate = service.gate(session, initiative_id)
    ctx.update({
        "tab": "overview",
        "gate": gate,
        "criteria": gate_view(_gettext(request), gate),
        "people": service.candidate_members(session) if ctx["can_manage"] else [],
        "roles": list(ProjectRole),
        "errors": errors or {},
        "override_open": override_open,
        "can_see_history": service.can_see_history(session, actor, service.get_initiative(session, initiative_id)),
        "back_to_design_allowed": ctx["ini"].current_phase in service.BACK_TO_DESIGN_FROM,
        "saved": saved,
        # The phases section also brings the header (phase bar, late flags) along, out of band.
        "header_oob": saved == "phases" and block == "phases" and is_htmx(request),
    })
    if block is None or not is_htmx(request):  # later domains' sections (KPIs, event logs): whole pages only
        ctx.update(extend("initiative_overview", session, initiative_id=initiative_id, user=actor))
    return render(request, "initiatives/detail.html", ctx, block=block, status_code=status_code)


@router.get("/initiatives/{initiative_id}")
def initiative_detail(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                      saved: Annotated[str, Query(max_length=20)] = "") -> Response:
    return _overview(request, session, actor.user, initiative_id,
                     saved=saved if saved in SAVED_SECTIONS else None)


def _section_saved(request: Request, session: Session, actor: User, initiative_id: Id, section: str) -> Response:
    return section_saved(request, f"/initiatives/{initiative_id}", section, lambda: _overview(
        request, session, actor, initiative_id, block=section, saved=section))


@router.get("/initiatives/{initiative_id}/edit")
def edit_initiative(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    ini = service.get_initiative(session, initiative_id)
    service.require_manage(session, actor.user, ini)
    read = service.to_read(session, [ini])[0]
    return _form(request, session, actor.user, values=read.model_dump(), errors={}, ini=read)


@router.post("/initiatives/{initiative_id}/edit")
def update_initiative(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                      form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: form.get(k, "") for k in ("title", "trigger", "goal", "status")}
    raw = str(form.get("priority_threshold", "")).strip()
    values["priority_threshold"] = number(raw)
    data, errors = parse_form(InitiativeUpdate, values, gettext)
    expected = version(form)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_initiative(session, initiative_id, data, actor.user, expected_version=expected)
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this initiative while you were editing. "
                                         "Their version is shown below; apply your change again.")}
        except RuleViolation as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/initiatives/{initiative_id}", flash="initiative_updated")
    ini = service.to_read(session, [service.get_initiative(session, initiative_id)])[0]
    shown = ini.model_dump() if expected != ini.version else {**ini.model_dump(), **values}
    return _form(request, session, actor.user, values=shown, errors=errors, ini=ini, status_code=422)


@router.post("/initiatives/{initiative_id}/team")
def add_member(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    gettext = _gettext(request)
    data, errors = parse_form(MemberCreate, {"user_id": number(form.get("user_id")),
                                             "project_role": form.get("project_role", "")}, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.add_member(session, initiative_id, data, actor.user)
        except (RuleViolation, Conflict) as exc:
            errors = service_errors(exc, gettext)
        else:
            return _section_saved(request, session, actor.user, initiative_id, "team")
    return _overview(request, session, actor.user, initiative_id, errors={"team": errors}, block="team",
                     status_code=422)


@router.post("/initiatives/{initiative_id}/team/{member_id}/role")
def change_role(initiative_id: Id, member_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    data, errors = parse_form(MemberUpdate, {"project_role": form.get("project_role", "")}, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_member(session, initiative_id, member_id, data, actor.user,
                                      expected_version=version(form))
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed the team meanwhile; try again.")}
        except RuleViolation as exc:
            errors = service_errors(exc, gettext)
        else:
            return _section_saved(request, session, actor.user, initiative_id, "team")
    return _overview(request, session, actor.user, initiative_id, errors={"team": errors}, block="team",
                     status_code=422)


@router.post("/initiatives/{initiative_id}/team/{member_id}/remove")
def remove_member(initiative_id: Id, member_id: Id, request: Request, session: SessionDep,
                  actor: CurrentActor) -> Response:
    gettext = _gettext(request)
    try:
        with undo_on_error(session):
            service.remove_member(session, initiative_id, member_id, actor.user)
    except RuleViolation as exc:
        return _overview(request, session, actor.user, initiative_id, block="team", status_code=422,
                         errors={"team": service_errors(exc, gettext)})
    return _section_saved(request, session, actor.user, initiative_id, "team")


@router.post("/initiatives/{initiative_id}/phases/{phase}")
def update_phase(initiative_id: Id, phase: Phase, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: form.get(k) or None for k in ("planned_start", "planned_end", "actual_start", "actual_end")}
    values = {k: v for k, v in values.items() if v is not None or k.startswith("actual")}
    data, errors = parse_form(PhaseUpdate, values, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_phase(session, initiative_id, phase, data, actor.user, expected_version=version(form))
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this phase meanwhile; try again.")}
        except RuleViolation as exc:
            errors = service_errors(exc, gettext)
        else:
            return _section_saved(request, session, actor.user, initiative_id, "phases")
    return _overview(request, session, actor.user, initiative_id, errors={f"phase_{phase.value}": errors},
                     block="phases", status_code=422)


@router.post("/initiatives/{initiative_id}/advance")
def advance(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
            form: FormData) -> Response:
    gettext = _gettext(request)
    reason = str(form.get("override_reason", "")).strip()
    data, errors = parse_form(AdvanceRequest, {"override_reason": reason or None}, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.advance(session, initiative_id, data, actor.user, expected_version=version(form))
        except PreconditionFailed:
            errors = {"__all__": gettext("Someone else changed this initiative meanwhile; look again.")}
        except RuleViolation as exc:
            errors = {"__all__": gettext("The gate does not hold yet: see what is missing below.")} \
                if exc.extra.get("overridable") is not None else service_errors(exc, gettext)
        else:
            return redirect(request, f"/initiatives/{initiative_id}", flash="phase_advanced")
    return _overview(request, session, actor.user, initiative_id, errors={"gate": errors}, block="gate",
                     status_code=422, override_open=bool(reason))


@router.post("/initiatives/{initiative_id}/close")
def close_initiative(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                     form: FormData) -> Response:
    """Close the initiative (status completed) from the last phase's gate, where it says to (leader, admins)."""
    gettext = _gettext(request)
    try:
        with undo_on_error(session):
            service.update_initiative(session, initiative_id, InitiativeUpdate(status=InitiativeStatus.completed),
                                      actor.user, expected_version=version(form))
    except PreconditionFailed:
        errors = {"__all__": gettext("Someone else changed this initiative meanwhile; look again.")}
    except RuleViolation as exc:
        errors = service_errors(exc, gettext)
    else:
        return redirect(request, f"/initiatives/{initiative_id}", flash="initiative_closed")
    return _overview(request, session, actor.user, initiative_id, errors={"gate": errors}, block="gate",
                     status_code=422)


@router.post("/initiatives/{initiative_id}/back-to-design")
def back_to_design(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    gettext = _gettext(request)
    data, errors = parse_form(BackToDesignRequest, {"reason": form.get("reason", "")}, gettext)
    if data is not None:
        try:
            with undo_on_error(session):
                service.back_to_design(session, initiative_id, data, actor.user, expected_version=version(form))
        except (PreconditionFailed, RuleViolation) as exc:
            errors = service_errors(exc, gettext)
        else:
            return redirect(request, f"/initiatives/{initiative_id}", flash="phase_back_to_design")
    return _overview(request, session, actor.user, initiative_id, errors={"back": errors}, block="gate",
                     status_code=422)


@router.get("/initiatives/{initiative_id}/history")
def initiative_history(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    records = service.initiative_history(session, initiative_id, actor.user)
    ctx = initiative_context(session, actor.user, initiative_id)
    ctx.update({"records": records, "tab": "history"})
    return render(request, "initiatives/history.html", ctx)


@extends("process_detail")
def _process_initiatives(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page lists the process's initiatives, newest first."""
    rows, _ = service.list_initiatives(session, service.InitiativeFilter(process_id=process_id),
                                       limit=RELATED_ITEMS, cursor=None)
    total = session.exec(select(func.count(col(Initiative.id))).where(Initiative.process_id == process_id)).one()
    return {"sections": [Section("initiatives/_process_section.html", {
        "initiatives": service.to_read(session, rows), "total": total, "process_id": process_id,
        "can_create": service.can_create(user)}, order=10)]}
