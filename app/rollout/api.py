"""Rollout (phase 5): `/initiatives/{id}/rollout-plans`, `/rollout-plans/{id}/...` (waves, people, readiness,
sessions, the test, acknowledgements, notices, the checklist, the training record), `/rollout-waves/{id}`,
`/training-sessions/{id}`, `/sop-versions/{id}/questions`, `/test-questions/{id}`, `/test-attempts/{id}`,
`/checklist-items/{id}`, `/sops/{id}/help`, `/help-questions/{id}/answers` and
`/processes/{process}/sop/applicable`."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentActor, require_scope
from app.core.db import SessionDep
from app.core.etag import optional_version, required_version, set_etag
from app.core.files import attachment, file_answer
from app.core.ids import Id
from app.core.openapi import TEAM_PATCH, TEAM_PROBLEMS
from app.core.spreadsheets import XLSX_TYPE, ExportFormat, ExportLang
from app.initiatives.schemas import UserRef
from app.rollout import records, service
from app.rollout.schemas import (
    AcknowledgementRead,
    AcknowledgeRequest,
    Applicable,
    AttemptRead,
    AttemptSubmit,
    AttemptSummary,
    AttendanceUpdate,
    ChecklistCreate,
    ChecklistRead,
    ChecklistUpdate,
    DraftResult,
    ExceptionRequest,
    HelpAnswerRead,
    HelpCreate,
    HelpQuestionRead,
    MyTest,
    NoticeCreate,
    NoticeRead,
    PeopleUpdate,
    PersonStatus,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    QuestionIn,
    QuestionRead,
    QuestionUpdate,
    Readiness,
    SessionCreate,
    SessionRead,
    SessionUpdate,
    Standing,
    WaveIn,
    WaveRead,
    WaveUpdate,
)
from app.sops.api import ProcessRef

router = APIRouter(tags=["rollout"])
PLAN, WAVE, SESSION, QUESTION, ITEM = "rollout-plan", "rollout-wave", "training-session", "test-question", \
    "checklist-item"
READ = [require_scope("read")]
WRITE = [require_scope("write")]
CREATE = {**TEAM_PROBLEMS, 409: {"description": "It exists already"}}
DELETE = {**TEAM_PATCH, 409: {"description": "Other records still depend on it"}}


def _plan(session, response: Response, plan) -> PlanRead:  # noqa: ANN001
    set_etag(response, PLAN, plan.id, plan.version)
    return service.to_read(session, plan)


# ---------------------------------------------------------------- plan and waves

@router.post("/initiatives/{initiative_id}/rollout-plans", response_model=PlanRead,
             status_code=status.HTTP_201_CREATED, dependencies=WRITE, responses=CREATE)
def create_plan(initiative_id: Id, data: PlanCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """推广计划: roll an approved or published version of the process's SOP out in waves (departments with a
    date range and a delivery: per-department training, live online, recording). Everyone active in a wave's
    departments comes into the scope. The test's pass mark (80 by default) and attempts are set here. Whoever
    passed the test of the version this one replaces is retrained on the change only. The initiative must be in
    the rollout phase; one plan per version. Who: the initiative's team and administrators."""
    plan = service.create_plan(session, initiative_id, data, actor.user)
    response.headers["Location"] = f"/api/v1/rollout-plans/{plan.id}"
    return _plan(session, response, plan)


@router.get("/initiatives/{initiative_id}/rollout-plans", response_model=list[PlanRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_plans(initiative_id: Id, session: SessionDep, actor: CurrentActor):
    """The initiative's rollout plans. Who: everyone signed in."""
    return [service.to_read(session, p) for p in service.list_plans(session, initiative_id)]


@router.get("/rollout-plans/{plan_id}", response_model=PlanRead, dependencies=READ, responses=TEAM_PROBLEMS)
def read_plan(plan_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """A plan with its waves. Who: everyone signed in."""
    return _plan(session, response, service.get_plan(session, plan_id))


@router.patch("/rollout-plans/{plan_id}", response_model=PlanRead, dependencies=WRITE, responses=TEAM_PATCH)
def update_plan(plan_id: Id, data: PlanUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Change the note, or the pass mark and attempts until someone took the test. Requires `If-Match`. Who: the
    initiative's team and administrators."""
    expected = required_version(request, PLAN, plan_id)
    return _plan(session, response, service.update_plan(session, plan_id, data, actor.user,
                                                        expected_version=expected))


@router.post("/rollout-plans/{plan_id}/waves", response_model=WaveRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=TEAM_PROBLEMS)
def add_wave(plan_id: Id, data: WaveIn, session: SessionDep, actor: CurrentActor, response: Response):
    """Add a wave (after the others); its departments' people come into the scope. A department is in one wave of
    a plan. Who: the initiative's team and administrators."""
    wave = service.add_wave(session, plan_id, data, actor.user)
    set_etag(response, WAVE, wave.id, wave.version)
    return service.wave_read(wave, service.departments_of(session, plan_id))


@router.patch("/rollout-waves/{wave_id}", response_model=WaveRead, dependencies=WRITE, responses=TEAM_PATCH)
def update_wave(wave_id: Id, data: WaveUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Rename a wave, move its dates or change its delivery. Requires `If-Match`. Who: the initiative's team and
    administrators."""
    expected = required_version(request, WAVE, wave_id)
    wave = service.update_wave(session, wave_id, data, actor.user, expected_version=expected)
    set_etag(response, WAVE, wave.id, wave.version)
    return service.wave_read(wave, service.departments_of(session, wave.plan_id))


@router.delete("/rollout-waves/{wave_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=DELETE)
def delete_wave(wave_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a wave with its departments and their people from the scope, while none of them is live and it has
    no training sessions. `If-Match` optional. Who: the initiative's team and administrators."""
    service.delete_wave(session, wave_id, actor.user, expected_version=optional_version(request, WAVE, wave_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- people and readiness

@router.get("/rollout-plans/{plan_id}/people", response_model=list[PersonStatus], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_people(plan_id: Id, session: SessionDep, actor: CurrentActor, department_id: Id | None = None,
                standing: Standing | None = Query(None, description="Only the people who need retraining (需重新培训), "
                                                                     "have not passed, passed, have not acknowledged "
                                                                     "the version, or are retrained first."),
                name: str = Query("", max_length=120, description="Only the people whose name holds this.")):
    """The people in scope with their attendance, attempts, best score, passed, retraining (需重新培训) and
    acknowledgement; those to retrain on the change who hold an R or A for a changed step come first. Who: the
    initiative's team and administrators."""
    plan = service.get_plan(session, plan_id)
    service.require_results(session, plan, actor.user)
    return service.select_people(service.person_statuses(session, plan, {department_id} if department_id else None),
                                 standing=standing, name=name)


@router.post("/rollout-plans/{plan_id}/people", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
             responses=TEAM_PROBLEMS)
def update_people(plan_id: Id, data: PeopleUpdate, session: SessionDep, actor: CurrentActor) -> Response:
    """Adjust the scope: add people (in one of the plan's departments, their own by default; with the SOP role
    they hold) or change them, and take people out. Who: the initiative's team and administrators."""
    service.update_people(session, plan_id, data, actor.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/rollout-plans/{plan_id}/readiness", response_model=Readiness, dependencies=READ,
            responses=TEAM_PROBLEMS)
def read_readiness(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """Per department: people, attendance, passed, pass rate, acknowledgements, retraining, whether it is ready
    and since when the version is in force there. Who: everyone signed in (counts, no names)."""
    return service.readiness(session, service.get_plan(session, plan_id))


@router.post("/rollout-plans/{plan_id}/departments/{department_id}/exception", response_model=Readiness,
             dependencies=WRITE, responses=TEAM_PROBLEMS)
def record_exception(plan_id: Id, department_id: Id, data: ExceptionRequest, session: SessionDep,
                     actor: CurrentActor):
    """Let a department go live although not everyone passed and acknowledged, with the reason (audited). Who:
    the initiative's leader and administrators."""
    service.record_exception(session, plan_id, department_id, data, actor.user)
    return service.readiness(session, service.get_plan(session, plan_id))


@router.get("/processes/{process_id}/sop/applicable", response_model=Applicable, dependencies=READ,
            responses={404: {"description": "Process not found"}})
def applicable(process_id: ProcessRef, session: SessionDep, actor: CurrentActor,
               department: str = Query(min_length=1, max_length=40, description="The department's code."),
               at: date | None = Query(None, description="The day; today (business time zone) by default.")):
    """Which SOP version applies to a department on a day: the newest published version in effect then that was
    rolled out to the department by then (its people ready), or that has no rollout there. Who: everyone signed
    in."""
    return service.applicable(session, process_id, department, at)


# ---------------------------------------------------------------- training sessions

@router.post("/rollout-plans/{plan_id}/sessions", response_model=SessionRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=TEAM_PROBLEMS)
def create_session(plan_id: Id, data: SessionCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """A training session of a wave: date, trainer, delivery, materials (links). Who: the initiative's team and
    administrators."""
    ts = service.create_session(session, plan_id, data, actor.user)
    set_etag(response, SESSION, ts.id, ts.version)
    return service.session_reads(session, [ts])[0]


@router.get("/rollout-plans/{plan_id}/sessions", response_model=list[SessionRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_sessions(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """The plan's training sessions by date, with who attended. Who: everyone signed in."""
    return service.session_reads(session, service.list_sessions(session, plan_id))


@router.patch("/training-sessions/{session_id}", response_model=SessionRead, dependencies=WRITE,
              responses=TEAM_PATCH)
def update_session(session_id: Id, data: SessionUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                   response: Response):
    """Change a session. Requires `If-Match`. Who: the initiative's team and administrators."""
    expected = required_version(request, SESSION, session_id)
    ts = service.update_session(session, session_id, data, actor.user, expected_version=expected)
    set_etag(response, SESSION, ts.id, ts.version)
    return service.session_reads(session, [ts])[0]


@router.delete("/training-sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=DELETE)
def delete_session(session_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a session without attendance. `If-Match` optional. Who: the initiative's team and administrators."""
    service.delete_session(session, session_id, actor.user,
                           expected_version=optional_version(request, SESSION, session_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/training-sessions/{session_id}/attendance", response_model=SessionRead, dependencies=WRITE,
            responses=TEAM_PROBLEMS)
def record_attendance(session_id: Id, data: AttendanceUpdate, session: SessionDep, actor: CurrentActor):
    """Record who attended (or was absent), for people of the plan, once the session was held. Who: the session's
    trainer, the initiative's team and administrators."""
    ts = service.record_attendance(session, session_id, data, actor.user)
    return service.session_reads(session, [ts])[0]


# ---------------------------------------------------------------- the question bank

@router.get("/sop-versions/{version_id}/questions", response_model=list[QuestionRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_questions(version_id: Id, session: SessionDep, actor: CurrentActor):
    """The version's question bank with the right answers. Who: the team of an initiative of the SOP's process,
    and administrators."""
    return service.question_reads(session, service.list_questions(session, version_id, actor.user))


@router.post("/sop-versions/{version_id}/questions", response_model=QuestionRead,
             status_code=status.HTTP_201_CREATED, dependencies=WRITE, responses=TEAM_PROBLEMS)
def create_question(version_id: Id, data: QuestionIn, session: SessionDep, actor: CurrentActor, response: Response):
    """A question (single or multiple choice, true/false) on one step or control point of the version; written by
    a person, it counts as reviewed by them. Who: as for the bank."""
    q = service.create_question(session, version_id, data, actor.user)
    set_etag(response, QUESTION, q.id, q.version)
    return service.question_reads(session, [q])[0]


@router.post("/sop-versions/{version_id}/questions/draft", response_model=DraftResult, dependencies=WRITE,
             responses=TEAM_PROBLEMS)
def draft_questions(version_id: Id, session: SessionDep, actor: CurrentActor, lang: ExportLang = ExportLang.zh_CN):
    """Draft questions from the version's control points (the amount a rule starts at, who approves) and steps
    (who does it, what comes next), worded in `lang`. Drafts are not used until a person reviews them; sources
    drafted before are skipped. Who: as for the bank."""
    return service.draft_questions(session, version_id, actor.user, lang.value)


@router.put("/test-questions/{question_id}", response_model=QuestionRead, dependencies=WRITE, responses=TEAM_PATCH)
def update_question(question_id: Id, data: QuestionUpdate, request: Request, session: SessionDep,
                    actor: CurrentActor, response: Response):
    """Replace a question; the editor reviewed it. Requires `If-Match`. Attempts keep the question as they showed
    it. Who: as for the bank."""
    expected = required_version(request, QUESTION, question_id)
    q = service.update_question(session, question_id, data, actor.user, expected_version=expected)
    set_etag(response, QUESTION, q.id, q.version)
    return service.question_reads(session, [q])[0]


@router.post("/test-questions/{question_id}/review", response_model=QuestionRead, dependencies=WRITE,
             responses=TEAM_PATCH)
def review_question(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                    response: Response):
    """Review a drafted question as it is: from now on tests use it. `If-Match` optional. Who: as for the bank."""
    q = service.review_question(session, question_id, actor.user,
                                expected_version=optional_version(request, QUESTION, question_id))
    set_etag(response, QUESTION, q.id, q.version)
    return service.question_reads(session, [q])[0]


@router.delete("/test-questions/{question_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=TEAM_PATCH)
def delete_question(question_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove a question (attempts keep it as they showed it). `If-Match` optional. Who: as for the bank."""
    service.delete_question(session, question_id, actor.user,
                            expected_version=optional_version(request, QUESTION, question_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- tests and acknowledgements

@router.get("/rollout-plans/{plan_id}/my-test", response_model=MyTest, dependencies=READ, responses=TEAM_PROBLEMS)
def my_test(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """Where the caller stands: in scope, retrained on the change only, attempts and attempts left, passed,
    retraining, whether an attempt may start, acknowledged, and the content hash to acknowledge. Who: everyone
    signed in, about themselves."""
    return service.my_test(session, plan_id, actor.user)


@router.post("/rollout-plans/{plan_id}/attempts", response_model=AttemptRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses={**TEAM_PROBLEMS, 200: {"description": "The open attempt, continued"},
                                            409: {"description": "Passed, no attempts left, retraining first, or "
                                                                 "no reviewed question"}})
def start_attempt(plan_id: Id, session: SessionDep, actor: CurrentActor, response: Response):
    """Start an attempt at the test (201), or continue the open one (200): the questions and their options in an
    order of this attempt's own, without the right answers. A retake is a new attempt; after a failed one it
    opens once the person attended a training session since. Who: the people in the plan's scope, for
    themselves."""
    attempt, new = service.start_attempt(session, plan_id, actor.user)
    if not new:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/test-attempts/{attempt.id}"
    return service.attempt_read(session, attempt)


@router.get("/test-attempts/{attempt_id}", response_model=AttemptRead, dependencies=READ,
            responses={404: {"description": "Not found (or not the caller's)"}})
def read_attempt(attempt_id: Id, session: SessionDep, actor: CurrentActor):
    """An attempt with its questions; once submitted, the answers given, which were right, the score and whether
    it passed. Who: the person who took it only."""
    return service.attempt_read(session, service.get_attempt(session, attempt_id, actor.user))


@router.post("/test-attempts/{attempt_id}/submit", response_model=AttemptRead, dependencies=WRITE,
             responses={404: {"description": "Not found (or not the caller's)"},
                        409: {"description": "Submitted already"}})
def submit_attempt(attempt_id: Id, data: AttemptSubmit, session: SessionDep, actor: CurrentActor):
    """Hand the answers in (option indexes as the paper showed them; a question left out is wrong). The server
    scores it (0-100, a question right when exactly its right options are chosen) and compares with the pass
    mark. Who: the person who took it only."""
    return service.attempt_read(session, service.submit_attempt(session, attempt_id, data, actor.user))


@router.get("/rollout-plans/{plan_id}/attempts", response_model=list[AttemptSummary], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_attempts(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """Every attempt at the plan's test: who, when, score, passed (never the answers). Who: the initiative's team
    and administrators."""
    return service.plan_attempts(session, plan_id, actor.user)


@router.post("/rollout-plans/{plan_id}/acknowledgement", response_model=AcknowledgementRead,
             status_code=status.HTTP_201_CREATED, dependencies=WRITE, responses=TEAM_PROBLEMS)
def acknowledge(plan_id: Id, data: AcknowledgeRequest, session: SessionDep, actor: CurrentActor):
    """阅读确认: confirm having read the version (or, retrained on the change, its changes), naming the content
    hash read; a stale hash is refused. Once per person. Who: the people in the plan's scope, for themselves."""
    return service.acknowledgement_read(session, service.acknowledge(session, plan_id, data, actor.user))


# ---------------------------------------------------------------- launch notices and checklist

@router.post("/rollout-plans/{plan_id}/notices", response_model=NoticeRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses=CREATE)
def create_notice(plan_id: Id, data: NoticeCreate, session: SessionDep, actor: CurrentActor):
    """上线通知: a wave's launch notice with the time the version takes effect in its departments; shown on the
    SOP's page and on the My work page of the people in scope. One per wave. Who: the initiative's team and
    administrators."""
    return service.notice_reads(session, [service.create_notice(session, plan_id, data, actor.user)])[0]


@router.get("/rollout-plans/{plan_id}/notices", response_model=list[NoticeRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_notices(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """The plan's launch notices. Who: everyone signed in."""
    return service.notice_reads(session, service.list_notices(session, plan_id))


@router.post("/rollout-plans/{plan_id}/checklist", response_model=ChecklistRead,
             status_code=status.HTTP_201_CREATED, dependencies=WRITE, responses=TEAM_PROBLEMS)
def create_item(plan_id: Id, data: ChecklistCreate, session: SessionDep, actor: CurrentActor, response: Response):
    """系统与工具配置: an item (permissions of a new approval step, a tool deployed, the manual with screenshots)
    with its owner. Every item done is a criterion of the rollout gate. Who: the initiative's team and
    administrators."""
    item = service.create_item(session, plan_id, data, actor.user)
    set_etag(response, ITEM, item.id, item.version)
    return service.item_reads(session, [item])[0]


@router.get("/rollout-plans/{plan_id}/checklist", response_model=list[ChecklistRead], dependencies=READ,
            responses=TEAM_PROBLEMS)
def list_items(plan_id: Id, session: SessionDep, actor: CurrentActor):
    """The IT configuration checklist. Who: everyone signed in."""
    return service.item_reads(session, service.list_items(session, plan_id))


@router.patch("/checklist-items/{item_id}", response_model=ChecklistRead, dependencies=WRITE, responses=TEAM_PATCH)
def update_item(item_id: Id, data: ChecklistUpdate, request: Request, session: SessionDep, actor: CurrentActor,
                response: Response):
    """Change an item, or mark it done (who and when are kept). Requires `If-Match`. Who: the initiative's team and
    administrators; the item's owner marks it done."""
    expected = required_version(request, ITEM, item_id)
    item = service.update_item(session, item_id, data, actor.user, expected_version=expected)
    set_etag(response, ITEM, item.id, item.version)
    return service.item_reads(session, [item])[0]


@router.delete("/checklist-items/{item_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=WRITE,
               responses=TEAM_PATCH)
def delete_item(item_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    """Remove an item. `If-Match` optional. Who: the initiative's team and administrators."""
    service.delete_item(session, item_id, actor.user, expected_version=optional_version(request, ITEM, item_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- the training record

@router.get("/rollout-plans/{plan_id}/training-record", dependencies=READ, response_class=Response,
            responses={**TEAM_PROBLEMS, **file_answer("text/csv", XLSX_TYPE, description="The training record")})
def training_record(plan_id: Id, session: SessionDep, actor: CurrentActor, format: ExportFormat = ExportFormat.xlsx,
                    lang: ExportLang = ExportLang.zh_CN, wave_id: Id | None = None,
                    department_id: Id | None = None) -> Response:
    """培训记录: per wave and department, each person's sessions attended, attempts, best score, passed,
    retraining and acknowledgement, as CSV (UTF-8 with BOM) or XLSX, in Chinese or English; optionally of one
    wave or department. Who: the initiative's team and administrators."""
    rows, title = service.training_record(session, plan_id, actor.user, lang.value, wave_id=wave_id,
                                          department_id=department_id)
    name = f"training-record-{plan_id}-{lang.value}.{format.value}"
    if format == ExportFormat.csv:
        return attachment(records.to_csv(rows, lang.value), "text/csv; charset=utf-8", name)
    return attachment(records.to_xlsx(rows, lang.value, title), XLSX_TYPE, name)


# ---------------------------------------------------------------- the help channel

@router.get("/sops/{sop_id}/help", response_model=list[HelpQuestionRead], dependencies=READ,
            responses={404: {"description": "Not found"}})
def help_thread(sop_id: Id, session: SessionDep, actor: CurrentActor):
    """The SOP's help channel: questions, newest first, each with its answers. Who: everyone signed in."""
    return service.help_thread(session, sop_id)


@router.post("/sops/{sop_id}/help", response_model=HelpQuestionRead, status_code=status.HTTP_201_CREATED,
             dependencies=WRITE, responses={404: {"description": "Not found"}})
def ask(sop_id: Id, data: HelpCreate, session: SessionDep, actor: CurrentActor):
    """Ask a question about the SOP. Who: everyone signed in who writes."""
    return service.help_reads(session, [service.ask(session, sop_id, data, actor.user)])[0]


@router.post("/help-questions/{question_id}/answers", response_model=HelpAnswerRead,
             status_code=status.HTTP_201_CREATED, dependencies=WRITE, responses=TEAM_PROBLEMS)
def answer(question_id: Id, data: HelpCreate, session: SessionDep, actor: CurrentActor):
    """Answer a help question. Who: the team of an initiative of the process, its owner and administrators."""
    a = service.answer(session, question_id, data, actor.user)
    return service.answer_read(a, {actor.user.id: UserRef(id=actor.user.id, display_name=actor.user.display_name)})
