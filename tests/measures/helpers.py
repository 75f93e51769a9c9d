"""Shared bits of the measure tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from app.measures.schemas import MeasureCreate
from app.measures.service import create_measure
from app.users.models import User

API = "/api/v1"


def body(issue_ids: list[int], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "goal": "Activation <= 5 min", "issue_ids": issue_ids,
        "description": "Build an automatic check against the 3 systems", "type": "automate",
        "department": "technology", "due_date": "2030-01-31", "effect_metric": "Activation time",
        "effect_unit": "min", "effect_baseline": "30", "effect_target": "5",
        "effect_direction": "lower_is_better"}
    data.update(fields)
    return data


def add_measure(session: Session, initiative_id: int, actor: User, issue_ids: list[int], **fields: Any):  # noqa: ANN201
    data = body(issue_ids, **fields)
    if isinstance(data.get("due_date"), str):
        data["due_date"] = date.fromisoformat(data["due_date"])
    measure = create_measure(session, initiative_id, MeasureCreate(**data), actor)
    session.flush()
    return measure
