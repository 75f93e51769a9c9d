"""SOP documents: `/processes/{process}/sop`, `/initiatives/{id}/sop/draft`, `/sops/{id}/...` and
`/sop-versions/{id}/...` (sections, review, sign-off, publishing)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_any_scope, require_scope
from app.core.db import SessionDep, reads_only
from app.core.etag import optional_version, required_version, set_etag
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.sops import diff, exports, service
from app.sops.models import SopVersion
from app.sops.schemas import (
    CommentCreate,
    CommentPage,
    CommentRead,
    CommentUpdate,
    ControlCheckRead,
    ControlCheckRequest,
    EditSection,
    NextRequest,
    PublishRequest,
    SectionValue,
    SopCreate,
    SopVersionPage,
    SopVersionRead,
    SubmitRequest,
    Table4,
    VoteRequest,
    WithdrawRequest,
)

router = APIRouter(tags=["sops"])
VERSION = "sop-version"
COMMENT = "sop-comment"
ProcessRef = Annotated[str, Path(min_length=1, max_length=40, description="The process's id or code (`YH-LC01`).")]
CHANGE = {**TEAM_PATCH, 409: {"description": "The version's state does not allow it (published versions are "
                                             "immutable)"}}
CREATE = {**TEAM_PROBLEMS, 409: {"description": "Another version of the SOP is still open, or the phase is wrong"}}
READ = TEAM_PROBLEMS


def _version(session, response: Response, v: SopVersion) -> SopVersionRead:  # noqa: ANN001
    set_etag(response, VERSION, v.id, v.version)
    return service.to_read(session, v)


def _created(session, response: Response, v: SopVersion) -> SopVersionRead:  # noqa: ANN001
    response.headers["Location"] = f"/api/v1/sop-versions/{v.id}"
    return _version(session, response, v)


@router.get("/processes/{process_id}/sop", response_model=SopVersionRead, dependencies=[require_scope("read")],
            responses=READ)
def current_sop(process_id: ProcessRef, session: SessionDep, actor: CurrentActor, response: Response,
                at: date | None = None):
    """The SOP version in force today (business time zone), or on `at`: the published version with the latest
    effective date not after it. Everyone signed in reads it; 404 when none is in force."""
    return _version(session, response, service.current_version(session, process_id, at))


@router.post("/processes/{process_id}/control-points/check", response_model=ControlCheckRead,
             dependencies=[require_any_scope("controls:check", "read")], responses=READ)
@reads_only
def check_controls(process_id: ProcessRef, data: ControlCheckRequest, session: SessionDep, actor: CurrentActor):
    """Check one case against the control points of the SOP version in force today (named in the answer): for
    each, whether it applies to the case's attributes, what it requires, whether a special case applies
    instead, and, with the activities done so far, whether the requirement is met (`reason` says why not:
    missing activity, wrong role, wrong order, too late). Service tokens with the `controls:check` (or `read`)
    scope and everyone signed in; an attribute value of the wrong type is a 422 naming it; 404 when no version
    is in force."""
    return service.check_controls(session, process_id, data)


@router.post("/processes/{process_id}/sop", status_code=status.HTTP_201_CREATED, response_model=SopVersionRead,
             dependencies=[require_scope("write")], responses=CREATE)
def start_standalone(process_id: ProcessRef, session: SessionDep, actor: CurrentActor, response: Response,
                     data: SopCreate | None = None):
    """Start a standalone revision of the process's SOP (outside an initiative): a draft copied from the
    version in force, or blank for a first SOP. The process owner and administrators only."""
    return _created(session, response, service.start_standalone(session, process_id, data or SopCreate(),
                                                                actor.user))


@router.post("/initiatives/{initiative_id}/sop/draft", status_code=status.HTTP_201_CREATED,
             response_model=SopVersionRead, dependencies=[require_scope("write")], responses=CREATE)
def draft_from_initiative(initiative_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """"Draft the SOP" of an initiative in the design phase: steps from the survey (linked to their problems and
    countermeasures), the RACI matrix, the purpose's target from a countermeasure's quantified effect. The
    initiative's team members and administrators."""
    return _created(session, response, service.draft_from_initiative(session, initiative_id, actor.user))


@router.get("/sops/{sop_id}/versions", response_model=SopVersionPage, dependencies=[require_scope("read")],
            responses=READ)
def list_versions(sop_id: Id, session: SessionDep, actor: CurrentActor):
    """The SOP with its review-due date, and its versions oldest first: everyone sees the published ones;
    drafts and versions in review only the team, the reviewers, the signer, the process owner and
    administrators."""
    versions = service.list_versions(session, sop_id, actor.user)
    sop = service.get_sop(session, sop_id)
    return SopVersionPage(sop=service.sop_read(session, sop), items=service.summaries(session, sop, versions))


@router.get("/sops/{sop_id}/table4", response_model=Table4, dependencies=[require_scope("read")], responses=READ)
def table4(sop_id: Id, session: SessionDep, actor: CurrentActor):
    """Table 4 (流程优化记录表, change record): one row per published version with its number, effective date,
    change summary, author, reviewers and note. Everyone signed in reads it."""
    return Table4(items=service.table4(session, sop_id))


@router.get("/sops/{sop_id}/table4/export", dependencies=[require_scope("read")], response_class=Response,
            responses={**READ, **file_answer("text/csv", XLSX_TYPE, description="Table 4 as a file")})
def export_table4(sop_id: Id, session: SessionDep, actor: CurrentActor, format: ExportFormat = ExportFormat.xlsx,
                  lang: ExportLang = ExportLang.zh_CN) -> Response:
    """Table 4 (流程优化记录表) as CSV (UTF-8 with BOM) or XLSX, with the method's column names in Simplified
    Chinese or English: the rows of `GET /sops/{sop_id}/table4`. Everyone signed in reads it."""
    return attachment(*exports.table4_file(session, sop_id, format, lang.value))


@router.get("/sops/{sop_id}/diff", response_model=diff.SopDiff, dependencies=[require_scope("read")],
            responses=READ)
def diff_versions(sop_id: Id, session: SessionDep, actor: CurrentActor,
                  from_: Annotated[Id, Query(alias="from", description="The older version's id.")],
                  to: Annotated[Id, Query(description="The newer version's id.")]):
    """Two versions of the SOP compared section by section: steps and control points added, removed, moved
    and changed field by field, RACI letters, forms and contingencies, text at character level (`ops`), and
    the suggested version bump. Each side follows the read rule of `GET /sop-versions/{id}`; a version of
    another SOP is a 422 naming `from` or `to`."""
    return diff.diff_versions(session, sop_id, from_, to, actor.user)


@router.get("/sop-versions/{version_id}", response_model=SopVersionRead, dependencies=[require_scope("read")],
            responses=READ)
def read_version(version_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One version with its seven sections, reviewers, votes of the current round and sign-off. Published
    versions: everyone; others: the team, the reviewers, the signer, the process owner and administrators."""
    return _version(session, response, service.read_version(session, version_id, actor.user))


@router.get("/sop-versions/{version_id}/docx", dependencies=[require_scope("read")], response_class=Response,
            responses={**READ, **file_answer(exports.DOCX_TYPE, description="The version as DOCX")})
def version_docx(version_id: Id, session: SessionDep, actor: CurrentActor,
                 lang: ExportLang = ExportLang.zh_CN) -> Response:
    """The version as a Word document (DOCX, opens in Word and WPS): the version block, the seven sections
    (steps as a numbered table, the RACI table) and the sign-off block, headings in Simplified Chinese or
    English. Whoever reads the version: published versions everyone; others the team, the reviewers, the
    signer, the process owner and administrators."""
    body, name = exports.docx_file(session, version_id, lang.value, actor.user)
    return attachment(body, exports.DOCX_TYPE, name)


@router.get("/sop-versions/{version_id}/pdf", dependencies=[require_scope("read")], response_class=Response,
            responses={**READ, **file_answer(exports.PDF_TYPE, description="The controlled copy"),
                       409: {"description": "The version is not published"},
                       503: {"description": "PDF rendering is unavailable on this server (the detail says why)"}})
def version_pdf(version_id: Id, session: SessionDep, actor: CurrentActor,
                lang: ExportLang = ExportLang.zh_CN) -> Response:
    """The controlled copy (受控副本) of a published version as PDF: version, effective date, sign-off, page
    numbers and "printed copies are uncontrolled" on every page. Everyone signed in; 409 for a version that is
    not published, 503 where this server cannot render PDFs (the DOCX still works)."""
    body, name = exports.pdf_file(session, version_id, lang.value, actor.user)
    return attachment(body, exports.PDF_TYPE, name)


@router.patch("/sop-versions/{version_id}/sections/{section}", response_model=SopVersionRead,
              dependencies=[require_scope("write")], responses=CHANGE)
def update_section(version_id: Id, section: EditSection, value: Annotated[SectionValue, Body(
        description="The section's new value: an object for purpose, scope and raci, a list for the others "
                    "(see `SopContent`; `attributes` are the case attributes the control points' rules use).")],
                   request: Request, session: SessionDep, actor: CurrentActor, response: Response):
    """Replace one section of a draft or a version in review (the team; the process owner for a standalone
    revision). Requires `If-Match`. A change to a version in review starts a new round: earlier votes no
    longer count. Signed and published versions are immutable (409). A control point's rule, or a special
    case's condition, that does not parse, names an undeclared attribute, uses one with the wrong type or is
    not true-or-false is a 422 naming the field, with `line`, `column` and `offset` in the expression."""
    expected = required_version(request, VERSION, version_id)
    return _version(session, response, service.update_section(session, version_id, section, value, actor.user,
                                                               expected_version=expected))


@router.post("/sop-versions/{version_id}/submit", response_model=SopVersionRead,
             dependencies=[require_scope("write")], responses=CHANGE)
def submit(version_id: Id, data: SubmitRequest, request: Request, session: SessionDep, actor: CurrentActor,
           response: Response):
    """Submit a draft to its reviewers: at least one for each department the scope covers; the author is never
    one. The team (the process owner for a standalone revision). `If-Match` optional."""
    expected = optional_version(request, VERSION, version_id)
    return _version(session, response, service.submit(session, version_id, data, actor.user,
                                                      expected_version=expected))


@router.get("/sop-versions/{version_id}/comments", response_model=CommentPage, dependencies=[require_scope("read")],
            responses=READ)
def list_comments(version_id: Id, session: SessionDep, actor: CurrentActor):
    """The version's comments, oldest first (replies name their thread in `parent_id`). Whoever reads the
    version."""
    return CommentPage(items=service.comment_reads(session, service.list_comments(session, version_id, actor.user)))


@router.post("/sop-versions/{version_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentRead,
             dependencies=[require_scope("write")], responses=CHANGE)
def add_comment(version_id: Id, data: CommentCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Comment on a section or a step, or reply to a thread: the reviewers, the team and the signer, while the
    version is a draft or in review."""
    c = service.add_comment(session, version_id, data, actor.user)
    set_etag(response, COMMENT, c.id, c.version)
    return service.comment_reads(session, [c])[0]


@router.patch("/sop-versions/{version_id}/comments/{comment_id}", response_model=CommentRead,
              dependencies=[require_scope("write")], responses=CHANGE)
def update_comment(version_id: Id, comment_id: Id, data: CommentUpdate, request: Request, session: SessionDep,
                   actor: CurrentActor, response: Response):
    """Resolve or reopen a comment (its author, the team, the signer) or change its text (its author). Requires
    `If-Match` (the comment's ETag)."""
    expected = required_version(request, COMMENT, comment_id)
    c = service.update_comment(session, version_id, comment_id, data, actor.user, expected_version=expected)
    set_etag(response, COMMENT, c.id, c.version)
    return service.comment_reads(session, [c])[0]


@router.post("/sop-versions/{version_id}/votes", response_model=SopVersionRead, dependencies=[require_scope("write")],
             responses=CHANGE)
def vote(version_id: Id, data: VoteRequest, request: Request, session: SessionDep, actor: CurrentActor,
         response: Response):
    """Approve or request changes, for the current round (the version's reviewers only). With `If-Match`, the
    vote is refused (412) when the content changed since it was read."""
    expected = optional_version(request, VERSION, version_id)
    return _version(session, response, service.vote(session, version_id, data, actor.user,
                                                    expected_version=expected))


@router.post("/sop-versions/{version_id}/sign", response_model=SopVersionRead, dependencies=[require_scope("write")],
             responses=CHANGE)
def sign(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, response: Response):
    """Sign off (组长签字确认) when every reviewer approved the current round and no comment is open: the
    initiative's leader, or the process owner for a standalone revision. Records who, when and the sha256 of
    the content signed. `If-Match` optional."""
    expected = optional_version(request, VERSION, version_id)
    return _version(session, response, service.sign(session, version_id, actor.user, expected_version=expected))


@router.post("/sop-versions/{version_id}/publish", response_model=SopVersionRead,
             dependencies=[require_scope("write")], responses=CHANGE)
def publish(version_id: Id, data: PublishRequest, request: Request, session: SessionDep, actor: CurrentActor,
            response: Response):
    """Publish a signed version with its number (V1.0 first; then minor or major, the suggestion by default),
    effective date (not before the previous version's) and change summary (required from V1.1 on). Whoever may
    sign it. `If-Match` optional."""
    expected = optional_version(request, VERSION, version_id)
    return _version(session, response, service.publish(session, version_id, data, actor.user,
                                                       expected_version=expected))


@router.post("/sop-versions/{version_id}/withdraw", response_model=SopVersionRead,
             dependencies=[require_scope("write")], responses=CHANGE)
def withdraw(version_id: Id, request: Request, session: SessionDep, actor: CurrentActor, response: Response,
             data: WithdrawRequest | None = None):
    """Withdraw a version that is not published (the team, or whoever may sign it). `If-Match` optional."""
    expected = optional_version(request, VERSION, version_id)
    return _version(session, response, service.withdraw(session, version_id, data or WithdrawRequest(), actor.user,
                                                        expected_version=expected))


@router.post("/sop-versions/{version_id}/next", status_code=status.HTTP_201_CREATED, response_model=SopVersionRead,
             dependencies=[require_scope("write")], responses=CREATE)
def next_version(version_id: Id, session: SessionDep, actor: CurrentActor, response: Response,
                 data: NextRequest | None = None):
    """Start the next version as a copy of this published one: for an initiative of the same process (its team)
    or, without `initiative_id`, a standalone revision (the process owner and administrators)."""
    return _created(session, response, service.next_version(session, version_id, data or NextRequest(), actor.user))
