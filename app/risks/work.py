"""The risk work waiting for a person (see `app.core.work`): the risks they own that are due for review (review
date today or past) or flagged (a linked control point's measured compliance fell below the risk's threshold)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.core.calendar import today
from app.core.config import get_settings
from app.core.i18n import gettext_for
from app.core.labels import N_
from app.core.work import Urgency, WorkItem, provider, urgency
from app.processes.models import Process
from app.risks.service import owned_for_review
from app.users.models import User


def risk_href(process_id: int, risk_id: int) -> str:
    return f"/processes/{process_id}/risks#risk-{risk_id}"


@provider("risk_review", N_("Risks to review"), N_("%(n)s control points below the threshold"))
def risks_to_review(session: Session, user: User) -> list[WorkItem]:
    """A seeded risk's title is the method's text in the user's language (their choice, else the default)."""
    found = owned_for_review(session, user)
    if not found:
        return []
    ids = {r.process_id for r in found}
    codes = dict(session.exec(select(Process.id, Process.code).where(col(Process.id).in_(ids))).all())
    gettext = gettext_for(user.locale or get_settings().default_locale)
    now, items = today(), []
    for r in found:
        text = gettext(r.description) if r.seed else r.description
        due = urgency(r.review_date, now, 0) if r.review_due and r.review_date else Urgency.due_soon
        items.append(WorkItem(kind="risk_review", title=f"{codes[r.process_id]}: {text[:160]}",
                              link=risk_href(r.process_id, r.id), due_date=r.review_date, urgency=due,
                              count=len(r.flag_reasons) if r.flagged else None))
    return items
