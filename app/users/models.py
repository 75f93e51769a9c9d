from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlmodel import Field

from app.core.db import enum_column
from app.core.versioning import VersionedColumns


class Role(enum.StrEnum):
    admin = "admin"
    lead = "lead"
    member = "member"
    viewer = "viewer"


class User(VersionedColumns, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    # Lower-cased email: uniqueness and lookups are case-insensitive.
    email_norm: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=120)
    department_id: int | None = Field(default=None, foreign_key="departments.id", ondelete="SET NULL")
    role: Role = Field(sa_column=sa.Column(enum_column(Role, "role"), nullable=False))
    is_active: bool = Field(default=True)
    password_hash: str = Field(max_length=255)
    locale: str | None = Field(default=None, max_length=10)
    # Carried in each access token as `gen` (app/core/security.py); raised when the account's password or
    # role changes, it is disabled or logs out, which ends every token issued before (app/auth/deps.py).
    token_generation: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
