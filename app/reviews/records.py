"""The quarterly review as a Word document (the SOP's DOCX machinery, `app.sops.exports.docx_bytes`), in the
catalog's Chinese or English, and the labels of the review's values."""

from __future__ import annotations

from collections.abc import Callable

from app.core.i18n import gettext_for
from app.core.labels import LABELS, N_, label
from app.reviews.models import DecisionKind, ReviewStatus
from app.reviews.schemas import KpiReview, ReviewDetail
from app.risks.schemas import RiskChange
from app.sops.exports import Lang, Part, Table, docx_bytes, num

LABELS.setdefault("review_status", {}).update({
    ReviewStatus.planned.value: N_("Planned"), ReviewStatus.held.value: N_("Held"),
})
LABELS.setdefault("decision_kind", {}).update({
    DecisionKind.no_change.value: N_("No change"), DecisionKind.small_iteration.value: N_("Small iteration"),
    DecisionKind.new_round.value: N_("New round (phases 3-5)"),
})

Gettext = Callable[[str], str]


def figure(value: float | None, rate: bool = False) -> str:
    """A KPI figure as the review shows it, page and document: at most two decimals (7.7422 -> "7.74"), a rate
    as a percentage (0.009539 -> "0.95 %"); "" for none."""
    if value is None:
        return ""
    return f"{num(round(value * 100, 2))} %" if rate else num(round(value, 2))


def _kpi_table(kpis: list[KpiReview], _: Gettext, lang: Lang) -> Table | None:
    if not kpis:
        return None
    months = [m.period_start.strftime("%Y-%m") for m in kpis[0].months]
    header = [_("KPI"), _("Unit"), _("Target"), *months, _("On target"), _("Alerts")]
    rows = []
    for k in kpis:
        rate = k.aggregation == "rate"

        def shown(value: float | None, rate: bool = rate) -> str:
            return figure(value, rate)
        name = k.name_zh if lang == "zh_CN" and k.name_zh else k.name_en
        on = "" if k.on_target is None else (_("yes") if k.on_target else _("no"))
        rows.append([f"{k.code} {name}", "%" if k.aggregation == "rate" else k.unit, shown(k.target), *(shown(m.value) for m in k.months), on,
                     str(k.alerts)])
    return Table(header, rows)


def _change_text(c: RiskChange, _: Gettext) -> str:
    state = c.after or c.before or {}
    text = state.get("description", "")
    return _(text) if state.get("seed") and text else text


def document_parts(review: ReviewDetail, _: Gettext, lang: Lang) -> list[Part]:
    p = review.pack
    parts = [
        Part("kpis", _("KPIs per month"), table=_kpi_table(p.kpis, _, lang)),
        Part("compliance", _("Control-point compliance"), table=_kpi_table(p.compliance, _, lang)),
    ]
    fb = p.feedback
    fb_lines = [_("{n} received, {overdue} overdue.").format(n=fb.received, overdue=fb.overdue)]
    if fb.by_category:
        fb_lines.append("; ".join(f"{label('feedback_category', k, _)}: {n}" for k, n in fb.by_category.items()))
    parts.append(Part("feedback", _("Feedback received"), lines=fb_lines, table=Table(
        [_("Received"), _("Category"), _("Status"), _("Feedback")],
        [[f.received_on.isoformat(), label("feedback_category", f.category, _), label("feedback_status", f.status, _),
          f.text] for f in fb.items]) if fb.items else None))
    parts.append(Part("problems", _("Open problems"), table=Table(
        [_("Problem"), _("Category"), _("Status"), _("Impact"), _("Urgency")],
        [[x.title, label("problem_category", x.category, _), label("issue_status", x.status, _),
          str(x.impact or ""), str(x.urgency or "")] for x in p.problems]) if p.problems else None))
    parts.append(Part("measures", _("Open countermeasures"), table=Table(
        [_("Countermeasure"), _("Status"), _("Owner"), _("Due")],
        [[m.goal, label("measure_status", m.status, _), m.owner.display_name if m.owner else "",
          (m.due_date.isoformat() if m.due_date else "") + (f" ({_('overdue')})" if m.overdue else "")]
         for m in p.measures]) if p.measures else None))
    sop_lines = []
    if p.sop.in_force:
        sop_lines.append(_("In force: {number} since {day}.").format(number=p.sop.in_force.number,
                                                                     day=p.sop.in_force.effective_date))
    if p.sop.review_due:
        sop_lines.append(_("Periodic review due: {day}.").format(day=p.sop.review_due.isoformat()))
    parts.append(Part("sop", _("SOP versions"), lines=sop_lines, table=Table(
        [_("Version"), _("Effective date"), _("Change summary")],
        [[v.number or "", v.effective_date.isoformat() if v.effective_date else "", v.change_summary]
         for v in p.sop.versions]) if p.sop.versions else None))
    t = p.training
    parts.append(Part("training", _("Training coverage"), lines=[_("{passed} of {people} passed the test ({rate}); "
                                                                   "{ack} acknowledged the version.").format(
        passed=t.passed, people=t.people, rate=figure(t.coverage, rate=True) or "—", ack=t.acknowledged)] if t.plan_id else [],
        table=Table([_("Department"), _("People"), _("Passed"), _("Acknowledged")],
                    [[f"{d.code} {d.name}", str(d.people), str(d.passed), str(d.acknowledged)] for d in t.departments])
        if t.departments else None))
    reg = p.risks.summary
    bands = "; ".join(f"{label('risk_band', b, _)}: {n}" for b, n in reg.by_band.items() if n)
    parts.append(Part("risks", _("Risk register"), lines=[
        _("{total} risks; not closed by score: {bands}. {flagged} flagged for review, {due} due for review.").format(
            total=reg.total, bands=bands or "—", flagged=len(reg.flagged), due=len(reg.review_due))],
        table=Table([_("Risk"), _("Score"), _("Status"), _("Owner")],
                    [[_(r.description) if r.seed else r.description, str(r.score), label("risk_status", r.status, _),
                      r.owner.display_name if r.owner else ""] for r in p.risks.top]) if p.risks.top else None,
        parts=[Part("risk_changes", _("Changes in the quarter"), table=Table(
            [_("When"), _("Who"), _("Change"), _("Risk")],
            [[c.at.strftime("%Y-%m-%d"), c.actor_label, label("audit_action", c.action, _), _change_text(c, _)]
             for c in p.risks.changes]) if p.risks.changes else None, lines=[] if p.risks.changes else [_("None.")])]))
    parts.append(Part("findings", _("Findings"), table=Table(
        [_("Finding"), _("Category")],
        [[f.text, label("problem_category", f.category, _)] for f in review.findings]) if review.findings else None))
    parts.append(Part("decisions", _("Decisions"), table=Table(
        [_("Decision"), _("Kind"), _("Owner"), _("Due")],
        [[d.text, label("decision_kind", d.kind, _), d.owner.display_name if d.owner else "",
          d.due_on.isoformat() if d.due_on else ""] for d in review.decisions]) if review.decisions else None))
    for n, part in enumerate(parts, start=1):
        part.heading = f"{n}. {part.heading}"
        if part.table is None and not part.lines:
            part.lines.append(_("None."))
    return parts


def docx_file(review: ReviewDetail, lang: Lang) -> tuple[bytes, str]:
    _ = gettext_for(lang)
    process = f"{review.process.code} {review.process.name}"
    title = _("{process} quarterly review {quarter}").format(process=process, quarter=review.label)
    facts = [
        (_("Process"), process), (_("Quarter"), f"{review.label} ({review.pack.start} – {review.pack.end})"),
        (_("Status"), label("review_status", review.status, _)), (_("Planned on"), review.planned_on.isoformat()),
        (_("Held on"), review.held_on.isoformat() if review.held_on else "—"),
        (_("Participants"), ("、" if lang == "zh_CN" else ", ").join(u.display_name for u in review.participants)
         or "—"),
        (_("Next review"), review.next_review_on.isoformat() if review.next_review_on else "—"),
    ]
    body = docx_bytes(title, lang, [(_("The review"), facts)], document_parts(review, _, lang))
    return body, f"review-{review.process.code}-{review.year}Q{review.quarter}-{lang}.docx"
