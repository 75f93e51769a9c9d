"""The risk register (风险登记, phase 6 of the method): the risks of a process or of one of its initiatives, each
with how it shows, its likelihood and impact (1-5; the score is their product, computed on read), its owner,
response, status and review date; and the control points of the process's SOP that keep it in check.

A risk seeded from the method (`seed` set) stores the method's English texts, which pages and exports show
translated; an edited text is shown as written. A risk linked to control points is flagged for review when the
measured compliance of one of them falls below the risk's `compliance_threshold` (see `app.risks.service`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import enum_column
from app.core.versioning import VersionedColumns

__all__ = ["Risk", "RiskControlPoint", "RiskSeed", "RiskStatus"]


class RiskSeed(enum.StrEnum):
    """The method's five key risks (关键风险), seeded for every new initiative."""

    weak_executive_support = "weak_executive_support"  # 高层支持不足
    poor_communication = "poor_communication"  # 跨部门沟通不畅
    frontline_resistance = "frontline_resistance"  # 一线员工抵触
    standard_vs_flexibility = "standard_vs_flexibility"  # 标准化与灵活性失衡
    data_collection = "data_collection"  # 数据难以采集


class RiskStatus(enum.StrEnum):
    open = "open"
    mitigating = "mitigating"
    accepted = "accepted"
    closed = "closed"


class Risk(VersionedColumns, table=True):
    __tablename__ = "risks"
    __table_args__ = (
        sa.CheckConstraint("likelihood BETWEEN 1 AND 5", name="likelihood_range"),
        sa.CheckConstraint("impact BETWEEN 1 AND 5", name="impact_range"),
        sa.CheckConstraint("compliance_threshold BETWEEN 0 AND 100", name="compliance_threshold_range"),
        sa.Index("ix_risks_process_id", "process_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="processes.id", ondelete="CASCADE")
    initiative_id: int | None = Field(default=None, foreign_key="initiatives.id", ondelete="CASCADE", index=True)
    seed: RiskSeed | None = Field(default=None, sa_column=sa.Column(enum_column(RiskSeed, "risk_seed"),
                                                                    nullable=True))
    description: str = Field(max_length=2000)
    signs: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    likelihood: int
    impact: int
    owner_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", index=True)
    response: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    status: RiskStatus = Field(default=RiskStatus.open, sa_column=sa.Column(enum_column(RiskStatus, "risk_status"),
                                                                            nullable=False))
    review_date: date | None = None
    compliance_threshold: int = Field(default=90)
    created_by_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class RiskControlPoint(SQLModel, table=True):
    """A control point (the UUID of a `ControlPoint` in the process's SOP content) that keeps a risk in check."""

    __tablename__ = "risk_control_points"

    risk_id: int = Field(foreign_key="risks.id", primary_key=True, ondelete="CASCADE")
    control_point_id: uuid.UUID = Field(primary_key=True)
