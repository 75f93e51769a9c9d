"""SOP pages: a process's SOP (the version in force, what changed, its history, downloads), one version
with its review (comments beside the sections, votes, sign-off, publishing), the draft editor (one htmx
form per section, each carrying the record's version), Table 4 and the comparison of two versions.

The rules are the services' (`app.sops.service`); a page only shows the forms the reader may use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.calendar import today
from app.core.db import SessionDep, undo_on_error
from app.core.errors import AppError, Conflict, PreconditionFailed, RuleViolation
from app.core.extensions import Section as PageSection
from app.core.extensions import extend, extends
from app.core.forms import FormData, Submitted, message_for, number, parse_form, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import FLASH, LABELS, N_, NC_
from app.core.templating import is_htmx, redirect, render
from app.departments.service import list_departments
from app.initiatives.models import Initiative, InitiativeStatus, Phase
from app.initiatives.service import can_edit, candidate_members, get_initiative
from app.issues.models import Issue
from app.measures.models import Measure
from app.metrics.models import Kpi
from app.sops import diff as sop_diff
from app.sops import exports, rules, service
from app.sops.models import Sop, SopState, SopStatus, SopVersion
from app.sops.schemas import (
    AttributeType,
    Bump,
    CommentCreate,
    CommentUpdate,
    ContingencyKind,
    EditSection,
    FormKind,
    NextRequest,
    PublishRequest,
    Section,
    SubmitRequest,
    VoteRequest,
    WithdrawRequest,
)
from app.survey import asis_map
from app.survey.models import StepKind
from app.survey.schemas import StepRead
from app.survey.service import all_steps, fmt_minutes, summarize
from app.users.models import User

router = APIRouter()
R = TypeVar("R")

SOP_LABELS: dict[str, dict[str, str]] = {
    "sop_status": {
        "draft": N_("Draft"), "in_review": N_("In review"), "approved": N_("Approved (signed)"),
        "effective": N_("Effective"), "superseded": N_("Superseded"), "withdrawn": N_("Withdrawn"),
    },
    "sop_section": {
        "purpose": N_("Purpose"), "scope": N_("Scope"), "raci": N_("Responsibilities"),
        "steps": N_("Detailed steps"), "control_points": N_("Key control points"), "forms": N_("Forms and tools"),
        "contingencies": N_("Contingency plan and special cases"),
        "attributes": N_("Case attributes for the rules"),
    },
    "attribute_type": {"number": N_("Number"), "text": N_("Text"), "boolean": N_("Yes or no"), "date": N_("Date")},
    "sop_vote": {"none": N_("Not voted yet"), "approve": N_("Approved"), "request_changes": N_("Changes requested")},
    "form_kind": {"form": N_("Form"), "system": N_("System"), "tool": N_("Tool"), "script": N_("Script")},
    "contingency_kind": {"contingency": N_("Contingency"), "special_case": N_("Special case")},
    "bump": {"minor": N_("Minor"), "major": N_("Major")},
    "sop_change": {"added": N_("Added"), "removed": N_("Removed"), "moved": N_("Moved"), "changed": NC_("sop diff", "Changed")},
    # The fields of the sections, as the comparison names them.
    "sop_field": {
        "text": N_("Purpose"), "kpi_id": N_("KPI"), "baseline": N_("Baseline"), "target": N_("Target"),
        "unit": N_("Unit"), "scenarios": N_("Business scenarios"), "departments": N_("Departments"),
        "roles": N_("Roles"), "name": N_("Name"), "department": N_("Department"), "role": N_("Role"),
        "inputs": N_("Inputs"), "outputs": N_("Outputs"), "instructions": N_("Instructions"),
        "system_path": N_("System operation path"), "minutes": N_("Minutes"),
        "measure_ids": N_("Countermeasures"), "issue_ids": N_("Problems"), "step_id": N_("At step"),
        "description": N_("Description"), "approver_role": N_("Approver role"), "rule": N_("Rule (machine-checkable)"),
        "control_point_id": N_("Exception of control point"), "condition": N_("Condition"),
        "kind": N_("Kind"), "location": N_("Link or location"), "situation": N_("Situation"),
        "instead": N_("What to do instead"), "approver": N_("Approved by"), "backfill_hours": N_("Back-fill within (hours)"),
    },
}
for _kind, _labels in SOP_LABELS.items():
    LABELS.setdefault(_kind, {}).update(_labels)
FLASH.update({
    "sop_drafted": N_("SOP draft created from the initiative."),
    "sop_submitted": N_("Sent to the reviewers."),
    "sop_commented": N_("Comment added."),
    "sop_voted": N_("Vote recorded."),
    "sop_signed": N_("Signed."),
    "sop_published": N_("Published."),
    "sop_withdrawn": N_("Withdrawn."),
    "sop_next": N_("Next version started as a copy."),
})

# The service's refusals by type, as the page says them (its own details are English).
SOP_MESSAGES = {
    "float_parsing": N_("Enter a number, e.g. 30 or 12.5."),
    "duplicate": N_("This is named twice."),
    "unknown_step": N_("Choose a step of this SOP."),
    "unknown_kpi": N_("Choose an existing KPI."),
    "multiple_accountable": N_("Exactly one role is accountable (A) for an activity."),
    "raci_rules": N_("The responsibilities break the RACI rules: exactly one A and at least one R per activity."),
    "date_order": N_("The effective date cannot be before the previous version's."),
    "required": N_("This field is required."),
    "department_without_reviewer": N_("Name a reviewer for every department the SOP covers."),
    "author_reviews": N_("The author cannot review their own draft."),
    "unknown_issue": N_("Link problems of this process."),
    "unknown_measure": N_("Link countermeasures of this process."),
    "unknown_control_point": N_("Choose a control point of this SOP."),
}
# The fields of one row of a list section, as the editor's forms name them.
ROW_FIELDS: dict[EditSection, tuple[str, ...]] = {
    EditSection.steps: ("id", "name", "department", "role", "inputs", "outputs", "instructions", "system_path",
                        "minutes"),
    EditSection.control_points: ("id", "step_id", "description", "approver_role", "condition", "activity", "before",
                                 "within_minutes", "after", "req_role"),
    EditSection.forms: ("name", "kind", "location"),
    EditSection.contingencies: ("kind", "situation", "instead", "approver", "backfill_hours", "control_point_id",
                                "condition"),
    EditSection.attributes: ("name", "type"),
}
# A control point's rule, flat in its row: the condition and the requirement's fields ("req_role": its role).
REQUIREMENT_FIELDS = {"activity": "activity", "before": "before", "within_minutes": "within_minutes",
                      "after": "after", "req_role": "role"}
# Fields with a preset value (a select, an id): a row with nothing else filled in is an empty row.
PRESET = {"id", "kind", "type"}
LINKS = ("measure_ids", "issue_ids")  # kept from the stored step or control point: the editor does not change them
SECTIONS = tuple(Section)
# The editor's forms: the document's sections, with the rules' attributes before the control points.
EDIT_SECTIONS = (*(EditSection(s.value) for s in SECTIONS[:4]), EditSection.attributes,
                 *(EditSection(s.value) for s in SECTIONS[4:]))


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def _num(value: Any) -> str:
    """Minutes and targets as people write them; what cannot be read as a number as it was typed."""
    try:
        return fmt_minutes(value)
    except (ArithmeticError, ValueError, TypeError):
        return str(value)


def _message(err: dict[str, Any], gettext, fallback: str) -> str:  # noqa: ANN001
    msgid = SOP_MESSAGES.get(err.get("type", ""))
    if err.get("type") == "invalid_rule" and "line" in err:  # the checker's reason, in the reader's words, with where
        reason = err.get("reason")
        words = (rules.words(reason, err.get("params") or {}, gettext) if reason in rules.MESSAGES
                 else err["message"].rsplit(" (line ", 1)[0])
        return gettext("Line %(line)s, column %(column)s: %(message)s") % {
            "line": err["line"], "column": err["column"], "message": words}
    if msgid:
        return gettext(msgid)
    return message_for(err.get("type", ""), gettext, err.get("message") or fallback, err.get("ctx"))


def _errors(exc: AppError, gettext, section: EditSection | None = None) -> dict[str, str]:  # noqa: ANN001
    """A refusal as a form's errors: by field ("steps.2.name", "purpose.target", "effective_date"); what
    names no field of the form under `__all__`."""
    errors: dict[str, str] = {}
    depth = (3 if section in ROW_FIELDS else 2) if section else 1
    for err in exc.errors or []:
        parts = (err.get("field") or "").split(".")
        if section is not None and (parts[0] != section.value or len(parts) < depth):
            errors.setdefault("__all__", _message(err, gettext, exc.detail))
            continue
        errors.setdefault(".".join(parts[:depth]) or "__all__", _message(err, gettext, exc.detail))
    if not errors:
        errors["__all__"] = exc.translated(gettext)
    elif "__all__" not in errors:
        errors["__all__"] = gettext("Not saved: correct the marked fields.")
    return errors


# ---------------------------------------------------------------- what the document shows

def _links(session: Session, docs: list[Any]) -> dict[str, dict[int, str]]:
    """Titles of the problems and countermeasures the steps and control points answer ("why is it here?")."""
    items = [s for d in docs for s in (*d.steps, *d.control_points)]
    issue_ids = {i for s in items for i in s.issue_ids}
    measure_ids = {m for s in items for m in s.measure_ids}
    issues = dict(session.exec(select(Issue.id, Issue.title).where(col(Issue.id).in_(issue_ids))).all()) if issue_ids else {}
    measures = {m.id: m for m in session.exec(select(Measure).where(col(Measure.id).in_(measure_ids)))
                } if measure_ids else {}
    return {"issues": issues, "measures": {i: m.goal or m.description for i, m in measures.items()},
            "measure_initiative": {i: m.initiative_id for i, m in measures.items()}}


def _document_context(session: Session, request: Request, docs: list[Any]) -> dict[str, Any]:
    """What sops/_document.html needs to show the contents `docs` (several for the comparison)."""
    locale = negotiate(request)
    kpi_ids = {d.purpose.kpi_id for d in docs if d.purpose.kpi_id}
    kpis = {k.id: k for k in session.exec(select(Kpi).where(col(Kpi.id).in_(kpi_ids)))} if kpi_ids else {}
    return {"dept": {d.code: d.label(locale) for d in list_departments(session)}, "kpis": kpis,
            "why": _links(session, docs), "num": _num, "sections": SECTIONS,
            "step_names": {str(s.id): s.name for d in docs for s in d.steps}}


def _before_after(session: Session, v: SopVersion, doc: Any) -> dict[str, Any]:
    """The to-be flow drawn from the steps and, for a version of an initiative, its as-is map beside it, with
    the total minutes of each."""
    survey = all_steps(session, v.initiative_id) if v.initiative_id else []
    return {"version_id": v.id, "initiative_id": v.initiative_id,
            "as_is": _num(sum(s.minutes + s.waiting_minutes for s in survey)), "as_is_steps": len(survey),
            "to_be": _num(sum(s.minutes for s in doc.steps)), "to_be_steps": len(doc.steps)}


def _as_steps(doc: Any) -> list[StepRead]:
    """The SOP's steps as survey steps, for the as-is map's drawing (`asis_map.layout`): one activity each, the
    system path's parts as its systems."""
    return [StepRead.model_construct(
        id=i, position=i, name=s.name, kind=StepKind.activity, department=s.department, role=s.role,
        minutes=Decimal(str(s.minutes)), waiting_minutes=Decimal(0), problem_flags=[],
        systems=[p.strip() for p in s.system_path.split("›") if p.strip()]) for i, s in enumerate(doc.steps, 1)]


@router.get("/sop-versions/{version_id}/flow.svg")
def flow_svg(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The to-be flow of a version, drawn from its steps the way the as-is map is drawn (its SVG file)."""
    v = service.read_version(session, version_id, actor.user)
    read = service.to_read(session, v)
    locale = negotiate(request)
    steps = _as_steps(read.content)
    labels = {d.code: d.label(locale) for d in list_departments(session)}
    title = read.number or _gettext(request)("Draft")
    ctx = {"map": asis_map.layout(steps, labels, _gettext(request)("No department")), "summary": summarize(steps),
           "num": fmt_minutes, "label_width": asis_map.LABEL_W,
           "ini": {"process": read.process, "title": title}, "map_title": _gettext(request)("To-be flow")}
    response = render(request, "survey/map_export.svg", ctx)
    return Response(response.body, media_type="image/svg+xml; charset=utf-8",
                    headers={"Vary": response.headers["Vary"]})


# ---------------------------------------------------------------- the SOP of a process

def _extensions(session: Session, v: SopVersion, sop: Sop, actor: User) -> list[PageSection]:
    """What later domains add to a version's page (the compliance of its rules in the event logs)."""
    return extend("sop_version", session, version_id=v.id, process_id=sop.process_id, user=actor)["sections"]


@router.get("/sops/{sop_id}")
def sop_page(sop_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    sop = service.get_sop(session, sop_id)
    versions = service.list_versions(session, sop_id, actor.user)
    shown = service.shown_version(session, sop, actor.user)
    ctx: dict[str, Any] = {"sop": service.sop_read(session, sop), "history": service.summaries(session, sop, versions),
                           "shown": None}
    if shown is not None:
        read = service.to_read(session, shown)
        previous = service.previous_published(session, shown)
        ctx.update(_document_context(session, request, [read.content]))
        ctx.update({"shown": read, "doc": read.content, "previous": previous and service.number(previous),
                    "previous_id": previous.id if previous else None,
                    "before_after": _before_after(session, shown, read.content),
                    "pdf_unavailable": exports.pdf_unavailable_reason()})
        ctx["extensions"] = _extensions(session, shown, sop, actor.user)
    return render(request, "sops/sop.html", ctx)


# ---------------------------------------------------------------- one version and its review

def _threads(session: Session, version_id: int, actor: User) -> dict[str, list[dict[str, Any]]]:
    """The comments by section: each thread's first comment with its replies, oldest first."""
    comments = service.comment_reads(session, service.list_comments(session, version_id, actor))
    replies: dict[int, list[Any]] = {}
    for c in comments:
        if c.parent_id is not None:
            replies.setdefault(c.parent_id, []).append(c)
    threads: dict[str, list[dict[str, Any]]] = {s.value: [] for s in SECTIONS}
    for c in comments:
        if c.parent_id is None:
            threads[c.section.value].append({"root": c, "replies": replies.get(c.id, [])})
    return threads


def _next_initiatives(session: Session, process_id: int, actor: User) -> list[Initiative]:
    """The active initiatives of the process whose team the actor is on: where a next version is drafted."""
    rows = session.exec(select(Initiative).where(Initiative.process_id == process_id,
                                                 Initiative.status == InitiativeStatus.active)
                        .order_by(col(Initiative.id).desc()))
    return [i for i in rows if can_edit(session, actor, i)]


def _version_page(request: Request, session: Session, actor: User, version_id: int, *,
                  errors: dict[str, dict[str, str]] | None = None, values: dict[str, Any] | None = None,
                  status_code: int = 200) -> Response:
    v = service.read_version(session, version_id, actor)
    read = service.to_read(session, v)
    sop = service.get_sop(session, v.sop_id)
    rights = service.rights(session, v, actor)
    previous = service.previous_published(session, v)
    ctx = _document_context(session, request, [read.content])
    ctx.update({
        "v": read, "doc": read.content, "sop": service.sop_read(session, sop), "rights": rights,
        "threads": _threads(session, v.id, actor), "errors": errors or {}, "values": values or {},
        "previous": previous and service.number(previous), "previous_id": previous.id if previous else None,
        "my_vote": next((r.vote for r in read.reviewers if r.user.id == actor.id), None),
        "before_after": _before_after(session, v, read.content), "today": today(),
        "pdf_unavailable": exports.pdf_unavailable_reason(),
        "bumps": list(Bump),
        "extensions": _extensions(session, v, sop, actor),
    })
    if rights.edit and v.state == SopState.draft:
        ctx["candidates"] = [u for u in candidate_members(session) if u.id != v.author_id]
    if v.initiative_id:
        ctx["initiative"] = get_initiative(session, v.initiative_id)
    if v.state == SopState.published:
        ctx["next_initiatives"] = _next_initiatives(session, ctx["sop"].process.id, actor)
        open_ = service.open_version(session, sop.id)
        ctx["open_version"] = open_.id if open_ and service.rights(session, open_, actor).edit else None
    return render(request, "sops/version.html", ctx, status_code=status_code)


@router.get("/sop-versions/{version_id}")
def version_page(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _version_page(request, session, actor.user, version_id)


def _done(request: Request, session: Session, actor: User, version_id: int, form_key: str, done: Any,
          values: dict[str, Any], flash: str, url: str | None = None) -> Response:
    if done.ok:
        return redirect(request, url or f"/sop-versions/{version_id}", flash=flash)
    return _version_page(request, session, actor, version_id, errors={form_key: done.errors},
                         values={form_key: values}, status_code=422)


def _act(session: Session, gettext, call: Callable[[], R], stale: str | None = None) -> Submitted[R]:  # noqa: ANN001
    """`core.forms.submit`'s round with this page's messages for the service's refusals (`_errors`)."""
    try:
        with undo_on_error(session):
            return Submitted(result=call())
    except PreconditionFailed as exc:
        return Submitted(errors={"__all__": stale or exc.translated(gettext)}, stale=True)
    except (RuleViolation, Conflict) as exc:
        return Submitted(errors=_errors(exc, gettext))


def _submit(session: Session, gettext, schema: type[BaseModel], values: dict[str, Any],  # noqa: ANN001
            call: Callable[[Any], R], stale: str | None = None) -> Submitted[R]:
    data, errors = parse_form(schema, values, gettext)
    if data is None:
        return Submitted(errors=errors)
    return _act(session, gettext, lambda: call(data), stale)


STALE = N_("The version changed since you opened the page (someone edited it); it is shown again, check it and "
           "try again.")


def _step(request: Request, session: Session, actor: User, version_id: int, form: dict[str, Any], key: str,
          schema: type[BaseModel], values: dict[str, Any], step: Callable[..., Any], flash: str, *,
          stale: str = STALE, shown: dict[str, Any] | None = None) -> Response:
    """A lifecycle form of the version's page (`key`): `step(session, version_id, data, actor,
    expected_version=...)` of the service with the form's record version; its refusal shown at the form."""
    gettext = _gettext(request)
    done = _submit(session, gettext, schema, values, lambda data: step(
        session, version_id, data, actor, expected_version=version(form)), gettext(stale))
    return _done(request, session, actor, version_id, key, done, values if shown is None else shown, flash)


@router.post("/sop-versions/{version_id}/submit")
def submit_version(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    ids = _column(form, "reviewer")
    return _step(request, session, actor.user, version_id, form, "submit", SubmitRequest,
                 {"reviewers": [{"user_id": number(i)} for i in ids]}, service.submit, "sop_submitted",
                 shown={"reviewers": [number(i) for i in ids]})


@router.post("/sop-versions/{version_id}/comments")
def add_comment(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"section": form.get("section", ""), "text": form.get("text", ""),
              "step_id": form.get("step_id") or None, "parent_id": number(form.get("parent_id")) or None}
    done = _submit(session, gettext, CommentCreate, values,
                   lambda data: service.add_comment(session, version_id, data, actor.user))
    key = f"comment-{values['parent_id']}" if values["parent_id"] else f"comment-{values['section']}"
    return _done(request, session, actor.user, version_id, key, done, values, "sop_commented",
                 f"/sop-versions/{version_id}#section-{values['section']}")


@router.post("/sop-versions/{version_id}/comments/{comment_id}")
def resolve_comment(version_id: Id, comment_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"resolved": form.get("resolved") == "true"}
    done = _submit(session, gettext, CommentUpdate, values, lambda data: service.update_comment(
        session, version_id, comment_id, data, actor.user, expected_version=version(form)),
        stale=gettext("Someone else changed this comment meanwhile; it is shown again."))
    section = service.get_comment(session, version_id, comment_id).section
    return _done(request, session, actor.user, version_id, f"comment-{comment_id}", done, values, "",
                 f"/sop-versions/{version_id}#section-{section}")


@router.post("/sop-versions/{version_id}/vote")
def vote(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    return _step(request, session, actor.user, version_id, form, "vote", VoteRequest, {"vote": form.get("vote", "")},
                 service.vote, "sop_voted",
                 stale=N_("The content changed since you read it: read it again before you vote."))


@router.post("/sop-versions/{version_id}/sign")
def sign(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    done = _act(session, gettext, lambda: service.sign(session, version_id, actor.user,
                                                       expected_version=version(form)), gettext(STALE))
    return _done(request, session, actor.user, version_id, "sign", done, {}, "sop_signed")


@router.post("/sop-versions/{version_id}/publish")
def publish(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in ("effective_date", "change_summary", "note")}
    values["bump"] = form.get("bump") or None
    return _step(request, session, actor.user, version_id, form, "publish", PublishRequest, values, service.publish,
                 "sop_published")


@router.post("/sop-versions/{version_id}/withdraw")
def withdraw(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
             form: FormData) -> Response:
    return _step(request, session, actor.user, version_id, form, "withdraw", WithdrawRequest,
                 {"reason": str(form.get("reason", "")).strip()}, service.withdraw, "sop_withdrawn")


@router.post("/sop-versions/{version_id}/next")
def next_version(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"initiative_id": number(form.get("initiative_id")) or None}
    done = _submit(session, gettext, NextRequest, values,
                  lambda data: service.next_version(session, version_id, data, actor.user))
    url = f"/sop-versions/{done.result.id}/edit" if done.ok else None
    return _done(request, session, actor.user, version_id, "next", done, values, "sop_next", url)


@router.post("/initiatives/{initiative_id}/sop/draft")
def draft_from_initiative(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """"Draft the SOP" on the initiative's page: a draft built from the chain, opened in the editor."""
    v = service.draft_from_initiative(session, initiative_id, actor.user)
    return redirect(request, f"/sop-versions/{v.id}/edit", flash="sop_drafted")


# ---------------------------------------------------------------- the draft editor

def _section_hash(value: Any) -> str:
    """What a section form was rendered from: a save only replaces what its writer saw."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _stored(v: SopVersion, section: EditSection) -> Any:
    return v.content.get(section.value, [] if section in ROW_FIELDS else {})


def _lines(raw: Any) -> list[str]:
    return [line.strip() for line in str(raw or "").splitlines() if line.strip()]


def _column(form: dict[str, Any], key: str) -> list[str]:
    """A repeated field's values in the form's order (one value comes as a string, none as nothing)."""
    raw = form.get(key)
    if raw is None:
        return []
    return [str(x) for x in (raw if isinstance(raw, list) else [raw])]


def _flat_rule(row: dict[str, Any]) -> dict[str, Any]:
    """A stored control point with its rule's fields in the row, as its form has them."""
    rule = row.get("rule") if isinstance(row.get("rule"), dict) else {}
    requirement = rule.get("requirement") or {}
    return {**row, "condition": rule.get("condition"), **{f: requirement.get(k) for f, k in REQUIREMENT_FIELDS.items()}}


def _nested_rule(row: dict[str, Any]) -> dict[str, Any]:
    """A control point's form row as the API's body: the rule from its fields (none when all are blank)."""
    requirement = {k: row.pop(f) for f, k in REQUIREMENT_FIELDS.items() if f in row}
    condition = row.pop("condition", None)
    if condition is not None or requirement:
        row["rule"] = {"condition": condition or "", "requirement": requirement}
    return row


def _shown(section: EditSection, stored: Any) -> Any:
    """A stored section as its form shows it."""
    if section == EditSection.control_points:
        stored = [_flat_rule(row) for row in stored]
    if section in ROW_FIELDS:
        return [{f: "" if row.get(f) is None else row.get(f) for f in ROW_FIELDS[section]} for row in stored]
    if section == Section.scope:
        return {"scenarios": "\n".join(stored.get("scenarios", [])), "departments": stored.get("departments", []),
                "roles": "\n".join(stored.get("roles", []))}
    if section == Section.raci:
        acts = [a["name"] for a in stored.get("activities", [])]
        roles = stored.get("roles", [])
        return {"roles": roles, "activities": [{"name": a["name"], "step_id": a.get("step_id") or ""}
                                               for a in stored.get("activities", [])],
                "cells": {f"{acts.index(c['activity'])}-{roles.index(c['role'])}": c["letters"]
                          for c in stored.get("cells", [])}}
    return {k: "" if stored.get(k) is None else stored.get(k) for k in ("text", "kpi_id", "baseline", "target", "unit")}


def _typed(section: EditSection, form: dict[str, Any]) -> Any:
    """What was typed into a section's form, in the form's shape (moves and removals applied)."""
    if section in ROW_FIELDS:
        fields = ROW_FIELDS[section]
        columns = {f: _column(form, f) for f in fields}
        n = max((len(c) for c in columns.values()), default=0)
        rows = [{f: columns[f][i].strip() if i < len(columns[f]) else "" for f in fields} for i in range(n)]
        rows = _apply_op(rows, str(form.get("op", "")))
        return [r for r in rows if any(r[f] for f in fields if f not in PRESET)]
    if section == Section.scope:
        return {"scenarios": str(form.get("scenarios", "")), "departments": [d for d in _column(form, "departments") if d],
                "roles": str(form.get("roles", ""))}
    if section == Section.raci:
        roles = [r.strip() for r in _column(form, "role")]
        names = [a.strip() for a in _column(form, "activity")]
        steps = _column(form, "activity_step")
        cells = {f"{ai}-{ri}": str(form.get(f"cell-{ai}-{ri}", "")).strip().upper()
                 for ai in range(len(names)) for ri in range(len(roles))}
        keep_a = [i for i, n in enumerate(names) if n]
        keep_r = [i for i, r in enumerate(roles) if r]
        return {"roles": [roles[i] for i in keep_r],
                "activities": [{"name": names[i], "step_id": steps[i] if i < len(steps) else ""} for i in keep_a],
                "cells": {f"{a}-{r}": cells[f"{ai}-{ri}"] for a, ai in enumerate(keep_a) for r, ri in enumerate(keep_r)
                          if cells[f"{ai}-{ri}"]}}
    return {k: str(form.get(k, "")).strip() for k in ("text", "kpi_id", "baseline", "target", "unit")}


def _apply_op(rows: list[dict[str, str]], op: str) -> list[dict[str, str]]:
    """The row buttons: "up:2", "down:2", "remove:2"."""
    what, _, index = op.partition(":")
    if not index.isdigit() or int(index) >= len(rows):
        return rows
    i = int(index)
    if what == "remove":
        return rows[:i] + rows[i + 1:]
    j = i - 1 if what == "up" else i + 1 if what == "down" else -1
    if 0 <= j < len(rows):
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def _value(section: EditSection, shaped: Any, stored: Any) -> Any:
    """A section's form values as the API's section body (blank fields left to their defaults)."""
    if section in ROW_FIELDS:
        rows = [{k: v for k, v in row.items() if v != ""} for row in shaped]
        if section == EditSection.control_points:
            rows = [_nested_rule(row) for row in rows]
        if section in (Section.steps, Section.control_points):
            links = {s.get("id"): s for s in stored}
            for row in rows:
                old = links.get(row.get("id"), {})
                row.update({k: old[k] for k in LINKS if old.get(k)})
        return rows
    if section == Section.scope:
        return {"scenarios": _lines(shaped["scenarios"]), "departments": shaped["departments"],
                "roles": _lines(shaped["roles"])}
    if section == Section.raci:
        acts = [{k: v for k, v in a.items() if v} for a in shaped["activities"]]
        cells = [{"activity": shaped["activities"][int(a)]["name"], "role": shaped["roles"][int(r)], "letters": letters}
                 for key, letters in shaped["cells"].items() for a, r in [key.split("-")]]
        return {"roles": shaped["roles"], "activities": acts, "cells": cells}
    value = {k: v for k, v in shaped.items() if v != ""}
    if "kpi_id" in value:
        value["kpi_id"] = number(value["kpi_id"])
    return value


def _editor_context(session: Session, request: Request, v: SopVersion) -> dict[str, Any]:
    read = service.to_read(session, v)
    sop = service.get_sop(session, v.sop_id)
    kpis = list(session.exec(select(Kpi).where(
        (Kpi.process_id == read.process.id) | (Kpi.initiative_id == v.initiative_id)).order_by(Kpi.id)))
    ctx = _document_context(session, request, [read.content])
    ctx.update({"v": read, "sop": service.sop_read(session, sop), "departments": list_departments(session),
                "kpi_choices": kpis, "form_kinds": list(FormKind), "contingency_kinds": list(ContingencyKind),
                "attribute_types": list(AttributeType), "edit_sections": EDIT_SECTIONS,
                "control_point_choices": [(str(c.id), c.description) for c in read.content.control_points],
                "step_choices": [(str(s.id), s.name) for s in read.content.steps],
                "editable": v.state in service.EDITABLE_STATES, "doc": read.content})
    return ctx


def _section_state(v: SopVersion, section: EditSection, *, values: Any = None, errors: dict[str, str] | None = None,
                   stale: bool = False) -> dict[str, Any]:
    stored = _stored(v, section)
    return {"sec": section.value, "values": _shown(section, stored) if values is None else values,
            "errors": errors or {}, "stale": stale, "base": _section_hash(stored)}


@router.get("/sop-versions/{version_id}/edit")
def editor(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    v = service.read_version(session, version_id, actor.user)
    if not service.rights(session, v, actor.user).edit:
        return redirect(request, f"/sop-versions/{version_id}")
    ctx = _editor_context(session, request, v)
    ctx["forms"] = [_section_state(v, s) for s in EDIT_SECTIONS]
    return render(request, "sops/edit.html", ctx)


@router.post("/sop-versions/{version_id}/sections/{section}")
def save_section(version_id: Id, section: EditSection, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    """Save one section. A save from a page older than the version is kept when that section did not change
    meanwhile (someone saved another one); when it did, the form comes back with what was typed, beside
    what is saved now, to save again on purpose."""
    gettext = _gettext(request)
    v = service.get_version(session, version_id)
    typed = _typed(section, form)
    errors: dict[str, str] = {}
    stale = False
    expected = version(form)
    value = _value(section, typed, _stored(v, section))
    if str(form.get("base", "")) == _section_hash(_stored(v, section)) and expected != v.version:
        expected = v.version  # only other sections changed since the form was shown: nothing is overwritten
    try:
        with undo_on_error(session):
            service.update_section(session, version_id, section, value, actor.user, expected_version=expected)
    except PreconditionFailed:
        session.refresh(v)
        stale = True
        errors = {"__all__": gettext("Someone else saved this section while you were editing. What is saved now "
                                     "is shown above; your text is kept in the form: save again to replace "
                                     "theirs.")}
    except (RuleViolation, Conflict) as exc:
        errors = _errors(exc, gettext, section)
    v = service.get_version(session, version_id)
    if errors:
        state = _section_state(v, section, values=typed, errors=errors, stale=stale)
    else:
        state = _section_state(v, section)
        state["saved"] = True
    if not is_htmx(request):
        if not errors:
            return redirect(request, f"/sop-versions/{version_id}/edit#sec-{section.value}")
        ctx = _editor_context(session, request, v)
        ctx["forms"] = [state if s == section else _section_state(v, s) for s in EDIT_SECTIONS]
        return render(request, "sops/edit.html", ctx, status_code=422)
    ctx = _editor_context(session, request, v)
    ctx.update({"form": state, "oob": True})
    return render(request, "sops/_edit_section.html", ctx, status_code=422 if errors else 200)


# ---------------------------------------------------------------- Table 4, comparison

@router.get("/sops/{sop_id}/table4")
def table4_page(sop_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    sop = service.get_sop(session, sop_id)
    rows = service.table4(session, sop_id)
    return render(request, "sops/table4.html", {"sop": service.sop_read(session, sop), "rows": rows})


@router.get("/sops/{sop_id}/diff")
def diff_page(sop_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
              from_: Annotated[Id, Query(alias="from")], to: Annotated[Id, Query()]) -> Response:
    sop = service.get_sop(session, sop_id)
    d = sop_diff.diff_versions(session, sop_id, from_, to, actor.user)
    docs = [service.content_of(service.get_version(session, i)) for i in (from_, to)]
    ctx = _document_context(session, request, docs)
    ctx.update({"sop": service.sop_read(session, sop), "d": d,
                "versions": service.summaries(session, sop, service.list_versions(session, sop_id, actor.user))})
    return render(request, "sops/diff.html", ctx)


# ---------------------------------------------------------------- sections of earlier domains' pages

def _sop_card(session: Session, process_id: int, user: User) -> dict[str, Any]:
    sop = service.sop_of_process(session, process_id)
    if sop is None:
        return {"sop": None}
    versions = service.summaries(session, sop, service.list_versions(session, sop.id, user))
    return {"sop": service.sop_read(session, sop), "versions": versions[::-1][:5],
            "current": next((s for s in versions if s.status == SopStatus.effective), None)}


@extends("process_detail")
def _process_sop(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page shows its SOP: the version in force, the latest versions, the review-due date."""
    return {"sections": [PageSection("sops/_related.html", _sop_card(session, process_id, user), order=15)]}


@extends("initiative_overview")
def _initiative_sop(session: Session, initiative_id: int, user: User) -> dict[str, Any]:
    """The initiative page shows the process's SOP and, in the design phase, "Draft the SOP"."""
    ini = get_initiative(session, initiative_id)
    context = _sop_card(session, ini.process_id, user)
    open_ = service.open_version(session, context["sop"].id) if context["sop"] else None
    team = can_edit(session, user, ini)
    context.update({"initiative_id": ini.id, "open": open_.id if open_ and team else None,
                    "may_draft": team and ini.current_phase == Phase.design and open_ is None})
    return {"sections": [PageSection("sops/_related.html", context, order=15)]}
