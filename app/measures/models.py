"""Countermeasures (table 2 rows) and the problems each one addresses."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import enum_column
from app.core.versioning import VersionedColumns

__all__ = ["EffectDirection", "Measure", "MeasureIssue", "MeasureStatus", "MeasureType"]


class MeasureType(enum.StrEnum):
    """The method's countermeasures by category: efficiency, quality, collaboration, risk."""

    remove_step = "remove_step"
    automate = "automate"
    parallelize = "parallelize"
    standard = "standard"
    validation = "validation"
    training = "training"
    raci = "raci"
    communication = "communication"
    compliance_clause = "compliance_clause"
    alert = "alert"


class MeasureStatus(enum.StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    dropped = "dropped"


# A measure in one of these is finished with: never overdue.
CLOSED_STATUSES = (MeasureStatus.done, MeasureStatus.dropped)


class EffectDirection(enum.StrEnum):
    lower_is_better = "lower_is_better"
    higher_is_better = "higher_is_better"


class Measure(VersionedColumns, table=True):
    """A countermeasure of an initiative, with its expected effect as a quantified KPI target."""

    __tablename__ = "measures"
    __table_args__ = (sa.Index("ix_measures_initiative_id", "initiative_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    goal: str = Field(max_length=300)
    description: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    type: MeasureType = Field(sa_column=sa.Column(enum_column(MeasureType, "measure_type"), nullable=False))
    department_id: int | None = Field(default=None, foreign_key="departments.id", ondelete="RESTRICT", index=True)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    due_date: date | None = Field(default=None)
    status: MeasureStatus = Field(
        default=MeasureStatus.planned,
        sa_column=sa.Column(enum_column(MeasureStatus, "measure_status"), nullable=False))
    progress_notes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    effect_metric: str = Field(default="", max_length=200)
    effect_unit: str = Field(default="", max_length=40)
    effect_baseline: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(14, 4), nullable=True))
    effect_target: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(14, 4), nullable=True))
    effect_direction: EffectDirection | None = Field(
        default=None, sa_column=sa.Column(enum_column(EffectDirection, "effect_direction"), nullable=True))


class MeasureIssue(SQLModel, table=True):
    """A problem (of the same initiative) that the measure addresses."""

    __tablename__ = "measure_issues"

    measure_id: int = Field(foreign_key="measures.id", primary_key=True, ondelete="CASCADE")
    issue_id: int = Field(foreign_key="issues.id", primary_key=True, ondelete="CASCADE", index=True)
