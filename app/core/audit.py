"""The audit trail: who changed what, when, with the record before and after."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, Session, SQLModel, select

from app.core.db import JSONType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.users.models import User


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_records"
    __table_args__ = (sa.Index("ix_audit_records_entity", "entity_type", "entity_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor_label: str = Field(max_length=254)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=40)
    entity_id: int
    before: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    after: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    reason: str | None = Field(default=None, max_length=2000)


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


def record(
    session: Session,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
) -> AuditRecord:
    if entity_id is None:
        raise ValueError("audit records need a flushed entity id")
    rec = AuditRecord(
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else "system",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        reason=reason,
    )
    session.add(rec)
    return rec


def history(session: Session, entity_type: str, entity_id: int) -> list[AuditRecord]:
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.entity_type == entity_type, AuditRecord.entity_id == entity_id)
        .order_by(AuditRecord.id.desc())
    )
    return list(session.exec(stmt))
