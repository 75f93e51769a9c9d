"""A rollout's world: an initiative in the rollout phase with a published SOP version of its process (four steps,
a control point with a rule, a RACI), ten reviewed questions, and two people of the technology department."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.initiatives.models import Phase
from app.rollout import service
from app.rollout.models import RolloutPlan
from app.rollout.schemas import PlanCreate, QuestionIn
from app.sops import service as sops
from app.sops.models import SopVersion
from app.sops.schemas import EditSection, SopCreate
from app.users.models import Role, User
from tests.factories import Factory
from tests.initiatives.factories import InitiativeFactory, Team
from tests.sops.factories import publish_now

STEPS = [{"name": "Fill in", "role": "User"}, {"name": "Review", "role": "Operations specialist"},
         {"name": "Activate", "role": "IT"}, {"name": "Send SMS", "role": "IT"}]


@dataclass
class RolloutWorld:
    team: Team
    version: SopVersion
    people: list[User]  # of the technology department
    factory: Factory

    def steps(self) -> list[dict[str, Any]]:
        return self.version.content["steps"]


def content(session: Session, team: Team, v: SopVersion, steps: list[dict[str, Any]]) -> SopVersion:
    v = sops.update_section(session, v.id, EditSection.steps, steps, team.leader, expected_version=v.version)
    ids = [s["id"] for s in v.content["steps"]]
    v = sops.update_section(session, v.id, EditSection.attributes, [{"name": "amount", "type": "number"}],
                            team.leader, expected_version=v.version)
    v = sops.update_section(session, v.id, EditSection.control_points, [{
        "step_id": ids[1], "description": "Orders >= 10,000 need the finance head's approval",
        "approver_role": "Finance head",
        "rule": {"condition": "amount >= 10000.0", "requirement": {"activity": "Finance approval"}}}],
        team.leader, expected_version=v.version)
    return v


def rollout_world(session: Session, factory: Factory) -> RolloutWorld:
    team = InitiativeFactory(session, factory).team()
    ini = team.initiative
    v = sops.start_standalone(session, str(ini.process_id), SopCreate(), team.leader)
    v = publish_now(session, factory, team.leader, content(session, team, v, STEPS))
    ini.current_phase = Phase.rollout
    session.add(ini)
    people = [factory.user(Role.member, department="technology") for _ in range(2)]
    session.flush()
    return RolloutWorld(team, v, people, factory)


def ten_questions(session: Session, world: RolloutWorld, version: SopVersion | None = None) -> list[int]:
    """Ten reviewed questions (written by the leader): "which is step n?" on each step, cycled."""
    v = version or world.version
    steps = v.content["steps"]
    ids = []
    for i in range(10):
        step = steps[i % len(steps)]
        q = service.create_question(session, v.id, QuestionIn(
            kind="single", text=f"Q{i}: which is step {i % len(steps) + 1}?", options=[s["name"] for s in steps],
            correct=[i % len(steps)], step_id=step["id"]), world.team.leader)
        ids.append(q.id)
    session.flush()
    return ids


def plan_for(session: Session, world: RolloutWorld, version: SopVersion | None = None, **extra: Any) -> RolloutPlan:
    departments = world.factory.departments()
    plan = service.create_plan(session, world.team.initiative.id, PlanCreate(
        sop_version_id=(version or world.version).id, waves=[
            {"name": "Week 2: technology", "starts_on": "2026-12-07", "ends_on": "2026-12-11",
             "department_ids": [departments["technology"].id]}], **extra), world.team.leader)
    session.flush()
    return plan


def answer_sheet(paper: dict[str, Any], bank: dict[int, dict[str, Any]], right: int) -> list[dict[str, Any]]:
    """Answers to an attempt's paper with the first `right` questions right and the rest wrong, found by the
    options' texts in the order the paper shows them."""
    out = []
    for n, q in enumerate(paper["questions"]):
        item = bank[q["question_id"]]
        correct = item["options"][item["correct"][0]] if item["options"] else ("true", "false")[item["correct"][0]]
        place = q["options"].index(correct)
        out.append({"question_id": q["question_id"],
                    "chosen": [place if n < right else (place + 1) % len(q["options"])]})
    return out
