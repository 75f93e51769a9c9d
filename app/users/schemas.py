from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from app.users.models import Role

PASSWORD_MIN = 8
PASSWORD_MAX = 1024


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    display_name: str = Field(min_length=1, max_length=120)
    department: str | None = Field(None, max_length=40, description="Department code, e.g. `operations`.")
    role: Role = Role.member
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserUpdate(BaseModel):
    """Administrator changes to an account; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str | None = Field(None, min_length=1, max_length=120)
    department: str | None = Field(None, max_length=40)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    department: str | None = None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None
