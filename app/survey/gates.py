"""The survey's criteria of the diagnosis gate (see `app.initiatives.gates`)."""

from __future__ import annotations

from sqlmodel import Session, func, select

from app.core.labels import N_
from app.initiatives.gates import Params, count, criterion
from app.initiatives.models import Initiative, Phase
from app.survey.models import ResearchRecord, SurveyStep


@criterion(Phase.diagnosis, "survey_steps", N_("Record the current process in the survey (at least one step)."))
def survey_steps(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = count(session, select(func.count()).select_from(SurveyStep).where(SurveyStep.initiative_id == ini.id))
    return n > 0, {}


@criterion(Phase.diagnosis, "research_records",
           N_("Record at least one interview, observation, questionnaire or data analysis."))
def research_records(session: Session, ini: Initiative) -> tuple[bool, Params]:
    n = count(session, select(func.count()).select_from(ResearchRecord)
              .where(ResearchRecord.initiative_id == ini.id))
    return n > 0, {}
