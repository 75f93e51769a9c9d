"""Phase gates: what must hold before an initiative moves on to the next phase.

Each phase has a list of criteria; every criterion is evaluated (none short-circuits), so a
refusal names all that is missing. Later domains (pilots, rollout) add their criteria here.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from app.initiatives.labels import GATE_MESSAGES
from app.initiatives.models import Initiative, InitiativeStatus, Phase
from app.initiatives.schemas import Criterion, GateRead
from app.issues.models import OPEN_STATUSES, Issue, IssueCause, IssueWhy
from app.measures.models import Measure, MeasureIssue, MeasureStatus
from app.survey.models import ResearchRecord, SurveyStep

Check = Callable[[Session, Initiative], Criterion]


def _criterion(code: str, met: bool, **params: int | str) -> Criterion:
    return Criterion(code=code, met=met, message=GATE_MESSAGES[code].format(**params), params=params)


def _count(session: Session, stmt: sa.Select) -> int:
    return int(session.exec(stmt).one())


def survey_steps(session: Session, ini: Initiative) -> Criterion:
    n = _count(session, select(func.count()).select_from(SurveyStep).where(SurveyStep.initiative_id == ini.id))
    return _criterion("survey_steps", n > 0)


def research_records(session: Session, ini: Initiative) -> Criterion:
    n = _count(session, select(func.count()).select_from(ResearchRecord)
               .where(ResearchRecord.initiative_id == ini.id))
    return _criterion("research_records", n > 0)


def problems_recorded(session: Session, ini: Initiative) -> Criterion:
    n = _count(session, select(func.count()).select_from(Issue).where(Issue.initiative_id == ini.id))
    return _criterion("problems_recorded", n > 0)


def problems_scored(session: Session, ini: Initiative) -> Criterion:
    n = _count(session, select(func.count()).select_from(Issue).where(
        Issue.initiative_id == ini.id, col(Issue.status).in_(OPEN_STATUSES),
        sa.or_(col(Issue.impact).is_(None), col(Issue.urgency).is_(None))))
    return _criterion("problems_scored", n == 0, n=n)


def root_cause_found(session: Session, ini: Initiative) -> Criterion:
    issue_ids = select(Issue.id).where(Issue.initiative_id == ini.id)
    cause = session.exec(select(IssueCause.id).where(col(IssueCause.issue_id).in_(issue_ids),
                                                     col(IssueCause.is_root).is_(True)).limit(1)).first()
    why = session.exec(select(IssueWhy.id).where(col(IssueWhy.issue_id).in_(issue_ids),
                                                 col(IssueWhy.is_root).is_(True)).limit(1)).first()
    return _criterion("root_cause_found", cause is not None or why is not None)


def do_first_planned(session: Session, ini: Initiative) -> Criterion:
    t = ini.priority_threshold
    n = _count(session, select(func.count()).select_from(Issue).where(
        Issue.initiative_id == ini.id, Issue.impact >= t, Issue.urgency >= t,
        col(Issue.status).in_(OPEN_STATUSES), col(Issue.id).not_in(  # a non-dropped countermeasure plans it
            select(MeasureIssue.issue_id).join(Measure, col(Measure.id) == MeasureIssue.measure_id)
            .where(Measure.status != MeasureStatus.dropped))))
    return _criterion("do_first_planned", n == 0, n=n)


def last_phase(session: Session, ini: Initiative) -> Criterion:
    return _criterion("last_phase", False)


GATES: dict[Phase, list[Check]] = {
    Phase.diagnosis: [survey_steps, research_records],
    Phase.root_cause: [problems_recorded, problems_scored, root_cause_found],
    Phase.design: [do_first_planned],
    Phase.pilot: [],
    Phase.rollout: [],
    Phase.monitoring: [last_phase],
}


def evaluate(session: Session, ini: Initiative) -> GateRead:
    criteria = [check(session, ini) for check in GATES[ini.current_phase]]
    if ini.status != InitiativeStatus.active:
        criteria.insert(0, _criterion("initiative_active", False, status=ini.status.value))
    return GateRead(phase=ini.current_phase, next_phase=ini.current_phase.next,
                    passed=all(c.met for c in criteria), criteria=criteria)
