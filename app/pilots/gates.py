"""The pilot's criterion of the pilot gate (see `app.initiatives.gates`): on to rollout once a pilot is adopted."""

from __future__ import annotations

from sqlmodel import Session

from app.core.labels import N_
from app.initiatives.gates import Params, criterion
from app.initiatives.models import Initiative, Phase
from app.pilots.service import adopted


@criterion(Phase.pilot, "pilot_adopted", N_("Decide a pilot of the SOP version \"adopt\"."))
def pilot_adopted(session: Session, ini: Initiative) -> tuple[bool, Params]:
    return adopted(session, ini.id), {}
