"""Feedback (反馈渠道): `/feedback` (named), `/feedback/anonymous`, `/feedback/receipt` (the sender, without
logging in), `/feedback/attachment` (the file, by the receipt code), `/processes/{id}/feedback` and
`/feedback/{id}/...` (the triage), `/processes/{id}/feedback/kpis` (the counts as KPIs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status

from app.auth.deps import CurrentActor, require_person, require_scope
from app.core.db import SessionDep
from app.core.etag import required_version, set_etag
from app.core.files import file_answer
from app.core.ids import Id
from app.core.logs import anonymous_route
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.pagination import Cursor, page_window, set_link_header
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.feedback import attachments, records, service
from app.feedback.models import FeedbackStatus
from app.feedback.schemas import (
    AttachmentRead,
    CloseRequest,
    FeedbackCreate,
    FeedbackKpis,
    FeedbackPage,
    FeedbackPosted,
    FeedbackRead,
    PromoteRequest,
    ReceiptRead,
    ReceiptRequest,
    ReplyCreate,
    ReplyRead,
)
from app.processes.service import get_process

router = APIRouter(tags=["feedback"])
FEEDBACK = "feedback"
POSTED = {429: {"description": "Too many anonymous posts this hour; see `Retry-After`"}, **TEAM_PROBLEMS}


FILE_TYPES = ("image/png", "image/jpeg", "application/pdf", "text/plain")
FILE = file_answer(*FILE_TYPES, description="The file, as a download (`Content-Disposition: attachment`)")


def read_upload(file: UploadFile) -> service.Upload:
    """At most one byte more than the limit: the service refuses what is larger, at the field `file`."""
    return service.Upload(file.filename or "", file.file.read(service.max_attachment_bytes() + 1))


def _posted(fb, code: str) -> FeedbackPosted:  # noqa: ANN001
    return FeedbackPosted(id=fb.id, receipt_code=code, status=fb.status, received_on=fb.received_on)


@router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackPosted,
             dependencies=[require_person()], responses=POSTED)
def post_named(data: FeedbackCreate, session: SessionDep, actor: CurrentActor):
    """Send feedback on a process or a step of its SOP in force, with your name (the team sees who sent it)."""
    fb, code = service.post(session, data, actor.user, anonymous=False)
    return _posted(fb, code)


@router.post(anonymous_route("/feedback/anonymous"), status_code=status.HTTP_201_CREATED, response_model=FeedbackPosted,
             dependencies=[require_person()], responses=POSTED)
def post_anonymous(data: FeedbackCreate, session: SessionDep, actor: CurrentActor):
    """Send feedback anonymously. Nothing stored with it names you: no account, no address, no user agent, the
    day only (not the time), no audit record, and its access-log line has no client address. Follow it with the
    receipt code (shown once). What procopt cannot protect: the text itself (in a small department the wording
    can give you away) and, for one hour, a keyed hash of your account that limits anonymous posts
    (FEEDBACK_ANONYMOUS_PER_HOUR), kept apart from the feedback."""
    fb, code = service.post(session, data, actor.user, anonymous=True)
    return _posted(fb, code)


@router.post("/feedback/receipt", response_model=ReceiptRead, responses={404: {"description": "Unknown code"}})
def read_receipt(data: ReceiptRequest, session: SessionDep):
    """The sender's view by the receipt code, without logging in: the state and the team's replies. The code
    goes in the body (a URL would be written to access logs)."""
    return service.receipt(session, data.code)


@router.post(anonymous_route("/feedback/attachment"), status_code=status.HTTP_201_CREATED, response_model=AttachmentRead,
             dependencies=[require_person()], responses={
                 403: {"description": "Service tokens send no feedback"}, 404: {"description": "Unknown code"},
                 409: {"description": "The feedback has a file already, or is closed"},
                 413: {"description": "The body is larger than FEEDBACK_ATTACHMENT_MAX_BYTES and the form's room"}})
def attach(code: Annotated[str, Form(min_length=1, max_length=64, description="The receipt code.")],
           file: Annotated[UploadFile, File(description="PNG, JPEG, PDF or plain text (UTF-8), at most "
                                                        "FEEDBACK_ATTACHMENT_MAX_BYTES (5 MiB by default)")],
           session: SessionDep, actor: CurrentActor):
    """Add the one file a feedback may carry (multipart: the receipt code and the file), until it is closed: any
    person holding the receipt code (its sender). The type is told by the content, not the name: PNG, JPEG, PDF
    or plain text in UTF-8; anything else, or a file that does not read as its type, is refused at `file`. Of an
    anonymous feedback: nothing of the uploader is kept (no audit record, no address on the access-log line), the
    file is named `attachment.<ext>`, a picture is drawn again without EXIF, XMP, ICC profile or text chunks, and
    a PDF loses its document information, XMP, embedded files and annotation authors. The picture, the text and a
    PDF's layout and fonts can still tell who made them."""
    att = service.attach(session, code, read_upload(file), actor.user)
    return service.attachment_reads(session, [att.feedback_id])[att.feedback_id]


@router.post("/feedback/receipt/attachment", response_class=Response,
             responses={**FILE, 404: {"description": "Unknown code, or no file"}})
def download_by_receipt(data: ReceiptRequest, session: SessionDep) -> Response:
    """The feedback's file for its sender, by the receipt code in the body (without logging in), as a download."""
    return attachments.download(service.attachment_by_code(session, data.code))


@router.get("/processes/{process_id}/feedback", response_model=FeedbackPage, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def list_feedback(process_id: Id, request: Request, response: Response, session: SessionDep, actor: CurrentActor,
                  status_: Annotated[FeedbackStatus | None, Query(alias="status")] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None):
    """The process's feedback, newest first, for its owner and the team of an initiative on it; `overdue` marks
    what was not acknowledged in time."""
    after = Cursor.decode(cursor, ("id",), (Id,)).values[0] if cursor else None
    rows = service.list_feedback(session, process_id, actor.user, status=status_, limit=limit + 1, after_id=after)
    rows, next_cursor = page_window(rows, limit, lambda f: Cursor(("id",), (f.id,)))
    set_link_header(request, response, next_cursor)
    return FeedbackPage(items=service.to_reads(session, rows), next_cursor=next_cursor)


@router.get("/processes/{process_id}/feedback/export", dependencies=[require_scope("read")],
            responses={**TEAM_PROBLEMS, 200: {"content": {"text/csv": {}, XLSX_TYPE: {}},
                                          "description": "The process's feedback as a file"}})
def export_feedback(process_id: Id, session: SessionDep, actor: CurrentActor,
                    status_: Annotated[FeedbackStatus | None, Query(alias="status")] = None,
                    format: ExportFormat = ExportFormat.xlsx, lang: ExportLang = ExportLang.zh_CN) -> Response:
    """The process's feedback (newest first, at most 10,000) as CSV (UTF-8 with BOM) or XLSX, with column names and
    values in Simplified Chinese or English; an anonymous one's sender reads "anonymous"."""
    process = get_process(session, process_id)
    items = service.to_reads(session, service.list_feedback(session, process.id, actor.user, status=status_,
                                                             limit=10_000))
    name = f"feedback-{process.code}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        body, media = records.to_csv(items, lang.value), "text/csv; charset=utf-8"
    else:
        body, media = records.to_xlsx(items, lang.value, f"{process.code} {process.name}"), XLSX_TYPE
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/processes/{process_id}/feedback/kpis", response_model=FeedbackKpis,
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def publish_kpis(process_id: Id, session: SessionDep, actor: CurrentActor):
    """Publish the process's feedback counts per ISO week and category as the observations of its KPIs
    `<PROCESS>-FB-<CATEGORY>` (created when missing), replacing what was published before: the process's owner and
    the team of an initiative on it (not viewers), and administrators. Named posts and the triage publish too;
    anonymous posts never do (a batch keeps who sent it and when), so their counts arrive with the next named
    action, this call, or the daily `procopt publish-feedback-kpis`."""
    return service.publish_kpis(session, process_id, actor.user)


def _one(session, response: Response, fb) -> FeedbackRead:  # noqa: ANN001
    set_etag(response, FEEDBACK, fb.id, fb.version)
    return service.to_reads(session, [fb])[0]


@router.get("/feedback/{feedback_id}", response_model=FeedbackRead, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS)
def read_feedback(feedback_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One feedback with its replies, for the triagers; an anonymous one names no one. The `ETag` is for the
    triage's `If-Match`."""
    return _one(session, response, service.read_one(session, feedback_id, actor.user))


@router.get("/feedback/{feedback_id}/attachment", response_class=Response, dependencies=[require_scope("read")],
            responses={**FILE, **TEAM_PROBLEMS})
def download(feedback_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """The feedback's file, as a download (never inline), for the triagers: the process's owner, the team of an
    initiative on it, administrators."""
    return attachments.download(service.attachment_for_triage(session, feedback_id, actor.user))


@router.post("/feedback/{feedback_id}/acknowledge", response_model=FeedbackRead,
             dependencies=[require_scope("write")], responses=TEAM_PATCH)
def acknowledge(feedback_id: Id, request: Request, session: SessionDep, actor: CurrentActor, response: Response):
    """Say it was received and is being looked at (the response target counts until then). `If-Match`."""
    fb = service.acknowledge(session, feedback_id, actor.user,
                             expected_version=required_version(request, FEEDBACK, feedback_id))
    return _one(session, response, fb)


@router.post("/feedback/{feedback_id}/replies", status_code=status.HTTP_201_CREATED, response_model=ReplyRead,
             dependencies=[require_scope("write")], responses=TEAM_PROBLEMS)
def reply(feedback_id: Id, data: ReplyCreate, session: SessionDep, actor: CurrentActor):
    """A reply the sender reads with the receipt code ("you said, we did"); the first one acknowledges."""
    r = service.reply(session, feedback_id, data, actor.user)
    return service.reply_read(session, r)


@router.post("/feedback/{feedback_id}/close", response_model=FeedbackRead, dependencies=[require_scope("write")],
             responses=TEAM_PATCH)
def close(feedback_id: Id, data: CloseRequest, request: Request, session: SessionDep, actor: CurrentActor,
          response: Response):
    """Close it with a reason the sender reads. `If-Match`."""
    fb = service.close(session, feedback_id, data, actor.user,
                       expected_version=required_version(request, FEEDBACK, feedback_id))
    return _one(session, response, fb)


@router.post("/feedback/{feedback_id}/promote", response_model=FeedbackRead, dependencies=[require_scope("write")],
             responses=TEAM_PATCH)
def promote(feedback_id: Id, data: PromoteRequest, request: Request, session: SessionDep, actor: CurrentActor,
            response: Response):
    """Make it a problem (source: feedback) of an initiative on the same process whose team you are on; the
    feedback keeps the link (`issue_id`). `If-Match`."""
    fb = service.promote(session, feedback_id, data, actor.user,
                         expected_version=required_version(request, FEEDBACK, feedback_id))
    return _one(session, response, fb)
