"""The quarterly reviews waiting for a person (see `app.core.work`): the planned reviews of the processes they own
or lead an initiative on, from two weeks before the planned day (and overdue once it passed without a record)."""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.calendar import today
from app.core.labels import N_
from app.core.work import WorkItem, provider, urgency
from app.initiatives.models import Initiative, InitiativeMember, InitiativeStatus, ProjectRole
from app.reviews.service import label, upcoming
from app.users.models import User

AHEAD_DAYS = 14
SOON_DAYS = 7


def review_href(review_id: int) -> str:
    return f"/reviews/{review_id}"


@provider("quarterly_review", N_("Quarterly reviews"))
def quarterly_reviews(session: Session, user: User) -> list[WorkItem]:
    """Planned reviews of the processes the user owns or leads an active initiative on, due within two weeks."""
    led = set(session.exec(select(Initiative.process_id).join(
        InitiativeMember, InitiativeMember.initiative_id == Initiative.id).where(
        InitiativeMember.user_id == user.id, InitiativeMember.project_role == ProjectRole.leader,
        Initiative.status == InitiativeStatus.active)))
    now = today()
    return [WorkItem(kind="quarterly_review", title=f"{u.process.code} {u.process.name} · {label(u.review.year, u.review.quarter)}",
                     link=review_href(u.review.id), due_date=u.review.planned_on,
                     urgency=urgency(u.review.planned_on, now, SOON_DAYS))
            for u in upcoming(session, user, AHEAD_DAYS) if u.process.owner_id == user.id or u.process.id in led]
