"""Request and response bodies of the RACI API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.core.ids import Id, Position
from app.raci.models import CELL_VALUES, LETTERS

CELL_RULE = "a cell holds one of R, A, C, I, or RA (responsible and accountable)"


def normalize_letters(value: object) -> str:
    """"ar", ["A", "R"], "R,A" -> "RA" (canonical order); "" or [] -> "" (empty cell). Anything else,
    and combinations other than RA (`CELL_VALUES`): an error."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value in CELL_VALUES:
        return value  # already canonical: what every stored matrix holds
    if isinstance(value, list | tuple):
        if not all(isinstance(v, str) for v in value):
            raise ValueError("letters must be a string or a list of strings")
        value = "".join(value)
    if not isinstance(value, str):
        raise ValueError("letters must be a string or a list of strings")
    chars = [c for c in value.upper() if c not in " ,;/+"]
    bad = sorted({c for c in chars if c not in LETTERS})
    if bad:
        raise ValueError(f"only R, A, C and I are allowed (got {', '.join(bad)})")
    if len(set(chars)) != len(chars):
        raise ValueError("a letter is repeated")
    letters = "".join(c for c in LETTERS if c in chars)
    if letters and letters not in CELL_VALUES:
        raise ValueError(f"{letters} is not allowed: {CELL_RULE}")
    return letters


Letters = Annotated[str, BeforeValidator(normalize_letters)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=120)]
    member_user_id: Id | None = None
    position: Position | None = None


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str | None, Field(min_length=1, max_length=120)] = None
    member_user_id: Id | None = None


class RoleRead(BaseModel):
    id: int
    name: str
    position: int
    member_user_id: int | None


class ActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    survey_step_id: Id | None = None
    position: Position | None = None


class ActivityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name | None = None


class ActivityRead(BaseModel):
    id: int
    name: str
    position: int
    survey_step_id: int | None


class Reorder(BaseModel):
    """Every id of the initiative's roles (or activities), each once, in the new order."""

    model_config = ConfigDict(extra="forbid")
    ids: Annotated[list[Id], Field(max_length=500)]


class CellSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    activity_id: Id
    role_id: Id
    letters: Letters


class CellBatch(BaseModel):
    """Several cells at once: all are set, or none."""

    model_config = ConfigDict(extra="forbid")
    cells: Annotated[list[CellSet], Field(min_length=1, max_length=2000)]


class CellRead(BaseModel):
    activity_id: int
    role_id: int
    letters: str


class RaciRead(BaseModel):
    roles: list[RoleRead]
    activities: list[ActivityRead]
    cells: list[CellRead]


class Violation(BaseModel):
    """One broken rule; `activity_id` for the activity rules, `role_id` for the role rule."""

    activity_id: int | None = None
    role_id: int | None = None
    rule: str
    severity: Literal["error", "warning"]
    message: str


class ImportResult(BaseModel):
    roles_created: int
    activities_created: int
    cells_set: int
