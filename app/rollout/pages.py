"""Rollout pages (phase 5): the initiative's rollout plans, one plan (waves, readiness, people, training sessions
and attendance, the IT checklist, launch notices, the training record), a person's own test and
acknowledgement, an attempt at the test, the version's question bank, and the sections the rollout adds to the
SOP pages (in force per department with the launch notices; the help channel).

The plan's page is made of sections (`#overview`, `#waves`, `#readiness`, `#people`, `#sessions`, `#checklist`, `#notices`),
each a block of templates/rollout/plan.html: a form posts with htmx and gets its section back (422 with the
messages at the fields, nothing written); the sections whose counts it moved load themselves again on
`rollout-changed`. Without htmx a form is a plain post answered by a redirect (or the whole page with the
messages). Every rule is the service's: the pages call the same functions as the API, with the same schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.calendar import today
from app.core.config import get_settings
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Conflict, Forbidden, PreconditionFailed, RuleViolation
from app.core.extensions import Section, extends
from app.core.forms import (
    ERROR_MESSAGES,
    FormData,
    Submitted,
    as_list,
    field_ids,
    field_text,
    number,
    submit,
    version,
)
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import FLASH, LABELS, N_
from app.core.templating import is_htmx, redirect, render
from app.departments.models import Department
from app.initiatives.models import Phase
from app.initiatives.pages import initiative_context, section_saved
from app.pilots.pages import version_labels
from app.rollout import service
from app.rollout.models import ChecklistKind, Delivery, QuestionKind, RolloutPlan
from app.rollout.schemas import (
    AcknowledgeRequest,
    AttemptSubmit,
    AttendanceUpdate,
    ChecklistCreate,
    ChecklistUpdate,
    ExceptionRequest,
    HelpCreate,
    NoticeCreate,
    PeopleUpdate,
    PlanCreate,
    PlanUpdate,
    QuestionIn,
    SessionCreate,
    SessionUpdate,
    Standing,
    WaveIn,
    WaveUpdate,
)
from app.sops import service as sops
from app.sops.models import SopVersion
from app.users.models import User

router = APIRouter()
M = TypeVar("M", bound=BaseModel)

FLASH.setdefault("rollout_plan_created", N_("Rollout planned."))
FLASH.setdefault("rollout_acknowledged", N_("Thank you: your acknowledgement is recorded."))
FLASH.setdefault("rollout_submitted", N_("Your answers are handed in."))
FLASH.setdefault("rollout_help_saved", N_("Saved."))

LABELS.setdefault("delivery", {}).update({
    Delivery.per_department.value: N_("Per-department training"),
    Delivery.live_online.value: N_("Live online"),
    Delivery.recording.value: N_("Recording"),
})
LABELS.setdefault("question_kind", {}).update({
    QuestionKind.single.value: N_("Single choice"),
    QuestionKind.multiple.value: N_("Multiple choice"),
    QuestionKind.true_false.value: N_("True or false"),
})
LABELS.setdefault("checklist_kind", {}).update({
    ChecklistKind.permissions.value: N_("Permissions"),
    ChecklistKind.tool.value: N_("Tool or system"),
    ChecklistKind.manual.value: N_("Operating manual"),
    ChecklistKind.other.value: N_("Other"),
})
LABELS.setdefault("standing", {}).update({
    Standing.retraining.value: N_("Retraining needed"),
    Standing.not_passed.value: N_("Not passed yet"),
    Standing.passed.value: N_("Passed"),
    Standing.not_acknowledged.value: N_("Not acknowledged yet"),
    Standing.priority.value: N_("Retrained first (R or A of a changed step)"),
})
TRUE_FALSE = {"true": N_("True"), "false": N_("False")}

SECTIONS = ("overview", "waves", "readiness", "people", "sessions", "checklist", "notices")
CHANGED = "rollout-changed"  # a form moved the counts: readiness and the people load again
OPTION_ROWS = 6  # option fields of the question form
MATERIAL_ROWS = 2  # material rows of a new session's form

# The service's rules, by field and type, as the pages say them (its English texts, translated here).
FORM_MESSAGES = {
    ("sop_version_id", "unknown_version"): N_("Choose a version of the SOP of the initiative's process."),
    ("sop_version_id", "not_approved"): N_("A rollout takes an approved or published SOP version."),
    ("initiative", "phase_order"): N_("A rollout is planned in the rollout phase."),
    ("department_ids", "unknown_department"): N_("Choose a department."),
    ("department_ids", "duplicate"): N_("A department is in one wave of a plan."),
    ("department_ids", "live_department"): N_("A live department stays in its wave."),
    ("department_ids", "last_department"): N_("The wave it leaves would have no department left: delete that wave "
                                              "instead."),
    ("ends_on", "before_start"): N_("A wave ends on or after its start."),
    ("add", "unknown_user"): N_("Choose an active user."),
    ("add", "unknown_department"): N_("A person of the scope is in one of the plan's departments."),
    ("remove", "duplicate"): N_("Add or remove a person, not both."),
    ("wave_id", "unknown_wave"): N_("Choose a wave of this plan."),
    ("trainer_id", "unknown_user"): N_("Choose an active user."),
    ("owner_id", "unknown_user"): N_("Choose an active user."),
    ("attendance", "future"): N_("Attendance is recorded once the session was held."),
    ("attendance", "duplicate"): N_("Each person once."),
    ("attendance", "not_in_scope"): N_("Attendance is recorded for the plan's people."),
    ("step_id", "unknown_step"): N_("The question tests a step of this version."),
    ("control_point_id", "unknown_control_point"): N_("The question tests a control point of this version."),
    ("answers", "unknown_question"): N_("Answer each question of the attempt once."),
    ("answers", "unknown_option"): N_("Choose options of the question, each once."),
    ("answers", "one_answer"): N_("This question takes one answer."),
    ("content_hash", "stale"): N_("The version changed since you read it: read it again."),
    ("pass_mark", "tested"): N_("People took the test: its pass mark and attempts no longer change."),
}
# The schemas' own checks (model validators), by their English text.
VALUE_MESSAGES = {
    "a wave ends on or after its start": N_("A wave ends on or after its start."),
    "each department once": N_("Choose each department once."),
    "a true/false question has no options of its own": N_("A true/false question has no options of its own."),
    "a choice question has at least two options": N_("A choice question has at least two options."),
    "each option once": N_("Write each option once."),
    "`correct` names options by their 0-based index, each once": N_("Mark the right options."),
    "this kind of question has one right answer": N_("This kind of question has one right answer."),
    "a question tests one step or one control point": N_("Choose the step or the control point it tests."),
}
NO_LINK = N_("Choose the step or the control point it tests.")
NO_RIGHT = N_("Mark the right options.")
DATETIME_FORMAT = N_("Enter a date and a time.")
STALE = N_("Someone else changed this meanwhile; it is shown again as it is now.")


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


# ---------------------------------------------------------------- forms

def _submit(session: Session, gettext, schema: type[M], data: dict[str, Any], call: Callable[[M], Any],  # noqa: ANN001
            fields: tuple[str, ...], errors: dict[str, str] | None = None) -> Submitted:
    """`app.core.forms.submit` with the rollout's messages at the form's `fields` (its schemas' own checks
    too), and the page's own checks (`errors`) shown together with the schema's."""
    return submit(session, gettext, schema, data, call, fields=fields, checks=errors, messages=FORM_MESSAGES,
                  value_messages=VALUE_MESSAGES, stale=gettext(STALE))


def _local_datetime(raw: str) -> datetime | str | None:
    """A `datetime-local` field ("2026-12-07T09:00") in the business time zone; what is not one goes to the
    schema as typed."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().business_timezone))
    return value


# ---------------------------------------------------------------- choices

def rollable_versions(session: Session, process_id: int) -> list[SopVersion]:
    """The versions of the process's SOP a rollout may take (approved or published), newest first."""
    sop = sops.sop_of_process(session, process_id)
    if sop is None:
        return []
    return list(session.exec(select(SopVersion).where(SopVersion.sop_id == sop.id,
                                                      col(SopVersion.state).in_(service.ROLLABLE))
                             .order_by(col(SopVersion.id).desc())))


def people_choices(session: Session) -> list[User]:
    return list(session.exec(select(User).where(col(User.is_active).is_(True)).order_by(User.display_name)
                             .limit(1000)))


def department_choices(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(col(Department.code))))


def _dept_name(d: Department | None, locale: str) -> str:
    if d is None:
        return "—"
    return d.name_zh if locale == "zh_CN" and d.name_zh else d.name_en


# ---------------------------------------------------------------- the initiative's plans

def _list_page(request: Request, session: Session, actor: User, initiative_id: Id, *,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
    ctx = initiative_context(session, actor, initiative_id)
    ini = ctx["ini"]
    plans = service.list_plans(session, initiative_id)
    in_phase = ini.current_phase == Phase.rollout
    versions = rollable_versions(session, ini.process.id)
    planned = {p.sop_version_id for p in plans}
    rows = []
    for p in plans:
        ready = service.readiness(session, p)
        rows.append({"plan": service.to_read(session, p), "departments": len(ready.departments),
                     "ready_departments": sum(1 for d in ready.departments if d.ready), "ready": ready.ready})
    free = [v for v in versions if v.id not in planned]
    ctx.update({
        "tab": "rollout", "rows": rows, "in_phase": in_phase, "may_plan": ctx["can_edit"] and in_phase,
        "versions": free, "version_label": version_labels(versions, _gettext(request)).get, "errors": errors or {},
        "values": values or {"sop_version_id": str(free[0].id) if free else "", "pass_mark": "80",
                             "max_attempts": "3", "note": ""},
    })
    return render(request, "rollout/list.html", ctx, block="new_plan" if errors else None, status_code=status_code)


@router.get("/initiatives/{initiative_id}/rollout")
def plan_list(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _list_page(request, session, actor.user, initiative_id)


@router.post("/initiatives/{initiative_id}/rollout")
def create_plan(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("sop_version_id", "pass_mark", "max_attempts")}
    values["note"] = str(form.get("note", "")).strip()
    data: dict[str, Any] = {"note": values["note"]}
    for key in ("sop_version_id", "pass_mark", "max_attempts"):
        if values[key]:
            data[key] = number(values[key])
    done = _submit(session, gettext, PlanCreate, data,
                   lambda d: service.create_plan(session, initiative_id, d, actor.user),
                   ("sop_version_id", "pass_mark", "max_attempts", "note"))
    if done.ok:
        return redirect(request, f"/rollout-plans/{done.result.id}", flash="rollout_plan_created")
    return _list_page(request, session, actor.user, initiative_id, errors=done.errors, values=values,
                      status_code=422)


# ---------------------------------------------------------------- a plan

PEOPLE_SHOWN = 200  # rows of the people table; a filter finds the others


def _people_list(request: Request, people: list[Any]) -> dict[str, Any]:
    """The people table as its filter (the query's `department`, `standing`, `name`) selects, its first
    PEOPLE_SHOWN rows; a filter that is not one shows everyone."""
    q = request.query_params
    department = number(q.get("department", ""))
    department = department if isinstance(department, int) else None
    try:
        standing = Standing(q.get("standing", "")) if q.get("standing") else None
    except ValueError:
        standing = None
    name = q.get("name", "")[:120]
    chosen = service.select_people(people, department_id=department, standing=standing, name=name)
    return {"people": chosen[:PEOPLE_SHOWN], "people_total": len(people), "people_matching": len(chosen),
            "people_filter": {"department": department, "standing": standing.value if standing else "", "name": name},
            "standings": list(Standing)}


def _plan_page(request: Request, session: Session, actor: User, plan_id: int, *, block: str | None = None,
               errors: dict[str, dict[str, Any]] | None = None, values: dict[str, dict[str, Any]] | None = None,
               status_code: int = 200) -> Response:
    locale = negotiate(request)
    plan = service.get_plan(session, plan_id)
    ctx = initiative_context(session, actor, plan.initiative_id)
    read = service.to_read(session, plan)
    v = session.get(SopVersion, plan.sop_version_id)
    team = service.may_plan(session, plan, actor)
    departments = department_choices(session)
    by_id = {d.id: d for d in departments}
    ready = service.readiness(session, plan)
    stored_sessions = {s.id: s for s in service.list_sessions(session, plan.id)}
    sessions = service.session_reads(session, list(stored_sessions.values()))
    may_attend = {s.id: service.may_record_attendance(session, stored_sessions[s.id], actor) for s in sessions}
    # Each person's standing is what the people and the sessions (attendance lists) show; the other sections, which
    # load themselves again after every change, do without it (2,000 people: most of a section's time).
    shows_people = block in (None, "people", "sessions")
    scope = service.person_statuses(session, plan) if shows_people and (team or any(may_attend.values())) else []
    wave_departments = {w.id: set(w.department_ids) for w in read.waves}
    items = service.item_reads(session, service.list_items(session, plan.id))
    notices = service.notice_reads(session, service.list_notices(session, plan.id))
    noticed = {n.wave_id for n in notices}
    mine = service.my_test(session, plan.id, actor)
    errors = errors or {}
    values = values or {}
    ctx.update({
        "tab": "rollout", "plan": read, "v": v, "sop_id": v.sop_id, "team": team, "leader": ctx["can_manage"],
        "today": today(), "departments": departments, "dept": lambda i: _dept_name(by_id.get(i), locale),
        "dept_code": lambda i: by_id[i].code if i in by_id else "—",
        "wave_name": {w.id: w.name for w in read.waves}, "readiness": ready,
        **_people_list(request, scope if team else []), "scope": scope, "sessions": sessions,
        "may_attend": may_attend,
        "wave_departments": wave_departments, "wave_of": {d.department_id: d.wave_id for d in ready.departments},
        "items": items, "notices": notices,
        "notice_waves": [w for w in read.waves if w.id not in noticed], "mine": mine,
        "users": people_choices(session) if block in (None, "people", "sessions", "checklist") else [], "plan_departments": sorted({d.department_id for d in ready.departments}),
        "deliveries": list(Delivery), "checklist_kinds": list(ChecklistKind),
        "export_lang": "zh_CN" if locale == "zh_CN" else "en",
        "may_done": {i.id: team or (i.owner is not None and i.owner.id == actor.id) for i in items},
        "errors": errors, "material_rows": MATERIAL_ROWS,
        "wave_values": values.get("wave") or {"delivery": Delivery.per_department.value, "department_ids": []},
        "people_values": values.get("people") or {},
        "session_values": values.get("session") or {"held_on": today().isoformat(),
                                                     "delivery": Delivery.per_department.value, "materials": []},
        "item_values": values.get("item") or {"kind": ChecklistKind.other.value},
        "notice_values": values.get("notice") or {},
        "exception_values": values.get("exception") or {},
        "plan_values": values.get("plan") or {"pass_mark": read.pass_mark, "max_attempts": read.max_attempts,
                                              "note": read.note, "version": read.version},
        "edit_values": {**_edit_values(read, sessions, items), **values},
    })
    return render(request, "rollout/plan.html", ctx, block=block, status_code=status_code)


def _edit_values(plan: Any, sessions: list[Any], items: list[Any]) -> dict[str, dict[str, Any]]:
    """The change forms' values, by row ("wave-<id>", "session-<id>", "item-<id>"), as the records are now;
    a refused form's values as typed replace its row's."""
    out: dict[str, dict[str, Any]] = {}
    for w in plan.waves:
        out[f"wave-{w.id}"] = {"name": w.name, "starts_on": w.starts_on.isoformat(), "ends_on": w.ends_on.isoformat(),
                               "delivery": w.delivery.value, "department_ids": list(w.department_ids),
                               "version": w.version}
    for s in sessions:
        out[f"session-{s.id}"] = {"title": s.title, "held_on": s.held_on.isoformat(),
                                  "trainer_id": str(s.trainer.id) if s.trainer else "", "delivery": s.delivery.value,
                                  "materials": [{"title": m.title, "url": m.url} for m in s.materials],
                                  "version": s.version}
    for i in items:
        out[f"item-{i.id}"] = {"kind": i.kind.value, "text": i.text, "owner_id": str(i.owner.id) if i.owner else "",
                               "version": i.version}
    return out


def _saved(request: Request, session: Session, actor: User, plan_id: int, section: str,
           changed: bool = True) -> Response:
    response = section_saved(request, f"/rollout-plans/{plan_id}", section,
                             lambda: _plan_page(request, session, actor, plan_id, block=section))
    if changed and is_htmx(request):
        response.headers["HX-Trigger"] = CHANGED
    return response


def _refused(request: Request, session: Session, actor: User, plan_id: int, section: str, key: str,
             done: Submitted, values: dict[str, Any] | None) -> Response:
    shown = {} if done.stale or values is None else {key: values}
    return _plan_page(request, session, actor, plan_id, block=section, errors={key: done.errors}, values=shown,
                      status_code=422)


@router.get("/rollout-plans/{plan_id}")
def plan_page(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _plan_page(request, session, actor.user, plan_id)


@router.get("/rollout-plans/{plan_id}/sections/{section}")
def plan_section(plan_id: Id, section: str, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """One section as it is now (htmx: a section loading itself again after a change elsewhere)."""
    service.get_plan(session, plan_id)
    if section not in SECTIONS or not is_htmx(request):
        return redirect(request, f"/rollout-plans/{plan_id}" + (f"#{section}" if section in SECTIONS else ""))
    return _plan_page(request, session, actor.user, plan_id, block=section)


def _required(values: dict[str, Any], fields: tuple[str, ...], gettext) -> dict[str, str]:  # noqa: ANN001
    """A change form sends every field: the ones a record cannot be without may not be emptied."""
    return {k: gettext(ERROR_MESSAGES["missing"]) for k in fields if not values[k]}


def _delete(request: Request, session: Session, actor: User, plan_id: int, section: str, key: str,
            call: Callable[[], Any], *, changed: bool) -> Response:
    """Delete a row (a wave, a session, an item) at the version the form was rendered with; a refusal shows at
    the row, a stale version shows the section as it is now."""
    gettext = _gettext(request)
    try:
        with undo_on_error(session):
            call()
    except PreconditionFailed:
        done = Submitted(errors={"__all__": gettext(STALE)}, stale=True)
    except (RuleViolation, Conflict) as exc:
        done = Submitted(errors={"__all__": exc.translated(gettext)})
    else:
        return _saved(request, session, actor, plan_id, section, changed=changed)
    return _refused(request, session, actor, plan_id, section, key, done, None)


@router.post("/rollout-plans/{plan_id}/edit")
def edit_plan(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """The test's pass mark and attempts (until someone took it) and the plan's note."""
    gettext = _gettext(request)
    values: dict[str, Any] = {k: field_text(form, k) for k in ("pass_mark", "max_attempts")}
    values["note"] = str(form.get("note", "")).strip()
    values["version"] = version(form)
    data: dict[str, Any] = {"note": values["note"]}
    for key in ("pass_mark", "max_attempts"):
        if values[key]:
            data[key] = number(values[key])
    done = _submit(session, gettext, PlanUpdate, data,
                   lambda d: service.update_plan(session, plan_id, d, actor.user, expected_version=version(form)),
                   ("pass_mark", "max_attempts", "note"), _required(values, ("pass_mark", "max_attempts"), gettext))
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "overview", changed=False)
    return _refused(request, session, actor.user, plan_id, "overview", "plan", done, values)


@router.post("/rollout-plans/{plan_id}/waves")
def add_wave(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("name", "starts_on", "ends_on", "delivery")}
    values["department_ids"] = field_ids(form, "department_ids")
    data: dict[str, Any] = {k: values[k] for k in ("name", "starts_on", "ends_on", "delivery") if values[k]}
    data["name"] = values["name"]
    data["department_ids"] = values["department_ids"]
    done = _submit(session, gettext, WaveIn, data, lambda d: service.add_wave(session, plan_id, d, actor.user),
                   ("name", "starts_on", "ends_on", "delivery", "department_ids"))
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "waves")
    return _refused(request, session, actor.user, plan_id, "waves", "wave", done, values)


WAVE_FIELDS = ("name", "starts_on", "ends_on", "delivery")


@router.post("/rollout-waves/{wave_id}/edit")
def edit_wave(wave_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """A wave's name, dates, delivery and departments (one added comes into the scope, or moves here from another
    wave; one taken out leaves it)."""
    gettext = _gettext(request)
    wave = service.get_wave(session, wave_id)
    values: dict[str, Any] = {k: field_text(form, k) for k in WAVE_FIELDS}
    values["department_ids"] = field_ids(form, "department_ids")
    values["version"] = version(form)
    data: dict[str, Any] = {k: values[k] for k in WAVE_FIELDS if values[k]}
    data["department_ids"] = values["department_ids"]
    before = set(service.get_wave_departments(session, wave))
    done = _submit(session, gettext, WaveUpdate, data,
                   lambda d: service.update_wave(session, wave_id, d, actor.user, expected_version=version(form)),
                   (*WAVE_FIELDS, "department_ids"), _required(values, WAVE_FIELDS, gettext))
    if done.ok:
        # A change of departments moves the scope: the readiness and the people load again.
        return _saved(request, session, actor.user, wave.plan_id, "waves",
                      changed=set(values["department_ids"]) != before)
    return _refused(request, session, actor.user, wave.plan_id, "waves", f"wave-{wave_id}", done, values)


@router.post("/rollout-waves/{wave_id}/delete")
def delete_wave(wave_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """Delete a wave with its departments' people (not once a department is live or the wave has sessions)."""
    wave = service.get_wave(session, wave_id)
    return _delete(request, session, actor.user, wave.plan_id, "waves", f"wave-{wave_id}",
                   lambda: service.delete_wave(session, wave_id, actor.user, expected_version=version(form)),
                   changed=True)


@router.post("/rollout-plans/{plan_id}/departments/{department_id}/exception")
def record_exception(plan_id: Id, department_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                     form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"department_id": department_id, "reason": str(form.get("reason", "")).strip()}
    done = _submit(session, gettext, ExceptionRequest, {"reason": values["reason"]},
                   lambda d: service.record_exception(session, plan_id, department_id, d, actor.user), ("reason",))
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "readiness")
    return _refused(request, session, actor.user, plan_id, "readiness", "exception", done, values)


@router.post("/rollout-plans/{plan_id}/people")
def update_people(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    """Add a person to the scope (in one of the plan's departments, with their SOP role), or take people out."""
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("user_id", "department_id", "sop_role")}
    remove = field_ids(form, "remove")
    data: dict[str, Any] = {"remove": remove, "add": []}
    errors: dict[str, str] = {}
    if not remove:
        if not values["user_id"]:
            errors["add"] = gettext(ERROR_MESSAGES["missing"])
        else:
            data["add"] = [{"user_id": number(values["user_id"]), "sop_role": values["sop_role"],
                            "department_id": number(values["department_id"]) if values["department_id"] else None}]
    done = _submit(session, gettext, PeopleUpdate, data,
                   lambda d: service.update_people(session, plan_id, d, actor.user), ("add", "remove"), errors)
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "people")
    return _refused(request, session, actor.user, plan_id, "people", "people", done, values)


@router.post("/rollout-plans/{plan_id}/sessions")
def create_session(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    gettext = _gettext(request)
    values, data = _session_form(form, ("wave_id", "title", "held_on", "trainer_id", "delivery"))
    data["delivery"] = data.get("delivery") or Delivery.per_department.value
    done = _submit(session, gettext, SessionCreate, data,
                   lambda d: service.create_session(session, plan_id, d, actor.user),
                   ("wave_id", "title", "held_on", "trainer_id", "delivery", "materials"))
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "sessions", changed=False)
    return _refused(request, session, actor.user, plan_id, "sessions", "session", done, values)


def _session_form(form: dict[str, Any], fields: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values as typed, the schema's input) of a session's form: its fields and the material rows (a title and
    a link each; empty rows left out)."""
    values: dict[str, Any] = {k: field_text(form, k) for k in fields}
    titles = [str(t).strip() for t in as_list(form.get("material_title"))]
    urls = [str(u).strip() for u in as_list(form.get("material_url"))]
    urls += [""] * (len(titles) - len(urls))
    values["materials"] = [{"title": t, "url": u} for t, u in zip(titles, urls, strict=False)]
    data: dict[str, Any] = {"title": values["title"], "trainer_id": None,
                            "materials": [m for m in values["materials"] if m["title"] or m["url"]]}
    for key in ("wave_id", "trainer_id"):
        if values.get(key):
            data[key] = number(values[key])
    for key in ("held_on", "delivery"):
        if values[key]:
            data[key] = values[key]
    return values, data


SESSION_FIELDS = ("title", "held_on", "trainer_id", "delivery")


@router.post("/training-sessions/{session_id}/edit")
def edit_session(session_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    ts = service.get_session(session, session_id)
    values, data = _session_form(form, SESSION_FIELDS)
    values["version"] = version(form)
    done = _submit(session, gettext, SessionUpdate, data,
                   lambda d: service.update_session(session, session_id, d, actor.user,
                                                    expected_version=version(form)),
                   (*SESSION_FIELDS, "materials"), _required(values, ("title", "held_on", "delivery"), gettext))
    if done.ok:
        return _saved(request, session, actor.user, ts.plan_id, "sessions", changed=False)
    return _refused(request, session, actor.user, ts.plan_id, "sessions", f"session-{session_id}", done, values)


@router.post("/training-sessions/{session_id}/delete")
def delete_session(session_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    """Delete a session no one's attendance was recorded at."""
    ts = service.get_session(session, session_id)
    return _delete(request, session, actor.user, ts.plan_id, "sessions", f"session-{session_id}",
                   lambda: service.delete_session(session, session_id, actor.user, expected_version=version(form)),
                   changed=False)


@router.post("/training-sessions/{session_id}/attendance")
def record_attendance(session_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                      form: FormData) -> Response:
    """Who attended: a checkbox per person listed (`people`); the ones not checked are recorded absent."""
    gettext = _gettext(request)
    ts = service.get_session(session, session_id)
    listed = field_ids(form, "people")
    present = set(field_ids(form, "attended"))
    data = {"attendance": [{"user_id": u, "attended": u in present} for u in listed]}
    done = _submit(session, gettext, AttendanceUpdate, data,
                   lambda d: service.record_attendance(session, session_id, d, actor.user), ("attendance",))
    if done.ok:
        return _saved(request, session, actor.user, ts.plan_id, "sessions")
    return _refused(request, session, actor.user, ts.plan_id, "sessions", f"attendance-{session_id}", done,
                    {"attended": sorted(present)})


@router.post("/rollout-plans/{plan_id}/checklist")
def create_item(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("kind", "text", "owner_id")}
    data: dict[str, Any] = {"text": values["text"], "kind": values["kind"] or ChecklistKind.other.value}
    if values["owner_id"]:
        data["owner_id"] = number(values["owner_id"])
    done = _submit(session, gettext, ChecklistCreate, data,
                   lambda d: service.create_item(session, plan_id, d, actor.user), ("kind", "text", "owner_id"))
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "checklist", changed=False)
    return _refused(request, session, actor.user, plan_id, "checklist", "item", done, values)


ITEM_FIELDS = ("kind", "text", "owner_id")


@router.post("/checklist-items/{item_id}/edit")
def edit_item(item_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """The team changes an item's kind, text and owner (its owner only marks it done)."""
    gettext = _gettext(request)
    item = service.get_item(session, item_id)
    values: dict[str, Any] = {k: field_text(form, k) for k in ITEM_FIELDS}
    values["version"] = version(form)
    data: dict[str, Any] = {"kind": values["kind"] or None, "text": values["text"],
                            "owner_id": number(values["owner_id"]) if values["owner_id"] else None}
    done = _submit(session, gettext, ChecklistUpdate, data,
                   lambda d: service.update_item(session, item_id, d, actor.user, expected_version=version(form)),
                   ITEM_FIELDS, _required(values, ("kind", "text"), gettext))
    if done.ok:
        return _saved(request, session, actor.user, item.plan_id, "checklist", changed=False)
    return _refused(request, session, actor.user, item.plan_id, "checklist", f"item-{item_id}", done, values)


@router.post("/checklist-items/{item_id}/delete")
def delete_item(item_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    item = service.get_item(session, item_id)
    return _delete(request, session, actor.user, item.plan_id, "checklist", f"item-{item_id}",
                   lambda: service.delete_item(session, item_id, actor.user, expected_version=version(form)),
                   changed=False)


@router.post("/checklist-items/{item_id}/done")
def mark_item(item_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    """Mark an item done (or not done again): its owner or the team."""
    gettext = _gettext(request)
    item = service.get_item(session, item_id)
    done = _submit(session, gettext, ChecklistUpdate, {"done": field_text(form, "done") == "true"},
                   lambda d: service.update_item(session, item_id, d, actor.user, expected_version=version(form)),
                   ())
    if done.ok:
        return _saved(request, session, actor.user, item.plan_id, "checklist", changed=False)
    return _refused(request, session, actor.user, item.plan_id, "checklist", "item", done, None)


@router.post("/rollout-plans/{plan_id}/notices")
def create_notice(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("wave_id", "effective_at")}
    values["text"] = str(form.get("text", "")).strip()
    data: dict[str, Any] = {"text": values["text"]}
    errors: dict[str, str] = {}
    if values["wave_id"]:
        data["wave_id"] = number(values["wave_id"])
    at = _local_datetime(values["effective_at"])
    if isinstance(at, str):
        errors["effective_at"] = gettext(DATETIME_FORMAT)
    elif at is not None:
        data["effective_at"] = at
    done = _submit(session, gettext, NoticeCreate, data,
                   lambda d: service.create_notice(session, plan_id, d, actor.user),
                   ("wave_id", "effective_at", "text"), errors)
    if done.ok:
        return _saved(request, session, actor.user, plan_id, "notices", changed=False)
    return _refused(request, session, actor.user, plan_id, "notices", "notice", done, values)


# ---------------------------------------------------------------- a person's test and acknowledgement

def _test_page(request: Request, session: Session, actor: User, plan_id: int, *,
               errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    plan: RolloutPlan = service.get_plan(session, plan_id)
    ctx = initiative_context(session, actor, plan.initiative_id)
    v = session.get(SopVersion, plan.sop_version_id)
    mine = service.my_test(session, plan.id, actor)
    diff = None
    if mine.delta and plan.previous_version_id:
        diff = f"/sops/{v.sop_id}/diff?from={plan.previous_version_id}&to={v.id}"
    ctx.update({"tab": "rollout", "plan": service.to_read(session, plan), "v": v, "number": sops.number(v),
                "mine": mine, "diff": diff, "errors": errors or {}})
    return render(request, "rollout/test.html", ctx, status_code=status_code)


@router.get("/rollout-plans/{plan_id}/test")
def test_page(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _test_page(request, session, actor.user, plan_id)


@router.post("/rollout-plans/{plan_id}/attempts")
def start_attempt(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Start an attempt (or continue the open one) and go to it."""
    gettext = _gettext(request)
    try:
        with undo_on_error(session):
            attempt, _new = service.start_attempt(session, plan_id, actor.user)
    except (Conflict, Forbidden, RuleViolation) as exc:
        return _test_page(request, session, actor.user, plan_id, errors={"__all__": exc.translated(gettext)},
                          status_code=409 if isinstance(exc, Conflict) else 403)
    return redirect(request, f"/test-attempts/{attempt.id}")


def _attempt_page(request: Request, session: Session, actor: User, attempt_id: int, *,
                  errors: dict[str, str] | None = None, chosen: dict[int, list[int]] | None = None,
                  status_code: int = 200) -> Response:
    attempt = service.get_attempt(session, attempt_id, actor)
    read = service.attempt_read(session, attempt)
    plan = service.get_plan(session, attempt.plan_id)
    ctx = initiative_context(session, actor, plan.initiative_id)
    mine = service.my_test(session, plan.id, actor)
    results = {r.question_id: r for r in read.results or []}
    gettext = _gettext(request)

    def option(kind: Any, text: str) -> str:
        return gettext(TRUE_FALSE[text]) if getattr(kind, "value", kind) == "true_false" and text in TRUE_FALSE \
            else text

    ctx.update({"tab": "rollout", "attempt": read, "plan": service.to_read(session, plan), "mine": mine,
                "results": results, "option": option, "errors": errors or {}, "chosen": chosen or {}})
    return render(request, "rollout/attempt.html", ctx, status_code=status_code)


@router.get("/test-attempts/{attempt_id}")
def attempt_page(attempt_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _attempt_page(request, session, actor.user, attempt_id)


@router.post("/test-attempts/{attempt_id}/submit")
def submit_attempt(attempt_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                   form: FormData) -> Response:
    """The answers: `q-<question id>` with the options' places as the paper showed them."""
    gettext = _gettext(request)
    attempt = service.get_attempt(session, attempt_id, actor.user)
    chosen = {item["question_id"]: field_ids(form, f"q-{item['question_id']}") for item in attempt.paper}
    data = {"answers": [{"question_id": q, "chosen": c} for q, c in chosen.items()]}
    done = _submit(session, gettext, AttemptSubmit, data,
                   lambda d: service.submit_attempt(session, attempt_id, d, actor.user), ("answers",))
    if done.ok:
        return redirect(request, f"/test-attempts/{attempt_id}?saved=result#result", flash="rollout_submitted")
    return _attempt_page(request, session, actor.user, attempt_id, errors=done.errors, chosen=chosen,
                         status_code=422)


@router.post("/rollout-plans/{plan_id}/acknowledgement")
def acknowledge(plan_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    done = _submit(session, gettext, AcknowledgeRequest, {"content_hash": field_text(form, "content_hash")},
                   lambda d: service.acknowledge(session, plan_id, d, actor.user), ("content_hash",))
    if done.ok:
        return redirect(request, f"/rollout-plans/{plan_id}/test?saved=acknowledge#acknowledge",
                        flash="rollout_acknowledged")
    errors = {"__all__": done.errors.get("content_hash") or done.errors.get("__all__", "")}
    return _test_page(request, session, actor.user, plan_id, errors=errors, status_code=422)


# ---------------------------------------------------------------- the question bank

def _links(v: SopVersion) -> tuple[dict[str, str], dict[str, str]]:
    content = sops.content_of(v)
    steps = {str(s.id): s.name for s in content.steps if s.id}
    points = {str(c.id): c.description for c in content.control_points if c.id}
    return steps, points


def _question_values(q: Any) -> dict[str, Any]:
    link = f"step:{q.step_id}" if q.step_id else (f"cp:{q.control_point_id}" if q.control_point_id else "")
    return {"kind": getattr(q.kind, "value", q.kind), "text": q.text, "options": list(q.options),
            "correct": list(q.correct), "link": link, "version": q.version}


def _question_form(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(values as typed, the schema's input, the page's own messages) of a question's form: option rows with a
    "right" checkbox each; true/false has its own right answer; the step or control point as `step:`/`cp:`."""
    kind = field_text(form, "kind")
    texts = [str(t).strip() for t in as_list(form.get("option"))]
    right = set(field_ids(form, "right"))
    link = field_text(form, "link")
    values = {"kind": kind, "text": str(form.get("text", "")).strip(), "options": texts,
              "correct": sorted(right), "link": link, "tf": field_text(form, "tf")}
    data: dict[str, Any] = {"kind": kind or None, "text": values["text"]}
    errors: dict[str, str] = {}
    if kind == QuestionKind.true_false.value:
        data["options"], data["correct"] = [], [number(values["tf"])] if values["tf"] in ("0", "1") else []
    else:
        kept = [(i, t) for i, t in enumerate(texts) if t]
        data["options"] = [t for _, t in kept]
        data["correct"] = [n for n, (i, _) in enumerate(kept) if i in right]
    if not data["correct"]:
        errors["correct"] = NO_RIGHT
    prefix, _sep, ref = link.partition(":")
    if prefix == "step" and ref:
        data["step_id"] = ref
    elif prefix == "cp" and ref:
        data["control_point_id"] = ref
    else:
        errors["link"] = NO_LINK
    return values, data, errors


QUESTION_FIELDS = ("kind", "text", "options", "correct", "link", "step_id", "control_point_id")


def _question_errors(errors: dict[str, str]) -> dict[str, str]:
    """The schema's fields as the form's: the step or control point is one select (`link`)."""
    out: dict[str, str] = {}
    for key, text in errors.items():
        out.setdefault("link" if key in ("step_id", "control_point_id") else key, text)
    return out


def _questions_page(request: Request, session: Session, actor: User, version_id: int, *,
                    errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict[str, Any]] | None = None,
                    drafted: int | None = None, skipped: int | None = None, status_code: int = 200) -> Response:
    items = service.list_questions(session, version_id, actor)  # Forbidden for anyone but the team
    v = sops.get_version(session, version_id)
    sop = sops.get_sop(session, v.sop_id)
    steps, points = _links(v)
    reads = service.question_reads(session, items)
    gettext = _gettext(request)
    ctx = {"v": v, "number": sops.number(v), "sop": sops.sop_read(session, sop), "questions": reads,
           "steps": steps, "points": points, "errors": errors or {}, "values": values or {},
           "new_values": (values or {}).get("new") or {"kind": "single", "options": [], "correct": [], "link": ""},
           "edit_values": {q.id: (values or {}).get(f"q-{q.id}") or _question_values(q) for q in reads},
           "option_rows": OPTION_ROWS, "kinds": list(QuestionKind), "drafted": drafted, "skipped": skipped,
           "tf_label": lambda t: gettext(TRUE_FALSE[t]), "plan": service.plans_of_version(session, version_id)}
    return render(request, "rollout/questions.html", ctx, block="bank" if is_htmx(request) else None,
                  status_code=status_code)


def _bank_saved(request: Request, session: Session, actor: User, version_id: int, **extra: Any) -> Response:
    if is_htmx(request):
        return _questions_page(request, session, actor, version_id, **extra)
    return redirect(request, f"/sop-versions/{version_id}/questions?saved=bank#bank")


@router.get("/sop-versions/{version_id}/questions")
def questions_page(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _questions_page(request, session, actor.user, version_id)


@router.post("/sop-versions/{version_id}/questions")
def create_question(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    form: FormData) -> Response:
    gettext = _gettext(request)
    service.list_questions(session, version_id, actor.user)
    values, data, errors = _question_form(form)
    done = _submit(session, gettext, QuestionIn, data,
                   lambda d: service.create_question(session, version_id, d, actor.user), QUESTION_FIELDS,
                   {k: gettext(t) for k, t in errors.items()})
    if done.ok:
        return _bank_saved(request, session, actor.user, version_id)
    return _questions_page(request, session, actor.user, version_id, errors={"new": _question_errors(done.errors)},
                           values={"new": values}, status_code=422)


@router.post("/sop-versions/{version_id}/questions/draft")
def draft_questions(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Draft questions from the version's control points and steps, worded in the reader's language."""
    locale = "zh_CN" if negotiate(request) == "zh_CN" else "en"
    with undo_on_error(session):
        result = service.draft_questions(session, version_id, actor.user, locale)
    if is_htmx(request):
        return _questions_page(request, session, actor.user, version_id, drafted=len(result.drafted),
                               skipped=result.skipped)
    return redirect(request, f"/sop-versions/{version_id}/questions?saved=bank#bank")


@router.post("/test-questions/{question_id}/review")
def review_question(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    form: FormData) -> Response:
    gettext = _gettext(request)
    q = service.get_question(session, question_id)
    try:
        with undo_on_error(session):
            service.review_question(session, question_id, actor.user, expected_version=version(form))
    except PreconditionFailed:
        return _questions_page(request, session, actor.user, q.sop_version_id,
                               errors={f"q-{question_id}": {"__all__": gettext(STALE)}}, status_code=422)
    return _bank_saved(request, session, actor.user, q.sop_version_id)


@router.post("/test-questions/{question_id}")
def update_question(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    form: FormData) -> Response:
    gettext = _gettext(request)
    q = service.get_question(session, question_id)
    values, data, errors = _question_form(form)
    values["version"] = version(form)
    done = _submit(session, gettext, QuestionIn, data,
                   lambda d: service.update_question(session, question_id, d, actor.user,
                                                     expected_version=version(form)),
                   QUESTION_FIELDS, {k: gettext(t) for k, t in errors.items()})
    if done.ok:
        return _bank_saved(request, session, actor.user, q.sop_version_id)
    return _questions_page(request, session, actor.user, q.sop_version_id,
                           errors={f"q-{question_id}": _question_errors(done.errors)},
                           values={} if done.stale else {f"q-{question_id}": values}, status_code=422)


@router.post("/test-questions/{question_id}/delete")
def delete_question(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    form: FormData) -> Response:
    gettext = _gettext(request)
    q = service.get_question(session, question_id)
    version_id = q.sop_version_id
    try:
        with undo_on_error(session):
            service.delete_question(session, question_id, actor.user, expected_version=version(form))
    except PreconditionFailed:
        return _questions_page(request, session, actor.user, version_id,
                               errors={f"q-{question_id}": {"__all__": gettext(STALE)}}, status_code=422)
    return _bank_saved(request, session, actor.user, version_id)


# ---------------------------------------------------------------- the help channel

def _help_context(session: Session, sop_id: int, user: User, *, errors: dict[str, dict[str, str]] | None = None,
                  values: dict[str, str] | None = None) -> dict[str, Any]:
    sop = sops.get_sop(session, sop_id)
    return {"sop_id": sop.id, "questions": service.help_thread(session, sop.id),
            "may_answer": service.may_answer(session, sop, user), "errors": errors or {}, "typed": values or {}}


def _help_page(request: Request, session: Session, user: User, sop_id: int, *,
               errors: dict[str, dict[str, str]] | None = None, values: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    sop = sops.get_sop(session, sop_id)
    section = Section("rollout/_help.html", _help_context(session, sop_id, user, errors=errors, values=values))
    return render(request, "rollout/help.html", {"section": section, "sop": sops.sop_read(session, sop)},
                  block="help", status_code=status_code)


@router.get("/sops/{sop_id}/help")
def help_page(sop_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The help channel on its own (htmx: the SOP page's section again)."""
    return _help_page(request, session, actor.user, sop_id)


def _help_done(request: Request, session: Session, user: User, sop_id: int, anchor: str) -> Response:
    if is_htmx(request):
        return _help_page(request, session, user, sop_id)
    return redirect(request, f"/sops/{sop_id}?saved=help#{anchor}", flash="rollout_help_saved")


@router.post("/sops/{sop_id}/help")
def ask(sop_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    text = str(form.get("text", "")).strip()
    done = _submit(session, gettext, HelpCreate, {"text": text},
                   lambda d: service.ask(session, sop_id, d, actor.user), ("text",))
    if done.ok:
        return _help_done(request, session, actor.user, sop_id, f"help-{done.result.id}")
    return _help_page(request, session, actor.user, sop_id, errors={"ask": done.errors}, values={"ask": text},
                      status_code=422)


@router.post("/help-questions/{question_id}/answers")
def answer(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
           form: FormData) -> Response:
    gettext = _gettext(request)
    q = service.get_help_question(session, question_id)
    text = str(form.get("text", "")).strip()
    done = _submit(session, gettext, HelpCreate, {"text": text},
                   lambda d: service.answer(session, question_id, d, actor.user), ("text",))
    if done.ok:
        return _help_done(request, session, actor.user, q.sop_id, f"help-{q.id}")
    return _help_page(request, session, actor.user, q.sop_id, errors={f"answer-{q.id}": done.errors},
                      values={f"answer-{q.id}": text}, status_code=422)


# ---------------------------------------------------------------- sections of the SOP pages

@extends("sop_version")
def _in_force(session: Session, version_id: int, process_id: int, user: Any) -> dict[str, Any]:
    """A version with a rollout plan: where it is in force (per department, since when) and its launch notices;
    and, on every version, the SOP's help channel."""
    sections = []
    plan = service.plans_of_version(session, version_id)
    if plan is not None:
        ready = service.readiness(session, plan)
        depts = {d.id: d for d in session.exec(select(Department).where(
            col(Department.id).in_([d.department_id for d in ready.departments])))}
        notices = service.notice_reads(session, service.list_notices(session, plan.id))
        sections.append(Section("rollout/_in_force.html", {
            "plan": plan, "readiness": ready, "depts": depts, "notices": notices,
            "wave_name": {w.id: w.name for w in service.waves(session, plan.id)}}, order=10))
    v = session.get(SopVersion, version_id)
    if v is not None:
        sections.append(Section("rollout/_help.html", _help_context(session, v.sop_id, user), order=90))
    return {"sections": sections}
