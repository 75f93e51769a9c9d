from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import Id
from app.processes.models import ProcessStatus

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class ProcessCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=40, pattern=CODE_PATTERN, examples=["YH-LC01"],
                      description="Unique, case-insensitive; letters, digits, `-`, `_`, `.`.")
    name: str = Field(min_length=1, max_length=200, examples=["User registration and activation"])
    description: str = Field("", max_length=10_000)
    owner_department: str | None = Field(None, max_length=40, examples=["operations"],
                                         description="Department code.")
    departments: list[str] = Field(default_factory=list, max_length=50, examples=[["operations", "technology"]],
                                   description="Codes of the departments involved.")
    owner_id: Id | None = Field(None, description="The owning user; defaults to the caller. "
                                 "Only leads and administrators may name someone else.")


class ProcessUpdate(BaseModel):
    """Only the fields sent are changed. The code cannot change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    owner_department: str | None = Field(None, max_length=40)
    departments: list[str] | None = Field(None, max_length=50)
    owner_id: Id | None = None


class OwnerRef(BaseModel):
    id: int
    display_name: str


class ProcessRead(BaseModel):
    id: int
    code: str
    name: str
    description: str
    owner_department: str | None
    departments: list[str]
    owner: OwnerRef
    status: ProcessStatus
    created_at: datetime
    updated_at: datetime
    version: int


class ProcessPage(BaseModel):
    items: list[ProcessRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ProcessSort(enum.StrEnum):
    code = "code"
    code_desc = "-code"
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"
    updated_at = "updated_at"
    updated_at_desc = "-updated_at"


class ProcessListQuery(BaseModel):
    """The list's query parameters (one model: validated in one call)."""

    status: ProcessStatus | None = None
    department: str | None = Field(None, max_length=40, description="Owning or involved department code")
    q: str | None = Field(None, max_length=200, description="Text search in code and name")
    sort: ProcessSort = ProcessSort.code
    limit: int = Field(50, ge=1, description="Page size; capped at PAGE_SIZE_MAX")
    cursor: str | None = Field(None, max_length=1000)
