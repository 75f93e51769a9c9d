"""RACI tables: roles (columns), activities (rows) and the cells that hold letters."""

from __future__ import annotations

from itertools import combinations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

LETTERS = "RACI"
# What the database accepts: every non-empty subset of R, A, C, I in canonical order ("R", ..., "RACI"),
# as rows written before the cell rule below still may hold them; an empty cell has no row.
ALLOWED = tuple("".join(c) for n in range(1, 5) for c in combinations(LETTERS, n))
# What a cell may be set to: one letter, or RA (the role does the work and answers for it, common in small
# teams). Other pairs say nothing more: an A decides and so is consulted and informed, an R does the work,
# a C is informed anyway. `check` reports stored cells outside this list as errors.
CELL_VALUES = ("R", "A", "C", "I", "RA")


class RaciRole(SQLModel, table=True):
    """A column: a department or position, optionally a team member."""

    __tablename__ = "raci_roles"
    __table_args__ = (sa.Index("ix_raci_roles_initiative_position", "initiative_id", "position", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    position: int = Field(nullable=False)
    member_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class RaciActivity(SQLModel, table=True):
    """A row: an activity, typed or taken from a survey step."""

    __tablename__ = "raci_activities"
    __table_args__ = (sa.Index("ix_raci_activities_initiative_position", "initiative_id", "position", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    initiative_id: int = Field(foreign_key="initiatives.id", ondelete="CASCADE")
    name: str = Field(max_length=200)
    position: int = Field(nullable=False)
    survey_step_id: int | None = Field(default=None, foreign_key="survey_steps.id", ondelete="SET NULL")


class RaciCell(SQLModel, table=True):
    """The letters of one activity for one role, in canonical order (a subset of "RACI")."""

    __tablename__ = "raci_cells"
    __table_args__ = (
        sa.CheckConstraint("letters IN (" + ", ".join(f"'{v}'" for v in ALLOWED) + ")", name="letters_valid"),
    )

    activity_id: int = Field(foreign_key="raci_activities.id", primary_key=True, ondelete="CASCADE")
    role_id: int = Field(foreign_key="raci_roles.id", primary_key=True, ondelete="CASCADE", index=True)
    letters: str = Field(max_length=4)
