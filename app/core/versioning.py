"""Optimistic concurrency for versioned records, and their one audited update path.

Every versioned record (`version` column) is changed through `save_update`: the version is bumped,
the change flushed and audited. The caller checks `If-Match` first with `check_version`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import Session

from app.core.audit import record
from app.core.db import utcnow
from app.core.errors import PreconditionFailed

if TYPE_CHECKING:
    from app.users.models import User


class Versioned(Protocol):
    id: int | None
    version: int


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
