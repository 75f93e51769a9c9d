"""SOP versions built through the services."""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.calendar import today
from app.initiatives.models import Initiative, InitiativeMember, ProjectRole
from app.sops import service
from app.sops.models import SopVersion
from app.sops.schemas import EditSection, PublishRequest, Section, SopCreate, SubmitRequest, VoteRequest
from app.users.models import Role, User
from tests.factories import Factory


def leader_of(session: Session, initiative: Initiative) -> User:
    m = session.exec(select(InitiativeMember).where(InitiativeMember.initiative_id == initiative.id,
                                                    InitiativeMember.project_role == ProjectRole.leader)).one()
    return session.get(User, m.user_id)


def add_approved_sop(session: Session, initiative: Initiative, actor: User) -> SopVersion:
    """A signed (approved) SOP version of the initiative's process, drafted by `actor` from the initiative
    (in the design phase), reviewed by one new reviewer and signed by the leader: the design gate's SOP."""
    session.refresh(initiative)  # requests of the test may have moved it on
    v = service.draft_from_initiative(session, initiative.id, actor)
    if not service.content_of(v).steps:
        v = service.update_section(session, v.id, Section.steps, [{"name": "Review the request", "minutes": 5}],
                                   actor, expected_version=v.version)
    v = service.update_section(session, v.id, Section.scope, {}, actor, expected_version=v.version)
    if service.raci_errors(service.content_of(v).raci):
        v = service.update_section(session, v.id, Section.raci, {}, actor, expected_version=v.version)
    reviewer = Factory(session).user(Role.member)
    v = service.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), actor,
                       expected_version=v.version)
    service.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    v = service.sign(session, v.id, leader_of(session, initiative), expected_version=None)
    session.flush()
    return v


def standalone_draft(session: Session, factory: Factory, sections: dict[EditSection, object]) -> tuple:
    """A standalone draft of a new process's SOP with `sections` written in order: (process, owner, version)."""
    owner = factory.user(Role.member)
    process = factory.process(owner=owner)
    v = service.start_standalone(session, process.code, SopCreate(), owner)
    for section, value in sections.items():
        v = service.update_section(session, v.id, section, value, owner, expected_version=v.version)
    return process, owner, v


def publish_now(session: Session, factory: Factory, owner: User, v: SopVersion, change_summary: str = "") -> SopVersion:
    """`v` reviewed by a new member, signed by `owner` and published, effective today (`change_summary`: from
    V1.1 on)."""
    reviewer = factory.user(Role.member)
    v = service.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), owner,
                       expected_version=v.version)
    service.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    service.sign(session, v.id, owner, expected_version=None)
    v = service.publish(session, v.id, PublishRequest(effective_date=today(), change_summary=change_summary), owner,
                        expected_version=None)
    session.flush()
    return v
