"""Helpers of the rollout page tests: headers, the form's field messages, an attempt answered through the pages."""

from __future__ import annotations

from typing import Any

from app.rollout import service
from app.rollout.models import TestAttempt, TestQuestion
from tests.factories import Factory
from tests.rollout.factories import answer_sheet

HX = {"HX-Request": "true"}
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def h(user, *extra: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    out = dict(Factory.bearer(user))
    for e in extra:
        out.update(e)
    return out


def bank(session, version_id: int) -> dict[int, dict[str, Any]]:  # noqa: ANN001
    return {q.id: {"options": q.options, "correct": q.correct}
            for q in session.exec(TestQuestion.__table__.select().where(TestQuestion.sop_version_id == version_id))}


def answer_form(session, attempt_id: int, version_id: int, right: int) -> dict[str, Any]:  # noqa: ANN001
    """The attempt's form with the first `right` questions answered right, the others wrong."""
    paper = service.attempt_read(session, session.get(TestAttempt, attempt_id)).model_dump(mode="json")
    return {f"q-{a['question_id']}": [str(c) for c in a["chosen"]]
            for a in answer_sheet(paper, bank(session, version_id), right)}
