"""The RACI matrix's criteria of the design gate (see `app.initiatives.gates`): a matrix exists, and it
breaks none of the rules `check` reports as errors (one A and at least one R per activity, allowed cells).
An unmet criterion can be overridden by the leader with a reason, like every other."""

from __future__ import annotations

from sqlmodel import Session, func, select

from app.core.labels import N_
from app.initiatives.gates import Params, count, criterion
from app.initiatives.models import Initiative, Phase
from app.raci.models import RaciActivity
from app.raci.service import check, matrix


@criterion(Phase.design, "raci_defined", N_("Assign the work in the RACI matrix (at least one activity)."))
def raci_defined(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = count(session, select(func.count()).select_from(RaciActivity).where(RaciActivity.initiative_id == ini.id))
    return n > 0, {}


@criterion(Phase.design, "raci_valid",
           N_("Fix the RACI matrix's errors: one A and at least one R per activity ({n} errors)."))
def raci_valid(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = sum(v.severity == "error" for v in check(matrix(session, ini.id)))
    return n == 0, {"n": n}
