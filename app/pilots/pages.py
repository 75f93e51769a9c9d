"""Pilot pages (phase 4): the initiative's pilots, one pilot with its log, retrospectives, survey, evaluation,
unmet problems, decision and Table 3.

The pilot's page is made of sections (`#overview`, `#people`, `#log`, `#retros`, `#survey`, `#unmet`,
`#evaluation`, `#decision`), each a block of templates/pilots/pilot.html: a form posts with htmx and gets its
section back (422 with the messages at the fields, nothing written), and the sections that show what it
changed load themselves again on the event the answer names (`HX-Trigger`: the plan moves the evaluation and
the decision, the people move the survey, an answer moves the people). Without htmx a form is a plain post
answered by a redirect (or the whole page with the messages). Every rule is the service's: the pages call the
same functions as the API, with the same schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.calendar import today
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Conflict, NotFound, RuleViolation
from app.core.forms import (
    FormData,
    Submitted,
    as_list,
    field_ids,
    field_text,
    number,
    refusal_errors,
    submit,
    version,
)
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import FLASH, N_
from app.core.templating import is_htmx, redirect, render
from app.initiatives.models import Phase
from app.initiatives.pages import initiative_context, section_saved
from app.initiatives.service import can_edit, get_initiative
from app.metrics.labels import fmt_value
from app.metrics.models import Aggregation, Kpi
from app.pilots import service, table3
from app.pilots.models import Decision, Pilot, PilotUnmet
from app.pilots.schemas import (
    ActionUpdate,
    AnswerCreate,
    DecisionRequest,
    Evaluation,
    LogEntryCreate,
    PilotCreate,
    PilotRead,
    PilotUpdate,
    PromoteRequest,
    RetroCreate,
    UnmetCreate,
)
from app.sops import service as sops
from app.sops.models import SopState, SopVersion
from app.sops.pages import SOP_LABELS
from app.users.models import User

router = APIRouter()
M = TypeVar("M", bound=BaseModel)

FLASH.setdefault("pilot_created", N_("Pilot planned."))
FLASH.setdefault("pilot_decided", N_("Pilot decided."))

SECTIONS = ("overview", "people", "log", "retros", "survey", "unmet", "evaluation", "decision")
# What a saved form changes elsewhere on the page: the sections listening to these events load again.
PLAN_CHANGED, PEOPLE_CHANGED, SURVEY_CHANGED = "pilot-plan-changed", "pilot-people-changed", "pilot-survey-changed"
ACTION_ROWS = 3  # empty action rows in a new retrospective's form

STATUS = {"planned": N_("Planned"), "running": N_("Running"), "finished": N_("Ended, not decided"),
          "decided": N_("Decided")}
DECISIONS = {"adopt": N_("Adopt"), "adapt": N_("Adapt"), "abandon": N_("Abandon")}
DECISION_HINTS = {
    "adopt": N_("On to rollout: the pilot criterion of the gate is met."),
    "adapt": N_("Adapt the version and run another pilot round."),
    "abandon": N_("Back to design (phase 3): the initiative returns there."),
}
# The service's rules, by field and type, as the pages say them (its English texts, translated here).
FORM_MESSAGES = {
    ("sop_version_id", "unknown_version"): N_("Choose a version of the SOP of the initiative's process."),
    ("sop_version_id", "not_approved"): N_("A pilot runs an approved or published SOP version."),
    ("kpis", "unknown_kpi"): N_("Choose KPIs of the initiative's process."),
    ("scope_labels", "label_name"): N_("A scope label is named like the observations' labels: a letter, then "
                                       "letters, digits or _ (not kpi_id, ts or value)."),
    ("members", "unknown_user"): N_("The pilot's people must be active users."),
    ("members", "answered"): N_("Someone who answered the survey stays in the pilot."),
    ("initiative", "phase_order"): N_("Pilots are run in the pilot phase."),
    ("anonymous_survey", "answered"): N_("The survey has answers: whether it is anonymous no longer changes."),
    ("actual_end", "before_start"): N_("The pilot ends after it starts."),
    ("actual_start", "future"): N_("The actual start cannot be in the future."),
    ("actual_end", "future"): N_("The actual end cannot be in the future."),
    ("actual_end", "not_ended"): N_("End the pilot (its actual end) before deciding."),
    ("progress", "missing"): N_("Write the day's progress or its problems."),
    ("day", "future"): N_("A log entry is for today or a day before."),
    ("problems", "missing"): N_("The entry names no problem."),
    ("week", "duplicate"): N_("This week has its retrospective already."),
    ("week", "order"): N_("Retrospectives follow the weeks: this week is before the last one."),
    ("actions", "unknown_user"): N_("The owner must be an active user."),
    ("close_action_ids", "unknown_action"): N_("Close open actions of this pilot's earlier weeks."),
    ("closed_week", "order"): N_("An action is closed in its own week or a later one."),
    ("start_next_version", "not_adopted"): N_("Only an adopted pilot starts the next version."),
}
LABELS_FORMAT = N_("Write one label a line, as key=value (team=A), each key once.")
NUMBER_FORMAT = N_("Enter a number, e.g. 30 or 12.5.")
NO_KPI = N_("Choose at least one KPI.")
SHORT_REASON = N_("At least 5 characters: the initiative goes back to design with this reason.")
STALE = N_("Someone else changed this pilot meanwhile; it is shown again as it is now.")
# "Too few" figures: why, from the service's own reason (service.MIN_OBSERVATIONS).
TOO_FEW_WHY = N_("With under %(n)s values a mean (or a rate) still moves a lot with each one: the usual rule of "
                 "thumb for when a sample's mean starts to behave normally.")


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


# ---------------------------------------------------------------- forms

def _submit(session: Session, gettext, schema: type[M], data: dict[str, Any], call: Callable[[M], Any],  # noqa: ANN001
            fields: tuple[str, ...], errors: dict[str, str] | None = None) -> Submitted:
    """`app.core.forms.submit` with the pilot's messages at the form's `fields`, and the page's own checks
    (`errors`, from reading the form) shown together with the schema's."""
    return submit(session, gettext, schema, data, call, fields=fields, checks=errors, messages=FORM_MESSAGES,
                  stale=gettext(STALE))


def parse_labels(raw: str) -> dict[str, str] | None:
    """`key=value` lines (`team=A`) as the scope's labels; None when a line is not one, or a key repeats."""
    labels: dict[str, str] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.replace("＝", "=").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or key in labels:
            return None
        labels[key] = value
    return labels


def labels_text(labels: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in labels.items())


def _float(raw: str) -> tuple[float | None, bool]:
    """A number typed in a field ("12,5" too): (value, ok); empty is (None, True)."""
    text = raw.strip().replace(",", ".").replace("，", ".")
    if not text:
        return None, True
    try:
        value = float(text)
    except ValueError:
        return None, False
    return (value, True) if value == value and abs(value) != float("inf") else (None, False)


def _plan_values(form: dict[str, Any]) -> dict[str, Any]:
    """The plan's fields as typed (the form is shown again with them)."""
    values: dict[str, Any] = {k: field_text(form, k) for k in ("sop_version_id", "scope", "scope_labels", "planned_start",
                                                           "planned_weeks", "baseline_weeks", "prediction")}
    values["scope_labels"] = str(form.get("scope_labels", ""))
    values["prediction"] = str(form.get("prediction", "")).strip()
    values["anonymous_survey"] = bool(form.get("anonymous_survey"))
    values["kpi_ids"] = field_ids(form, "kpi_ids")
    values["kpi_fields"] = {k: field_text(form, k) for k in form if k.startswith(("target_", "expected_"))}
    values["member_ids"] = field_ids(form, "member_ids")
    values["briefed"] = {k: field_text(form, k) for k in form if k.startswith("briefed_")}
    return values


def _plan_data(values: dict[str, Any], *, with_members: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The schema's input from the typed plan, and what the page itself refuses (labels, numbers)."""
    data: dict[str, Any] = {"scope": values["scope"], "prediction": values["prediction"],
                            "anonymous_survey": values["anonymous_survey"]}
    errors: dict[str, str] = {}
    if values.get("sop_version_id"):
        data["sop_version_id"] = number(values["sop_version_id"])
    for key in ("planned_weeks", "baseline_weeks"):
        if values[key]:
            data[key] = number(values[key])
    if values["planned_start"]:
        data["planned_start"] = values["planned_start"]
    labels = parse_labels(values["scope_labels"])
    if labels is None:
        errors["scope_labels"] = LABELS_FORMAT
    else:
        data["scope_labels"] = labels
    kpis = []
    for kpi_id in values["kpi_ids"]:
        item: dict[str, Any] = {"kpi_id": kpi_id}
        for name in ("target", "expected"):
            value, ok = _float(values["kpi_fields"].get(f"{name}_{kpi_id}", ""))
            if not ok:
                errors.setdefault("kpis", NUMBER_FORMAT)
            if value is not None:
                item[name] = value
        kpis.append(item)
    if not kpis:
        errors["kpis"] = NO_KPI
    data["kpis"] = kpis
    if with_members:
        data["members"] = _member_data(values)
    return data, errors


def _member_data(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"user_id": uid, "briefed_on": values["briefed"].get(f"briefed_{uid}") or None}
            for uid in values["member_ids"]]


def _read_values(read: PilotRead) -> dict[str, Any]:
    """A stored pilot as the values of its plan form and people form."""
    return {
        "sop_version_id": str(read.sop_version.id), "scope": read.scope, "scope_labels": labels_text(read.scope_labels),
        "planned_start": read.planned_start.isoformat(), "planned_weeks": str(read.planned_weeks),
        "baseline_weeks": str(read.baseline_weeks), "prediction": read.prediction,
        "anonymous_survey": read.anonymous_survey, "kpi_ids": [k.kpi_id for k in read.kpis],
        "kpi_fields": {**{f"target_{k.kpi_id}": _num(k.target) for k in read.kpis},
                       **{f"expected_{k.kpi_id}": _num(k.expected) for k in read.kpis}},
        "member_ids": [m.user.id for m in read.members],
        "briefed": {f"briefed_{m.user.id}": m.briefed_on.isoformat() if m.briefed_on else "" for m in read.members},
        "version": read.version,
    }


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.6f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------- choices and views

def pilotable_versions(session: Session, process_id: int) -> list[SopVersion]:
    """The versions of the process's SOP a pilot may run (approved or published), newest first."""
    sop = sops.sop_of_process(session, process_id)
    if sop is None:
        return []
    return list(session.exec(select(SopVersion).where(SopVersion.sop_id == sop.id,
                                                      col(SopVersion.state).in_(service.PILOTABLE))
                             .order_by(col(SopVersion.id).desc())))


def kpi_choices(session: Session, process_id: int) -> list[Kpi]:
    """The KPIs a pilot of the initiative may watch (the service's rule: those of its process)."""
    return list(session.exec(select(Kpi).where(col(Kpi.process_id) == process_id)
                             .order_by(col(Kpi.code_norm)).limit(200)))


def people_choices(session: Session) -> list[User]:
    """Who may be one of the pilot's people: every active account (front-line staff and viewers too)."""
    return list(session.exec(select(User).where(col(User.is_active).is_(True)).order_by(User.display_name)
                             .limit(1000)))


def version_labels(versions: list[SopVersion], gettext) -> dict[int, str]:  # noqa: ANN001
    """Each version as the select shows it: its number and its status today ("V1.1 · Effective")."""
    published = sorted((v for v in versions if v.state == SopState.published and v.effective_date),
                       key=lambda v: (v.effective_date, v.number_major or 0, v.number_minor or 0))
    now = today()
    current = sops.in_force(published, now)
    names = SOP_LABELS["sop_status"]
    return {v.id: f"{sops.number(v) or '—'} · {gettext(names[sops.status_at(v, current, now).value])}"
            for v in versions}


def _default_version(versions: list[SopVersion]) -> str:
    """The version a new pilot most likely runs: one signed and not yet published, else the newest."""
    chosen = next((v for v in versions if v.state == SopState.approved), versions[0] if versions else None)
    return str(chosen.id) if chosen else ""


def _until(end: date) -> date:
    """The last day of a window whose end is exclusive."""
    return end - timedelta(days=1)


def evaluation_view(ev: Evaluation, locale: str, gettext) -> dict[str, Any]:  # noqa: ANN001
    """The evaluation for the table and the charts (static/js/pilots.js): values in the KPI's way (a rate as a
    percentage), the observations behind each, the difference rates as Table 3 writes them."""
    rows = []
    for k in ev.kpis:
        rate = k.aggregation == Aggregation.rate
        scale = 100 if rate else 1
        stages = [("before", k.before), ("during", k.during), ("after", k.after)]

        def fmt(v: float | None, unit: str = k.unit, rate: bool = rate) -> str:
            return fmt_value(v, unit, rate, locale)

        # a figure on too few observations is flagged; no figure at all (n = 0) is only "—"
        cells = {name: None if s is None else {"value": fmt(s.value), "count": s.count,
                                               "too_few": s.too_few and s.value is not None}
                 for name, s in stages}
        chart = {
            "name": k.name_zh if locale == "zh_CN" and k.name_zh else k.name_en,
            "unit": "%" if rate else k.unit, "locale": "ZH" if locale == "zh_CN" else "EN",
            "labels": [gettext("Before"), gettext("Pilot"), gettext("After")],
            "values": [None if s is None or s.value is None else round(s.value * scale, 4) for _, s in stages],
            "counts": [None if s is None else s.count for _, s in stages],
            "too_few": [bool(s and s.too_few and s.value is not None) for _, s in stages],
            "target": None if k.target is None else round(k.target * scale, 4),
            "expected": None if k.expected is None else round(k.expected * scale, 4),
            "text": {"target": gettext("Target"), "expected": gettext("Expected"),
                     "count": gettext("Observations"), "too_few": gettext("too few to trust"),
                     "empty": gettext("No observations in these windows yet.")},
        }
        rows.append({"kpi": k, "name": chart["name"], "cells": cells, "chart": chart,
                     "target": fmt(k.target), "expected": fmt(k.expected),
                     "diff_rate": table3.rate(k.diff_rate) or "—", "diff_rate_after": table3.rate(k.diff_rate_after),
                     "improved": k.improved, "met": k.met_target})
    windows = {"before": (ev.before.start, _until(ev.before.end)), "during": (ev.during.start, _until(ev.during.end)),
               "after": (ev.after.start, _until(ev.after.end)) if ev.after else None}
    return {"rows": rows, "windows": windows, "min": ev.min_observations,
            "any_too_few": any(c and c["too_few"] for r in rows for c in r["cells"].values()),
            "labels": ev.scope_labels}


def _open_actions(session: Session, pilot_id: int) -> list[dict[str, Any]]:
    """The open actions with the version their close form expects (ActionRead has none)."""
    items = [a for a in service.actions_of(session, pilot_id) if a.closed_week is None]
    return [{"read": r, "version": a.version} for a, r in zip(items, service.action_reads(session, pilot_id, items),
                                                              strict=True)]


def _kpi_name(k: Any, locale: str) -> str:
    return k.name_zh if locale == "zh_CN" and k.name_zh else k.name_en


def _pilot_page(request: Request, session: Session, actor: User, pilot_id: Id, *, block: str | None = None,
                errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict[str, Any]] | None = None,
                editing: str | None = None, status_code: int = 200) -> Response:
    """The pilot's page, or one section of it (`block`, for htmx), with a form's messages and typed values
    (`errors`/`values` by section)."""
    gettext = _gettext(request)
    locale = negotiate(request)
    pilot = service.get_pilot(session, pilot_id)
    ctx = initiative_context(session, actor, pilot.initiative_id)
    ini = ctx["ini"]
    read = service.to_read(session, pilot)
    undecided = pilot.decision is None
    errors = errors or {}
    values = values or {}
    retros = service.retro_reads(session, pilot.id, service.retros(session, pilot.id))
    last_week = max((r.week for r in retros), default=0)
    plan_values = values.get("plan") or _read_values(read)
    ctx.update({
        "tab": "pilots", "pilot": read, "today": today(),
        "edit": ctx["can_edit"] and undecided,
        "may_log": undecided and service.may_log(session, pilot, actor),
        "may_decide": undecided and ctx["can_manage"],
        "entries": service.log_reads(session, service.log_entries(session, pilot.id)),
        "retros": retros, "last_week": last_week, "open_actions": _open_actions(session, pilot.id),
        "survey": service.survey(session, pilot.id, actor),
        "unmet": service.unmet_reads(service.unmet_of(session, pilot.id)),
        "ev": evaluation_view(service.evaluate(session, pilot.id), locale, gettext),
        "too_few_why": gettext(TOO_FEW_WHY) % {"n": service.MIN_OBSERVATIONS},
        "kpis": kpi_choices(session, ini.process.id), "people": people_choices(session),
        "kpi_name": lambda k: _kpi_name(k, locale),
        "status_label": lambda s: gettext(STATUS[getattr(s, "value", s)]),
        "decision_label": lambda d: gettext(DECISIONS[getattr(d, "value", d)]),
        "decisions": [(d, DECISIONS[d], DECISION_HINTS[d]) for d in DECISIONS],
        "editing": editing, "errors": errors, "action_rows": ACTION_ROWS,
        "plan": plan_values,
        "dates": values.get("dates") or {"actual_start": (read.actual_start or "") and read.actual_start.isoformat(),
                                         "actual_end": (read.actual_end or "") and read.actual_end.isoformat(),
                                         "version": read.version},
        "people_values": values.get("people") or _read_values(read),
        "log_values": values.get("log") or {"day": today().isoformat()},
        "retro_values": values.get("retro") or {"week": str(last_week + 1), "held_on": today().isoformat(),
                                                "actions": [], "close_action_ids": []},
        "answer_values": values.get("answer") or {},
        "unmet_values": values.get("unmet") or {},
        "decision_values": values.get("decision") or {},
        "fmt_value": fmt_value, "until": _until, "num": _num,
    })
    return render(request, "pilots/pilot.html", ctx, block=block, status_code=status_code)


def _saved(request: Request, session: Session, actor: User, pilot_id: Id, section: str,
           event: str | None = None) -> Response:
    """A section's form saved: the section again (htmx, with the event the sections it moved listen to), or a
    redirect to it."""
    response = section_saved(request, f"/pilots/{pilot_id}", section,
                             lambda: _pilot_page(request, session, actor, pilot_id, block=section))
    if event and is_htmx(request):
        response.headers["HX-Trigger"] = event
    return response


def _refused(request: Request, session: Session, actor: User, pilot_id: Id, section: str, key: str,
             done: Submitted, values: dict[str, Any] | None, editing: str | None = None) -> Response:
    """A section's form refused: the section (or, without htmx, the page) with the messages, 422; a stale
    form comes back as the record is now."""
    shown = {} if done.stale or values is None else {key: values}
    return _pilot_page(request, session, actor, pilot_id, block=section, errors={key: done.errors}, values=shown,
                       editing=editing, status_code=422)


# ---------------------------------------------------------------- the initiative's pilots

def _list_page(request: Request, session: Session, actor: User, initiative_id: Id, *,
               errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
    gettext = _gettext(request)
    locale = negotiate(request)
    ctx = initiative_context(session, actor, initiative_id)
    ini = ctx["ini"]
    pilots = service.list_pilots(session, initiative_id)
    reads = [service.to_read(session, p) for p in pilots]
    open_ = next((p for p in pilots if p.decision is None), None)
    in_phase = ini.current_phase == Phase.pilot
    versions = pilotable_versions(session, ini.process.id)
    start = today()
    ctx.update({
        "tab": "pilots", "pilots": reads, "open_pilot": open_, "in_phase": in_phase,
        "may_plan": ctx["can_edit"] and in_phase and open_ is None,
        "versions": versions, "kpis": kpi_choices(session, ini.process.id), "people": people_choices(session),
        "version_label": version_labels(versions, gettext).get, "kpi_name": lambda k: _kpi_name(k, locale),
        "status_label": lambda s: gettext(STATUS[getattr(s, "value", s)]),
        "decision_label": lambda d: gettext(DECISIONS[getattr(d, "value", d)]),
        "errors": errors or {}, "until": _until, "num": _num,
        "plan": values or {
            "sop_version_id": _default_version(versions), "planned_start": start.isoformat(),
            "planned_weeks": "2", "baseline_weeks": "4", "scope_labels": "", "kpi_ids": [], "kpi_fields": {},
            "member_ids": [], "briefed": {}, "anonymous_survey": False},
    })
    return render(request, "pilots/list.html", ctx, block="new_pilot", status_code=status_code)


@router.get("/initiatives/{initiative_id}/pilots")
def pilot_list(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _list_page(request, session, actor.user, initiative_id)


PLAN_FIELDS = ("sop_version_id", "scope", "scope_labels", "planned_start", "planned_weeks", "baseline_weeks",
               "prediction", "anonymous_survey", "kpis", "members")


@router.post("/initiatives/{initiative_id}/pilots")
def create_pilot(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    gettext = _gettext(request)
    values = _plan_values(form)
    data, errors = _plan_data(values, with_members=True)
    done = _submit(session, gettext, PilotCreate, data,
                   lambda d: service.create_pilot(session, initiative_id, d, actor.user), PLAN_FIELDS,
                   {k: gettext(v) for k, v in errors.items()})
    if done.ok:
        return redirect(request, f"/pilots/{done.result.id}", flash="pilot_created")
    return _list_page(request, session, actor.user, initiative_id, errors=done.errors, values=values,
                      status_code=422)


# ---------------------------------------------------------------- a pilot

@router.get("/pilots/{pilot_id}")
def pilot_page(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               edit: Annotated[str, Query(max_length=20)] = "") -> Response:
    return _pilot_page(request, session, actor.user, pilot_id, editing=edit if edit == "plan" else None)


@router.get("/pilots/{pilot_id}/sections/{section}")
def pilot_section(pilot_id: Id, section: str, request: Request, session: SessionDep, actor: CurrentActor
                  ) -> Response:
    """One section as it is now (htmx: a section loading itself again after a change elsewhere)."""
    if section not in SECTIONS:
        service.get_pilot(session, pilot_id)
        return redirect(request, f"/pilots/{pilot_id}")
    if not is_htmx(request):
        service.get_pilot(session, pilot_id)
        return redirect(request, f"/pilots/{pilot_id}#{section}")
    return _pilot_page(request, session, actor.user, pilot_id, block=section)


@router.get("/pilots/{pilot_id}/plan/edit")
def edit_plan(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """The overview with the plan as a form (htmx); without htmx, the page with it open."""
    pilot = service.get_pilot(session, pilot_id)
    if not is_htmx(request):
        return redirect(request, f"/pilots/{pilot_id}?edit=plan#overview")
    if not can_edit(session, actor.user, get_initiative(session, pilot.initiative_id)):
        return _pilot_page(request, session, actor.user, pilot_id, block="overview")
    return _pilot_page(request, session, actor.user, pilot_id, block="overview", editing="plan")


@router.post("/pilots/{pilot_id}/plan")
def update_plan(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    values = _plan_values(form)
    data, errors = _plan_data(values, with_members=False)
    data.pop("sop_version_id", None)  # fixed once planned
    values["version"] = version(form)
    done = _submit(session, gettext, PilotUpdate, data,
                   lambda d: service.update_pilot(session, pilot_id, d, actor.user, expected_version=version(form)),
                   PLAN_FIELDS, {k: gettext(v) for k, v in errors.items()})
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "overview", PLAN_CHANGED)
    return _refused(request, session, actor.user, pilot_id, "overview", "plan", done, values, editing="plan")


@router.post("/pilots/{pilot_id}/dates")
def update_dates(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    """The actual start and end (empty: not yet)."""
    gettext = _gettext(request)
    values = {"actual_start": field_text(form, "actual_start"), "actual_end": field_text(form, "actual_end"),
              "version": version(form)}
    data = {k: values[k] or None for k in ("actual_start", "actual_end")}
    done = _submit(session, gettext, PilotUpdate, data,
                   lambda d: service.update_pilot(session, pilot_id, d, actor.user, expected_version=version(form)),
                   ("actual_start", "actual_end"))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "overview", PLAN_CHANGED)
    return _refused(request, session, actor.user, pilot_id, "overview", "dates", done, values)


@router.post("/pilots/{pilot_id}/people")
def update_people(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    """The pilot's people and when each was briefed on the SOP version."""
    gettext = _gettext(request)
    values = _plan_values(form)
    values["version"] = version(form)
    done = _submit(session, gettext, PilotUpdate, {"members": _member_data(values)},
                   lambda d: service.update_pilot(session, pilot_id, d, actor.user, expected_version=version(form)),
                   ("members",))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "people", PEOPLE_CHANGED)
    return _refused(request, session, actor.user, pilot_id, "people", "people", done, values)


# ---------------------------------------------------------------- daily log

@router.post("/pilots/{pilot_id}/log")
def add_log_entry(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"day": field_text(form, "day"), "progress": str(form.get("progress", "")).strip(),
              "problems": str(form.get("problems", "")).strip()}
    data = {k: v for k, v in values.items() if v or k != "day"}
    done = _submit(session, gettext, LogEntryCreate, data,
                   lambda d: service.add_log_entry(session, pilot_id, d, actor.user), ("day", "progress", "problems"))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "log")
    return _refused(request, session, actor.user, pilot_id, "log", "log", done, values)


@router.post("/pilots/{pilot_id}/log/{entry_id}/promote")
def promote_entry(pilot_id: Id, entry_id: Id, request: Request, session: SessionDep, actor: CurrentActor
                  ) -> Response:
    """The entry's problems as a problem of the initiative."""
    gettext = _gettext(request)
    done = _submit(session, gettext, PromoteRequest, {},
                   lambda d: service.promote(session, pilot_id, entry_id, d, actor.user), ())
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "log")
    return _refused(request, session, actor.user, pilot_id, "log", "log", done, None)


# ---------------------------------------------------------------- retrospectives

@router.post("/pilots/{pilot_id}/retrospectives")
def add_retro(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
              form: FormData) -> Response:
    gettext = _gettext(request)
    texts = [str(t).strip() for t in as_list(form.get("action_text"))]
    owners = [field_text({"o": o}, "o") for o in as_list(form.get("action_owner"))]
    owners += [""] * (len(texts) - len(owners))
    actions = [{"text": t, "owner_id": o} for t, o in zip(texts, owners, strict=False)]
    values = {"week": field_text(form, "week"), "held_on": field_text(form, "held_on"),
              "went_well": str(form.get("went_well", "")).strip(), "went_badly": str(form.get("went_badly", "")).strip(),
              "actions": actions, "close_action_ids": field_ids(form, "close_action_ids")}
    data: dict[str, Any] = {"went_well": values["went_well"], "went_badly": values["went_badly"],
                            "close_action_ids": values["close_action_ids"],
                            "actions": [{"text": a["text"], "owner_id": number(a["owner_id"]) if a["owner_id"] else None}
                                        for a in actions if a["text"]]}
    for key in ("week", "held_on"):
        if values[key]:
            data[key] = number(values[key]) if key == "week" else values[key]
    done = _submit(session, gettext, RetroCreate, data,
                   lambda d: service.add_retro(session, pilot_id, d, actor.user),
                   ("week", "held_on", "went_well", "went_badly", "actions", "close_action_ids"))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "retros")
    return _refused(request, session, actor.user, pilot_id, "retros", "retro", done, values)


@router.post("/pilot-actions/{action_id}/close")
def close_action(action_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                 form: FormData) -> Response:
    """Close a carried action in a week (that of a retrospective, its own or later)."""
    gettext = _gettext(request)
    pilot_id = service.get_action(session, action_id).pilot_id
    week = field_text(form, "closed_week")
    done = _submit(session, gettext, ActionUpdate, {"closed_week": number(week) if week else None},
                   lambda d: service.update_action(session, action_id, d, actor.user, expected_version=version(form)),
                   ())
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "retros")
    return _refused(request, session, actor.user, pilot_id, "retros", "close", done, None)


# ---------------------------------------------------------------- survey

@router.post("/pilots/{pilot_id}/survey")
def answer_survey(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                  form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: field_text(form, k) for k in ("easier", "risk_controlled")}
    values["comment"] = str(form.get("comment", "")).strip()
    data = {k: (number(v) if k != "comment" else v) for k, v in values.items() if v or k == "comment"}
    done = _submit(session, gettext, AnswerCreate, data,
                   lambda d: service.answer(session, pilot_id, d, actor.user), ("easier", "risk_controlled", "comment"))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "survey", SURVEY_CHANGED)
    return _refused(request, session, actor.user, pilot_id, "survey", "answer", done, values)


# ---------------------------------------------------------------- unmet problems

@router.post("/pilots/{pilot_id}/unmet")
def add_unmet(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
              form: FormData) -> Response:
    gettext = _gettext(request)
    values = {k: str(form.get(k, "")).strip() for k in ("problem", "cause", "change")}
    done = _submit(session, gettext, UnmetCreate, values,
                   lambda d: service.add_unmet(session, pilot_id, d, actor.user), ("problem", "cause", "change"))
    if done.ok:
        return _saved(request, session, actor.user, pilot_id, "unmet")
    return _refused(request, session, actor.user, pilot_id, "unmet", "unmet", done, values)


@router.post("/pilot-unmet/{unmet_id}/delete")
def delete_unmet(unmet_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    gettext = _gettext(request)
    item = session.get(PilotUnmet, unmet_id)
    if item is None:
        raise NotFound(N_("Unmet problem {unmet_id} not found."), params={"unmet_id": unmet_id})
    pilot_id = item.pilot_id
    try:
        with undo_on_error(session):
            service.delete_unmet(session, unmet_id, actor.user)
    except (RuleViolation, Conflict) as exc:
        done = Submitted(errors=refusal_errors(exc, gettext, (), FORM_MESSAGES))
        return _refused(request, session, actor.user, pilot_id, "unmet", "unmet", done, None)
    return _saved(request, session, actor.user, pilot_id, "unmet")


# ---------------------------------------------------------------- decision

@router.post("/pilots/{pilot_id}/decision")
def decide(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    values = {"decision": field_text(form, "decision"), "reason": str(form.get("reason", "")).strip(),
              "start_next_version": bool(form.get("start_next_version"))}
    data = {k: v for k, v in values.items() if v != ""}
    errors = {}
    if values["decision"] == Decision.abandon.value and 0 < len(values["reason"]) < 5:
        # the service hands the reason on to "back to design", which wants 5 characters at least
        errors["reason"] = gettext(SHORT_REASON)
    done = _submit(session, gettext, DecisionRequest, data,
                   lambda d: service.decide(session, pilot_id, d, actor.user, expected_version=version(form)),
                   ("decision", "reason", "start_next_version"), errors)
    if done.ok:
        # not "#decision" alone: for htmx, a URL that differs from the page only in its fragment loads nothing
        return redirect(request, f"/pilots/{pilot_id}?saved=decision#decision", flash="pilot_decided")
    return _refused(request, session, actor.user, pilot_id, "decision", "decision", done, values)


# ---------------------------------------------------------------- Table 3

@router.get("/pilots/{pilot_id}/table3")
def table3_page(pilot_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """试点效果评估表 in the reader's language, with its downloads."""
    locale = negotiate(request)
    pilot: Pilot = service.get_pilot(session, pilot_id)
    ctx = initiative_context(session, actor.user, pilot.initiative_id)
    lang = "zh_CN" if locale.startswith("zh") else "en"
    rows = service.table3(session, pilot_id, lang)
    i = 1 if lang == "zh_CN" else 0
    sep = "；" if lang == "zh_CN" else "; "
    ctx.update({
        "tab": "pilots", "pilot": service.to_read(session, pilot), "columns": [c[i] for c in table3.COLUMNS],
        "title": table3.TITLE[lang], "export_lang": lang,
        "rows": [{"process": r.process, "scope": r.scope, "kpi": r.kpi, "before": table3.figure(r.before, r.unit),
                  "after": table3.figure(r.after, r.unit), "diff_rate": table3.rate(r.diff_rate),
                  "satisfaction": "" if r.satisfaction is None else f"{r.satisfaction:.1f}", "unmet": r.unmet,
                  "unmet_text": sep.join(r.unmet)} for r in rows],
        "status_label": lambda s: _gettext(request)(STATUS[getattr(s, "value", s)]),
    })
    return render(request, "pilots/table3.html", ctx)

