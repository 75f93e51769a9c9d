"""Problem pages: the list with filters, a problem with its fishbone and 5-Whys, the priority matrix board."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Interval
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import NotFound, PreconditionFailed
from app.core.extensions import extend
from app.core.forms import FormData, as_list, number, parse_form, submit, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import INT_MAX, Id
from app.core.labels import N_, label
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang, csv_bytes, workbook_bytes, write_table
from app.core.templating import is_htmx, redirect, render
from app.initiatives.pages import initiative_context, section_saved
from app.initiatives.service import candidate_members, editable
from app.issues import fishbone, service
from app.issues.models import CauseCategory, IssueSource, IssueStatus, ProblemCategory
from app.issues.schemas import (
    CauseCreate,
    CauseRead,
    CauseUpdate,
    IssueCreate,
    IssueSort,
    IssueUpdate,
    QuadrantFilter,
    WhyCreate,
    WhyUpdate,
)
from app.survey.service import all_steps
from app.users.models import User

router = APIRouter()
PAGE_SIZE = 50


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def _choices() -> dict[str, Any]:
    return {"categories": list(ProblemCategory), "sources": list(IssueSource), "statuses": list(IssueStatus),
            "quadrants": list(QuadrantFilter), "bones": list(CauseCategory), "scores": range(1, 6)}


def _issue_values(form: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k, "") for k in ("title", "description", "category", "source", "status")}
    values["status"] = values["status"] or "open"
    values["step_ids"] = [number(v) for v in as_list(form.get("step_ids"))]
    for key in ("impact", "urgency", "owner_id"):
        values[key] = number(form.get(key))
    return values


def _list_page(request: Request, session: Session, actor: User, initiative_id: Id, *, category: str = "",
               status: str = "", quadrant: str = "", sort: str = "created", cursor: str | None = None,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               block: str | None = None, status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    flt = service.IssueFilter(
        category=ProblemCategory(category) if category in ProblemCategory.__members__ else None,
        status=IssueStatus(status) if status in IssueStatus.__members__ else None,
        quadrant=QuadrantFilter(quadrant) if quadrant in QuadrantFilter.__members__ else None,
        sort=IssueSort(sort) if sort in {s.value for s in IssueSort} else IssueSort.created)
    rows, next_cursor = service.list_issues(session, initiative_id, flt, limit=PAGE_SIZE, cursor=cursor)
    ctx.update(_choices())
    ctx.update({
        "tab": "issues", "items": service.to_read(session, rows), "next_cursor": next_cursor,
        "filters": {"category": category, "status": status, "quadrant": quadrant, "sort": flt.sort.value},
        "steps": all_steps(session, initiative_id), "people": candidate_members(session),
        "errors": errors or {}, "values": values or {"status": "open"},
    })
    return render(request, "issues/list.html", ctx, block=block or ("more_rows" if cursor else "rows"),
                  status_code=status_code)


@router.get("/initiatives/{initiative_id}/issues")
def issue_list(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               category: Annotated[str, Query(max_length=20)] = "",
               status: Annotated[str, Query(max_length=30)] = "",
               quadrant: Annotated[str, Query(max_length=20)] = "",
               sort: Annotated[str, Query(max_length=20)] = "created",
               cursor: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    return _list_page(request, session, actor.user, initiative_id, category=category, status=status,
                      quadrant=quadrant, sort=sort, cursor=cursor)


@router.post("/initiatives/{initiative_id}/issues/new")
def create_issue(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    values = _issue_values(form)
    done = submit(session, gettext, IssueCreate, values,
                  lambda data: service.create_issue(session, initiative_id, data, actor.user))
    if done.ok:
        return redirect(request, f"/issues/{done.result.id}", flash="issue_created")
    return _list_page(request, session, actor.user, initiative_id, errors=done.errors, values=values,
                      block="new_issue", status_code=422)


def _detail(request: Request, session: Session, actor: User, issue_id: Id, *, block: str | None = None,
            errors: dict[str, dict[str, str]] | None = None, values: dict[str, Any] | None = None,
            editing_why: int | None = None, moving: int | None = None, move_to: str | None = None,
            status_code: int = 200) -> Response:
    issue = service.get_issue(session, issue_id)
    ctx = initiative_context(session, actor, issue.initiative_id)
    gettext = _gettext(request)
    read = service.to_read(session, [issue])[0]
    causes = service.cause_tree(session, issue_id)
    labels = {c: label("cause_category", c, gettext) for c in CauseCategory}
    move = _move_form(causes, moving, move_to)
    ctx.update(_choices())
    ctx.update({
        "tab": "issues", "issue": read, "causes": causes, "whys": service.why_reads(session, issue_id),
        "fishbone": fishbone.layout(read.title, causes, labels),
        "steps": all_steps(session, issue.initiative_id), "people": candidate_members(session),
        "errors": errors or {}, "values": values or read.model_dump(), "editing_why": editing_why,
        "move": move,
    })
    ctx.update(extend("issue_detail", session, issue_id=issue_id))  # later domains' sections (countermeasures)
    return render(request, "issues/detail.html", ctx, block=block, status_code=status_code)


def _move_form(causes: list[CauseRead], moving: int | None, move_to: str | None) -> dict[str, Any] | None:
    """The open "move" form of one cause: the places it may go (not under itself nor its own sub-causes).

    `causes` is in tree order, so a cause's sub-causes are the deeper ones right after it."""
    index = next((i for i, c in enumerate(causes) if c.id == moving), None)
    if index is None:
        return None
    cause = causes[index]
    excluded = {cause.id}
    for other in causes[index + 1:]:
        if other.depth <= cause.depth:
            break
        excluded.add(other.id)
    current = str(cause.parent_id) if cause.parent_id is not None else cause.category.value
    return {"cause": cause, "excluded": excluded, "selected": move_to or current}


@router.get("/issues/{issue_id}")
def issue_detail(issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 why: Annotated[Id | None, Query()] = None,
                 move: Annotated[int | None, Interval(ge=0, le=INT_MAX),
                               Query(description="The cause whose move form is open; 0: none.")] = None,
                 ) -> Response:
    block = "whys" if why else "fishbone" if move is not None else None
    return _detail(request, session, actor.user, issue_id, editing_why=why, moving=move, block=block)


@router.post("/issues/{issue_id}/edit")
def update_issue(issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    values = _issue_values(form)
    done = submit(session, gettext, IssueUpdate, values,
                  lambda data: service.update_issue(session, issue_id, data, actor.user, expected_version=version(form)),
                  stale=gettext("Someone else changed this problem while you were editing. "
                                "Their version is shown below; apply your change again."))
    if done.ok:
        return redirect(request, f"/issues/{issue_id}", flash="issue_updated")
    return _detail(request, session, actor.user, issue_id, block="issue_form", errors={"issue": done.errors},
                   values=None if done.stale else values, status_code=422)


@router.post("/issues/{issue_id}/delete")
def delete_issue(issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    initiative_id = service.delete_issue(session, issue_id, actor.user)
    return redirect(request, f"/initiatives/{initiative_id}/issues", flash="issue_deleted")


def _fishbone_done(request: Request, session: Session, actor: User, issue_id: Id) -> Response:
    return section_saved(request, f"/issues/{issue_id}", "fishbone",
                         lambda: _detail(request, session, actor, issue_id, block="fishbone"))


@router.post("/issues/{issue_id}/causes")
def add_cause(issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
              form: FormData) -> Response:
    gettext = _gettext(request)
    parent = number(form.get("parent_id"))
    values = {"text": form.get("text", ""), "is_root": bool(form.get("is_root")), "parent_id": parent,
              "category": None if parent else (form.get("category") or None)}
    done = submit(session, gettext, CauseCreate, values,
                  lambda data: service.create_cause(session, issue_id, data, actor.user))
    if done.ok:
        return _fishbone_done(request, session, actor.user, issue_id)
    return _detail(request, session, actor.user, issue_id, block="fishbone", errors={"cause": done.errors},
                   status_code=422)


@router.post("/issues/{issue_id}/causes/{cause_id}/root")
def toggle_root_cause(issue_id: Id, cause_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                      form: FormData) -> Response:
    cause = service.cause_read(session, issue_id, cause_id)
    try:
        with undo_on_error(session):
            service.update_cause(session, issue_id, cause_id, CauseUpdate(is_root=not cause.is_root), actor.user,
                                 expected_version=version(form))
    except PreconditionFailed:
        pass  # someone else changed it first: the fishbone shows it as it is now
    return _fishbone_done(request, session, actor.user, issue_id)


@router.post("/issues/{issue_id}/causes/{cause_id}/move")
def move_cause(issue_id: Id, cause_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    """Move a cause (with its sub-causes) under another cause, or to the top of a bone: `to` is a cause id
    or a bone. The service refuses cycles and too deep a branch; the form then shows why, nothing moved."""
    editable(session, actor.user, service.get_issue(session, issue_id).initiative_id)  # 403 before any 422
    service.cause_read(session, issue_id, cause_id)  # a cause of another problem: 404
    gettext = _gettext(request)
    to = str(form.get("to") or "").strip()
    target = number(to)  # a cause's id; else a bone, or a bad choice
    values: dict[str, Any] = {"parent_id": target} if isinstance(target, int) else {"parent_id": None, "category": to}
    done = submit(session, gettext, CauseUpdate, values,
                  lambda data: service.update_cause(session, issue_id, cause_id, data, actor.user,
                                                    expected_version=version(form)),
                  stale=gettext("Someone else changed this cause meanwhile; it is shown again."))
    if done.ok:
        return _fishbone_done(request, session, actor.user, issue_id)
    return _detail(request, session, actor.user, issue_id, block="fishbone", errors={"move": done.errors},
                   moving=cause_id, move_to=None if done.stale else to or None, status_code=422)


@router.post("/issues/{issue_id}/causes/{cause_id}/delete")
def delete_cause(issue_id: Id, cause_id: Id, request: Request, session: SessionDep,
                 actor: CurrentActor) -> Response:
    service.delete_cause(session, issue_id, cause_id, actor.user)
    return _fishbone_done(request, session, actor.user, issue_id)


def _whys_done(request: Request, session: Session, actor: User, issue_id: Id) -> Response:
    return section_saved(request, f"/issues/{issue_id}", "whys",
                         lambda: _detail(request, session, actor, issue_id, block="whys"))


@router.post("/issues/{issue_id}/whys")
def add_why(issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"question": form.get("question", ""), "answer": form.get("answer", ""),
              "is_root": bool(form.get("is_root"))}
    done = submit(session, gettext, WhyCreate, values,
                  lambda data: service.create_why(session, issue_id, data, actor.user))
    if done.ok:
        return _whys_done(request, session, actor.user, issue_id)
    return _detail(request, session, actor.user, issue_id, block="whys", errors={"why": done.errors},
                   values={"why": values}, status_code=422)


@router.post("/issues/{issue_id}/whys/{why_id}/edit")
def update_why(issue_id: Id, why_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    gettext = _gettext(request)
    values: dict[str, Any] = {k: form[k] for k in ("question", "answer") if k in form}
    if "is_root" in form:
        values["is_root"] = form.get("is_root") == "1"
    done = submit(session, gettext, WhyUpdate, values,
                  lambda data: service.update_why(session, issue_id, why_id, data, actor.user,
                                                  expected_version=version(form)),
                  stale=gettext("Someone else changed this why meanwhile; it is shown again."))
    if done.ok:
        return _whys_done(request, session, actor.user, issue_id)
    return _detail(request, session, actor.user, issue_id, block="whys", errors={f"why{why_id}": done.errors},
                   editing_why=why_id if "question" in values else None, status_code=422)


@router.post("/issues/{issue_id}/whys/{why_id}/delete")
def delete_why(issue_id: Id, why_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    service.delete_why(session, issue_id, why_id, actor.user)
    return _whys_done(request, session, actor.user, issue_id)


def _matrix(request: Request, session: Session, actor: User, initiative_id: Id, *, moved: int | None = None,
            error: str | None = None, status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    ctx.update({"tab": "matrix", "matrix": service.priority_matrix(session, initiative_id), "moved": moved,
                "scores": range(1, 6), "error": error})
    return render(request, "issues/matrix.html", ctx, block="matrix", status_code=status_code)


@router.get("/initiatives/{initiative_id}/matrix")
def matrix(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _matrix(request, session, actor.user, initiative_id)


@router.get("/initiatives/{initiative_id}/matrix/export")
def matrix_export(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  format: ExportFormat = ExportFormat.xlsx, lang: ExportLang = ExportLang.zh_CN) -> Response:
    """The priority matrix as CSV (UTF-8 with BOM) or XLSX, columns and labels in Chinese or English, as the
    board shows it (the API's `/priority-matrix` stays JSON)."""
    ini = initiative_context(session, actor.user, initiative_id)["ini"]
    gettext = gettext_for(lang.value)
    rows = service.matrix_rows(service.priority_matrix(session, initiative_id), gettext)
    name = f"priority-matrix-{ini.process.code}-{ini.id}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        body, media = csv_bytes(rows), "text/csv; charset=utf-8"
    else:
        # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is written, not at start-up
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = gettext("Priority matrix")[:31]
        write_table(ws, f"{gettext('Priority matrix')} - {ini.process.code} {ini.process.name} · {ini.title}", rows,
                    [16, 8, 44, 14, 10, 10, 10, 18], wrap=lambda column: column == 3)
        ws.freeze_panes = "A3"
        body, media = workbook_bytes(wb), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/initiatives/{initiative_id}/matrix/{issue_id}")
def score(initiative_id: Id, issue_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
          form: FormData) -> Response:
    """Change a card's impact or urgency: the board comes back with the card in its new place."""
    gettext = _gettext(request)
    issue = service.get_issue(session, issue_id)
    if issue.initiative_id != initiative_id:
        raise NotFound(N_("Problem {issue_id} not found in initiative {initiative_id}."), params={"issue_id": issue_id, "initiative_id": initiative_id})
    data, errors = parse_form(IssueUpdate, {"impact": number(form.get("impact")),
                                       "urgency": number(form.get("urgency"))}, gettext)
    error = next(iter(errors.values()), None)
    if data is not None:
        try:
            with undo_on_error(session):
                service.update_issue(session, issue_id, data, actor.user, expected_version=version(form))
        except PreconditionFailed:
            error = gettext("Someone else changed this problem meanwhile; the board shows the latest scores.")
    if error is None and not is_htmx(request):
        return redirect(request, f"/initiatives/{initiative_id}/matrix")
    return _matrix(request, session, actor.user, initiative_id, moved=issue_id, error=error,
                   status_code=422 if error else 200)
