from __future__ import annotations

import pytest

from tests.initiatives.conftest import _fast_password_hashing, ifactory, team  # noqa: F401
from tests.initiatives.factories import YH_STEPS, add_steps


@pytest.fixture
def grid(team, session):  # noqa: ANN001, ANN201, F811
    """The team's initiative with the YH-LC01 steps as activities and three roles, no letters yet."""
    from app.raci.schemas import RoleCreate
    from app.raci.service import activities_from_survey, create_role

    add_steps(session, team.initiative, team.leader, YH_STEPS)
    roles = [create_role(session, team.initiative.id, RoleCreate(name=n), team.leader)
             for n in ("Operations specialist", "Operations manager", "IT engineer")]
    acts = activities_from_survey(session, team.initiative.id, team.leader)
    session.flush()
    return {"ini": team.initiative.id, "roles": [r.id for r in roles], "acts": [a.id for a in acts]}
