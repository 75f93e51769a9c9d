"""The method's five key risks (关键风险及应对), seeded into the register of every new initiative.

Each is stored with the method's English texts (msgids: pages and exports show them in the reader's language,
see `app.risks.pages.text`), its `seed` key, the likelihood and impact the method's experience suggests, status
open, the initiative's leader as owner, and as review date the planned end of the phase where its response is
put to the test (the value is stated and signed off in diagnosis; RACI and the metric definitions are settled in
design; the front line meets the SOP in the pilot; special cases pile up in the rollout). Each is audited as
created by whoever created the initiative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from app.core.events import on
from app.core.labels import N_
from app.initiatives.models import Initiative, InitiativeMember, InitiativePhase, Phase, ProjectRole
from app.processes.models import Process
from app.risks import service
from app.risks.models import Risk, RiskSeed, RiskStatus
from app.risks.schemas import RiskCreate, RiskUpdate
from app.users.models import User


@dataclass(frozen=True)
class Seed:
    key: RiskSeed
    description: str
    signs: str
    response: str
    likelihood: int
    impact: int
    review_phase: Phase  # its review date: the planned end of this phase


SEEDS: tuple[Seed, ...] = (
    Seed(RiskSeed.weak_executive_support, N_("Weak executive support"),
         N_("Resources arrive late, decisions wait and the initiative loses priority."),
         N_("State the value up front (e.g. the monthly savings), get the executives' sign-off, and report progress "
            "with data."), 3, 5, Phase.diagnosis),
    Seed(RiskSeed.poor_communication, N_("Poor cross-department communication"),
         N_("Departments shift the blame onto each other and hand-offs stall."),
         N_("A RACI matrix with one R owner and one A per activity, a weekly cross-department meeting, and the "
            "leader arbitrates."), 4, 4, Phase.design),
    Seed(RiskSeed.frontline_resistance, N_("Front-line resistance"),
         N_("Box-ticking execution: the SOP is followed on paper, not in practice."),
         N_("Involve front-line staff in the design during the pilot, use real cases in the training, and recognise "
            "those who do it well (\"process star\")."), 4, 3, Phase.pilot),
    Seed(RiskSeed.standard_vs_flexibility, N_("Imbalance between standardisation and flexibility"),
         N_("Rigid rules block legitimate special cases, or exceptions become the rule."),
         N_("A documented special-case mechanism; collect the special cases and iterate the SOP."), 3, 3,
         Phase.rollout),
    Seed(RiskSeed.data_collection, N_("Data hard to collect"),
         N_("KPIs cannot be measured or are distorted, so the evaluation is wrong."),
         N_("Agree the metric definitions and data sources with IT in advance."), 3, 4, Phase.design),
)
BY_KEY = {s.key: s for s in SEEDS}
# Every text a seeded risk may hold as stored (the pages translate only these).
TEXTS = frozenset(t for s in SEEDS for t in (s.description, s.signs, s.response))


@on("initiative_created")
def seed_initiative(session: Session, *, initiative: Initiative, actor: User, **_: Any) -> None:
    """The five method risks of a new initiative, owned by its leader."""
    leader = session.exec(select(InitiativeMember.user_id).where(
        InitiativeMember.initiative_id == initiative.id, InitiativeMember.project_role == ProjectRole.leader)).first()
    ends = {p.phase: p.planned_end for p in session.exec(select(InitiativePhase).where(
        InitiativePhase.initiative_id == initiative.id))}
    process = session.get(Process, initiative.process_id)
    for s in SEEDS:
        data = RiskCreate(initiative_id=initiative.id, description=s.description, signs=s.signs,
                          likelihood=s.likelihood, impact=s.impact, owner_id=leader, response=s.response,
                          review_date=ends.get(s.review_phase))
        service.new_risk(session, process, data, actor, seed=s.key)


@on("phase_replanned")
def follow_phase(session: Session, *, initiative: Initiative, phase: Phase, old_end: date, new_end: date,
                 actor: User, **_: Any) -> None:
    """A seeded risk reviewed at the end of a phase moves with it: the open ones of the initiative whose review
    date is still the one seeded (the phase's old end). A date someone set stays."""
    keys = [s.key for s in SEEDS if s.review_phase == phase]
    risks = session.exec(select(Risk).where(Risk.initiative_id == initiative.id, col(Risk.seed).in_(keys),
                                            Risk.review_date == old_end, Risk.status != RiskStatus.closed))
    for risk in list(risks):
        service.update_risk(session, risk.id, RiskUpdate(review_date=new_end), actor, expected_version=None)
