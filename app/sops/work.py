"""The SOP work waiting for a person (see `app.core.work`): reviews to do, their drafts with open comments,
sign-offs, SOPs due for their periodic review.

Who signs is `service.may_sign`'s rule and the review-due date is `service.sop_read`'s; the queries here
only find the candidates (the service's own vote and open-comment checks are private to its sign-off).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.calendar import today
from app.core.labels import N_
from app.core.work import WorkItem, provider, urgency
from app.initiatives.models import Initiative, InitiativeMember, ProjectRole
from app.processes.models import Process
from app.sops.models import Sop, SopComment, SopReviewer, SopState, SopVersion, Vote
from app.sops.service import EDITABLE_STATES, Context, may_sign, sop_read
from app.users.models import User

# An SOP is listed this many days before its periodic review is due (and from then on until it is done).
REVIEW_DUE_SOON_DAYS = 30

_OPEN_THREAD = (col(SopComment.parent_id).is_(None), col(SopComment.resolved).is_(False))


def _title(process: Process) -> str:
    return f"{process.code} {process.name}"


# The SOP pages (app.sops.pages): a version with its review, comments and actions; an SOP with its history.
def version_href(v: SopVersion, anchor: str = "") -> str:
    return f"/sop-versions/{v.id}" + (f"#{anchor}" if anchor else "")


def sop_href(sop: Sop) -> str:
    return f"/sops/{sop.id}"


def _versions(*where: sa.ColumnElement[bool]) -> sa.Select:
    """Versions with their SOP and process, oldest first."""
    return (select(SopVersion, Sop, Process)
            .join(Sop, col(Sop.id) == SopVersion.sop_id)
            .join(Process, col(Process.id) == Sop.process_id)
            .where(*where).order_by(SopVersion.id))


@provider("sop_review", N_("SOP reviews to do"))
def reviews_to_do(session: Session, user: User) -> list[WorkItem]:
    """Versions in review where the user is a reviewer who has not voted in the current round."""
    stmt = _versions(SopVersion.state == SopState.in_review).join(
        SopReviewer, col(SopReviewer.version_id) == SopVersion.id).where(
        SopReviewer.user_id == user.id, SopReviewer.voted_round != SopVersion.review_round)
    return [WorkItem(kind="sop_review", title=_title(p), link=version_href(v)) for v, _, p in session.exec(stmt)]


@provider("sop_draft_comments", N_("My SOP drafts with open comments"), N_("%(n)s open comments"))
def drafts_with_comments(session: Session, user: User) -> list[WorkItem]:
    """Versions the user drafted, still editable, with open comment threads; the link opens the first."""
    open_ = (select(SopComment.version_id, func.count().label("n"), func.min(SopComment.id).label("first"))
             .where(*_OPEN_THREAD).group_by(SopComment.version_id).subquery())
    stmt = (_versions(SopVersion.author_id == user.id, col(SopVersion.state).in_(EDITABLE_STATES))
            .join(open_, open_.c.version_id == SopVersion.id).add_columns(open_.c.n, open_.c.first))
    return [WorkItem(kind="sop_draft_comments", title=_title(p), link=version_href(v, f"comment-{first}"), count=n)
            for v, _, p, n, first in session.exec(stmt)]


@provider("sop_sign_off", N_("SOP sign-offs waiting for me"))
def sign_offs(session: Session, user: User) -> list[WorkItem]:
    """Versions in review that every reviewer approved in the current round, with no open comment, that the
    user signs (`service.may_sign`)."""
    pending = sa.exists().where(SopReviewer.version_id == SopVersion.id, sa.or_(
        SopReviewer.vote != Vote.approve, SopReviewer.voted_round != SopVersion.review_round))
    open_comment = sa.exists().where(SopComment.version_id == SopVersion.id, *_OPEN_THREAD)
    stmt = (_versions(SopVersion.state == SopState.in_review, ~pending, ~open_comment)
            .outerjoin(Initiative, col(Initiative.id) == SopVersion.initiative_id).add_columns(Initiative))
    return [WorkItem(kind="sop_sign_off", title=_title(p), link=version_href(v, "actions"))
            for v, sop, p, ini in session.exec(stmt) if may_sign(session, Context(v, sop, p, ini), user)]


@provider("sop_review_due", N_("SOPs due for their periodic review"))
def reviews_due(session: Session, user: User) -> list[WorkItem]:
    """SOPs of the processes the user owns or leads an initiative of, whose review is due within
    `REVIEW_DUE_SOON_DAYS` or overdue."""
    led = select(Initiative.process_id).join(InitiativeMember, col(InitiativeMember.initiative_id) == Initiative.id
                                             ).where(InitiativeMember.user_id == user.id,
                                                     InitiativeMember.project_role == ProjectRole.leader)
    stmt = (select(Sop, Process).join(Process, col(Process.id) == Sop.process_id)
            .where(sa.or_(Process.owner_id == user.id, col(Process.id).in_(led))).order_by(Process.code_norm))
    now = today()
    items = []
    for sop, process in session.exec(stmt):
        due = sop_read(session, sop).review_due
        if due is not None and due <= now + timedelta(days=REVIEW_DUE_SOON_DAYS):
            items.append(WorkItem(kind="sop_review_due", title=_title(process), link=sop_href(sop), due_date=due,
                                  urgency=urgency(due, now, REVIEW_DUE_SOON_DAYS)))
    return items

