"""Feedback pages: send feedback with a file or not (named or anonymous: two buttons of one multipart form, each
posting to its route), the receipt code shown once, the sender's page by the code (no login) with the file's
download, and the process's feedback for its triagers
(acknowledge, reply, close, promote to a problem). The rules are the service's, with the API's schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.db import SessionDep, undo_on_error
from app.core.errors import Conflict, NotFound, PreconditionFailed, RuleViolation
from app.core.forms import ERROR_MESSAGES, FormData, field_text, number, parse_form, refusal_errors, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import LABELS, N_
from app.core.limits import format_size
from app.core.logs import anonymous_route
from app.core.templating import redirect, render
from app.feedback import attachments, service
from app.feedback.models import FeedbackCategory, FeedbackStatus
from app.feedback.schemas import CloseRequest, FeedbackCreate, PromoteRequest, ReceiptRequest, ReplyCreate
from app.initiatives.models import Initiative
from app.processes.models import Process
from app.processes.service import get_process
from app.users.models import User

router = APIRouter()

LABELS.setdefault("feedback_category", {}).update({
    FeedbackCategory.efficiency.value: N_("Efficiency"), FeedbackCategory.quality.value: N_("Quality"),
    FeedbackCategory.collaboration.value: N_("Collaboration"), FeedbackCategory.risk.value: N_("Risk"),
    FeedbackCategory.suggestion.value: N_("Suggestion"),
})
LABELS.setdefault("feedback_status", {}).update({
    FeedbackStatus.new.value: N_("New"), FeedbackStatus.acknowledged.value: N_("Acknowledged"),
    FeedbackStatus.promoted.value: N_("Made a problem"), FeedbackStatus.closed.value: N_("Closed"),
})
FORM_MESSAGES = {
    ("step_id", "unknown_step"): N_("Choose a step of the process's SOP version in force."),
    ("initiative_id", "unknown_initiative"): N_("Choose an initiative on the feedback's process."),
    ("category", "missing"): N_("Choose the problem's category: a suggestion has none."),
    ("file", "file_empty"): N_("The file is empty."),
    ("file", "file_type"): N_("Only PNG, JPEG, PDF and plain text (UTF-8) files are accepted."),
    ("file", "file_unreadable"): N_("The file cannot be read as the type its content says (or it is protected)."),
}
FILE_TOO_LARGE = N_("The file is larger than %(limit)s.")
FILE_AGAIN = N_("Choose the file again: a browser does not keep it when the form comes back.")
STALE = N_("Someone else changed this meanwhile; it is shown again as it is now.")
FIELDS = ("process_id", "step_id", "category", "text", "file")
OptionalFile = Annotated[UploadFile | None, File()]


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def _processes(session: Session) -> list[Process]:
    return list(session.exec(select(Process).order_by(col(Process.code))))


def _form_page(request: Request, session: Session, values: dict[str, Any], errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    process_id = number(values.get("process_id"))  # what is not an id has no steps (and no query)
    steps = service.steps_of(service.version_in_force(session, process_id)) if isinstance(process_id, int) else []
    return render(request, "feedback/new.html", {
        "processes": _processes(session), "steps": steps, "categories": list(FeedbackCategory), "values": values,
        "errors": errors or {}, "per_hour": service.per_hour(),
        "max_file": format_size(service.max_attachment_bytes())}, status_code=status_code)


@router.get("/feedback/new")
def new_feedback(request: Request, session: SessionDep, actor: CurrentActor, process: str = "") -> Response:
    return _form_page(request, session, {"process_id": process, "category": FeedbackCategory.efficiency.value})


def _upload(file: UploadFile | None) -> service.Upload | None:
    """The form's file, or None when none was chosen (a browser sends an empty part without a name)."""
    if file is None:
        return None
    upload = service.Upload(file.filename or "", file.file.read(service.max_attachment_bytes() + 1))
    return upload if upload.name or upload.data else None


def _file_errors(exc: RuleViolation, gettext) -> dict[str, str]:  # noqa: ANN001
    errors = refusal_errors(exc, gettext, FIELDS, FORM_MESSAGES)
    if any(e.get("type") == "file_too_large" for e in exc.errors or []):
        errors["file"] = gettext(FILE_TOO_LARGE) % {"limit": format_size(service.max_attachment_bytes())}
    return errors


def _send(request: Request, session: Session, actor: User, form: dict[str, Any], file: UploadFile | None, *,
          anonymous: bool) -> Response:
    gettext = _gettext(request)
    upload = _upload(file)
    values = {k: field_text(form, k) for k in ("process_id", "step_id", "category")}
    values["text"] = str(form.get("text", "")).strip()
    data: dict[str, Any] = {"category": values["category"] or None, "text": values["text"],
                            "step_id": values["step_id"] or None}
    if values["process_id"]:
        data["process_id"] = number(values["process_id"])
    parsed, errors = parse_form(FeedbackCreate, data, gettext)
    if parsed is not None:
        try:
            with undo_on_error(session):
                fb, code = service.post(session, parsed, actor, anonymous=anonymous, file=upload)
        except (RuleViolation, NotFound) as exc:
            errors = (_file_errors(exc, gettext) if isinstance(exc, RuleViolation)
                      else {"process_id": gettext(ERROR_MESSAGES["missing"])})
        else:
            # The code is shown on this answer only (never in a URL: a redirect would put it in logs).
            return render(request, "feedback/sent.html", {"code": code, "anonymous": anonymous, "fb": fb,
                                                          "file": upload is not None})
    if upload is not None and "file" not in errors:
        errors["file"] = gettext(FILE_AGAIN)
    return _form_page(request, session, values, errors, status_code=422)


@router.post("/feedback")
def send_named(request: Request, session: SessionDep, actor: CurrentActor, form: FormData,
               file: OptionalFile = None) -> Response:
    return _send(request, session, actor.user, form, file, anonymous=False)


@router.post(anonymous_route("/feedback/anonymous", api=False))
def send_anonymous(request: Request, session: SessionDep, actor: CurrentActor, form: FormData,
                   file: OptionalFile = None) -> Response:
    return _send(request, session, actor.user, form, file, anonymous=True)


# ---------------------------------------------------------------- the sender, by the receipt code

@router.get("/feedback/receipt")
def receipt_form(request: Request) -> Response:
    return render(request, "feedback/receipt.html", {"receipt": None, "errors": {}})


@router.post("/feedback/receipt")
def receipt_page(request: Request, session: SessionDep, form: FormData) -> Response:
    """The state and the replies, by the code typed (no login)."""
    gettext = _gettext(request)
    parsed, errors = parse_form(ReceiptRequest, {"code": field_text(form, "code")}, gettext)
    if parsed is not None:
        try:
            return render(request, "feedback/receipt.html", {"receipt": service.receipt(session, parsed.code),
                                                             "code": parsed.code, "errors": {}})
        except NotFound:
            errors = {"code": gettext(N_("No feedback has this receipt code."))}
    return render(request, "feedback/receipt.html", {"receipt": None, "errors": errors}, status_code=422)


@router.post("/feedback/receipt/attachment")
def receipt_attachment(request: Request, session: SessionDep, form: FormData) -> Response:
    """The feedback's file for its sender, by the code (posted, never in the URL), as a download."""
    parsed, _ = parse_form(ReceiptRequest, {"code": field_text(form, "code")}, _gettext(request))
    if parsed is None:
        raise NotFound(N_("No feedback has this receipt code."))
    return attachments.download(service.attachment_by_code(session, parsed.code))


# ---------------------------------------------------------------- the triage

def _triage_page(request: Request, session: Session, actor: User, process_id: int, *,
                 errors: dict[str, dict[str, str]] | None = None, status_code: int = 200,
                 status: str = "") -> Response:
    process = get_process(session, process_id)
    wanted = FeedbackStatus(status) if status in FeedbackStatus.__members__ else None
    items = service.to_reads(session, service.list_feedback(session, process.id, actor, status=wanted, limit=200))
    initiatives = list(session.exec(select(Initiative).where(Initiative.process_id == process.id)
                                    .order_by(col(Initiative.id).desc())))
    return render(request, "feedback/triage.html", {
        "process": process, "items": items, "initiatives": initiatives, "errors": errors or {}, "status": status,
        "export_lang": "zh_CN" if negotiate(request) == "zh_CN" else "en",
        "statuses": list(FeedbackStatus), "problem_categories": [c for c in FeedbackCategory
                                                                 if c != FeedbackCategory.suggestion]},
        status_code=status_code)


@router.get("/processes/{process_id}/feedback")
def triage(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor, status: str = "") -> Response:
    return _triage_page(request, session, actor.user, process_id, status=status)


def _act(request: Request, session: Session, actor: User, feedback_id: int, call, data: dict[str, Any] | None,  # noqa: ANN001
         schema: type | None) -> Response:
    gettext = _gettext(request)
    fb = service.get_feedback(session, feedback_id)
    parsed = None
    errors: dict[str, str] = {}
    if schema is not None:
        parsed, errors = parse_form(schema, data or {}, gettext)
    if not errors:
        try:
            with undo_on_error(session):
                call(parsed)
        except PreconditionFailed:
            errors = {"__all__": gettext(STALE)}
        except (RuleViolation, Conflict) as exc:
            errors = refusal_errors(exc, gettext, ("text", "reason", "initiative_id", "category"), FORM_MESSAGES)
        else:
            return redirect(request, f"/processes/{fb.process_id}/feedback?saved=feedback#feedback-{fb.id}")
    return _triage_page(request, session, actor, fb.process_id, errors={f"fb-{fb.id}": errors}, status_code=422)


@router.post("/feedback/{feedback_id}/acknowledge")
def acknowledge(feedback_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    return _act(request, session, actor.user, feedback_id, lambda _d: service.acknowledge(
        session, feedback_id, actor.user, expected_version=version(form)), None, None)


@router.post("/feedback/{feedback_id}/replies")
def reply(feedback_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    return _act(request, session, actor.user, feedback_id, lambda d: service.reply(session, feedback_id, d, actor.user),
                {"text": str(form.get("text", "")).strip()}, ReplyCreate)


@router.post("/feedback/{feedback_id}/close")
def close(feedback_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    return _act(request, session, actor.user, feedback_id, lambda d: service.close(
        session, feedback_id, d, actor.user, expected_version=version(form)),
        {"reason": str(form.get("reason", "")).strip()}, CloseRequest)


@router.post("/feedback/{feedback_id}/promote")
def promote(feedback_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    data: dict[str, Any] = {"category": field_text(form, "category") or None}
    if field_text(form, "initiative_id"):
        data["initiative_id"] = number(field_text(form, "initiative_id"))
    return _act(request, session, actor.user, feedback_id, lambda d: service.promote(
        session, feedback_id, d, actor.user, expected_version=version(form)), data, PromoteRequest)
