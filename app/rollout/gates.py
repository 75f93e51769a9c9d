"""The rollout's criteria of the rollout gate (see `app.initiatives.gates`): on to monitoring once every
department of the plan is ready and every item of the IT configuration checklist is done."""

from __future__ import annotations

from sqlmodel import Session

from app.core.labels import N_
from app.initiatives.gates import Params, criterion
from app.initiatives.models import Initiative, Phase
from app.rollout.service import checklist_done, plan_ready


@criterion(Phase.rollout, "rollout_ready",
           N_("Plan the rollout, and have every department of every wave ready: everyone passed the test and "
              "acknowledged the version, or an exception is recorded."))
def rollout_ready(session: Session, ini: Initiative) -> tuple[bool, Params]:
    return plan_ready(session, ini.id), {}


@criterion(Phase.rollout, "checklist_done", N_("Finish the IT configuration checklist ({open} open)."))
def rollout_checklist(session: Session, ini: Initiative) -> tuple[bool, Params]:
    done, open_ = checklist_done(session, ini.id)
    return done, {"open": open_}
