"""Maps as BPMN: an initiative's as-is map (its survey steps) and an SOP version's flow (its steps) written as
BPMN 2.0 (`bpmn_write`), and BPMN files read into steps with a report of every element (`bpmn_read`).

Who: exporting is reading (everyone signed in reads an initiative's survey; an SOP version by the SOP's read
rule); importing writes the survey or the SOP draft, so it follows their edit rules.
"""

from __future__ import annotations

from sqlmodel import Session

from app.core.errors import PayloadTooLarge, RuleViolation, field_error
from app.core.spreadsheets import ExportLang
from app.departments.service import list_departments
from app.initiatives.service import get_initiative
from app.maps import bpmn_read, bpmn_write
from app.maps.model import BpmnError, Imported, MapDoc, MapStep
from app.processes.models import Process
from app.sops import service as sops
from app.survey import service as survey
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
            raise PayloadTooLarge(exc.message) from None
        raise RuleViolation(exc.message, errors=[field_error("file", exc.message, "bpmn")]) from None
