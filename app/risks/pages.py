"""Risk register pages: a process's register (and an initiative's view of it) with the 5x5 heat map (a cell is a
link that filters the list), the list with score, status, owner, review date and the flagged / review-due badges,
the create and edit forms (the control points as checkboxes of the SOP version in force) with their messages at
the fields, delete; and the register's card on the process's and the initiative's page. Every rule is the
service's, with the API's schemas (`app.core.forms.submit`): a refused form leaves nothing behind."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Forbidden, PreconditionFailed
from app.core.extensions import Section, extends
from app.core.forms import FormData, Submitted, as_list, field_text, number, submit, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import FLASH, LABELS, N_
from app.core.templating import redirect, render
from app.feedback.service import version_in_force
from app.initiatives.models import Initiative, InitiativeMember
from app.initiatives.pages import initiative_context
from app.processes.models import Process
from app.processes.service import get_process
from app.risks import service
from app.risks.models import Risk, RiskStatus
from app.risks.schemas import Band, RiskCreate, RiskRead, RiskUpdate
from app.risks.seeds import TEXTS
from app.sops import service as sops
from app.users.models import Role, User

router = APIRouter()

LABELS.setdefault("risk_status", {}).update({
    RiskStatus.open.value: N_("Open"), RiskStatus.mitigating.value: N_("Mitigating"),
    RiskStatus.accepted.value: N_("Accepted"), RiskStatus.closed.value: N_("Closed"),
})
LABELS.setdefault("risk_band", {}).update({
    Band.low.value: N_("Low"), Band.medium.value: N_("Medium"), Band.high.value: N_("High"),
    Band.critical.value: N_("Critical"),
})
LABELS.setdefault("risk_likelihood", {}).update({
    "1": N_("Rare"), "2": N_("Unlikely"), "3": N_("Possible"), "4": N_("Likely"), "5": N_("Almost certain"),
})
LABELS.setdefault("risk_impact", {}).update({
    "1": N_("Negligible"), "2": N_("Small"), "3": N_("Moderate"), "4": N_("Serious"), "5": N_("Severe"),
})
FLASH.update({"risk_created": N_("Risk added to the register."), "risk_saved": N_("Risk saved."),
              "risk_deleted": N_("Risk removed from the register.")})
FORM_MESSAGES = {
    ("initiative_id", "unknown_initiative"): N_("Choose an initiative on the risk's process."),
    ("owner_id", "unknown_owner"): N_("Choose someone who keeps the register: the process's owner or a member of "
                                      "an initiative's team on it."),
    ("control_point_ids", "unknown_control_point"): N_("Choose control points of the process's SOP."),
}
STALE = N_("Someone else changed this risk meanwhile; it is shown again as it is now.")
FIELDS = ("initiative_id", "description", "signs", "likelihood", "impact", "owner_id", "response", "status",
          "review_date", "compliance_threshold", "control_point_ids")
NUMBERS = ("initiative_id", "likelihood", "impact", "owner_id", "compliance_threshold")
BACK = re.compile(r"^/(processes|initiatives)/\d{1,10}/risks$")


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def shown(gettext):  # noqa: ANN001, ANN201
    """A risk's text as the reader sees it: a seeded risk's method text in their language, any other as written."""
    def text(risk: RiskRead | Risk, value: str) -> str:
        return gettext(value) if risk.seed and value in TEXTS else value
    return text


def _submit(session: Session, gettext, schema: type, data: dict[str, Any], call) -> Submitted:  # noqa: ANN001
    """`app.core.forms.submit`, with the service's refusals at their fields in the register's own wording."""
    return submit(session, gettext, schema, data, call, stale=gettext(STALE), fields=FIELDS, messages=FORM_MESSAGES)


# ---------------------------------------------------------------- choices

def _initiatives(session: Session, process_id: int) -> list[Initiative]:
    return list(session.exec(select(Initiative).where(Initiative.process_id == process_id)
                             .order_by(col(Initiative.id).desc())))


def owner_choices(session: Session, process: Process, actor: User) -> list[User]:
    """Who may own a risk of the process: its owner, the teams (not viewers) of its initiatives, and the reader."""
    members = select(InitiativeMember.user_id).join(Initiative, col(Initiative.id) == InitiativeMember.initiative_id
                                                    ).where(Initiative.process_id == process.id)
    ids = {process.owner_id, actor.id} | set(session.exec(members))
    users = session.exec(select(User).where(col(User.id).in_({i for i in ids if i}), col(User.is_active).is_(True),
                                            User.role != Role.viewer).order_by(col(User.display_name)))
    return [u for u in users if service.may_keep(session, process, u)]


def point_choices(session: Session, process_id: int, linked: list[str]) -> list[dict[str, Any]]:
    """The control points of the SOP version in force (number, id, description, whether it has a rule), then the
    linked ones that version no longer has."""
    v = version_in_force(session, process_id)
    points = [{"id": str(cp.id), "number": n, "description": cp.description, "rule": cp.rule is not None}
              for n, cp in enumerate(sops.content_of(v).control_points, start=1) if cp.id] if v else []
    known = {p["id"] for p in points}
    return points + [{"id": i, "number": None, "description": None, "rule": False} for i in linked if i not in known]


# ---------------------------------------------------------------- the register

def _flt(initiative_id: int | None, status: str, flagged: str, likelihood: str, impact: str) -> service.RiskFilter:
    def scale(raw: str) -> int | None:
        return int(raw) if raw in ("1", "2", "3", "4", "5") else None
    return service.RiskFilter(initiative_id=initiative_id,
                              status=RiskStatus(status) if status in RiskStatus.__members__ else None,
                              flagged=True if flagged == "1" else None, likelihood=scale(likelihood),
                              impact=scale(impact))


def _register(request: Request, session: Session, actor: User, process: Process, *, ini: Any = None,
              status: str = "", flagged: str = "", likelihood: str = "", impact: str = "") -> Response:
    initiative_id = ini["ini"].id if ini else None
    flt = _flt(initiative_id, status, flagged, likelihood, impact)
    items, _ = service.list_risks(session, process.id, actor, flt, limit=500)
    heat = service.heat_map(session, process.id, actor, service.RiskFilter(initiative_id=initiative_id,
                                                                            status=flt.status, flagged=flt.flagged))
    base = f"/initiatives/{initiative_id}/risks" if ini else f"/processes/{process.id}/risks"
    keep = {"status": flt.status.value if flt.status else "", "flagged": "1" if flt.flagged else ""}
    initiatives = {i.id: i for i in _initiatives(session, process.id)}
    ctx = {**(ini or {}), "process": process, "items": items, "heat": heat, "base": base, "keep": keep,
           "cell": (flt.likelihood, flt.impact) if flt.likelihood and flt.impact else None,
           "status": keep["status"], "flagged": bool(flt.flagged), "statuses": list(RiskStatus),
           "initiatives": initiatives, "text": shown(_gettext(request)), "tab": "risks",
           "export_lang": "zh_CN" if negotiate(request) == "zh_CN" else "en",
           "new_href": f"/processes/{process.id}/risks/new" + (f"?initiative={initiative_id}" if ini else ""),
           "rows": {li: [c for c in heat.cells if c.likelihood == li] for li in range(5, 0, -1)}}
    return render(request, "risks/register.html", ctx)


@router.get("/processes/{process_id}/risks")
def register(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor, status: str = "",
             flagged: str = "", likelihood: str = "", impact: str = "") -> Response:
    process = get_process(session, process_id)
    return _register(request, session, actor.user, process, status=status, flagged=flagged,
                     likelihood=likelihood, impact=impact)


@router.get("/initiatives/{initiative_id}/risks")
def initiative_register(initiative_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                        status: str = "", flagged: str = "", likelihood: str = "", impact: str = "") -> Response:
    ctx = initiative_context(session, actor.user, initiative_id)
    process = get_process(session, ctx["ini"].process.id)
    return _register(request, session, actor.user, process, ini=ctx, status=status, flagged=flagged,
                     likelihood=likelihood, impact=impact)


# ---------------------------------------------------------------- create and edit

def _values(form: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: field_text(form, k) for k in FIELDS if k != "control_point_ids"}
    for key in ("description", "signs", "response"):
        values[key] = str(form.get(key, "") if not isinstance(form.get(key), list) else form[key][0]).strip()
    values["control_point_ids"] = [str(v) for v in as_list(form.get("control_point_ids"))]
    return values


def _data(values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The form as the API's body: empty optional fields are null (left out of a create), numbers as numbers."""
    data: dict[str, Any] = {}
    for key, raw in values.items():
        if key in NUMBERS:
            value = number(raw) if raw != "" else None
        elif key == "review_date":
            value = raw or None
        else:
            value = raw
        if value is None and key in ("likelihood", "impact", "compliance_threshold") and not partial:
            continue  # required (or defaulted) on a create: the schema says which
        data[key] = value
    return data


def _form(request: Request, session: Session, actor: User, process: Process, values: dict[str, Any], *,
          risk: RiskRead | None = None, errors: dict[str, str] | None = None, back: str,
          status_code: int = 200) -> Response:
    return render(request, "risks/form.html", {
        "process": process, "risk": risk, "values": values, "errors": errors or {}, "back": back,
        "initiatives": _initiatives(session, process.id), "owners": owner_choices(session, process, actor),
        "points": point_choices(session, process.id, values.get("control_point_ids", [])),
        "statuses": list(RiskStatus), "scale": range(1, 6), "text": shown(_gettext(request))},
        status_code=status_code)


def _back(form: dict[str, Any], process_id: int) -> str:
    wanted = field_text(form, "back")
    return wanted if BACK.match(wanted) else f"/processes/{process_id}/risks"


@router.get("/processes/{process_id}/risks/new")
def new_risk(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
             initiative: str = "") -> Response:
    process = get_process(session, process_id)
    if not service.may_keep(session, process, actor.user):
        raise Forbidden(service.REFUSED)
    ini = number(initiative) if initiative else None
    back = f"/initiatives/{ini}/risks" if isinstance(ini, int) else f"/processes/{process.id}/risks"
    values = {"initiative_id": str(ini) if isinstance(ini, int) else "", "status": RiskStatus.open.value,
              "likelihood": "3", "impact": "3", "compliance_threshold": "90", "owner_id": str(actor.user.id),
              "control_point_ids": []}
    return _form(request, session, actor.user, process, values, back=back)


@router.post("/processes/{process_id}/risks")
def create_risk(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    gettext = _gettext(request)
    process = get_process(session, process_id)
    values = _values(form)
    back = _back(form, process.id)
    done = _submit(session, gettext, RiskCreate, _data(values, partial=False),
                   lambda d: service.create_risk(session, process.id, d, actor.user))
    if done.ok:
        return redirect(request, f"{back}#risk-{done.result.id}", flash="risk_created")
    return _form(request, session, actor.user, process, values, errors=done.errors, back=back,
                 status_code=422)


def _read_values(risk: RiskRead) -> dict[str, Any]:
    return {"initiative_id": str(risk.initiative_id or ""), "description": risk.description, "signs": risk.signs,
            "likelihood": str(risk.likelihood), "impact": str(risk.impact),
            "owner_id": str(risk.owner.id) if risk.owner else "", "response": risk.response,
            "status": risk.status.value, "review_date": risk.review_date.isoformat() if risk.review_date else "",
            "compliance_threshold": str(risk.compliance_threshold),
            "control_point_ids": [str(p.id) for p in risk.control_points]}


@router.get("/risks/{risk_id}/edit")
def edit_risk(risk_id: Id, request: Request, session: SessionDep, actor: CurrentActor, back: str = "") -> Response:
    risk = service.to_reads(session, [service.read_one(session, risk_id, actor.user)])[0]
    process = get_process(session, risk.process_id)
    values = _read_values(risk)
    if risk.seed:  # the method's text in the reader's language; saved as typed
        text = shown(_gettext(request))
        for key in ("description", "signs", "response"):
            values[key] = text(risk, values[key])
    return _form(request, session, actor.user, process, values, risk=risk,
                 back=back if BACK.match(back) else f"/processes/{process.id}/risks")


@router.post("/risks/{risk_id}/edit")
def update_risk(risk_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    gettext = _gettext(request)
    stored = service.read_one(session, risk_id, actor.user)
    process = get_process(session, stored.process_id)
    values = _values(form)
    back = _back(form, process.id)
    data = _data(values, partial=True)
    if stored.seed:  # an untouched seeded text stays the method's (shown translated), not the translation
        text = shown(gettext)
        for key in ("description", "signs", "response"):
            if data.get(key) == text(stored, getattr(stored, key)):
                data[key] = getattr(stored, key)
    done = _submit(session, gettext, RiskUpdate, data,
                   lambda d: service.update_risk(session, risk_id, d, actor.user, expected_version=version(form)))
    if done.ok:
        return redirect(request, f"{back}#risk-{risk_id}", flash="risk_saved")
    risk = service.to_reads(session, [service.get_risk(session, risk_id)])[0]
    if done.stale:
        values = _read_values(risk)
    return _form(request, session, actor.user, process, values, risk=risk, errors=done.errors, back=back,
                 status_code=422 if not done.stale else 409)


@router.post("/risks/{risk_id}/delete")
def delete_risk(risk_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    stored = service.read_one(session, risk_id, actor.user)
    back = _back(form, stored.process_id)
    try:
        with undo_on_error(session):
            service.delete_risk(session, risk_id, actor.user, expected_version=version(form))
    except PreconditionFailed:
        risk = service.to_reads(session, [service.get_risk(session, risk_id)])[0]
        return _form(request, session, actor.user, get_process(session, risk.process_id), _read_values(risk),
                     risk=risk, errors={"__all__": _gettext(request)(STALE)}, back=back, status_code=409)
    return redirect(request, back, flash="risk_deleted")


# ---------------------------------------------------------------- sections of earlier pages

def _card(session: Session, process: Process, user: User, initiative_id: int | None) -> dict[str, Any]:
    flt = service.RiskFilter(initiative_id=initiative_id)
    items, _ = service.list_risks(session, process.id, user, flt, limit=500)
    active = [r for r in items if r.status != RiskStatus.closed]
    href = f"/initiatives/{initiative_id}/risks" if initiative_id else f"/processes/{process.id}/risks"
    return {"sections": [Section("risks/_related.html", {
        "top": active[:5], "total": len(active), "flagged": sum(r.flagged for r in active),
        "review_due": sum(r.review_due for r in active), "href": href,
        "new_href": f"/processes/{process.id}/risks/new" + (f"?initiative={initiative_id}" if initiative_id else "")},
        order=40)]}


@extends("process_detail")
def _process_risks(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page shows its register's riskiest open risks, for the register's keepers."""
    process = get_process(session, process_id)
    return _card(session, process, user, None) if service.may_keep(session, process, user) else {}


@extends("initiative_overview")
def _initiative_risks(session: Session, initiative_id: int, user: User) -> dict[str, Any]:
    """The initiative page shows its risks (the method's five from the start), for the register's keepers."""
    ini = session.get(Initiative, initiative_id)
    if ini is None:
        return {}
    process = get_process(session, ini.process_id)
    return _card(session, process, user, ini.id) if service.may_keep(session, process, user) else {}
