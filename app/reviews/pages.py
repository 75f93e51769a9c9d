"""Quarterly review pages: a process's reviews (plan one), one review (the pack of its quarter, the meeting record,
opening a new round from a decision), and the reviews card on the process page. The rules are the service's, with
the API's schemas (`app.core.forms.submit`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from app.auth.deps import CurrentActor
from app.core.calendar import today
from app.core.db import SessionDep
from app.core.extensions import Section, extends
from app.core.forms import FormData, as_list, field_ids, field_text, number, submit, version
from app.core.i18n import gettext_for, negotiate
from app.core.ids import Id
from app.core.labels import N_
from app.core.templating import redirect, render
from app.initiatives.models import Trigger
from app.processes.service import get_process
from app.reviews import records, service
from app.reviews.models import DecisionKind, Review
from app.reviews.schemas import OpenRoundRequest, RecordRequest, ReviewCreate, ReviewUpdate
from app.survey.models import ProblemCategory
from app.users.models import User

router = APIRouter()
STALE = N_("Someone else changed this meanwhile; it is shown again as it is now.")
BLANK_ROWS = 3  # empty rows the record form offers for more findings and decisions
_ = records  # the labels of the review's values are registered there


def _gettext(request: Request):  # noqa: ANN202
    return gettext_for(negotiate(request))


def _users(session: Session) -> list[User]:
    return list(session.exec(select(User).where(User.is_active).order_by(col(User.display_name))))


# ---------------------------------------------------------------- a process's reviews

def _list_page(request: Request, session: Session, actor: User, process_id: int, *, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    process = get_process(session, process_id)
    reviews = service.to_reads(session, service.list_reviews(session, process.id, actor, limit=200))
    year, quarter = service.quarter_of(today())
    if not values:  # the quarter that ended last, the one a review looks back on
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
        values = {"year": year, "quarter": quarter, "planned_on": ""}
    return render(request, "reviews/list.html", {"process": process, "reviews": reviews, "values": values,
                                                 "errors": errors or {}}, status_code=status_code)


@router.get("/processes/{process_id}/reviews")
def reviews_page(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _list_page(request, session, actor.user, process_id)


@router.post("/processes/{process_id}/reviews")
def plan_review(process_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    values = {k: field_text(form, k) for k in ("year", "quarter", "planned_on")}
    data = {"year": number(values["year"]), "quarter": number(values["quarter"]),
            "planned_on": values["planned_on"] or None}
    done = submit(session, _gettext(request), ReviewCreate, data,
                  lambda d: service.create_review(session, process_id, d, actor.user))
    if done.ok:
        return redirect(request, f"/reviews/{done.result.id}")
    return _list_page(request, session, actor.user, process_id, values=values, errors=done.errors, status_code=422)


# ---------------------------------------------------------------- one review

def _rows(items: list[Any], blank: dict[str, Any]) -> list[dict[str, Any]]:
    return items + [dict(blank) for _ in range(BLANK_ROWS)]


def _record_values(detail: Any) -> dict[str, Any]:
    return {
        "held_on": (detail.held_on or today()).isoformat(),
        "participant_ids": [u.id for u in detail.participants],
        "findings": _rows([{"id": f.id, "text": f.text, "category": f.category.value, "linked": f.issue_id is not None}
                           for f in detail.findings], {"id": "", "text": "", "category": ProblemCategory.efficiency.value}),
        "decisions": _rows([{"id": d.id, "kind": d.kind.value, "text": d.text, "owner_id": d.owner.id if d.owner else "",
                             "due_on": d.due_on.isoformat() if d.due_on else "", "linked": d.initiative_id is not None}
                            for d in detail.decisions],
                           {"id": "", "kind": DecisionKind.no_change.value, "text": "", "owner_id": "", "due_on": ""}),
        "next_review_on": detail.next_review_on.isoformat() if detail.next_review_on else "",
        "notes": detail.notes,
    }


def _review_page(request: Request, session: Session, actor: User, review_id: int, *,
                 values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                 round_errors: dict[int, dict[str, str]] | None = None, status_code: int = 200) -> Response:
    r = service.read_review(session, review_id, actor)
    detail = service.detail(session, r)
    return render(request, "reviews/review.html", {
        "review": detail, "pack": detail.pack, "values": values or _record_values(detail), "errors": errors or {},
        "round_errors": round_errors or {}, "users": _users(session), "categories": list(ProblemCategory),
        "kinds": list(DecisionKind), "triggers": list(Trigger), "export_lang": negotiate(request),
        "may_open_round": service.initiatives.can_create(actor), "figure": records.figure}, status_code=status_code)


@router.get("/reviews/{review_id}")
def review_page(review_id: Id, request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return _review_page(request, session, actor.user, review_id)


def _posted_rows(form: dict[str, Any], prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a repeated block (`findings-0-text`, ...), in their order, blank ones left out."""
    rows = []
    n = 0
    while f"{prefix}-{n}-text" in form and n < 100:
        row = {k: field_text(form, f"{prefix}-{n}-{k}") for k in keys}
        row["text"] = str(form.get(f"{prefix}-{n}-text", "")).strip()
        if row["text"] or row.get("id"):
            rows.append(row)
        n += 1
    return rows


@router.post("/reviews/{review_id}/record")
def post_record(review_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
                form: FormData) -> Response:
    findings = _posted_rows(form, "findings", ("id", "text", "category"))
    decisions = _posted_rows(form, "decisions", ("id", "kind", "text", "owner_id", "due_on"))
    data = {
        "held_on": field_text(form, "held_on") or None, "participant_ids": field_ids(form, "participant_ids"),
        "findings": [{"id": number(f["id"]), "text": f["text"], "category": f["category"] or None} for f in findings],
        "decisions": [{"id": number(d["id"]), "kind": d["kind"] or None, "text": d["text"],
                       "owner_id": number(d["owner_id"]), "due_on": d["due_on"] or None} for d in decisions],
        "next_review_on": field_text(form, "next_review_on") or None, "notes": str(form.get("notes", "")).strip(),
    }
    done = submit(session, _gettext(request), RecordRequest, data, lambda d: service.record(
        session, review_id, d, actor.user, expected_version=version(form)), stale=_gettext(request)(STALE))
    if done.ok:
        return redirect(request, f"/reviews/{review_id}?saved=record#record")
    if done.stale:
        return _review_page(request, session, actor.user, review_id, errors=done.errors, status_code=409)
    blank_f = {"id": "", "text": "", "category": ProblemCategory.efficiency.value}
    blank_d = {"id": "", "kind": DecisionKind.no_change.value, "text": "", "owner_id": "", "due_on": ""}
    values = {"held_on": data["held_on"] or "", "participant_ids": data["participant_ids"],
              "findings": _rows(findings, blank_f), "decisions": _rows(decisions, blank_d),
              "next_review_on": data["next_review_on"] or "", "notes": data["notes"]}
    return _review_page(request, session, actor.user, review_id, values=values, errors=done.errors, status_code=422)


@router.post("/reviews/{review_id}/decisions/{decision_id}/round")
def post_round(review_id: Id, decision_id: Id, request: Request, session: SessionDep, actor: CurrentActor,
               form: FormData) -> Response:
    data: dict[str, Any] = {"title": field_text(form, "title"), "trigger": field_text(form, "trigger") or None}
    if "finding_ids" in form or field_text(form, "choose_findings"):
        data["finding_ids"] = [n for n in (number(v) for v in as_list(form.get("finding_ids"))) if isinstance(n, int)]
    done = submit(session, _gettext(request), OpenRoundRequest, data, lambda d: service.open_round(
        session, review_id, decision_id, d, actor.user, expected_version=version(form)), stale=_gettext(request)(STALE))
    if done.ok:
        return redirect(request, f"/initiatives/{done.result.initiative_id}?saved=round")
    return _review_page(request, session, actor.user, review_id, round_errors={decision_id: done.errors},
                        status_code=409 if done.stale else 422)


@router.post("/reviews/{review_id}/delete")
def post_delete(review_id: Id, request: Request, session: SessionDep, actor: CurrentActor, form: FormData) -> Response:
    r = service.read_review(session, review_id, actor.user)
    process_id = r.process_id
    # deleting sends no fields: the empty update validates, the service decides
    done = submit(session, _gettext(request), ReviewUpdate, {}, lambda _d: service.delete_review(
        session, review_id, actor.user, expected_version=version(form)), stale=_gettext(request)(STALE))
    if done.ok:
        return redirect(request, f"/processes/{process_id}/reviews?saved=deleted")
    return _review_page(request, session, actor.user, review_id, errors=done.errors, status_code=409)


# ---------------------------------------------------------------- the process page

@extends("process_detail")
def _process_reviews(session: Session, process_id: int, user: User) -> dict[str, Any]:
    """The process page shows its quarterly reviews (the next planned, the last held) to those who hold them."""
    process = get_process(session, process_id)
    if not service.may_review(session, process, user):
        return {}
    reviews = list(session.exec(select(Review).where(Review.process_id == process.id)
                                .order_by(col(Review.year).desc(), col(Review.quarter).desc()).limit(4)))
    return {"sections": [Section("reviews/_related.html", {"process_id": process.id,
                                                            "reviews": service.to_reads(session, reviews)}, order=80)]}
