"""Pilots (phase 4): `/initiatives/{id}/pilots`, `/pilots/{id}/...` (log, retrospectives, survey, unmet problems,
evaluation, decision, Table 3), `/pilot-actions/{id}`, `/pilot-unmet/{id}`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.etag import optional_version, required_version, set_etag
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.pilots import service, table3
from app.pilots.schemas import (
    ActionRead,
    ActionUpdate,
    AnswerCreate,
    DecisionRequest,
    Evaluation,
    LogEntryCreate,
    LogEntryRead,
    PilotCreate,
    PilotRead,
    PilotUpdate,
    PromoteRequest,
    RetroCreate,
    RetroRead,
    SurveyRead,
    Table3Row,
    UnmetCreate,
    UnmetRead,
)

router = APIRouter(tags=["pilots"])
PILOT, ACTION = "pilot", "pilot-action"
READ = [require_scope("read")]
WRITE = [require_scope("write")]
CHANGE = {**TEAM_PATCH, 409: {"description": "The pilot is decided: it no longer changes"}}
CREATE = {**TEAM_PROBLEMS, 409: {"description": "The pilot is decided, or (a new pilot) another is not decided yet"}}


def _pilot(session, response: Response, pilot) -> PilotRead:  # noqa: ANN001
    set_etag(response, PILOT, pilot.id, pilot.version)
    return service.to_read(session, pilot)


@router.post("/initiatives/{initiative_id}/pilots", response_model=PilotRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=CREATE)
def create_pilot(initiative_id: Id, data: PilotCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """Plan a pilot round: an approved or published version of the process's SOP, run by one team (`scope`, and
    `scope_labels`, the labels its observations carry) from `planned_start` for `planned_weeks`, the KPIs it
    watches with targets and the prediction, its people (with when they were briefed). The initiative must be in
    the pilot phase, with no undecided pilot. Who: the initiative's team and administrators."""
    pilot = service.create_pilot(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/pilots/{pilot.id}"
    return _pilot(session, response, pilot)


@router.get("/initiatives/{initiative_id}/pilots", response_model=list[PilotRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_pilots(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """The initiative's pilot rounds, first to last. Who: everyone signed in."""
    return [service.to_read(session, p) for p in service.list_pilots(session, initiative_id)]


@router.get("/pilots/{pilot_id}", response_model=PilotRead, dependencies=READ, responses=TEAM_PROBLEMS)
def read_pilot(pilot_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """One pilot with its KPIs, people, status and decision. Who: everyone signed in."""
    return _pilot(session, response, service.get_pilot(session, pilot_id))


@router.patch("/pilots/{pilot_id}", response_model=PilotRead, dependencies=WRITE, responses=CHANGE)
def update_pilot(pilot_id: Id, data: PilotUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                 response: Response):
    """Change the plan, or record the actual start and end (not in the future; the end after the start).
    Requires `If-Match`. Who: the initiative's team and administrators, until the pilot is decided."""
    expected = required_version(request, PILOT, pilot_id)
    return _pilot(session, response, service.update_pilot(session, pilot_id, data, actor.user,
                                                          expected_version=expected))


# ---------------------------------------------------------------- daily log

@router.post("/pilots/{pilot_id}/log", response_model=LogEntryRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=CREATE)
def add_log_entry(pilot_id: Id, data: LogEntryCreate, session: SessionDep, actor: CurrentActor):
    """每日跟踪: a day's progress and problems (today or earlier). Who: the initiative's team, the pilot's
    people and administrators."""
    entry = service.add_log_entry(session, pilot_id, data, actor.user)
    return service.log_reads(session, [entry])[0]


@router.get("/pilots/{pilot_id}/log", response_model=list[LogEntryRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_log(pilot_id: Id, session: SessionDep, actor: CurrentActor):
    """The daily log, newest day first. Who: everyone signed in."""
    return service.log_reads(session, service.log_entries(session, pilot_id))


@router.post("/pilots/{pilot_id}/log/{entry_id}/promote", response_model=LogEntryRead, dependencies=WRITE,
             responses={**TEAM_PROBLEMS, 409: {"description": "The entry is a problem already"}})
def promote(pilot_id: Id, entry_id: Id, data: PromoteRequest, session: SessionDep, actor: CurrentActor):
    """Make the entry's problems a problem of the initiative (source: observation), linked to the entry. Who: the
    initiative's team and administrators (who record problems)."""
    entry = service.promote(session, pilot_id, entry_id, data, actor.user)
    return service.log_reads(session, [entry])[0]


# ---------------------------------------------------------------- retrospectives

@router.post("/pilots/{pilot_id}/retrospectives", response_model=RetroRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=CREATE)
def add_retro(pilot_id: Id, data: RetroCreate, session: SessionDep, actor: CurrentActor):
    """每周复盘会: a week's retrospective (one per week, in order): what went well, what did not, new actions
    with owners, and the open actions of earlier weeks it closes. Who: the initiative's team and
    administrators."""
    retro = service.add_retro(session, pilot_id, data, actor.user)
    return service.retro_reads(session, pilot_id, [retro])[0]


@router.get("/pilots/{pilot_id}/retrospectives", response_model=list[RetroRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_retros(pilot_id: Id, session: SessionDep, actor: CurrentActor):
    """The retrospectives by week, each with its own actions and those carried into it. Who: everyone signed
    in."""
    return service.retro_reads(session, pilot_id, service.retros(session, pilot_id))


@router.get("/pilots/{pilot_id}/actions", response_model=list[ActionRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_actions(pilot_id: Id, session: SessionDep, actor: CurrentActor, open: bool | None = None):
    """The retrospectives' actions; `open=true`: those not closed yet. Who: everyone signed in."""
    service.get_pilot(session, pilot_id)
    items = [a for a in service.actions_of(session, pilot_id) if open is None or (a.closed_week is None) == open]
    return service.action_reads(session, pilot_id, items)


@router.patch("/pilot-actions/{action_id}", response_model=ActionRead, dependencies=WRITE, responses=CHANGE)
def update_action(action_id: Id, data: ActionUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                  response: Response):
    """Close an action in a week (its own or later), or reopen it (`closed_week: null`). Requires `If-Match` (the
    action's ETag, from this answer or the pilot's actions). Who: the initiative's team and administrators."""
    expected = required_version(request, ACTION, action_id)
    action = service.update_action(session, action_id, data, actor.user, expected_version=expected)
    set_etag(response, ACTION, action.id, action.version)
    return service.action_reads(session, action.pilot_id, [action])[0]


# ---------------------------------------------------------------- survey

@router.post("/pilots/{pilot_id}/survey/answers", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
             responses={**TEAM_PROBLEMS, 409: {"description": "Answered already, or the pilot is decided"}})
def answer(pilot_id: Id, data: AnswerCreate, session: SessionDep, actor: CurrentActor) -> Response:
    """满意度: answer the pilot's survey, once: "Is it easier to operate?" and "Is the risk under control?" (1-5)
    and a comment. An anonymous pilot keeps no account with the answer. Who: the pilot's people."""
    service.answer(session, pilot_id, data, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/pilots/{pilot_id}/survey", response_model=SurveyRead, dependencies=READ, responses=TEAM_PROBLEMS)
def read_survey(pilot_id: Id, session: SessionDep, actor: CurrentActor):
    """The survey's results: answers, the mean satisfaction (of both questions), each question's mean and
    distribution, the comments; for an anonymous survey only from 3 answers on. Who: everyone signed in."""
    return service.survey(session, pilot_id, actor.user)


# ---------------------------------------------------------------- unmet problems

@router.post("/pilots/{pilot_id}/unmet", response_model=UnmetRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=CREATE)
def add_unmet(pilot_id: Id, data: UnmetCreate, session: SessionDep, actor: CurrentActor):
    """未达标问题及原因: a problem the pilot did not solve, its cause and the change it asks for. Who: the
    initiative's team and administrators."""
    return service.unmet_reads([service.add_unmet(session, pilot_id, data, actor.user)])[0]


@router.get("/pilots/{pilot_id}/unmet", response_model=list[UnmetRead], dependencies=READ, responses=TEAM_PROBLEMS)
def list_unmet(pilot_id: Id, session: SessionDep, actor: CurrentActor):
    """The pilot's unmet problems. Who: everyone signed in."""
    service.get_pilot(session, pilot_id)
    return service.unmet_reads(service.unmet_of(session, pilot_id))


@router.delete("/pilot-unmet/{unmet_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=CREATE)
def delete_unmet(unmet_id: Id, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove an unmet problem. Who: the initiative's team and administrators, until the pilot is decided."""
    service.delete_unmet(session, unmet_id, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- evaluation, decision, Table 3

@router.get("/pilots/{pilot_id}/evaluation", response_model=Evaluation, dependencies=READ,
            responses=TEAM_PROBLEMS)
def evaluation(pilot_id: Id, session: SessionDep, actor: CurrentActor):
    """Each KPI before (the `baseline_weeks` before the start), during and after the pilot, computed from the
    observations with the pilot's `scope_labels`, aggregated the KPI's way, with the number of observations
    behind each figure (`too_few` below `min_observations`), the difference rate (30 -> 8 min: -0.733) and
    whether the target was met. Who: everyone signed in."""
    return service.evaluate(session, pilot_id)


@router.post("/pilots/{pilot_id}/decision", response_model=PilotRead, dependencies=WRITE,
             responses={**CHANGE, 409: {"description": "Decided already, or the next version cannot start"}})
def decide(pilot_id: Id, data: DecisionRequest, request: Request, session: SessionDep, actor: CurrentActor,
           response: Response):
    """Decide an ended pilot, once: `adopt` (on to rollout: the gate's criterion; `start_next_version` starts the
    V1.1 draft of the SOP from the piloted version), `adapt` (another round may be planned) or `abandon` (the
    initiative returns to design). With the reason; who and when are recorded. `If-Match` optional. Who: the
    initiative's leader and administrators."""
    expected = optional_version(request, PILOT, pilot_id)
    return _pilot(session, response, service.decide(session, pilot_id, data, actor.user, expected_version=expected))


@router.get("/pilots/{pilot_id}/table3", response_model=list[Table3Row], dependencies=READ, responses=TEAM_PROBLEMS)
def read_table3(pilot_id: Id, session: SessionDep, actor: CurrentActor, lang: ExportLang = ExportLang.zh_CN):
    """Table 3 (试点效果评估表): a row per KPI with the process, the scope, the value before and during the pilot,
    the difference rate, the satisfaction and the unmet problems. Who: everyone signed in."""
    return service.table3(session, pilot_id, lang.value)


@router.get("/pilots/{pilot_id}/table3/export", dependencies=READ, response_class=Response,
            responses={**TEAM_PROBLEMS, **file_answer("text/csv", XLSX_TYPE, description="Table 3 as a file")})
def export_table3(pilot_id: Id, session: SessionDep, actor: CurrentActor, format: ExportFormat = ExportFormat.xlsx,
                  lang: ExportLang = ExportLang.zh_CN) -> Response:
    """Table 3 as CSV (UTF-8 with BOM) or XLSX with the method's column names in Simplified Chinese or English.
    Who: everyone signed in."""
    rows = service.table3(session, pilot_id, lang.value)
    name = f"table3-pilot-{pilot_id}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        return attachment(table3.to_csv(rows, lang.value), "text/csv; charset=utf-8", name)
    process = rows[0].process if rows else ""
    return attachment(table3.to_xlsx(rows, lang.value, process), XLSX_TYPE, name)
