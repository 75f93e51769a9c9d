"""The optimization plan's criterion of the design gate (see `app.initiatives.gates`)."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from app.core.labels import N_
from app.initiatives.gates import Params, count, criterion
from app.initiatives.models import Initiative, Phase
from app.issues.models import OPEN_STATUSES, Issue
from app.measures.models import Measure, MeasureIssue, MeasureStatus


@criterion(Phase.design, "do_first_planned",
           N_("Plan a countermeasure for every do-first problem ({n} without)."))
def do_first_planned(session: Session, ini: Initiative) -> tuple[bool, Params]:
    t = ini.priority_threshold
    n = count(session, select(func.count()).select_from(Issue).where(
        Issue.initiative_id == ini.id, Issue.impact >= t, Issue.urgency >= t,
        col(Issue.status).in_(OPEN_STATUSES), col(Issue.id).not_in(  # a non-dropped countermeasure plans it
            select(MeasureIssue.issue_id).join(Measure, col(Measure.id) == MeasureIssue.measure_id)
            .where(Measure.status != MeasureStatus.dropped))))
    return n == 0, {"n": n}
