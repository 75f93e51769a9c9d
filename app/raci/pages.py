"""RACI page: the matrix edited in place (htmx), violations on their row or column, each role's load,
CSV/XLSX export and CSV import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from app.auth.deps import CurrentActor
from app.core.db import SessionDep
from app.core.errors import NotFound, RuleViolation
from app.core.forms import FormData
from app.core.i18n import gettext_for, negotiate
from app.core.templating import is_htmx, redirect, render
from app.initiatives.pages import initiative_context
from app.raci import service
from app.raci.models import LETTERS, RaciActivity, RaciRole
from app.raci.schemas import ActivityCreate, ActivityUpdate, RoleCreate, RoleUpdate
from app.users.models import User

router = APIRouter()
KINDS: dict[str, type[RaciRole] | type[RaciActivity]] = {"roles": RaciRole, "activities": RaciActivity}


def raci_page(request: Request, session: Session, actor: User, initiative_id: int, *, form_error: str | None = None,
              import_errors: list[dict[str, Any]] | None = None, status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    locale = negotiate(request)
    m = service.matrix(session, initiative_id)
    violations = service.check(m, gettext_for(locale))
    rows: dict[int, list] = {a.id: [] for a in m.activities}
    cols: dict[int, list] = {r.id: [] for r in m.roles}
    for v in violations:
        if v.activity_id is not None:
            rows[v.activity_id].append(v)
        if v.role_id is not None:
            cols[v.role_id].append(v)
    ctx.update({
        "tab": "raci",
        "m": m,
        "letters": LETTERS,
        "row_issues": rows,
        "col_issues": cols,
        "n_errors": sum(v.severity == "error" for v in violations),
        "n_warnings": sum(v.severity == "warning" for v in violations),
        "load": service.load(m),
        "form_error": form_error,
        "import_errors": import_errors or [],
        "export_lang": "zh_CN" if locale.startswith("zh") else "en",
    })
    return render(request, "raci/raci.html", ctx, block="raci", status_code=status_code)


@router.get("/initiatives/{initiative_id}/raci")
def raci(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return raci_page(request, session, actor.user, initiative_id)


def _int(form: dict[str, Any], key: str) -> int:
    try:
        return int(str(form.get(key, "")).strip())
    except ValueError as exc:
        raise RuleViolation(f"{key} must be a whole number.") from exc


def _apply(request: Request, session: Session, actor: User, initiative_id: int, change) -> Response:  # noqa: ANN001
    """Run `change`; then the grid again (htmx) or a redirect; a 422 shows the grid with the message."""
    try:
        change()
    except RuleViolation as exc:
        session.rollback()
        gettext = gettext_for(negotiate(request))
        details = [e.get("message") for e in exc.errors or [] if e.get("message")]
        text = gettext(exc.detail) + (" (" + "; ".join(details) + ")" if details else "")
        return raci_page(request, session, actor, initiative_id, form_error=text, status_code=422)
    if is_htmx(request):
        return raci_page(request, session, actor, initiative_id)
    return redirect(request, f"/initiatives/{initiative_id}/raci")


def _validate(schema, data: dict[str, Any]):  # noqa: ANN001, ANN202
    from pydantic import ValidationError

    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise RuleViolation("This value is not valid.",
                            errors=[{"message": e["msg"], "field": str(e["loc"][0]) if e["loc"] else ""}
                                    for e in exc.errors()]) from exc


@router.post("/initiatives/{initiative_id}/raci/cells")
def toggle_cell(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    """Add or remove one letter of a cell."""
    return _apply(request, session, actor.user, initiative_id, lambda: service.toggle(
        session, initiative_id, _int(form, "activity_id"), _int(form, "role_id"), str(form.get("letter", "")),
        actor.user))


@router.post("/initiatives/{initiative_id}/raci/roles")
def add_role(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor,
             form: FormData) -> Response:
    return _apply(request, session, actor.user, initiative_id, lambda: service.create_role(
        session, initiative_id, _validate(RoleCreate, {"name": form.get("name", "")}), actor.user))


@router.post("/initiatives/{initiative_id}/raci/activities")
def add_activity(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    return _apply(request, session, actor.user, initiative_id, lambda: service.create_activity(
        session, initiative_id, _validate(ActivityCreate, {"name": form.get("name", "")}), actor.user))


@router.post("/initiatives/{initiative_id}/raci/from-survey")
def from_survey(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.activities_from_survey(session, initiative_id, actor.user))


@router.post("/initiatives/{initiative_id}/raci/{kind}/{item_id}/rename")
def rename(initiative_id: int, kind: str, item_id: int, request: Request, session: SessionDep,
           actor: CurrentActor, form: FormData) -> Response:
    def change() -> None:
        if kind == "roles":
            service.update_role(session, initiative_id, item_id, _validate(RoleUpdate, {"name": form.get("name")}),
                                actor.user)
        else:
            service.update_activity(session, initiative_id, item_id,
                                    _validate(ActivityUpdate, {"name": form.get("name")}), actor.user)
    _kind(kind)
    return _apply(request, session, actor.user, initiative_id, change)


@router.post("/initiatives/{initiative_id}/raci/{kind}/{item_id}/move")
def move(initiative_id: int, kind: str, item_id: int, request: Request, session: SessionDep, actor: CurrentActor,
         form: FormData) -> Response:
    delta = -1 if form.get("direction") == "up" else 1
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.move(session, _kind(kind), initiative_id, item_id, delta, actor.user))


@router.post("/initiatives/{initiative_id}/raci/{kind}/{item_id}/delete")
def delete(initiative_id: int, kind: str, item_id: int, request: Request, session: SessionDep,
           actor: CurrentActor) -> Response:
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.delete_item(session, _kind(kind), initiative_id, item_id, actor.user))


def _kind(kind: str) -> type[RaciRole] | type[RaciActivity]:
    if kind not in KINDS:
        raise NotFound(f"No {kind} in a RACI matrix.")
    return KINDS[kind]


@router.post("/initiatives/{initiative_id}/raci/import")
def import_csv(initiative_id: int, request: Request, session: SessionDep, actor: CurrentActor,
               file: Annotated[UploadFile, File()]) -> Response:
    content = file.file.read(service.MAX_IMPORT_BYTES + 1)
    try:
        service.import_csv(session, initiative_id, content, actor.user)
    except RuleViolation as exc:
        session.rollback()
        errors = [{"row": e.get("row"), "column": e.get("column"), "message": e.get("message") or exc.detail}
                  for e in (exc.errors or [])]
        return raci_page(request, session, actor.user, initiative_id, import_errors=errors, status_code=422)
    return redirect(request, f"/initiatives/{initiative_id}/raci")

