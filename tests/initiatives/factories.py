"""Factory helpers for initiatives, survey steps, research records and issues (built through the services)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from app.initiatives.models import Initiative, ProjectRole, Trigger
from app.initiatives.schemas import InitiativeCreate, MemberCreate
from app.initiatives.service import create_initiative
from app.raci.schemas import ActivityCreate, CellSet, RoleCreate
from app.raci.service import create_activity, create_role, set_cells
from app.users.models import Role, User
from tests.factories import Factory

_seq = itertools.count(1)


@dataclass
class Team:
    """An initiative with a leader (role lead), a business member, an IT member; plus people outside it."""

    initiative: Initiative
    admin: User
    leader: User
    member: User
    it: User
    outsider: User  # a member of another initiative's team
    other_lead: User  # a lead who is not on this team
    viewer: User
    other: Initiative


@dataclass
class InitiativeFactory:
    session: Session
    base: Factory

    def initiative(self, leader: User | None = None, *, members: list[tuple[User, ProjectRole]] = (),
                   process_owner: User | None = None, start_date: date | None = None,
                   **fields: Any) -> Initiative:
        leader = leader or self.base.user(Role.lead)
        process = self.base.process(owner=process_owner or leader)
        n = next(_seq)
        data = {"process_id": process.id, "title": f"Initiative {n}", "trigger": Trigger.inefficiency,
                "goal": "Activation from 30 min to 5 min", "start_date": start_date,
                "team": [MemberCreate(user_id=u.id, project_role=r) for u, r in members]}
        data.update(fields)
        return create_initiative(self.session, InitiativeCreate(**data), leader)

    def team(self) -> Team:
        admin = self.base.user(Role.admin)
        leader = self.base.user(Role.lead)
        member = self.base.user(Role.member)
        it = self.base.user(Role.member, department="technology")
        outsider = self.base.user(Role.member)
        other_lead = self.base.user(Role.lead)
        viewer = self.base.user(Role.viewer)
        ini = self.initiative(leader, members=[(member, ProjectRole.business), (it, ProjectRole.it)])
        other = self.initiative(other_lead, members=[(outsider, ProjectRole.business)])
        self.session.flush()
        return Team(ini, admin, leader, member, it, outsider, other_lead, viewer, other)


def add_steps(session: Session, initiative: Initiative, actor: User, specs: list[dict[str, Any]]) -> list:
    """Survey steps through the service; each spec needs at least `name` and `minutes`."""
    from app.survey.schemas import StepCreate
    from app.survey.service import create_step

    return [create_step(session, initiative.id, StepCreate(**spec), actor) for spec in specs]


def add_record(session: Session, initiative: Initiative, actor: User, **fields: Any):  # noqa: ANN201
    from app.survey.schemas import ResearchCreate
    from app.survey.service import create_record

    data = {"method": "interview", "conducted_on": date(2026, 3, 3), "participants": "Zhang Wei",
            "findings": "Checks 3 systems by hand"}
    data.update(fields)
    return create_record(session, initiative.id, ResearchCreate(**data), actor)


# The method's example (YH-LC01): 4 steps, the manual review takes 30 minutes.
YH_STEPS: list[dict[str, Any]] = [
    {"name": "User fills in information", "kind": "input", "department": "operations", "role": "User",
     "minutes": 5, "systems": ["App"]},
    {"name": "Manual review", "kind": "activity", "department": "operations", "role": "Operations specialist",
     "minutes": 30, "waiting_minutes": 60, "systems": ["CRM", "KYC", "Billing"],
     "problem_flags": ["efficiency", "collaboration"],
     "description": "Checks data in 3 systems by hand; no fixed contact across departments"},
    {"name": "System activation", "kind": "activity", "department": "technology", "role": "IT engineer",
     "minutes": 2.5, "systems": ["Account service"]},
    {"name": "SMS sent", "kind": "output", "department": "technology", "role": "System", "minutes": 1,
     "waiting_minutes": 0.5, "systems": ["SMS gateway"], "problem_flags": ["quality"]},
]


def add_issue(session: Session, initiative: Initiative, actor: User, **fields: Any):  # noqa: ANN201
    from app.issues.schemas import IssueCreate
    from app.issues.service import create_issue

    data = {"title": f"Problem {next(_seq)}", "category": "efficiency", "source": "interview"}
    data.update(fields)
    return create_issue(session, initiative.id, IssueCreate(**data), actor)


def add_raci(session: Session, initiative: Initiative, actor: User, letters: tuple[str, ...] = ("RA",)):  # noqa: ANN201
    """A RACI matrix of one activity with one role per entry of `letters` (("RA",): a valid matrix)."""
    act = create_activity(session, initiative.id, ActivityCreate(name="Manual review"), actor)
    roles = [create_role(session, initiative.id, RoleCreate(name=f"Role {i}"), actor) for i in range(len(letters))]
    set_cells(session, initiative.id, [CellSet(activity_id=act.id, role_id=r.id, letters=v)
                                       for r, v in zip(roles, letters, strict=True) if v], actor)
    session.flush()
    return act, roles
