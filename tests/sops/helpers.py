"""Shared bits of the SOP tests: the demo-like initiative in the design phase, and API shortcuts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.initiatives.models import Phase
from app.users.models import Role, User
from tests.factories import Factory
from tests.initiatives.factories import YH_STEPS, Team, add_issue, add_raci, add_steps
from tests.measures.helpers import add_measure

API = "/api/v1"


@dataclass
class Story:
    team: Team
    steps: list
    issue: Any
    measure: Any
    ops_reviewer: User  # operations; the team's IT member reviews for technology


def design_story(session: Session, factory: Factory, team: Team) -> Story:
    """YH-LC01 after its diagnosis: four surveyed steps, a problem at the manual review with its
    countermeasure (30 -> 5 min), a valid RACI matrix, in the design phase."""
    ini = team.initiative
    steps = add_steps(session, ini, team.leader, YH_STEPS)
    issue = add_issue(session, ini, team.leader, impact=5, urgency=5, step_ids=[steps[1].id])
    measure = add_measure(session, ini.id, team.leader, [issue.id])
    add_raci(session, ini, team.leader)
    ini.current_phase = Phase.design
    session.add(ini)
    session.flush()
    return Story(team, steps, issue, measure, factory.user(Role.member, department="operations"))


def send(client: TestClient, method: str, url: str, user: User, etag: str | None = None, **kw: Any):  # noqa: ANN201
    headers = Factory.bearer(user)
    if etag:
        headers["If-Match"] = etag
    return client.request(method, f"{API}{url}", headers=headers, **kw)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def review_and_sign(client: TestClient, story: Story, vid: int, submitter: User) -> dict[str, Any]:
    """Submit to the two reviewers, both approve, the leader signs."""
    ok(send(client, "POST", f"/sop-versions/{vid}/submit", submitter,
            json={"reviewers": [{"user_id": story.ops_reviewer.id}, {"user_id": story.team.it.id}]}))
    for reviewer in (story.ops_reviewer, story.team.it):
        ok(send(client, "POST", f"/sop-versions/{vid}/votes", reviewer, json={"vote": "approve"}))
    return ok(send(client, "POST", f"/sop-versions/{vid}/sign", story.team.leader))
