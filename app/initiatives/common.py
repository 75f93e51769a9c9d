"""Small helpers shared by the initiative, survey and issue services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.core.audit import record
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import PreconditionFailed, RuleViolation

if TYPE_CHECKING:
    from app.users.models import User


class Versioned(Protocol):
    id: int | None
    version: int


def today() -> date:
    """Today in the business time zone (phases are planned in calendar days)."""
    return utcnow().astimezone(ZoneInfo(get_settings().business_timezone)).date()


def check_version(entity: Versioned, expected: int | None, what: str) -> None:
    if expected is not None and entity.version != expected:
        raise PreconditionFailed(
            f"The {what} was changed by someone else (now version {entity.version}, you had version "
            f"{expected}). Reload and apply your change again.",
            current_version=entity.version,
        )


def bump(entity: Any) -> None:
    entity.version += 1
    entity.updated_at = utcnow()


def save_update(session: Session, actor: User, entity: Any, entity_type: str, before: dict[str, Any],
                snapshot: Callable[[Any], dict[str, Any]]) -> Any:
    """Write a changed record with its version bumped, and audit the change (after = `snapshot(entity)`)."""
    bump(entity)
    session.add(entity)
    session.flush()
    record(session, actor, "update", entity_type, entity.id, before, snapshot(entity))
    return entity


def field_error(field: str, message: str, type_: str = "value_error", loc: str = "body") -> dict[str, Any]:
    return {"loc": [loc, *field.split(".")], "field": field, "message": message, "type": type_}


def rule(detail: str, field: str, type_: str = "value_error", message: str | None = None) -> RuleViolation:
    """A 422 naming one field."""
    return RuleViolation(detail, errors=[field_error(field, message or detail, type_)])


def no_nulls(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PATCH: a field that may be left out may still not be sent as null."""
    for key in fields:
        if key in changes and changes[key] is None:
            raise rule(f"{key} cannot be null.", key, "null", "may not be null")


# OpenAPI responses of the endpoints on an initiative's content (survey, issues, RACI, measures).
TEAM_PROBLEMS: dict[int | str, dict[str, str]] = {403: {"description": "Not on the initiative's team"},
                                                  404: {"description": "Not found"}}
TEAM_PATCH = {**TEAM_PROBLEMS, 412: {"description": "If-Match is stale"}, 428: {"description": "If-Match missing"}}
