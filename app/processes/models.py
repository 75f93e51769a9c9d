from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import enum_column
from app.core.versioning import VersionedColumns


class ProcessStatus(enum.StrEnum):
    active = "active"
    archived = "archived"


class Process(VersionedColumns, table=True):
    __tablename__ = "processes"
    __table_args__ = (
        sa.Index("ix_processes_status_code", "status", "code_norm"),
        sa.Index("ix_processes_name_norm", "name_norm", "id"),
        sa.Index("ix_processes_created_at", "created_at", "id"),
        sa.Index("ix_processes_updated_at", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    # Upper-cased code: unique case-insensitively, and the sort/search key.
    code_norm: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    name_norm: str = Field(max_length=200)
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    owner_department_id: int | None = Field(default=None, foreign_key="departments.id", ondelete="RESTRICT")
    owner_id: int = Field(foreign_key="users.id", ondelete="RESTRICT", index=True)
    # The involved departments' codes, sorted and comma-separated: a copy of `process_departments` (which
    # the department filter and the foreign keys use), written with it by `service._set_departments`
    # only. The list reads it instead of aggregating the join per row, which cost PostgreSQL more than
    # the rest of the page query (bench/README.md). Department codes never change.
    department_codes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    status: ProcessStatus = Field(
        default=ProcessStatus.active,
        sa_column=sa.Column(enum_column(ProcessStatus, "process_status"), nullable=False),
    )


class ProcessDepartment(SQLModel, table=True):
    """A department involved in a process."""

    __tablename__ = "process_departments"

    process_id: int = Field(foreign_key="processes.id", primary_key=True, ondelete="CASCADE")
    department_id: int = Field(foreign_key="departments.id", primary_key=True, ondelete="RESTRICT",
                               index=True)
