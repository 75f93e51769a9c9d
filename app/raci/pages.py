"""RACI page: the matrix edited in place (htmx), violations on their row or column, each role's load,
CSV/XLSX export and CSV import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import NotFound, RuleViolation, rule
from app.core.forms import FormData, service_errors
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import N_
from app.core.templating import is_htmx, redirect, render
from app.initiatives.pages import initiative_context
from app.raci import service
from app.raci.models import LETTERS, RaciActivity, RaciRole
from app.raci.schemas import ActivityCreate, ActivityUpdate, RoleCreate, RoleUpdate
from app.users.models import User

router = APIRouter()
KINDS: dict[str, type[RaciRole] | type[RaciActivity]] = {"roles": RaciRole, "activities": RaciActivity}
MEMBER = "member_user_id"
NEW_ROLE = "new"  # the key of the add-role form's member error
# The service says "unknown_user" for anyone not on the team; on this page that is the precise message.
MEMBER_MESSAGES = {"unknown_user": N_("Not on the initiative's team: choose one of its members or nobody.")}


def _members(session: Session, ctx: dict[str, Any], m: service.Matrix) -> tuple[list[Any], dict[int, str], set[int]]:
    """The team (for the selects), every linked member's name, and the linked people no longer on the team."""
    people = [t.user for t in ctx["ini"].team]
    names = {u.id: u.display_name for u in people}
    gone = {r.member_user_id for r in m.roles if r.member_user_id is not None and r.member_user_id not in names}
    if gone:
        for u in session.exec(select(User).where(col(User.id).in_(gone))):
            names[u.id] = u.display_name
    return people, names, gone


def raci_page(request: Request, session: Session, actor: User, initiative_id: Id, *, form_error: str | None = None,
              import_errors: list[dict[str, Any]] | None = None, member_errors: dict[Any, str] | None = None,
              new_role: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    locale = negotiate(request)
    m = service.matrix(session, initiative_id)
    people, member_names, off_team = _members(session, ctx, m)
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
        "team_people": people,
        "member_names": member_names,
        "off_team": off_team,
        "member_errors": member_errors or {},
        "new_role": new_role or {},
        "import_errors": import_errors or [],
        "export_lang": "zh_CN" if locale.startswith("zh") else "en",
    })
    return render(request, "raci/raci.html", ctx, block="raci", status_code=status_code)


@router.get("/initiatives/{initiative_id}/raci")
def raci(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return raci_page(request, session, actor.user, initiative_id)


def _int(form: dict[str, Any], key: str) -> int:
    try:
        return int(str(form.get(key, "")).strip())
    except ValueError as exc:
        raise RuleViolation(f"{key} must be a whole number.") from exc


def _member_id(form: dict[str, Any]) -> int | None:
    """The member select: "" is nobody."""
    value = form.get(MEMBER)
    if value is None:
        raise rule(f"{MEMBER} is required.", MEMBER, "missing")
    value = str(value).strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise rule(f"{MEMBER} must be a whole number.", MEMBER, "int_parsing") from exc


def _apply(request: Request, session: Session, actor: User, initiative_id: Id, change,  # noqa: ANN001
           member_key: Any = None, new_role: dict[str, Any] | None = None) -> Response:
    """Run `change`; then the grid again (htmx) or a redirect; a 422 shows the grid with the message
    (an error about the member beside the member select `member_key`: a role's id or NEW_ROLE, the
    add-role form keeping what was typed, `new_role`)."""
    try:
        with undo_on_error(session):
            change()
    except RuleViolation as exc:
        gettext = gettext_for(negotiate(request))
        member_error = next((e for e in exc.errors or [] if e.get("field") == MEMBER), None)
        if member_key is not None and member_error is not None:
            msgid = MEMBER_MESSAGES.get(member_error.get("type", ""))
            text = gettext(msgid) if msgid else service_errors(exc, gettext).get(MEMBER, gettext(exc.detail))
            return raci_page(request, session, actor, initiative_id, member_errors={member_key: text},
                             new_role=new_role, status_code=422)
        details = [e.get("message") for e in exc.errors or [] if e.get("message")]
        text = gettext(exc.detail) + (" (" + "; ".join(details) + ")" if details else "")
        return raci_page(request, session, actor, initiative_id, form_error=text, status_code=422)
    if is_htmx(request):
        return raci_page(request, session, actor, initiative_id)
    return redirect(request, f"/initiatives/{initiative_id}/raci")


def _validate(schema, data: dict[str, Any]):  # noqa: ANN001, ANN202
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise RuleViolation("This value is not valid.",
                            errors=[{"message": e["msg"], "field": str(e["loc"][0]) if e["loc"] else ""}
                                    for e in exc.errors()]) from exc


@router.post("/initiatives/{initiative_id}/raci/cells")
def toggle_cell(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    """Add or remove one letter of a cell."""
    return _apply(request, session, actor.user, initiative_id, lambda: service.toggle(
        session, initiative_id, _int(form, "activity_id"), _int(form, "role_id"), str(form.get("letter", "")),
        actor.user))


@router.post("/initiatives/{initiative_id}/raci/roles")
def add_role(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
             form: FormData) -> Response:
    return _apply(request, session, actor.user, initiative_id, lambda: service.create_role(
        session, initiative_id, _validate(RoleCreate, {"name": form.get("name", ""),
                                                       MEMBER: _member_id(form) if MEMBER in form else None}),
        actor.user), member_key=NEW_ROLE, new_role={"name": str(form.get("name", ""))})


@router.post("/initiatives/{initiative_id}/raci/roles/{role_id}/member")
def set_member(initiative_id: Id, role_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    """Link the role to one of the team's members, or to nobody; through the same rules as the API."""
    return _apply(request, session, actor.user, initiative_id, lambda: service.update_role(
        session, initiative_id, role_id, RoleUpdate(member_user_id=_member_id(form)), actor.user),
        member_key=role_id)


@router.post("/initiatives/{initiative_id}/raci/activities")
def add_activity(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    return _apply(request, session, actor.user, initiative_id, lambda: service.create_activity(
        session, initiative_id, _validate(ActivityCreate, {"name": form.get("name", "")}), actor.user))


@router.post("/initiatives/{initiative_id}/raci/from-survey")
def from_survey(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.activities_from_survey(session, initiative_id, actor.user))


@router.post("/initiatives/{initiative_id}/raci/{kind}/{item_id}/rename")
def rename(initiative_id: Id, kind: str, item_id: Id, request: Request, session: SessionDep,
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
def move(initiative_id: Id, kind: str, item_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
         form: FormData) -> Response:
    delta = -1 if form.get("direction") == "up" else 1
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.move(session, _kind(kind), initiative_id, item_id, delta, actor.user))


@router.post("/initiatives/{initiative_id}/raci/{kind}/{item_id}/delete")
def delete(initiative_id: Id, kind: str, item_id: Id, request: Request, session: SessionDep,
           actor: CurrentActor) -> Response:
    return _apply(request, session, actor.user, initiative_id,
                  lambda: service.delete_item(session, _kind(kind), initiative_id, item_id, actor.user))


def _kind(kind: str) -> type[RaciRole] | type[RaciActivity]:
    if kind not in KINDS:
        raise NotFound(N_("No {kind} in a RACI matrix."), params={"kind": kind})
    return KINDS[kind]


@router.post("/initiatives/{initiative_id}/raci/import")
def import_csv(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               file: Annotated[UploadFile, File()]) -> Response:
    content = file.file.read(service.MAX_IMPORT_BYTES + 1)
    try:
        with undo_on_error(session):
            service.import_csv(session, initiative_id, content, actor.user)
    except RuleViolation as exc:
        errors = [{"row": e.get("row"), "column": e.get("column"), "message": e.get("message") or exc.detail}
                  for e in (exc.errors or [])]
        return raci_page(request, session, actor.user, initiative_id, import_errors=errors, status_code=422)
    return redirect(request, f"/initiatives/{initiative_id}/raci")

