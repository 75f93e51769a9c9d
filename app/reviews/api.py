"""Quarterly reviews (季度复盘会): `/processes/{id}/reviews` (plan, list, the pack of a quarter) and
`/reviews/{id}/...` (the review with its pack, its meeting record, a new round from a decision, the DOCX)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.etag import required_version, set_etag
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.pagination import Cursor, page_window, set_link_header
from app.core.spreadsheets import ExportLang
from app.processes.service import get_process
from app.reviews import records, service
from app.reviews.schemas import (
    OpenRoundRequest,
    Pack,
    RecordRequest,
    ReviewCreate,
    ReviewDetail,
    ReviewPage,
    ReviewRead,
    ReviewUpdate,
    RoundOpened,
)
from app.sops.exports import DOCX_TYPE

router = APIRouter(tags=["reviews"])
REVIEW = "review"
WHO = ("The process's owner, administrators and the team of an initiative on the process; viewers and other "
       "teams are refused.")


def _one(session, response: Response, r) -> ReviewRead:  # noqa: ANN001
    set_etag(response, REVIEW, r.id, r.version)
    return service.to_read(session, r)


@router.get("/processes/{process_id}/reviews", response_model=ReviewPage, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS, description=f"The process's quarterly reviews, the latest quarter first. {WHO}")
def list_reviews(process_id: Id, request: Request, response: Response, session: SessionDep, actor: CurrentActor,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None):
    after = tuple(Cursor.decode(cursor, ("year", "quarter"), (int, int)).values) if cursor else None
    rows = service.list_reviews(session, process_id, actor.user, limit=limit + 1, after=after)
    rows, next_cursor = page_window(rows, limit, lambda r: Cursor(("year", "quarter"), (r.year, r.quarter)))
    set_link_header(request, response, next_cursor)
    return ReviewPage(items=service.to_reads(session, rows), next_cursor=next_cursor)


@router.post("/processes/{process_id}/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewRead,
             dependencies=[require_scope("write")], responses={**TEAM_PROBLEMS, 409: {"description": "The quarter "
                                                                                      "has a review already"}},
             description=f"Plan the review of a quarter (one per process and quarter). {WHO}")
def create_review(process_id: Id, data: ReviewCreate, session: SessionDep, actor: CurrentActor, response: Response):
    return _one(session, response, service.create_review(session, process_id, data, actor.user))


@router.get("/processes/{process_id}/reviews/pack", response_model=Pack, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS,
            description="The data a review of the quarter is prepared from, as of now: the KPIs per month with "
                        "targets and alerts, the control points' compliance, the feedback received and its state, "
                        "the open problems and countermeasures, the SOP's versions and periodic review, training "
                        f"coverage and the risk register's changes. {WHO}")
def read_pack(process_id: Id, session: SessionDep, actor: CurrentActor,
              year: Annotated[int, Query(ge=2000, le=2100)], quarter: Annotated[int, Query(ge=1, le=4)]):
    process = get_process(session, process_id)
    service.require_reviewer(session, process, actor.user)
    return service.pack(session, process, year, quarter)


@router.get("/reviews/{review_id}", response_model=ReviewDetail, dependencies=[require_scope("read")],
            responses=TEAM_PROBLEMS,
            description="One review with its record and its pack: kept as it was when the review was held, "
                        f"prepared now while it is planned. The `ETag` is for `If-Match`. {WHO}")
def read_review(review_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    r = service.read_review(session, review_id, actor.user)
    set_etag(response, REVIEW, r.id, r.version)
    return service.detail(session, r)


@router.patch("/reviews/{review_id}", response_model=ReviewRead, dependencies=[require_scope("write")],
              responses=TEAM_PATCH, description=f"Move the planned day or change the notes. `If-Match`. {WHO}")
def update_review(review_id: Id, data: ReviewUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                  response: Response):
    r = service.update_review(session, review_id, data, actor.user,
                              expected_version=required_version(request, REVIEW, review_id))
    return _one(session, response, r)


@router.delete("/reviews/{review_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[require_scope("write")],
               responses={**TEAM_PATCH, 409: {"description": "It was held: its record is kept"}},
               description=f"Remove a planned review (one that was held is kept). `If-Match`. {WHO}")
def delete_review(review_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    service.delete_review(session, review_id, actor.user, expected_version=required_version(request, REVIEW, review_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/reviews/{review_id}/record", response_model=ReviewRead, dependencies=[require_scope("write")],
            responses=TEAM_PATCH,
            description="The meeting record as a whole: the day it was held, the participants, the findings, the "
                        "decisions (no change, small iteration, new round) with owners and dates, and the next "
                        "review's day. The first record holds the review: its pack is kept as it is then, and the "
                        "next quarter's review is planned on `next_review_on` (default three months later). "
                        f"`If-Match`. {WHO}")
def put_record(review_id: Id, data: RecordRequest, request: Request, session: SessionDep, actor: CurrentActor,
               response: Response):
    r = service.record(session, review_id, data, actor.user,
                       expected_version=required_version(request, REVIEW, review_id))
    return _one(session, response, r)


@router.post("/reviews/{review_id}/decisions/{decision_id}/round", status_code=status.HTTP_201_CREATED,
             response_model=RoundOpened, dependencies=[require_scope("write")],
             responses={**TEAM_PATCH, 409: {"description": "The decision opened its round already"}},
             description="Open the new round a `new_round` decision calls for: an initiative on the process that "
                         "starts at design (phases 3-5 follow), its problems the review's findings (all that are "
                         "not a problem yet, or `finding_ids`), linked both ways. `If-Match` (the review). "
                         f"{WHO} Starting an initiative also needs the lead or administrator role.")
def open_round(review_id: Id, decision_id: Id, data: OpenRoundRequest, request: Request, session: SessionDep,
               actor: CurrentActor, response: Response):
    opened = service.open_round(session, review_id, decision_id, data, actor.user,
                                expected_version=required_version(request, REVIEW, review_id))
    set_etag(response, REVIEW, opened.review.id, opened.review.version)
    return opened


@router.get("/reviews/{review_id}/docx", dependencies=[require_scope("read")], response_class=Response,
            responses={**TEAM_PROBLEMS, **file_answer(DOCX_TYPE, description="The review as DOCX")},
            description="The review as a Word document (opens in Word and WPS): the facts, each part of the pack "
                        "as a table, the findings and decisions; in Simplified Chinese or English. " + WHO)
def review_docx(review_id: Id, session: SessionDep, actor: CurrentActor,
                lang: ExportLang = ExportLang.zh_CN) -> Response:
    r = service.read_review(session, review_id, actor.user)
    body, name = records.docx_file(service.detail(session, r), lang.value)
    return attachment(body, DOCX_TYPE, name)
