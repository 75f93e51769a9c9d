"""Feedback schemas: what a sender posts, what the team reads, what the receipt code shows the sender."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import Id
from app.feedback.models import FeedbackCategory, FeedbackStatus
from app.initiatives.schemas import UserRef
from app.survey.models import ProblemCategory


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FeedbackCreate(_In):
    process_id: Id
    step_id: str | None = Field(None, max_length=64, description="A step of the process's SOP version in force "
                                                                 "(its id in the version's content), or none.")
    category: FeedbackCategory
    text: str = Field(min_length=1, max_length=5000, examples=["审批节点太多，一单要等半天"])


class FeedbackPosted(BaseModel):
    id: int
    receipt_code: str = Field(description="Shown once: with it the sender follows the feedback and reads the "
                                          "replies, without logging in. Only its hash is kept.")
    status: FeedbackStatus
    received_on: date


class ReplyRead(BaseModel):
    id: int
    text: str
    author: UserRef | None = Field(description="The team member who replied.")
    created_at: datetime


class AttachmentRead(BaseModel):
    """The file a feedback carries (its content by the download routes)."""

    name: str = Field(description="For an anonymous feedback `attachment.<ext>`, never the name it was sent with.")
    media_type: str = Field(examples=["image/png"])
    size: int = Field(description="Bytes kept (an anonymous one's after its metadata was removed).")
    sha256: str


class FeedbackRead(BaseModel):
    """The feedback as the process's owner and team see it: an anonymous one names no one."""

    id: int
    process_id: int
    sop_version_id: int | None
    step_id: str | None
    step_name: str | None
    category: FeedbackCategory
    text: str
    anonymous: bool
    author: UserRef | None
    received_on: date
    status: FeedbackStatus
    overdue: bool = Field(description="Not acknowledged within the response target (FEEDBACK_ACK_WORKING_DAYS "
                                      "working days after the day it came).")
    acknowledged_at: datetime | None
    acknowledged_by: UserRef | None
    closed_at: datetime | None
    close_reason: str | None
    issue_id: int | None = Field(description="The problem of an initiative it was promoted to.")
    replies: list[ReplyRead]
    attachment: AttachmentRead | None = Field(None, description="Downloaded by `GET /feedback/{id}/attachment`.")
    version: int


class FeedbackPage(BaseModel):
    items: list[FeedbackRead]
    next_cursor: str | None = None


class ReceiptRequest(_In):
    code: str = Field(min_length=1, max_length=64, description="The receipt code shown when the feedback was sent "
                                                               "(in the body, never in a URL: URLs are logged).")


class ReceiptRead(BaseModel):
    """What the sender sees with the receipt code: the state and the team's replies ("you said, we did")."""

    process_id: int
    category: FeedbackCategory
    text: str
    received_on: date
    status: FeedbackStatus
    close_reason: str | None
    promoted: bool
    replies: list[ReplyRead]
    attachment: AttachmentRead | None = Field(None, description="Downloaded by `POST /feedback/receipt/attachment` "
                                                                "with the code.")


class ReplyCreate(_In):
    text: str = Field(min_length=1, max_length=5000)


class CloseRequest(_In):
    reason: str = Field(min_length=1, max_length=2000, examples=["已在 V1.2 中取消重复审批"])


class PromoteRequest(_In):
    initiative_id: Id = Field(description="An initiative on the feedback's process, whose team you are on.")
    title: str | None = Field(None, min_length=1, max_length=200,
                              description="The problem's title; by default the feedback's first 200 characters.")
    category: ProblemCategory | None = Field(None, description="The problem's category; by default the feedback's "
                                                               "(a suggestion needs one).")


class FeedbackKpis(BaseModel):
    """What a publication of the process's feedback counts did."""

    kpis: list[str] = Field(description="The KPI codes published (`<PROCESS>-FB-<CATEGORY>`), one per category "
                                        "with feedback.")
    weeks: int = Field(description="ISO weeks published, from the first feedback's to this one.")
    observations: int = Field(description="Values published: weeks times categories.")
    batches: list[int] = Field(description="The observation batches written; none when the counts were "
                                           "published as they are already.")
