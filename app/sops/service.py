"""Rules and queries of SOP documents: drafting from the initiative's chain, section edits, the review
(rounds, comments, votes), sign-off, publishing with a V-number and effective date, withdrawal.

Authorization (object level):
- **edit** a version (sections, submit, withdraw, next): the initiative's team (members who are not viewers)
  for a version of an initiative, the process owner for a standalone revision; administrators always;
- **review**: the version's reviewers comment and vote (the author is never one);
- **sign and publish**: the initiative's leader, or the process owner for a standalone revision (a signature
  is personal: administrators do not sign for them);
- **read**: everyone reads published versions (approved with an effective date ahead, effective or
  superseded); drafts, versions in review or signed and not yet published, and withdrawn ones only the
  people above and administrators.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.calendar import today
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, RuleViolation, field_errors, rule
from app.core.ids import parse_id
from app.core.labels import N_
from app.core.versioning import bump, check_version, save_new, save_update
from app.departments.service import by_codes
from app.initiatives.models import Initiative, InitiativeMember, Phase, ProjectRole
from app.initiatives.schemas import ProcessRef, UserRef
from app.initiatives.service import can_edit, editable
from app.issues.models import Issue, IssueStep
from app.measures.models import Measure, MeasureIssue, MeasureStatus, MeasureType
from app.metrics.models import Kpi
from app.processes.models import Process
from app.processes.service import get_process
from app.raci import models as raci_models
from app.raci import service as raci_service
from app.sops import rules
from app.sops.models import OPEN_STATES, Sop, SopComment, SopReviewer, SopState, SopStatus, SopVersion, Vote
from app.sops.schemas import (
    Attributes,
    Bump,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    Contingency,
    ControlCheckRead,
    ControlCheckRequest,
    ControlPoint,
    EditSection,
    FormItem,
    NextRequest,
    PublishRequest,
    Purpose,
    Raci,
    RaciActivity,
    RaciCell,
    ReviewerRead,
    Scope,
    Section,
    SopContent,
    SopCreate,
    SopRead,
    SopVersionRead,
    SopVersionSummary,
    Step,
    SubmitRequest,
    Table4Row,
    VoteRequest,
    WithdrawRequest,
)
from app.survey.service import all_steps, department_codes
from app.users.models import Role, User

SECTION_TYPES: dict[EditSection, Any] = {
    EditSection.purpose: Purpose, EditSection.scope: Scope, EditSection.raci: Raci, EditSection.steps: list[Step],
    EditSection.control_points: list[ControlPoint], EditSection.forms: list[FormItem],
    EditSection.contingencies: list[Contingency], EditSection.attributes: Attributes,
}
# The sections the control points' rules read: a change to one checks every rule again.
RULE_SECTIONS = (EditSection.control_points, EditSection.contingencies, EditSection.attributes)
ADAPTERS = {section: TypeAdapter(t) for section, t in SECTION_TYPES.items()}
EDITABLE_STATES = (SopState.draft, SopState.in_review)


# ---------------------------------------------------------------- content helpers

def canonical_json(content: dict[str, Any]) -> bytes:
    """The content as signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def content_of(v: SopVersion) -> SopContent:
    return SopContent.model_validate(v.content)


def _dump(content: SopContent) -> dict[str, Any]:
    return content.model_dump(mode="json")


def number(v: SopVersion) -> str | None:
    return None if v.number_major is None else f"V{v.number_major}.{v.number_minor}"


def _shape(content: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """What the version number depends on, from a stored content: the step ids, and who is accountable (A)
    for each RACI activity."""
    steps = {s.get("id") for s in content.get("steps", [])}
    accountable = {c["activity"]: c["role"] for c in content.get("raci", {}).get("cells", [])
                   if "A" in c.get("letters", "")}
    return steps, accountable


def suggest_bump(previous: dict[str, Any] | None, current: dict[str, Any]) -> Bump | None:
    """Steps added or removed, or an A of the RACI changed: major; anything else: minor. Both are stored
    contents (`SopVersion.content`, validated when written): reading them needs no second validation."""
    if previous is None:
        return None
    return Bump.major if _shape(previous) != _shape(current) else Bump.minor


def raci_errors(raci: Raci, rule_: str | None = None) -> list[str]:
    """The RACI rules' errors (one A, at least one R per activity; only `rule_` when given), with
    `app.raci`'s own check."""
    roles = [raci_models.RaciRole(id=i + 1, initiative_id=0, name=n, position=i) for i, n in enumerate(raci.roles)]
    acts = [raci_models.RaciActivity(id=i + 1, initiative_id=0, name=a.name, position=i)
            for i, a in enumerate(raci.activities)]
    role_ids = {r.name: r.id for r in roles}
    act_ids = {a.name: a.id for a in acts}
    cells = {(act_ids[c.activity], role_ids[c.role]): c.letters for c in raci.cells}
    return [v.message for v in raci_service.check(raci_service.Matrix(roles, acts, cells))
            if v.severity == "error" and rule_ in (None, v.rule)]


# ---------------------------------------------------------------- lookups

def get_sop(session: Session, sop_id: int) -> Sop:
    sop = session.get(Sop, sop_id)
    if sop is None:
        raise NotFound(N_("SOP {sop_id} not found."), params={"sop_id": sop_id})
    return sop


def get_version(session: Session, version_id: int) -> SopVersion:
    v = session.get(SopVersion, version_id)
    if v is None:
        raise NotFound(N_("SOP version {version_id} not found."), params={"version_id": version_id})
    return v


def resolve_process(session: Session, ref: str) -> Process:
    """A process by id ("12") or code ("YH-LC01", any case)."""
    if ref.isdigit():
        pid = parse_id(ref)
        if pid is None:
            raise NotFound(N_("Process {process_id} not found."), params={"process_id": ref})
        return get_process(session, pid)
    process = session.exec(select(Process).where(Process.code_norm == ref.upper())).first()
    if process is None:
        raise NotFound(N_("Process {process_id} not found."), params={"process_id": ref})
    return process


def sop_of_process(session: Session, process_id: int) -> Sop | None:
    return session.exec(select(Sop).where(Sop.process_id == process_id)).first()


def _published(session: Session, sop_id: int) -> list[SopVersion]:
    """Published versions in the order they take effect (ties: the higher number later); their content is
    loaded only when it is read (most callers want the dates and numbers)."""
    return list(session.exec(select(SopVersion).options(defer(SopVersion.content)).where(SopVersion.sop_id == sop_id,
                                                      SopVersion.state == SopState.published)
                             .order_by(SopVersion.effective_date, SopVersion.number_major,
                                       SopVersion.number_minor)))


def in_force(published: list[SopVersion], at: date) -> SopVersion | None:
    current = None
    for v in published:
        if v.effective_date is not None and v.effective_date <= at:
            current = v
    return current


def status_at(v: SopVersion, current: SopVersion | None, at: date) -> SopStatus:
    if v.state != SopState.published:
        return SopStatus(v.state.value)
    if v.effective_date is None or v.effective_date > at:
        return SopStatus.approved
    return SopStatus.effective if current is not None and current.id == v.id else SopStatus.superseded


def _latest_published(session: Session, sop_id: int) -> SopVersion | None:
    """The version with the highest number: what the next one is numbered and dated after."""
    return session.exec(select(SopVersion).where(SopVersion.sop_id == sop_id, SopVersion.state == SopState.published)
                        .order_by(col(SopVersion.number_major).desc(), col(SopVersion.number_minor).desc())
                        ).first()


def _open_version(session: Session, sop_id: int) -> SopVersion | None:
    return session.exec(select(SopVersion).where(SopVersion.sop_id == sop_id,
                                                 col(SopVersion.state).in_(OPEN_STATES))).first()


# ---------------------------------------------------------------- authorization

@dataclass(frozen=True)
class Context:
    version: SopVersion
    sop: Sop
    process: Process
    initiative: Initiative | None


def _context(session: Session, v: SopVersion) -> Context:
    sop = get_sop(session, v.sop_id)
    ini = session.get(Initiative, v.initiative_id) if v.initiative_id else None
    return Context(v, sop, get_process(session, sop.process_id), ini)


def _is_leader(session: Session, ini: Initiative, actor: User) -> bool:
    return session.exec(select(InitiativeMember.id).where(
        InitiativeMember.initiative_id == ini.id, InitiativeMember.user_id == actor.id,
        InitiativeMember.project_role == ProjectRole.leader)).first() is not None


def may_edit(session: Session, ctx: Context, actor: User) -> bool:
    if actor.role == Role.admin:
        return True
    if actor.role == Role.viewer:
        return False
    if ctx.initiative is not None:
        return can_edit(session, actor, ctx.initiative)
    return ctx.process.owner_id == actor.id


def may_sign(session: Session, ctx: Context, actor: User) -> bool:
    if actor.role == Role.viewer or not actor.is_active:
        return False
    if ctx.initiative is not None:
        return _is_leader(session, ctx.initiative, actor)
    return ctx.process.owner_id == actor.id


def _reviewer(session: Session, version_id: int, actor: User) -> SopReviewer | None:
    return session.exec(select(SopReviewer).where(SopReviewer.version_id == version_id,
                                                  SopReviewer.user_id == actor.id)).first()


def may_read(session: Session, ctx: Context, actor: User) -> bool:
    if ctx.version.state == SopState.published:
        return True
    return (may_edit(session, ctx, actor) or may_sign(session, ctx, actor)
            or ctx.process.owner_id == actor.id or _reviewer(session, ctx.version.id, actor) is not None)


def _require_read(session: Session, ctx: Context, actor: User) -> None:
    if not may_read(session, ctx, actor):
        raise Forbidden(N_("Only the team, the reviewers and the process owner read an SOP version before it is "
                           "published."))


def _require_edit(session: Session, ctx: Context, actor: User) -> None:
    if not may_edit(session, ctx, actor):
        raise Forbidden(N_("Only the initiative's team (the process owner for a standalone revision) and "
                           "administrators change an SOP draft."))


def require_edit(session: Session, v: SopVersion, actor: User) -> None:
    """The actor may change the version's content (before anything is read for a change, e.g. a file)."""
    _require_edit(session, _context(session, v), actor)


def _require_sign(session: Session, ctx: Context, actor: User) -> None:
    if not may_sign(session, ctx, actor):
        raise Forbidden(N_("Only the initiative's leader (the process owner for a standalone revision) signs and "
                           "publishes an SOP version."))


def _frozen(v: SopVersion) -> Conflict:
    if v.state == SopState.published:
        return Conflict(N_("{number} is published and can no longer change: start the next version from it "
                           "(POST /api/v1/sop-versions/{version_id}/next)."),
                        params={"number": number(v), "version_id": v.id}, state=v.state.value)
    if v.state == SopState.approved:
        return Conflict(N_("This version is signed: its content is frozen. Publish it, or withdraw it and start "
                           "again."), state=v.state.value)
    if v.state == SopState.withdrawn:
        return Conflict(N_("This version was withdrawn and can no longer change."), state=v.state.value)
    return Conflict(N_("This version is {state}."), params={"state": v.state.value}, state=v.state.value)


def _require_state(v: SopVersion, *states: SopState) -> None:
    if v.state not in states:
        raise _frozen(v)


# ---------------------------------------------------------------- audit

def snapshot(session: Session, v: SopVersion) -> dict[str, Any]:
    return to_read(session, v).model_dump(mode="json", exclude={"created_at", "updated_at", "status",
                                                                "suggested_bump", "process"})


def _save(session: Session, actor: User, v: SopVersion, action: str, before: dict[str, Any],
          reason: str | None = None) -> SopVersion:
    """A step of the lifecycle (submit, sign, publish, withdraw): the record's version bumped, audited."""
    bump(v)
    session.add(v)
    session.flush()
    record(session, actor, action, "sop_version", v.id, before, snapshot(session, v), reason=reason)
    return v


# ---------------------------------------------------------------- new versions

def _sop(session: Session, process: Process, actor: User, interval: int = 12) -> Sop:
    session.refresh(process, with_for_update=True)  # two first drafts of a process: one makes its SOP
    sop = sop_of_process(session, process.id)
    if sop is None:
        sop = save_new(session, actor, Sop(process_id=process.id, review_interval_months=interval), "sop",
                       lambda s: {"process_id": s.process_id, "review_interval_months": s.review_interval_months})
    return sop


def _new_version(session: Session, sop: Sop, content: SopContent, actor: User, *, initiative_id: int | None,
                 based_on_id: int | None) -> SopVersion:
    session.refresh(sop, with_for_update=True)  # one open version per SOP: writers of one SOP queue here
    open_ = _open_version(session, sop.id)
    if open_ is not None:
        raise Conflict(N_("SOP version {version_id} of this process is still open ({state}): finish or withdraw it "
                          "first."), params={"version_id": open_.id, "state": open_.state.value},
                       open_version_id=open_.id)
    v = SopVersion(sop_id=sop.id, initiative_id=initiative_id, based_on_id=based_on_id, content=_dump(content),
                   author_id=actor.id)
    return save_new(session, actor, v, "sop_version", lambda e: snapshot(session, e))


def _copy(content: SopContent) -> SopContent:
    return SopContent.model_validate(_dump(content))


def draft_from_initiative(session: Session, initiative_id: int, actor: User) -> SopVersion:
    """"Draft the SOP": a new draft built from the survey, the problems, the countermeasures and the RACI."""
    ini = editable(session, actor, initiative_id)
    if ini.current_phase != Phase.design:
        raise Conflict(N_("Draft the SOP in the design phase (the initiative is in {phase})."),
                       params={"phase": ini.current_phase.value}, phase=ini.current_phase.value)
    process = get_process(session, ini.process_id)
    sop = _sop(session, process, actor)
    return _new_version(session, sop, from_chain(session, ini, process), actor, initiative_id=ini.id,
                        based_on_id=None)


def from_chain(session: Session, ini: Initiative, process: Process) -> SopContent:
    """Steps from the survey in order, each linked to the problems found at it and their countermeasures,
    without the steps a "remove a step" countermeasure takes out, and with an automating countermeasure's
    description as the instructions of its step (the team edits the rest); the RACI matrix (without the
    removed steps' rows); control points from checking countermeasures; the purpose's target from the first
    countermeasure with a quantified effect."""
    survey = all_steps(session, ini.id)
    codes = department_codes(session, {s.department_id for s in survey})
    issues_at: dict[int, list[int]] = {}
    for step_id, issue_id in session.exec(select(IssueStep.step_id, IssueStep.issue_id)
                                          .join(Issue, col(Issue.id) == IssueStep.issue_id)
                                          .where(Issue.initiative_id == ini.id).order_by(IssueStep.issue_id)):
        issues_at.setdefault(step_id, []).append(issue_id)
    measures_of: dict[int, list[int]] = {}
    for issue_id, measure_id in session.exec(select(MeasureIssue.issue_id, MeasureIssue.measure_id)
                                             .join(Measure, col(Measure.id) == MeasureIssue.measure_id)
                                             .where(Measure.initiative_id == ini.id,
                                                    Measure.status != MeasureStatus.dropped)
                                             .order_by(MeasureIssue.measure_id)):
        measures_of.setdefault(issue_id, []).append(measure_id)
    measures = {m.id: m for m in session.exec(select(Measure).where(
        col(Measure.id).in_({m for ms in measures_of.values() for m in ms})))}
    ids = {s.id: uuid.uuid4() for s in survey}
    steps = []
    for s in survey:
        issue_ids = issues_at.get(s.id, [])
        mine = [measures[m] for m in dict.fromkeys(m for i in issue_ids for m in measures_of.get(i, []))]
        if any(m.type == MeasureType.remove_step for m in mine):
            del ids[s.id]
            continue
        automated = [m.description for m in mine if m.type == MeasureType.automate]
        steps.append(Step(
            id=ids[s.id], name=s.name, department=codes.get(s.department_id), role=s.role,
            system_path=" › ".join(s.systems), minutes=float(s.minutes), instructions="\n".join(automated)[:10_000],
            issue_ids=issue_ids, measure_ids=[m.id for m in mine]))
    m = raci_service.matrix(session, ini.id)
    kept = [a for a in m.activities if a.survey_step_id is None or a.survey_step_id in ids]
    role_names = _unique_names([r.name for r in m.roles])
    act_names = _unique_names([a.name for a in kept])
    raci = Raci(
        roles=role_names,
        activities=[RaciActivity(name=act_names[i], step_id=ids.get(a.survey_step_id)) for i, a in enumerate(kept)],
        cells=[RaciCell(activity=act_names[ai], role=role_names[ri], letters=m.letters(a.id, r.id))
               for ai, a in enumerate(kept) for ri, r in enumerate(m.roles) if m.letters(a.id, r.id)])
    purpose = Purpose(text=ini.goal[:5000])
    effect = session.exec(select(Measure).where(Measure.initiative_id == ini.id, Measure.status != MeasureStatus.dropped,
                                                col(Measure.effect_target).is_not(None)).order_by(Measure.id)).first()
    if effect is not None:
        kpi = session.exec(select(Kpi.id).where(
            (Kpi.initiative_id == ini.id) | (Kpi.process_id == process.id),
            (Kpi.name_en == effect.effect_metric) | (Kpi.name_zh == effect.effect_metric)).order_by(Kpi.id)).first()
        purpose = Purpose(text=purpose.text, kpi_id=kpi, unit=effect.effect_unit,
                          baseline=float(effect.effect_baseline) if effect.effect_baseline is not None else None,
                          target=float(effect.effect_target))
    departments = [c for c in process.department_codes.split(",") if c]
    departments += [s.department for s in steps if s.department]
    scope = Scope(departments=sorted(set(departments)), roles=[s.role for s in steps if s.role])
    return SopContent(purpose=purpose, scope=scope, raci=raci, steps=steps,
                      control_points=_control_points(session, ini, steps, measures_of))


# Countermeasures that become a key control point of the SOP (an approval, a check, a compliance clause).
CONTROL_MEASURES = (MeasureType.validation, MeasureType.compliance_clause)


def _control_points(session: Session, ini: Initiative, steps: list[Step],
                    measures_of: dict[int, list[int]]) -> list[ControlPoint]:
    """A control point for each validation or compliance countermeasure, at the first step whose problem it
    answers, linked to that countermeasure and its problems."""
    problems: dict[int, list[int]] = {}
    for issue_id, measure_ids in measures_of.items():
        for m in measure_ids:
            problems.setdefault(m, []).append(issue_id)
    rows = session.exec(select(Measure).where(Measure.initiative_id == ini.id, Measure.status != MeasureStatus.dropped,
                                              col(Measure.type).in_(CONTROL_MEASURES)).order_by(Measure.id))
    points = []
    for m in rows:
        issue_ids = sorted(problems.get(m.id, []))
        at = next((s.id for s in steps if set(s.issue_ids) & set(issue_ids)), None)
        points.append(ControlPoint(id=uuid.uuid4(), step_id=at, description=(m.description or m.goal)[:2000],
                                   issue_ids=issue_ids, measure_ids=[m.id]))
    return points


def _unique_names(names: list[str]) -> list[str]:
    """The names, with "(2)", "(3)" ... added to repeats (the SOP's RACI names its rows and columns)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0) + 1
        seen[name] = n
        out.append(name if n == 1 else f"{name[:190]} ({n})")
    return out


def start_standalone(session: Session, process_ref: str, data: SopCreate, actor: User) -> SopVersion:
    """A revision outside an initiative, by the process owner: a copy of the version in force, or blank."""
    process = resolve_process(session, process_ref)
    if actor.role != Role.admin and process.owner_id != actor.id:
        raise Forbidden("Only the process owner and administrators start a standalone revision of its SOP.")
    sop = _sop(session, process, actor, data.review_interval_months)
    current = in_force(_published(session, sop.id), today()) or _latest_published(session, sop.id)
    content = _copy(content_of(current)) if current is not None else SopContent()
    return _new_version(session, sop, content, actor, initiative_id=None,
                        based_on_id=current.id if current else None)


def next_version(session: Session, version_id: int, data: NextRequest, actor: User) -> SopVersion:
    """The next version starts as a copy of this published one."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    if data.initiative_id is not None:
        ini = editable(session, actor, data.initiative_id)
        if ini.process_id != ctx.sop.process_id:
            raise rule("Choose an initiative of the same process.", "initiative_id", "other_process")
    elif actor.role != Role.admin and ctx.process.owner_id != actor.id:
        raise Forbidden("Only the process owner and administrators start a standalone revision; name your "
                        "initiative to revise it there.")
    if v.state != SopState.published:
        raise Conflict(N_("Only a published version is copied into the next one."), state=v.state.value)
    return _new_version(session, ctx.sop, _copy(content_of(v)), actor, initiative_id=data.initiative_id,
                        based_on_id=v.id)


# ---------------------------------------------------------------- editing

def _validation_error(section: EditSection, exc: ValidationError) -> RuleViolation:
    errors = field_errors([{**e, "loc": ("body", section.value, *e["loc"])} for e in exc.errors()])
    return RuleViolation(f"The {section.value} section is not valid: " + "; ".join(
        f"{e['field']}: {e['message']}" for e in errors[:5]), errors=errors)


def _assign_ids(content: SopContent) -> None:
    for item in (*content.steps, *content.control_points):
        if item.id is None:
            item.id = uuid.uuid4()


def _check(session: Session, ctx: Context, content: SopContent, section: EditSection) -> None:
    """What a section's own schema cannot know: references to other sections and to records."""
    steps = {s.id for s in content.steps}
    if section == Section.steps:
        seen: set[uuid.UUID | None] = set()
        for i, s in enumerate(content.steps):
            if s.id in seen:
                raise rule("Two steps have the same id.", f"steps.{i}.id", "duplicate")
            seen.add(s.id)
        codes = [s.department for s in content.steps if s.department]
        if codes:
            by_codes(session, codes, "steps")
        _check_links(session, ctx, content.steps, "steps")
    if section == Section.control_points:
        seen_cp: set[uuid.UUID | None] = set()
        for i, cp in enumerate(content.control_points):
            if cp.id in seen_cp:
                raise rule("Two control points have the same id.", f"control_points.{i}.id", "duplicate")
            seen_cp.add(cp.id)
        _check_links(session, ctx, content.control_points, "control_points")
    if section == Section.scope and content.scope.departments:
        by_codes(session, content.scope.departments, "scope.departments")
    if section == Section.purpose and content.purpose.kpi_id is not None \
            and session.get(Kpi, content.purpose.kpi_id) is None:
        raise rule("Choose an existing KPI.", "purpose.kpi_id", "unknown_kpi")
    if section == Section.raci and (several := raci_errors(content.raci, "multiple_accountable")):
        raise rule("Exactly one role is accountable (A) for an activity. " + " ".join(several), "raci.cells",
                   "multiple_accountable")
    # Cross-section references, whichever section changed.
    for i, cp in enumerate(content.control_points):
        if cp.step_id is not None and cp.step_id not in steps:
            field = f"control_points.{i}.step_id" if section == Section.control_points else section.value
            raise rule(f"Control point {i + 1} is attached to a step the SOP does not have: attach it to another "
                       "step or remove it first.", field, "unknown_step")
    for i, a in enumerate(content.raci.activities):
        if a.step_id is not None and a.step_id not in steps:
            field = f"raci.activities.{i}.step_id" if section == Section.raci else section.value
            raise rule(f"RACI activity {a.name!r} is linked to a step the SOP does not have: unlink it first.",
                       field, "unknown_step")
    if section in RULE_SECTIONS:
        _check_rules(content, section)


def _check_rules(content: SopContent, section: EditSection) -> None:
    """The rules compile against the attributes; a refusal caused by another section names that section."""
    try:
        rules.validate(content)
    except RuleViolation as exc:
        if not exc.errors or exc.errors[0]["field"].startswith(section.value):
            raise
        raise rule(f"{exc.detail} Change the rule first.", section.value, "invalid_rule") from None


def _check_links(session: Session, ctx: Context, items: list[Step] | list[ControlPoint], field: str) -> None:
    """The problems and countermeasures of steps or control points belong to an initiative of the same process."""
    issue_ids = {i for s in items for i in s.issue_ids}
    measure_ids = {m for s in items for m in s.measure_ids}
    if issue_ids:
        found = set(session.exec(select(Issue.id).join(Initiative, col(Initiative.id) == Issue.initiative_id)
                                 .where(col(Issue.id).in_(issue_ids), Initiative.process_id == ctx.process.id)))
        if found != issue_ids:
            raise rule("Link problems of this process.", field, "unknown_issue")
    if measure_ids:
        found = set(session.exec(select(Measure.id).join(Initiative, col(Initiative.id) == Measure.initiative_id)
                                 .where(col(Measure.id).in_(measure_ids), Initiative.process_id == ctx.process.id)))
        if found != measure_ids:
            raise rule("Link countermeasures of this process.", field, "unknown_measure")


def update_section(session: Session, version_id: int, section: EditSection, value: Any, actor: User, *,
                   expected_version: int | None) -> SopVersion:
    """Replace one section of a draft. A change to a version in review starts a new round."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    _require_edit(session, ctx, actor)
    check_version(v, expected_version, "SOP version")
    _require_state(v, *EDITABLE_STATES)
    try:
        parsed = ADAPTERS[section].validate_python(value)
    except ValidationError as exc:
        raise _validation_error(section, exc) from None
    content = content_of(v)
    setattr(content, section.value, parsed)
    _assign_ids(content)
    _check(session, ctx, content, section)
    new = _dump(content)
    if new == v.content:
        return v
    before = snapshot(session, v)
    if v.state == SopState.in_review:
        v.review_round += 1  # the review is of a frozen content: earlier votes no longer count
    return save_update(session, actor, v, "sop_version", before, lambda e: snapshot(session, e),
                       changes={"content": new})


# ---------------------------------------------------------------- review

def _ready_for_review(content: SopContent) -> None:
    if not content.steps:
        raise rule("An SOP needs at least one step.", "steps", "required")
    errors = raci_errors(content.raci)
    if errors:
        raise rule("The RACI breaks its rules: " + " ".join(errors), "raci", "raci_rules")


def submit(session: Session, version_id: int, data: SubmitRequest, actor: User, *,
           expected_version: int | None) -> SopVersion:
    """Send a draft to its reviewers: at least one for every department the SOP covers; never the author."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    _require_edit(session, ctx, actor)
    check_version(v, expected_version, "SOP version")
    if v.state == SopState.in_review:
        raise Conflict(N_("This version is already in review."), state=v.state.value)
    _require_state(v, SopState.draft)
    content = content_of(v)
    _ready_for_review(content)
    rows = []
    seen: set[int] = set()
    for i, r in enumerate(data.reviewers):
        user = session.get(User, r.user_id)
        if user is None or not user.is_active or user.role == Role.viewer:
            raise rule("Reviewers must be active users who are not viewers.", f"reviewers.{i}.user_id",
                       "unknown_user")
        if user.id == v.author_id:
            raise rule("The author cannot review their own draft.", f"reviewers.{i}.user_id", "author_reviews")
        if user.id in seen:
            raise rule(f"{user.display_name} is named twice.", f"reviewers.{i}.user_id", "duplicate")
        seen.add(user.id)
        if r.department:
            department = by_codes(session, [r.department], f"reviewers.{i}.department")[0].code
        else:
            department = department_codes(session, {user.department_id}).get(user.department_id, "")
        rows.append(SopReviewer(version_id=v.id, user_id=user.id, department=department))
    missing = [d for d in content.scope.departments if d not in {r.department for r in rows}]
    if missing:
        raise rule(f"Name a reviewer for every department the SOP covers (missing: {', '.join(missing)}).",
                   "reviewers", "department_without_reviewer")
    before = snapshot(session, v)
    for old in session.exec(select(SopReviewer).where(SopReviewer.version_id == v.id)):
        session.delete(old)
    session.flush()
    session.add_all(rows)
    v.state = SopState.in_review
    v.review_round += 1
    return _save(session, actor, v, "submit", before)


def _reader_context(session: Session, version_id: int, actor: User) -> Context:
    v = get_version(session, version_id)
    ctx = _context(session, v)
    _require_read(session, ctx, actor)
    return ctx


def _may_discuss(session: Session, ctx: Context, actor: User) -> bool:
    return (may_edit(session, ctx, actor) or may_sign(session, ctx, actor)
            or _reviewer(session, ctx.version.id, actor) is not None)


def add_comment(session: Session, version_id: int, data: CommentCreate, actor: User) -> SopComment:
    """Reviewers, the team and the signer comment on a section or a step of a draft or a version in review."""
    ctx = _reader_context(session, version_id, actor)
    v = ctx.version
    if not _may_discuss(session, ctx, actor):
        raise Forbidden(N_("Only the reviewers, the team and the signer comment on an SOP version."))
    _require_state(v, *EDITABLE_STATES)
    if data.step_id is not None and data.step_id not in {s.id for s in content_of(v).steps}:
        raise rule("Choose a step of this version.", "step_id", "unknown_step")
    parent_id = None
    if data.parent_id is not None:
        parent = session.get(SopComment, data.parent_id)
        if parent is None or parent.version_id != v.id:
            raise rule("Reply to a comment of this version.", "parent_id", "unknown_comment")
        parent_id = parent.parent_id or parent.id  # threads are one level deep: a reply joins its thread
    comment = SopComment(version_id=v.id, section=data.section.value,
                         step_id=str(data.step_id) if data.step_id else None, parent_id=parent_id,
                         author_id=actor.id, text=data.text, round=v.review_round)
    return save_new(session, actor, comment, "sop_comment", lambda c: comment_snapshot(session, c))


def get_comment(session: Session, version_id: int, comment_id: int) -> SopComment:
    c = session.get(SopComment, comment_id)
    if c is None or c.version_id != version_id:
        raise NotFound(N_("Comment {comment_id} not found."), params={"comment_id": comment_id})
    return c


def update_comment(session: Session, version_id: int, comment_id: int, data: CommentUpdate, actor: User, *,
                   expected_version: int | None) -> SopComment:
    """Resolve or reopen a thread (its author, the team, the signer); change the text (its author)."""
    ctx = _reader_context(session, version_id, actor)
    c = get_comment(session, version_id, comment_id)
    changes = data.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None}
    mine = c.author_id == actor.id
    if "text" in changes and not mine:
        raise Forbidden("Only its author changes a comment's text.")
    if "resolved" in changes and not (mine or may_edit(session, ctx, actor) or may_sign(session, ctx, actor)):
        raise Forbidden("Only the comment's author, the team and the signer resolve a comment.")
    check_version(c, expected_version, "comment")
    _require_state(ctx.version, *EDITABLE_STATES)
    before = comment_snapshot(session, c)
    return save_update(session, actor, c, "sop_comment", before, lambda e: comment_snapshot(session, e),
                       changes=changes)


def list_comments(session: Session, version_id: int, actor: User) -> list[SopComment]:
    _reader_context(session, version_id, actor)
    return list(session.exec(select(SopComment).where(SopComment.version_id == version_id).order_by(SopComment.id)))


def vote(session: Session, version_id: int, data: VoteRequest, actor: User, *,
         expected_version: int | None) -> SopVersion:
    """A reviewer approves or requests changes, for the current round (the content as it is now)."""
    v = get_version(session, version_id)
    reviewer = _reviewer(session, v.id, actor)
    if reviewer is None:
        raise Forbidden(N_("Only the version's reviewers vote."))
    check_version(v, expected_version, "SOP version")
    _require_state(v, SopState.in_review)
    before = {"user_id": actor.id, "vote": _vote_now(reviewer, v).value, "round": v.review_round}
    reviewer.vote, reviewer.voted_round, reviewer.voted_at = data.vote, v.review_round, utcnow()
    session.add(reviewer)
    session.flush()
    record(session, actor, "vote", "sop_version", v.id, before,
           {"user_id": actor.id, "vote": reviewer.vote.value, "round": v.review_round})
    return v


def _vote_now(r: SopReviewer, v: SopVersion) -> Vote:
    return r.vote if r.voted_round == v.review_round else Vote.none


def _open_comments(session: Session, version_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(SopComment).where(
        SopComment.version_id == version_id, col(SopComment.parent_id).is_(None),
        col(SopComment.resolved).is_(False))).one())


def sign(session: Session, version_id: int, actor: User, *, expected_version: int | None) -> SopVersion:
    """The leader signs when every reviewer approved in the current round and no comment is open."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    _require_sign(session, ctx, actor)
    check_version(v, expected_version, "SOP version")
    if v.state == SopState.draft:
        raise Conflict(N_("Submit the draft for review first: a version is signed after its review."),
                       state=v.state.value)
    _require_state(v, SopState.in_review)
    reviewers = list(session.exec(select(SopReviewer).where(SopReviewer.version_id == v.id)))
    pending = [r for r in reviewers if _vote_now(r, v) != Vote.approve]
    if pending:
        names = ", ".join(session.get(User, r.user_id).display_name for r in pending)
        raise Conflict(N_("Every reviewer must approve round {round} first (not yet: {names})."),
                       params={"round": v.review_round, "names": names}, pending_reviewers=[r.user_id for r in pending])
    n = _open_comments(session, v.id)
    if n:
        raise Conflict(N_("Resolve the open comments first ({n} open)."), params={"n": n}, open_comments=n)
    _ready_for_review(content_of(v))
    before = snapshot(session, v)
    v.state, v.signed_by_id, v.signed_at = SopState.approved, actor.id, utcnow()
    v.signed_hash = content_hash(v.content)
    return _save(session, actor, v, "sign", before)


def publish(session: Session, version_id: int, data: PublishRequest, actor: User, *,
            expected_version: int | None) -> SopVersion:
    """Give a signed version its number and effective date: a Table 4 row."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    _require_sign(session, ctx, actor)
    check_version(v, expected_version, "SOP version")
    if v.state in (SopState.draft, SopState.in_review):
        raise Conflict(N_("Only a signed version is published: finish the review and sign it first."),
                       state=v.state.value)
    _require_state(v, SopState.approved)
    if v.signed_hash != content_hash(v.content):
        raise Conflict(N_("The content is not the content signed."))
    session.refresh(ctx.sop, with_for_update=True)  # versions of one SOP are numbered one at a time
    previous = _latest_published(session, ctx.sop.id)
    if previous is not None:
        if previous.effective_date is not None and data.effective_date < previous.effective_date:
            raise rule(f"The effective date cannot be before {number(previous)}'s "
                       f"({previous.effective_date.isoformat()}).", "effective_date", "date_order")
        if not data.change_summary:
            raise rule("Summarize what changed (required from V1.1 on).", "change_summary", "required")
    before = snapshot(session, v)
    if previous is None:
        v.number_major, v.number_minor = 1, 0
    else:
        choice = data.bump or suggest_bump(previous.content, v.content) or Bump.minor
        if choice == Bump.major:
            v.number_major, v.number_minor = previous.number_major + 1, 0
        else:
            v.number_major, v.number_minor = previous.number_major, previous.number_minor + 1
    v.state, v.published_by_id, v.published_at = SopState.published, actor.id, utcnow()
    v.effective_date, v.change_summary, v.note = data.effective_date, data.change_summary, data.note
    return _save(session, actor, v, "publish", before)


def withdraw(session: Session, version_id: int, data: WithdrawRequest, actor: User, *,
             expected_version: int | None) -> SopVersion:
    """Withdraw a version that is not published (the team, or the signer)."""
    v = get_version(session, version_id)
    ctx = _context(session, v)
    if not (may_edit(session, ctx, actor) or may_sign(session, ctx, actor)):
        _require_edit(session, ctx, actor)
    check_version(v, expected_version, "SOP version")
    _require_state(v, *OPEN_STATES)
    before = snapshot(session, v)
    v.state = SopState.withdrawn
    return _save(session, actor, v, "withdraw", before, reason=data.reason or None)


# ---------------------------------------------------------------- reads

def read_version(session: Session, version_id: int, actor: User) -> SopVersion:
    return _reader_context(session, version_id, actor).version


def check_controls(session: Session, process_ref: str, data: ControlCheckRequest) -> ControlCheckRead:
    """The control points of the version in force today for one case (see `rules.check`); everyone signed in
    reads published versions. The compiled rules are kept by the signed content's hash."""
    v = current_version(session, process_ref, None)
    key = v.signed_hash or content_hash(v.content)
    result = rules.check(rules.compiled(key, lambda: content_of(v)), data.attributes, data.activities)
    return ControlCheckRead(version_id=v.id, number=number(v) or "", effective_date=v.effective_date,
                            control_points=result.control_points)


def current_version(session: Session, process_ref: str, at: date | None) -> SopVersion:
    process = resolve_process(session, process_ref)
    at = at or today()
    # `in_force` in one query: the published version with the latest (effective date, number) not after `at`.
    v = session.exec(select(SopVersion).options(defer(SopVersion.content))
                     .join(Sop, col(Sop.id) == SopVersion.sop_id)
                     .where(Sop.process_id == process.id, SopVersion.state == SopState.published,
                            col(SopVersion.effective_date) <= at)
                     .order_by(col(SopVersion.effective_date).desc(), col(SopVersion.number_major).desc(),
                               col(SopVersion.number_minor).desc()).limit(1)).first()
    if v is None:
        raise NotFound(N_("Process {process} has no SOP in force on {date}."),
                       params={"process": process.code, "date": at.isoformat()})
    return v


def list_versions(session: Session, sop_id: int, actor: User) -> list[SopVersion]:
    """The versions the actor may read, oldest first."""
    get_sop(session, sop_id)
    versions = session.exec(select(SopVersion).where(SopVersion.sop_id == sop_id).order_by(SopVersion.id))
    return [v for v in versions if may_read(session, _context(session, v), actor)]


def _users(session: Session, ids: set[int | None]) -> dict[int, User]:
    ids_ = {i for i in ids if i is not None}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids_)))} if ids_ else {}


def _ref(users: dict[int, User], user_id: int | None) -> UserRef | None:
    u = users.get(user_id) if user_id is not None else None
    return UserRef(id=u.id, display_name=u.display_name) if u else None


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def sop_read(session: Session, sop: Sop) -> SopRead:
    process = get_process(session, sop.process_id)
    current = in_force(_published(session, sop.id), today())
    return SopRead(id=sop.id, process=ProcessRef(id=process.id, code=process.code, name=process.name),
                   review_interval_months=sop.review_interval_months,
                   current_version_id=current.id if current else None,
                   review_due=add_months(current.effective_date, sop.review_interval_months) if current else None)


def summaries(session: Session, sop: Sop, versions: list[SopVersion]) -> list[SopVersionSummary]:
    now = today()
    current = in_force(_published(session, sop.id), now)
    users = _users(session, {v.author_id for v in versions})
    return [SopVersionSummary(id=v.id, number=number(v), state=v.state, status=status_at(v, current, now),
                              initiative_id=v.initiative_id, author=_ref(users, v.author_id),
                              effective_date=v.effective_date, change_summary=v.change_summary, version=v.version)
            for v in versions]


def to_read(session: Session, v: SopVersion) -> SopVersionRead:
    now = today()
    sop = get_sop(session, v.sop_id)
    process = get_process(session, sop.process_id)
    published = _published(session, sop.id)
    reviewers = list(session.exec(select(SopReviewer).where(SopReviewer.version_id == v.id)
                                  .order_by(SopReviewer.id)))
    users = _users(session, {v.author_id, v.signed_by_id, v.published_by_id, *(r.user_id for r in reviewers)})
    content = content_of(v)  # validated once: for a 200-step SOP each validation is ~8 ms
    suggested = None
    if v.state != SopState.published:
        latest = _latest_published(session, sop.id)
        suggested = suggest_bump(latest.content if latest else None, v.content)
    return SopVersionRead(
        id=v.id, sop_id=v.sop_id, process=ProcessRef(id=process.id, code=process.code, name=process.name),
        initiative_id=v.initiative_id, based_on_id=v.based_on_id, number=number(v), state=v.state,
        status=status_at(v, in_force(published, now), now), content=content, author=_ref(users, v.author_id),
        review_round=v.review_round,
        reviewers=[ReviewerRead(user=_ref(users, r.user_id), department=r.department, vote=_vote_now(r, v),
                                voted_round=r.voted_round, voted_at=r.voted_at) for r in reviewers],
        open_comments=_open_comments(session, v.id), signed_by=_ref(users, v.signed_by_id), signed_at=v.signed_at,
        signed_hash=v.signed_hash, published_by=_ref(users, v.published_by_id), published_at=v.published_at,
        effective_date=v.effective_date, change_summary=v.change_summary, note=v.note, suggested_bump=suggested,
        created_at=v.created_at, updated_at=v.updated_at, version=v.version)


def comment_reads(session: Session, comments: list[SopComment]) -> list[CommentRead]:
    users = _users(session, {c.author_id for c in comments})
    return [CommentRead(id=c.id, version_id=c.version_id, section=Section(c.section),
                        step_id=uuid.UUID(c.step_id) if c.step_id else None, parent_id=c.parent_id,
                        author=_ref(users, c.author_id), text=c.text, resolved=c.resolved, round=c.round,
                        created_at=c.created_at, updated_at=c.updated_at, version=c.version) for c in comments]


def comment_snapshot(session: Session, c: SopComment) -> dict[str, Any]:
    return comment_reads(session, [c])[0].model_dump(mode="json", exclude={"created_at", "updated_at"})


def table4(session: Session, sop_id: int) -> list[Table4Row]:
    """Table 4 (流程优化记录表): one row per published version, in number order."""
    sop = get_sop(session, sop_id)
    process = get_process(session, sop.process_id)
    versions = sorted(_published(session, sop.id), key=lambda v: (v.number_major, v.number_minor))
    reviewers: dict[int, list[int]] = {}
    if versions:
        for version_id, user_id in session.exec(
                select(SopReviewer.version_id, SopReviewer.user_id)
                .where(col(SopReviewer.version_id).in_([v.id for v in versions])).order_by(SopReviewer.id)):
            reviewers.setdefault(version_id, []).append(user_id)
    users = _users(session, {v.author_id for v in versions} | {u for ids in reviewers.values() for u in ids})
    name = lambda uid: users[uid].display_name if uid in users else ""  # noqa: E731
    return [Table4Row(process_code=process.code, process_name=process.name, version=number(v) or "",
                      version_id=v.id, effective_date=v.effective_date, change_summary=v.change_summary,
                      author=name(v.author_id), reviewers=[name(u) for u in reviewers.get(v.id, [])], note=v.note)
            for v in versions]


def approved_for_process(session: Session, process_id: int, at: date | None = None) -> bool:
    """A version of the process's SOP is signed and not yet published, or published and not superseded."""
    sop = sop_of_process(session, process_id)
    if sop is None:
        return False
    if session.exec(select(SopVersion.id).where(SopVersion.sop_id == sop.id,
                                                SopVersion.state == SopState.approved)).first() is not None:
        return True
    at = at or today()
    published = _published(session, sop.id)
    current = in_force(published, at)
    return any(status_at(v, current, at) in (SopStatus.approved, SopStatus.effective) for v in published)



# ---------------------------------------------------------------- what the pages ask

@dataclass(frozen=True)
class Rights:
    """What the actor may do with a version (the rules above, for the pages to show the right forms)."""

    edit: bool
    sign: bool
    review: bool  # one of the version's reviewers
    discuss: bool  # comment: the reviewers, the team, the signer
    standalone: bool  # start a revision outside an initiative: the process owner, administrators


def rights(session: Session, v: SopVersion, actor: User) -> Rights:
    ctx = _context(session, v)
    return Rights(edit=may_edit(session, ctx, actor), sign=may_sign(session, ctx, actor),
                  review=_reviewer(session, v.id, actor) is not None, discuss=_may_discuss(session, ctx, actor),
                  standalone=actor.role == Role.admin or ctx.process.owner_id == actor.id)


def shown_version(session: Session, sop: Sop, actor: User) -> SopVersion | None:
    """What the SOP's page leads with: the version in force today, else the latest published one, else the
    newest version the actor may read."""
    published = _published(session, sop.id)
    return (in_force(published, today()) or _latest_published(session, sop.id)
            or next(reversed(list_versions(session, sop.id, actor)), None))


def previous_published(session: Session, v: SopVersion) -> SopVersion | None:
    """The published version before `v` in number order (for an unpublished one: the latest published)."""
    if v.state != SopState.published:
        return _latest_published(session, v.sop_id)
    earlier = [p for p in _published(session, v.sop_id)
               if (p.number_major, p.number_minor) < (v.number_major, v.number_minor)]
    return max(earlier, key=lambda p: (p.number_major, p.number_minor), default=None)


def open_version(session: Session, sop_id: int) -> SopVersion | None:
    """The SOP's version still being worked on (draft, in review or signed), if any."""
    return _open_version(session, sop_id)
