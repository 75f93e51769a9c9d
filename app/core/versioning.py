"""Optimistic concurrency for versioned records, and their one audited update path.

A versioned record (`version` column) is changed in two steps: `check_version` compares the client's
`If-Match` with the record, holding the record's row locked from then to the end of the unit of work;
`save_update` (or `bump` for records written with their parent) raises the version, flushes and audits.
New records go through `save_new`, deleted ones through `delete_audited`: every change is audited here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel
from sqlalchemy import inspect
from sqlalchemy.orm import object_session
from sqlmodel import Field, Session, SQLModel

from app.core.audit import record
from app.core.db import UTCDateTime, utcnow
from app.core.errors import PreconditionFailed, no_nulls

if TYPE_CHECKING:
    from app.users.models import User


class VersionedColumns(SQLModel):
    """The columns of a record changed through `save_update`: when it was made and last changed, and its
    version (the `ETag` that `If-Match` names). A table model inherits them: `class X(VersionedColumns,
    table=True)`."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)


class Versioned(Protocol):
    id: int | None
    version: int


def check_version(entity: Versioned, expected: int | None, what: str) -> None:
    """`expected` (If-Match) must be the record's version; call it before changing the record.

    The row is locked and read again first (SELECT ... FOR UPDATE): of two writers sent with the same
    version, the second waits for the first to commit and then sees its version, so it gets a 412
    instead of overwriting the first (a lost update). On SQLite a writing unit of work already holds
    the database's write lock from its first statement (`BEGIN IMMEDIATE`)."""
    if expected is None:
        return
    session = object_session(entity)
    if session is not None and inspect(entity).persistent:
        session.refresh(entity, with_for_update=True)
    if entity.version != expected:
        raise PreconditionFailed(
            f"The {what} was changed by someone else (now version {entity.version}, you had version "
            f"{expected}). Reload and apply your change again.",
            current_version=entity.version,
        )


def bump(entity: Any) -> None:
    entity.version += 1
    entity.updated_at = utcnow()


def changes_of(data: BaseModel, not_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sent; those in `not_null` may be left out but not sent as null (422)."""
    changes = data.model_dump(exclude_unset=True)
    no_nulls(changes, not_null)
    return changes


def save_update(session: Session, actor: User, entity: Any, entity_type: str, before: dict[str, Any],
                snapshot: Callable[[Any], dict[str, Any]], changes: dict[str, Any] | None = None) -> Any:
    """Write a changed record with its version bumped, and audit the change (after = `snapshot(entity)`).
    `changes` (field: value) are set on the record first; fields that need more than that are set by the
    caller before."""
    for key, value in (changes or {}).items():
        setattr(entity, key, value)
    bump(entity)
    session.add(entity)
    session.flush()
    record(session, actor, "update", entity_type, entity.id, before, snapshot(entity))
    return entity


def save_new(session: Session, actor: User, entity: Any, entity_type: str,
             snapshot: Callable[[Any], dict[str, Any]]) -> Any:
    """Flush a new record (its id, and the rows written with it) and audit its creation."""
    session.add(entity)
    session.flush()
    record(session, actor, "create", entity_type, entity.id, None, snapshot(entity))
    return entity


def delete_audited(session: Session, actor: User, entity: Any, entity_type: str, before: dict[str, Any]) -> None:
    """Delete a record and audit it (`before`: its snapshot, taken by the caller while it still had it)."""
    entity_id = entity.id
    session.delete(entity)
    session.flush()
    record(session, actor, "delete", entity_type, entity_id, before, None)
