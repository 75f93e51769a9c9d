"""What waits for a person: the items of the "My work" page (`/my-work`) and of `GET /api/v1/users/me/work`.

Each domain declares its kinds of work in its own `work.py`, the way it declares gate criteria:
`@provider("sop_review", N_("SOP reviews to do"))` registers `provide(session, user) -> [WorkItem]`, which
answers the items of that kind waiting for `user` (only theirs). `app.domains` imports every domain's
`work.py`, so the registry is complete before the first request; pilots, rollout and feedback add their kinds
the same way, and neither the page nor the API names them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlmodel import Session

if TYPE_CHECKING:
    from app.users.models import User


class Urgency(enum.StrEnum):
    """Most urgent first."""

    overdue = "overdue"
    due_soon = "due_soon"
    normal = "normal"


class WorkItem(BaseModel):
    kind: str = Field(description="What is to be done (`sop_review`, ...): one of the kinds of the response.",
                      examples=["sop_review"])
    title: str = Field(description="What it is about, in the data's own words.", examples=["YH-LC01 用户注册激活流程"])
    link: str = Field(description="The page where it is done (a path of this site).", examples=["/sop-versions/7"])
    due_date: date | None = Field(None, description="When it is due, when it has a date.")
    urgency: Urgency = Urgency.normal
    count: int | None = Field(None, description="How many things it holds (a draft's open comments), when its "
                                                "kind counts something.")


class WorkKind(BaseModel):
    code: str
    label: str = Field(description="The kind's name in English (the pages translate it).")
    count: int


class WorkPage(BaseModel):
    kinds: list[WorkKind] = Field(description="Every kind of work there is, in the method's order, with how many "
                                              "items of it wait.")
    items: list[WorkItem] = Field(description="Most urgent first (overdue, due soon, the rest), then by due date.")


Provide = Callable[[Session, "User"], list[WorkItem]]


@dataclass(frozen=True)
class Kind:
    code: str
    label: str  # an N_ msgid: the kind's heading on the page
    provide: Provide
    count_label: str | None  # an N_ msgid with %(n)s: what an item's `count` counts


KINDS: list[Kind] = []


def provider(code: str, label: str, count_label: str | None = None) -> Callable[[Provide], Provide]:
    """Register `provide` as the source of the items of kind `code` (in import order: the method's order);
    `count_label` says what its items' `count` is ("%(n)s open comments")."""
    def register(provide: Provide) -> Provide:
        if any(k.code == code for k in KINDS):
            raise ValueError(f"work kind {code!r} is declared twice")
        KINDS.append(Kind(code, label, provide, count_label))
        return provide
    return register


def by_kind(session: Session, user: User) -> list[tuple[Kind, list[WorkItem]]]:
    """Every kind with the items of it waiting for `user`, each kind's most urgent first."""
    return [(k, sorted(k.provide(session, user), key=_urgency_order)) for k in KINDS]


def work_for(session: Session, user: User) -> WorkPage:
    groups = by_kind(session, user)
    items = sorted((i for _, found in groups for i in found), key=_urgency_order)
    return WorkPage(kinds=[WorkKind(code=k.code, label=k.label, count=len(found)) for k, found in groups],
                    items=items)


URGENCIES = list(Urgency)


def _urgency_order(item: WorkItem) -> tuple[int, date]:
    return URGENCIES.index(item.urgency), item.due_date or date.max


def urgency(due: date, today: date, soon_days: int) -> Urgency:
    """Overdue after `due`; due soon within `soon_days` of it."""
    if due < today:
        return Urgency.overdue
    return Urgency.due_soon if (due - today).days <= soon_days else Urgency.normal
