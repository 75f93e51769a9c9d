"""Rollout (phase 5): the plan that takes an SOP version to the departments in waves, its people, training
sessions and attendance, the question bank and test attempts, read-and-acknowledge records, launch notices, the
IT configuration checklist, and the help channel's questions and answers.

A department's wave is ready when everyone in its scope passed the test and acknowledged the version (or the
leader recorded an exception); `RolloutDepartment.ready_at` keeps when it first was, and the version is in force
there from then (not before its effective date). See `app.rollout.service`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import JSONType, UTCDateTime, enum_column
from app.core.versioning import VersionedColumns

__all__ = ["Acknowledgement", "ChecklistItem", "ChecklistKind", "Delivery", "HelpAnswer", "HelpQuestion",
           "LaunchNotice", "QuestionKind", "RolloutDepartment", "RolloutPerson", "RolloutPlan", "RolloutWave",
           "TestAttempt", "TestQuestion", "TrainingAttendance", "TrainingSession"]


class Delivery(enum.StrEnum):
    """How a wave (or one session) is trained."""

    per_department = "per_department"  # 分部门培训: in person, department by department
    live_online = "live_online"  # 线上直播
    recording = "recording"  # 录播


class QuestionKind(enum.StrEnum):
    single = "single"  # one right option
    multiple = "multiple"  # one or more right options, all of them to be chosen
    true_false = "true_false"  # options ["true", "false"] as the page words them


class ChecklistKind(enum.StrEnum):
    """系统与工具配置: what IT sets up before the launch."""

    permissions = "permissions"  # rights for new approval steps
    tool = "tool"  # a tool or system deployed
    manual = "manual"  # an operating manual with screenshots
    other = "other"


class RolloutPlan(VersionedColumns, table=True):
    """推广计划: one SOP version rolled out by an initiative, with its test's pass mark and attempts."""

    __tablename__ = "rollout_plans"
    __table_args__ = (
        sa.CheckConstraint("pass_mark BETWEEN 1 AND 100", name="pass_mark_range"),
        sa.CheckConstraint("max_attempts BETWEEN 1 AND 10", name="max_attempts_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE", index=True)
    sop_version_id: int = Field(foreign_key="sop_versions.id", ondelete="RESTRICT", unique=True)
    pilot_id: int | None = Field(default=None, foreign_key="pilots.id", ondelete="SET NULL")
    # The version it replaces, rolled out before: whoever passed that one is retrained on the change only.
    previous_version_id: int | None = Field(default=None, foreign_key="sop_versions.id", ondelete="SET NULL")
    pass_mark: int = Field(default=80)
    max_attempts: int = Field(default=3)
    note: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class RolloutWave(VersionedColumns, table=True):
    """A wave: a set of departments trained in a date range, one way."""

    __tablename__ = "rollout_waves"
    __table_args__ = (sa.Index("ix_rollout_waves_plan_id", "plan_id", "position"),
                      sa.CheckConstraint("ends_on >= starts_on", name="dates_order"))

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rollout_plans.id", ondelete="CASCADE")
    position: int = Field(default=0)
    name: str = Field(max_length=120)  # "第1周：运营部"
    starts_on: date
    ends_on: date
    delivery: Delivery = Field(default=Delivery.per_department,
                               sa_column=sa.Column(enum_column(Delivery, "rollout_delivery"), nullable=False))


class RolloutDepartment(SQLModel, table=True):
    """A department of a plan, in one wave; ready since `ready_at`, or by the leader's exception."""

    __tablename__ = "rollout_departments"

    plan_id: int = Field(foreign_key="rollout_plans.id", primary_key=True, ondelete="CASCADE")
    department_id: int = Field(foreign_key="departments.id", primary_key=True, ondelete="RESTRICT", index=True)
    wave_id: int = Field(foreign_key="rollout_waves.id", ondelete="CASCADE", index=True)
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    exception_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    exception_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class RolloutPerson(SQLModel, table=True):
    """A person in the plan's scope, in one of its departments, with the SOP role they hold (if named)."""

    __tablename__ = "rollout_people"
    __table_args__ = (sa.Index("ix_rollout_people_plan_department", "plan_id", "department_id"),)

    plan_id: int = Field(foreign_key="rollout_plans.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    department_id: int = Field(foreign_key="departments.id", ondelete="RESTRICT")
    sop_role: str = Field(default="", max_length=120)


class TrainingSession(VersionedColumns, table=True):
    """A training session of a wave, with its trainer and materials."""

    __tablename__ = "training_sessions"
    __table_args__ = (sa.Index("ix_training_sessions_plan_id", "plan_id", "held_on"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rollout_plans.id", ondelete="CASCADE")
    wave_id: int = Field(foreign_key="rollout_waves.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    held_on: date
    trainer_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    delivery: Delivery = Field(default=Delivery.per_department,
                               sa_column=sa.Column(enum_column(Delivery, "training_delivery"), nullable=False))
    # [{"title": ..., "url": ...}]
    materials: list[dict[str, str]] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))


class TrainingAttendance(SQLModel, table=True):
    __tablename__ = "training_attendance"

    session_id: int = Field(foreign_key="training_sessions.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    attended: bool = Field(default=True)


class TestQuestion(VersionedColumns, table=True):
    """A question of a version's bank, on one step or control point; used in tests once a person reviewed it."""

    __tablename__ = "test_questions"
    __test__ = False  # not a pytest class
    __table_args__ = (sa.Index("ix_test_questions_version", "sop_version_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    sop_version_id: int = Field(foreign_key="sop_versions.id", ondelete="CASCADE")
    position: int = Field(default=0)
    kind: QuestionKind = Field(sa_column=sa.Column(enum_column(QuestionKind, "question_kind"), nullable=False))
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    options: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    correct: list[int] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    step_id: str | None = Field(default=None, max_length=36)
    control_point_id: str | None = Field(default=None, max_length=36)
    # What a drafted question was drafted from ("cp-threshold:<id>"), so drafting again adds only new ones.
    drafted_from: str | None = Field(default=None, max_length=80)
    reviewed_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TestAttempt(SQLModel, table=True):
    """One attempt at a plan's test by one person: the paper as shown (questions and options shuffled, with the
    right answers, which only the server reads), the answers, the score. A retake is a new attempt."""

    __tablename__ = "test_attempts"
    __test__ = False
    __table_args__ = (sa.UniqueConstraint("plan_id", "user_id", "number", name="uq_test_attempts_number"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rollout_plans.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    number: int  # 1, 2, ... per person and plan
    delta: bool = Field(default=False)  # the change-only test of someone who passed the previous version
    started_at: datetime = Field(sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paper: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    answers: list[list[int]] | None = Field(default=None, sa_column=sa.Column(JSONType))
    score: int | None = None
    passed: bool | None = None


class Acknowledgement(SQLModel, table=True):
    """阅读确认: that a person read the version (its content hash), or its changes when retrained on them."""

    __tablename__ = "acknowledgements"

    plan_id: int = Field(foreign_key="rollout_plans.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True)
    content_hash: str = Field(max_length=64)
    delta: bool = Field(default=False)
    acknowledged_at: datetime = Field(sa_type=UTCDateTime)


class LaunchNotice(VersionedColumns, table=True):
    """上线通知: the launch of a wave, with when the version takes effect in its departments."""

    __tablename__ = "launch_notices"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rollout_plans.id", ondelete="CASCADE", index=True)
    wave_id: int = Field(foreign_key="rollout_waves.id", ondelete="CASCADE", unique=True)
    effective_at: datetime = Field(sa_type=UTCDateTime)
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    published_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class ChecklistItem(VersionedColumns, table=True):
    """An item of the IT configuration checklist, with its owner."""

    __tablename__ = "rollout_checklist"
    __table_args__ = (sa.Index("ix_rollout_checklist_plan_id", "plan_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="rollout_plans.id", ondelete="CASCADE")
    kind: ChecklistKind = Field(default=ChecklistKind.other,
                                sa_column=sa.Column(enum_column(ChecklistKind, "checklist_kind"), nullable=False))
    text: str = Field(max_length=500)
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    done: bool = Field(default=False)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class HelpQuestion(VersionedColumns, table=True):
    """A question in an SOP's help channel."""

    __tablename__ = "help_questions"
    __table_args__ = (sa.Index("ix_help_questions_sop_id", "sop_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    sop_id: int = Field(foreign_key="sops.id", ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class HelpAnswer(VersionedColumns, table=True):
    """An answer to a help question, by the team."""

    __tablename__ = "help_answers"

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="help_questions.id", ondelete="CASCADE", index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
