"""The problems' criteria of the root-cause gate (see `app.initiatives.gates`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.core.labels import N_
from app.initiatives.gates import VARIANT, Params, count, criterion
from app.initiatives.models import Initiative, Phase
from app.issues.models import OPEN_STATUSES, Issue, IssueCause, IssueWhy


@criterion(Phase.root_cause, "problems_recorded", N_("Record at least one problem."))
def problems_recorded(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = count(session, select(func.count()).select_from(Issue).where(Issue.initiative_id == ini.id))
    return n > 0, {}


@criterion(Phase.root_cause, "problems_scored",
           N_("Score impact and urgency of every open problem ({n} not scored)."),
           none=N_("No problems yet."))  # met, but "0 not scored" would mislead
def problems_scored(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = count(session, select(func.count()).select_from(Issue).where(
        Issue.initiative_id == ini.id, col(Issue.status).in_(OPEN_STATUSES),
        sa.or_(col(Issue.impact).is_(None), col(Issue.urgency).is_(None))))
    if n == 0 and count(session, select(func.count()).select_from(Issue).where(Issue.initiative_id == ini.id)) == 0:
        return True, {"n": 0, VARIANT: "none"}
    return n == 0, {"n": n}


@criterion(Phase.root_cause, "root_cause_found",
           N_("Identify at least one root cause (in a fishbone or a 5-Whys chain)."))
def root_cause_found(session: Session, ini: Initiative) -> tuple[bool, Params]:
    issue_ids = select(Issue.id).where(Issue.initiative_id == ini.id)
    cause = session.exec(select(IssueCause.id).where(col(IssueCause.issue_id).in_(issue_ids),
                                                     col(IssueCause.is_root).is_(True)).limit(1)).first()
    why = session.exec(select(IssueWhy.id).where(col(IssueWhy.issue_id).in_(issue_ids),
                                                 col(IssueWhy.is_root).is_(True)).limit(1)).first()
    return cause is not None or why is not None, {}
