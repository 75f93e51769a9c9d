from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, enum_column
from app.core.versioning import VersionedColumns


class StepKind(enum.StrEnum):
    input = "input"
    activity = "activity"
    decision = "decision"
    output = "output"


class ProblemCategory(enum.StrEnum):
    """The method's four problem categories; also table 1's multiple-choice problem flags."""

    efficiency = "efficiency"
    quality = "quality"
    collaboration = "collaboration"
    risk = "risk"


class ResearchMethod(enum.StrEnum):
    interview = "interview"
    observation = "observation"
    questionnaire = "questionnaire"
    data_analysis = "data_analysis"


class SurveyStep(VersionedColumns, table=True):
    """One step of the current process, in order (position 1, 2, ...)."""

    __tablename__ = "survey_steps"
    __table_args__ = (
        sa.CheckConstraint("minutes >= 0", name="minutes_nonnegative"),
        sa.CheckConstraint("waiting_minutes >= 0", name="waiting_nonnegative"),
        sa.Index("ix_survey_steps_initiative_position", "initiative_id", "position", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    position: int = Field(nullable=False)
    name: str = Field(max_length=200)
    kind: StepKind = Field(sa_column=sa.Column(enum_column(StepKind, "step_kind"), nullable=False))
    department_id: int | None = Field(default=None, foreign_key="departments.id", ondelete="RESTRICT")
    role: str = Field(default="", max_length=120)
    minutes: Decimal = Field(sa_column=sa.Column(sa.Numeric(10, 2), nullable=False))
    waiting_minutes: Decimal = Field(default=Decimal(0),
                                     sa_column=sa.Column(sa.Numeric(10, 2), nullable=False))
    systems: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    flag_efficiency: bool = Field(default=False)
    flag_quality: bool = Field(default=False)
    flag_collaboration: bool = Field(default=False)
    flag_risk: bool = Field(default=False)
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))

    @property
    def flags(self) -> list[ProblemCategory]:
        return [c for c in ProblemCategory if getattr(self, f"flag_{c.value}")]


class ResearchRecord(VersionedColumns, table=True):
    """An interview, observation, questionnaire or data analysis of the survey, with its findings."""

    __tablename__ = "research_records"
    __table_args__ = (sa.Index("ix_research_records_initiative_id", "initiative_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    method: ResearchMethod = Field(
        sa_column=sa.Column(enum_column(ResearchMethod, "research_method"), nullable=False))
    conducted_on: date = Field(sa_type=sa.Date, nullable=False)
    participants: str = Field(max_length=500)
    findings: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class ResearchRecordStep(SQLModel, table=True):
    __tablename__ = "research_record_steps"

    record_id: int = Field(foreign_key="research_records.id", primary_key=True, ondelete="CASCADE")
    step_id: int = Field(foreign_key="survey_steps.id", primary_key=True, ondelete="CASCADE", index=True)
