"""Maps as BPMN: an initiative's as-is map (its survey steps) and an SOP version's flow (its steps) written as
BPMN 2.0 (`bpmn_write`), and BPMN files read into steps with a report of every element (`bpmn_read`).

Who: exporting is reading (everyone signed in reads an initiative's survey; an SOP version by the SOP's read
rule); importing writes the survey or the SOP draft, so it follows their edit rules.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from app.core.errors import PayloadTooLarge, RuleViolation, field_error, field_errors
from app.core.spreadsheets import ExportLang
from app.departments.service import list_departments
from app.initiatives.service import editable, get_initiative
from app.maps import bpmn_read, bpmn_write
from app.maps.model import BpmnError, Imported, MapDoc, MapStep, NodeReport
from app.processes.models import Process
from app.sops import service as sops
from app.sops.models import SopVersion
from app.sops.schemas import Section
from app.sops.schemas import Step as SopStep
from app.survey import service as survey
from app.survey.models import ProblemCategory, SurveyStep
from app.survey.schemas import StepCreate
from app.users.models import User

MAX_BYTES = 5_000_000  # a BPMN file; the largest of the OMG test suite is 140 KB


def lang_of(lang: ExportLang) -> str:
    """A file's language as BPMN and procopt's maps spell it (`zh-CN`)."""
    return "zh-CN" if lang == ExportLang.zh_CN else "en"


def _locale(lang: str) -> str:
    return "zh_CN" if lang == "zh-CN" else "en"


def _lanes(steps: list[MapStep]) -> list[str]:
    return list(dict.fromkeys(s.lane for s in steps if s.lane))


def survey_map(session: Session, initiative_id: int, lang: str) -> MapDoc:
    """The initiative's as-is map: its survey steps in order, a lane per department."""
    ini = get_initiative(session, initiative_id)
    process = session.get(Process, ini.process_id)
    labels = {d.code: d.label(_locale(lang)) for d in list_departments(session)}
    other = {d.code: d.label("en" if lang == "zh-CN" else "zh_CN") for d in list_departments(session)}
    steps = [MapStep(key=f"survey:{s.id}", name=s.name, kind=s.kind.value,
                     lane=labels.get(s.department, s.department or ""), role=s.role, minutes=float(s.minutes),
                     waiting_minutes=float(s.waiting_minutes), systems=list(s.systems),
                     flags=[f.value for f in s.problem_flags], documentation=s.description,
                     extra={"department": s.department, "department_other": other.get(s.department)})
             for s in survey.to_read(session, survey.all_steps(session, ini.id))]
    return MapDoc(key=f"survey:{ini.id}", name=f"{process.code} {process.name}", steps=steps, lanes=_lanes(steps),
                  lang=lang)


def sop_flow(session: Session, version_id: int, lang: str, actor: User) -> MapDoc:
    """An SOP version's flow: its steps in order (activities; a step with a system path is system-supported), a
    lane per department, each step's control points."""
    v = sops.read_version(session, version_id, actor)
    content = sops.content_of(v)
    process = session.get(Process, sops.get_sop(session, v.sop_id).process_id)
    labels = {d.code: d.label(_locale(lang)) for d in list_departments(session)}
    points: dict[str, list[str]] = {}
    for cp in content.control_points:
        if cp.step_id is not None:
            points.setdefault(str(cp.step_id), []).append(cp.description)
    steps = [MapStep(key=str(s.id), name=s.name, kind="activity", lane=labels.get(s.department or "", s.department or ""),
                     role=s.role, minutes=float(s.minutes), systems=[s.system_path] if s.system_path else [],
                     control_points=points.get(str(s.id), []), documentation=s.instructions,
                     extra={"department": s.department, "inputs": s.inputs, "outputs": s.outputs})
             for s in content.steps]
    return MapDoc(key=f"sop:{v.id}", name=f"{process.code} {process.name}", steps=steps, lanes=_lanes(steps),
                  lang=lang, sop_version=sops.number(v))


def export(doc: MapDoc) -> bytes:
    return bpmn_write.write(doc)


def preview(data: bytes) -> Imported:
    """The file read as an import would take it (see `bpmn_read`); a file that cannot be is a 413 or 422."""
    try:
        return bpmn_read.read(data, max_bytes=MAX_BYTES)
    except BpmnError as exc:
        if exc.status == 413:
            raise PayloadTooLarge(exc.template, params=exc.params) from None
        raise RuleViolation(exc.template, params=exc.params,
                            errors=[field_error("file", exc.message, "bpmn")]) from None


# ---------------------------------------------------------------- import

@dataclass
class LaneMatch:
    """A lane of the file and the procopt department it was matched to (None: no department has that code or
    name; its steps get no department and keep the lane's name as their role)."""

    lane: str
    department: str | None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def match_lanes(session: Session, lanes: list[str]) -> list[LaneMatch]:
    """Each lane matched to a department by its code, English or Chinese name, ignoring case and spacing."""
    known: dict[str, str] = {}
    for d in list_departments(session):
        for key in (d.code, d.name_en, d.name_zh):
            known.setdefault(_norm(key), d.code)
    return [LaneMatch(lane, known.get(_norm(lane))) for lane in lanes]


@dataclass
class Plan:
    """A file read for an import: what `preview` shows and what the import writes."""

    imported: Imported
    lanes: list[LaneMatch]

    def department(self, step: MapStep, codes: set[str]) -> str | None:
        """procopt's own file names the department's code; otherwise the lane's match."""
        own = step.extra.get("department")
        if isinstance(own, str) and own in codes:
            return own
        return next((m.department for m in self.lanes if m.lane == step.lane), None)

    def unmatched(self, lane: str) -> bool:
        return any(m.lane == lane and m.department is None for m in self.lanes)


def reason_text(node: NodeReport, gettext: Callable[[str], str]) -> str:
    """Why an element was not taken, in the reader's language (names from the file stay as they are)."""
    if node.reason_key is None:
        return node.reason or ""
    params = {k: gettext(v) if v in bpmn_read.WORDS else v for k, v in node.reason_params.items()}
    return gettext(bpmn_read.REASONS[node.reason_key]).format(**params)


def plan(session: Session, data: bytes) -> Plan:
    imported = preview(data)
    return Plan(imported, match_lanes(session, imported.doc.lanes))


def _one_line(text: str) -> str:
    """A name as procopt keeps it: on one line (BPMN names may hold line breaks)."""
    return re.sub(r"\s+", " ", text).strip()


def _name(step: MapStep, limit: int = 200) -> tuple[str, str]:
    """The step's name and its description: a name longer than procopt's names is cut at `limit` and given whole
    at the start of the description, so nothing is lost; a nameless element is named by its id."""
    name = _one_line(step.name) or step.key
    if len(name) <= limit:
        return name, step.documentation
    return name[: limit - 1] + "…", "\n\n".join(x for x in (name, step.documentation) if x)


def _invalid(step: MapStep, index: int, exc: ValidationError) -> RuleViolation:
    errors = field_errors([{**e, "loc": ("file", "steps", index, *e["loc"])} for e in exc.errors()])
    first = errors[0]
    return RuleViolation(f"Nothing was imported: element {step.key!r} ({step.name or step.kind}) cannot be a step: "
                         f"{first['field']}: {first['message']}", errors=errors)


def _survey_rows(session: Session, p: Plan) -> list[StepCreate]:
    codes = {d.code for d in list_departments(session)}
    rows = []
    for i, step in enumerate(p.imported.doc.steps):
        department = p.department(step, codes)
        role = step.role or (step.lane if step.lane and department is None and p.unmatched(step.lane) else "")
        name, description = _name(step)
        try:
            rows.append(StepCreate(
                name=name, kind=step.kind, department=department, role=_one_line(role),
                minutes=Decimal(str(step.minutes or 0)), waiting_minutes=Decimal(str(step.waiting_minutes or 0)),
                systems=[_one_line(s) for s in step.systems],
                problem_flags=[f for f in step.flags if f in ProblemCategory.__members__],
                description=description))
        except ValidationError as exc:
            raise _invalid(step, i, exc) from None
    return rows


def import_survey(session: Session, initiative_id: int, data: bytes, mode: str, filename: str,
                  actor: User) -> tuple[Plan, list[SurveyStep]]:
    """A BPMN file's steps onto the initiative's survey (the survey's edit rule), all or none: `append` after the
    current steps or `replace` them. Lanes become departments where one matches (`match_lanes`)."""
    ini = editable(session, actor, initiative_id)
    p = plan(session, data)
    steps = survey.import_steps(session, ini, _survey_rows(session, p), mode, actor,
                                {"file": filename[:200], "format": "bpmn"})
    return p, steps


def _sop_steps(session: Session, p: Plan, current: list[SopStep]) -> list[dict[str, Any]]:
    """The SOP steps of a file: its activities and decisions in flow order. A start event's name goes into the
    inputs of the step after it, an end event's into the outputs of the step before it. A step of procopt's own
    export (its key the step's id) keeps what the file does not carry (linked problems and countermeasures)."""
    codes = {d.code for d in list_departments(session)}
    by_id = {str(s.id): s for s in current}
    steps: list[dict[str, Any]] = []
    pending_inputs: list[str] = []
    early_outputs: list[str] = []  # an end event before any step: the first step's outputs
    for step in p.imported.doc.steps:
        name, instructions = _name(step)
        if step.kind in ("input", "output") and not _one_line(step.name):
            continue  # a nameless start or end event says nothing an SOP step could keep
        if step.kind == "input":
            pending_inputs.append(name)
            continue
        if step.kind == "output":
            if steps:
                steps[-1]["outputs"] = "\n".join(x for x in (steps[-1]["outputs"], name) if x)
            else:
                early_outputs.append(name)
            continue
        kept = by_id.get(step.key)
        inputs = step.extra.get("inputs") if isinstance(step.extra.get("inputs"), str) else ""
        outputs = step.extra.get("outputs") if isinstance(step.extra.get("outputs"), str) else ""
        steps.append({
            **(kept.model_dump(mode="json") if kept else {}),
            "id": str(kept.id) if kept else str(uuid.uuid4()),
            "name": name, "department": p.department(step, codes),
            "role": _one_line(step.role or (step.lane if step.lane and p.unmatched(step.lane) else "")),
            "inputs": "\n".join(x for x in (*pending_inputs, inputs) if x), "outputs": outputs,
            "instructions": instructions, "system_path": _one_line(", ".join(step.systems)),
            "minutes": step.minutes or 0})
        pending_inputs = []
    if pending_inputs and steps:
        steps[-1]["inputs"] = "\n".join(x for x in (steps[-1]["inputs"], *pending_inputs) if x)
    if early_outputs and steps:
        steps[0]["outputs"] = "\n".join(x for x in (*early_outputs, steps[0]["outputs"]) if x)
    return steps


def import_sop(session: Session, version_id: int, data: bytes, actor: User, *,
               expected_version: int | None) -> tuple[Plan, SopVersion]:
    """A BPMN file's flow as the steps of an SOP draft (or a version in review): the steps section is replaced
    by the SOP's own rules (its edit right, `If-Match`, its state, its checks: a control point or RACI activity
    on a step the file does not have is a 422), all or nothing."""
    v = sops.get_version(session, version_id)
    sops.require_edit(session, v, actor)
    p = plan(session, data)
    steps = _sop_steps(session, p, sops.content_of(v).steps)
    if not steps:
        raise RuleViolation("Nothing was imported: the file has no activities.",
                            errors=[field_error("file", "The file has no activities.", "import_empty")])
    return p, sops.update_section(session, version_id, Section.steps, steps, actor,
                                  expected_version=expected_version)
