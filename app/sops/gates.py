"""The SOP's criterion of the design gate (see `app.initiatives.gates`)."""

from __future__ import annotations

from sqlmodel import Session

from app.core.labels import N_
from app.initiatives.gates import Params, criterion
from app.initiatives.models import Initiative, Phase
from app.sops.service import approved_for_process


@criterion(Phase.design, "sop_approved",
           N_("Get the process's SOP reviewed and signed (an approved or effective version)."))
def sop_approved(session: Session, ini: Initiative) -> tuple[bool, Params]:
    return approved_for_process(session, ini.process_id), {}
