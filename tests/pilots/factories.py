"""A pilot's world: an initiative in the pilot phase with a published SOP version of its process, KPIs of the
process, and observations of team A and team B before and during the pilot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from app.core.calendar import today
from app.initiatives.models import Phase
from app.metrics.models import Kpi
from app.sops import service as sops
from app.sops.models import SopVersion
from app.sops.schemas import EditSection, SopCreate
from tests.factories import Factory
from tests.initiatives.factories import InitiativeFactory, Team
from tests.metrics.helpers import add, make_kpi
from tests.sops.factories import publish_now


@dataclass
class PilotWorld:
    team: Team
    version: SopVersion
    time: Kpi  # average activation time, minutes, lower is better
    errors: Kpi  # error rate (0/1 observations), lower is better
    start: date  # the pilot's start: two weeks ago


def pilot_world(session: Session, factory: Factory) -> PilotWorld:
    team = InitiativeFactory(session, factory).team()
    ini = team.initiative
    v = sops.start_standalone(session, str(ini.process_id), SopCreate(), team.leader)
    v = sops.update_section(session, v.id, EditSection.steps, [{"name": "Review", "minutes": 8}], team.leader,
                            expected_version=v.version)
    v = publish_now(session, factory, team.leader, v)
    ini.current_phase = Phase.pilot
    session.add(ini)
    time = make_kpi(session, team.leader, process_id=ini.process_id, target=10, baseline=30)
    errors = make_kpi(session, team.leader, process_id=ini.process_id, unit="%", aggregation="rate", target=0.02)
    session.flush()
    return PilotWorld(team, v, time, errors, today() - timedelta(weeks=2))


def noon(day: date) -> datetime:
    """Noon in Shanghai of a local day, as UTC."""
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)


def observe(session: Session, world: PilotWorld, kpi: Kpi, first: date, days: int, values: list[float],
            team: str = "A") -> None:
    """`values` spread over `days` days from `first` (cycled), labelled team=`team`."""
    points = [(noon(first + timedelta(days=i % days)), values[i % len(values)]) for i in range(max(days, len(values)))]
    add(session, world.team.leader, kpi, points, labels={"team": team})
