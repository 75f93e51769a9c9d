"""Phase gates: what must hold before an initiative moves on to the next phase.

The criteria are declared by the domain whose data they read, in its own `gates.py`, with
`@criterion(phase, code, message)`; `app.domains` imports every domain, so the registry is complete
before the first request. Initiatives never import the later domains: pilots, rollout and reviews add
their criteria the same way. Every criterion of a phase is evaluated (none short-circuits), so a
refusal names all that is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from app.core.labels import N_
from app.initiatives.models import Initiative, InitiativeStatus, Phase
from app.initiatives.schemas import Criterion, GateRead

Params = dict[str, int | str]
# A check answers whether it is met, with the numbers its message shows ({n} ...).
Check = Callable[[Session, Initiative], tuple[bool, Params]]


@dataclass(frozen=True)
class GateCriterion:
    code: str
    message: str  # an N_ msgid with {params}
    check: Check


# A check that says something else in a case of its own (problems_scored with no problem at all: "No
# problems yet.") returns its variant's name in this param; the criterion then carries that message.
VARIANT = "variant"


CRITERIA: dict[Phase, list[GateCriterion]] = {phase: [] for phase in Phase}
# The API sends a criterion's English text with its parameters; pages translate the message id and fill
# the parameters in.
MESSAGES: dict[str, str] = {
    "last_phase": N_("Monitoring is the last phase; close the initiative when it is done."),
    "initiative_active": N_("The initiative must be active (it is {status})."),
}


def criterion(phase: Phase, code: str, message: str, **variants: str) -> Callable[[Check], Check]:
    """Register `check` as a criterion of `phase`'s gate (in import order: the method's order). `variants`:
    other messages of the criterion by name, chosen by the check (`VARIANT`), keyed `code.name`."""
    def register(check: Check) -> Check:
        if code in MESSAGES:
            raise ValueError(f"gate criterion {code!r} is declared twice")
        CRITERIA[phase].append(GateCriterion(code, message, check))
        MESSAGES[code] = message
        MESSAGES.update({f"{code}.{name}": text for name, text in variants.items()})
        return check
    return register


def count(session: Session, stmt: sa.Select) -> int:
    return int(session.exec(stmt).one())


def _criterion(code: str, met: bool, params: Params) -> Criterion:
    variant = params.pop(VARIANT, None)
    key = f"{code}.{variant}" if variant else code
    return Criterion(code=code, met=met, message=MESSAGES[key].format(**params), message_key=key, params=params)


def evaluate(session: Session, ini: Initiative) -> GateRead:
    criteria = []
    for c in CRITERIA[ini.current_phase]:
        met, params = c.check(session, ini)
        criteria.append(_criterion(c.code, met, params))
    if ini.current_phase.next is None:
        criteria.append(_criterion("last_phase", False, {}))
    if ini.status != InitiativeStatus.active:
        criteria.insert(0, _criterion("initiative_active", False, {"status": ini.status.value}))
    return GateRead(phase=ini.current_phase, next_phase=ini.current_phase.next,
                    passed=all(c.met for c in criteria), criteria=criteria)
