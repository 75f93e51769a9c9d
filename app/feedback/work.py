"""The feedback waiting for a person (see `app.core.work`): feedback not acknowledged yet on the processes they
triage (`service.may_triage`: the process's owner, the team of an initiative on it, administrators), each due by
the response target (FEEDBACK_ACK_WORKING_DAYS working days after the day it came), the overdue ones first.

The query here only finds the candidates; who triages is the service's rule, asked once per process."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.calendar import add_working_days, today
from app.core.config import get_settings
from app.core.labels import N_
from app.core.work import WorkItem, provider, urgency
from app.feedback.models import Feedback, FeedbackStatus
from app.feedback.service import may_triage
from app.initiatives.models import Initiative, InitiativeMember
from app.processes.models import Process
from app.users.models import Role, User

# Due soon: the response target ends today or on the next day.
SOON_DAYS = 1


def triage_href(process_id: int, feedback_id: int) -> str:
    """The feedback on its process's triage page (app.feedback.pages), among the new ones."""
    return f"/processes/{process_id}/feedback?status={FeedbackStatus.new.value}#feedback-{feedback_id}"


@provider("feedback_new", N_("Feedback to acknowledge"))
def to_acknowledge(session: Session, user: User) -> list[WorkItem]:
    """New feedback on the processes the user triages, due by the response target."""
    stmt = (select(Feedback, Process).join(Process, col(Process.id) == Feedback.process_id)
            .where(Feedback.status == FeedbackStatus.new).order_by(col(Feedback.id)))
    if user.role != Role.admin:  # the candidates: processes the user owns or is on a team of an initiative of
        teams = (select(Initiative.process_id).join(InitiativeMember, col(InitiativeMember.initiative_id) == Initiative.id)
                 .where(InitiativeMember.user_id == user.id))
        stmt = stmt.where(sa.or_(Process.owner_id == user.id, col(Process.id).in_(teams)))
    days, now = get_settings().feedback_ack_working_days, today()
    triages: dict[int, bool] = {}
    items = []
    for fb, process in session.exec(stmt):
        if process.id not in triages:
            triages[process.id] = may_triage(session, process, user)
        if not triages[process.id]:
            continue
        due = add_working_days(fb.received_on, days)
        items.append(WorkItem(kind="feedback_new", title=f"{process.code}: {fb.text[:120]}",
                              link=triage_href(process.id, fb.id), due_date=due, urgency=urgency(due, now, SOON_DAYS)))
    return items
