"""Quarterly reviews: planned per process and quarter, prepared from the quarter's data (the pack equals what the
data says), held with a meeting record that keeps the pack, plans the next one, and opens a new round whose
problems are the findings; who may do what; bad input refused with nothing written."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from statistics import mean
from zoneinfo import ZoneInfo

from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.core.config import get_settings
from app.initiatives.models import Initiative, Phase
from app.issues.models import Issue
from app.reviews import service
from app.reviews.models import Review, ReviewFinding, ReviewStatus
from app.risks.models import Risk
from tests.factories import Factory
from tests.initiatives.factories import add_issue
from tests.measures.helpers import add_measure
from tests.metrics.helpers import add, make_kpi

API = "/api/v1"


def _quarter() -> tuple[int, int, list[date]]:
    """The current quarter and the first day of its months (up to today)."""
    year, quarter = service.quarter_of(today())
    start = service.quarter_start(year, quarter)
    months = [date(year, start.month + i, 1) for i in range(3)]
    return year, quarter, [m for m in months if m <= today()]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), ZoneInfo(get_settings().business_timezone))


def _plan(client, user, process_id: int, **body) -> dict:  # noqa: ANN001
    year, quarter, _ = _quarter()
    r = client.post(f"{API}/processes/{process_id}/reviews", json={"year": year, "quarter": quarter, **body},
                    headers=Factory.bearer(user))
    assert r.status_code == 201, r.text
    return r.json()


def _etag(client, user, review_id: int) -> str:  # noqa: ANN001
    r = client.get(f"{API}/reviews/{review_id}", headers=Factory.bearer(user))
    assert r.status_code == 200, r.text
    return r.headers["etag"]


def _record(team, **extra) -> dict:  # noqa: ANN001
    return {"held_on": today().isoformat(), "participant_ids": [team.leader.id, team.member.id],
            "findings": [{"text": "审批环节随业务量增长再次成为瓶颈", "category": "efficiency"},
                         {"text": "Reviewers skip the KYC check on weekends", "category": "risk"}],
            "decisions": [{"kind": "new_round", "text": "Second approver above 50,000", "owner_id": team.leader.id,
                           "due_on": (today() + timedelta(days=30)).isoformat()}], **extra}


def test_the_pack_is_the_quarters_data(client, session, team):  # noqa: ANN001
    ini = team.initiative
    year, quarter, months = _quarter()
    kpi = make_kpi(session, team.leader, process_id=ini.process_id, initiative_id=ini.id, target=10.0)
    values = {m: [30.0 - i, 20.0 - i] for i, m in enumerate(months)}
    add(session, team.leader, kpi, [(_at(m, h), v) for m in months for h, v in zip((9, 15), values[m], strict=True)])
    before = service.quarter_start(year, quarter) - timedelta(days=3)
    add(session, team.leader, kpi, [(_at(before), 999.0)])  # the quarter before: not in the pack
    open_issue = add_issue(session, ini, team.leader, title="Manual review takes 30 minutes")
    add_issue(session, ini, team.leader, title="Solved already", status="resolved")
    measure = add_measure(session, ini.id, team.leader, [open_issue.id], goal="Automatic KYC check")
    for category in ("efficiency", "efficiency", "quality"):
        r = client.post(f"{API}/feedback/anonymous", json={"process_id": ini.process_id, "category": category,
                                                           "text": "太慢了"}, headers=Factory.bearer(team.outsider))
        assert r.status_code == 201, r.text
    session.commit()

    r = client.get(f"{API}/processes/{ini.process_id}/reviews/pack", params={"year": year, "quarter": quarter},
                   headers=Factory.bearer(team.member))
    assert r.status_code == 200, r.text
    pack = r.json()
    (k,) = pack["kpis"]
    got = {p["period_start"]: p["value"] for p in k["months"]}
    assert {date.fromisoformat(d): v for d, v in got.items() if v is not None} == {m: mean(v) for m, v in values.items()}
    latest = mean(values[months[-1]])
    assert k["latest"] == latest and k["on_target"] is (latest <= 10.0)
    assert pack["compliance"] == []
    assert pack["feedback"]["received"] == 3 and pack["feedback"]["by_category"] == {"efficiency": 2, "quality": 1}
    assert pack["feedback"]["by_status"] == {"new": 3}
    assert [p["id"] for p in pack["problems"]] == [open_issue.id]
    assert [m["id"] for m in pack["measures"]] == [measure.id]
    assert pack["sop"]["in_force"] is None and pack["training"]["plan_id"] is None
    # The initiative was seeded with the method's five risks this quarter: the register and its changes say so.
    risks = session.exec(select(Risk).where(Risk.process_id == ini.process_id)).all()
    assert len(risks) == 5 and pack["risks"]["summary"]["total"] == 5
    assert sorted(c["risk_id"] for c in pack["risks"]["changes"] if c["action"] == "create") == sorted(r.id for r in risks)
    top = [r["score"] for r in pack["risks"]["top"]]
    assert top == sorted((r.likelihood * r.impact for r in risks), reverse=True)


def test_a_held_review_keeps_its_pack_and_plans_the_next(client, session, team):  # noqa: ANN001
    ini = team.initiative
    lead = Factory.bearer(team.leader)
    review = _plan(client, team.leader, ini.process_id)
    year, quarter, months = _quarter()
    assert review["status"] == "planned" and review["planned_on"] == service.default_planned_on(year, quarter).isoformat()
    kpi = make_kpi(session, team.leader, process_id=ini.process_id, initiative_id=ini.id)
    add(session, team.leader, kpi, [(_at(months[0]), 5.0)])
    session.commit()

    url = f"{API}/reviews/{review['id']}/record"
    assert client.put(url, json=_record(team), headers=lead).status_code == 428
    r = client.put(url, json=_record(team), headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
    assert r.status_code == 200, r.text
    held = r.json()
    assert held["status"] == "held" and held["held_on"] == today().isoformat()
    assert sorted(u["id"] for u in held["participants"]) == sorted([team.leader.id, team.member.id])
    assert [f["text"] for f in held["findings"]][0] == "审批环节随业务量增长再次成为瓶颈"
    nxt_day = service.sops.add_months(today(), 3)
    assert held["next_review_on"] == nxt_day.isoformat()

    # Data that arrives later does not change what the meeting looked at.
    add(session, team.leader, kpi, [(_at(months[0], 11), 50.0)])
    session.commit()
    detail = client.get(f"{API}/reviews/{review['id']}", headers=lead).json()
    assert detail["pack"]["kpis"][0]["months"][0]["value"] == 5.0
    live = client.get(f"{API}/processes/{ini.process_id}/reviews/pack", params={"year": year, "quarter": quarter},
                      headers=lead).json()
    assert live["kpis"][0]["months"][0]["value"] == 27.5

    # The next quarter's review is planned on the next review's day, and listed.
    items = client.get(f"{API}/processes/{ini.process_id}/reviews", headers=lead).json()["items"]
    ny, nq = service.next_quarter(year, quarter)
    assert [(i["year"], i["quarter"], i["status"]) for i in items] == [(ny, nq, "planned"), (year, quarter, "held")]
    assert items[0]["planned_on"] == nxt_day.isoformat()
    actions = {a.action for a in session.exec(select(AuditRecord).where(AuditRecord.entity_type == "review"))}
    assert actions == {"create", "update"}

    # A held review is kept.
    r = client.delete(f"{API}/reviews/{review['id']}", headers={**lead, "If-Match": _etag(client, team.leader,
                                                                                            review["id"])})
    assert r.status_code == 409


def test_a_decision_opens_a_new_round_at_design_with_the_findings_as_problems(client, session, team):  # noqa: ANN001
    ini = team.initiative
    lead = Factory.bearer(team.leader)
    review = _plan(client, team.leader, ini.process_id)
    r = client.put(f"{API}/reviews/{review['id']}/record", json=_record(team),
                   headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
    held = r.json()
    decision = held["decisions"][0]
    url = f"{API}/reviews/{review['id']}/decisions/{decision['id']}/round"
    body = {"title": "Approval bottleneck, second round"}

    # A member of the team holds reviews but does not start initiatives.
    r = client.post(url, json=body, headers={**Factory.bearer(team.member),
                                              "If-Match": _etag(client, team.member, review["id"])})
    assert r.status_code == 403
    r = client.post(url, json=body, headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
    assert r.status_code == 201, r.text
    opened = r.json()
    new = session.get(Initiative, opened["initiative_id"])
    assert new.process_id == ini.process_id and new.current_phase == Phase.design and new.goal == decision["text"]
    issues = session.exec(select(Issue).where(Issue.initiative_id == new.id).order_by(Issue.id)).all()
    assert [(i.title, i.category.value) for i in issues] == [(f["text"], f["category"]) for f in held["findings"]]
    assert [f["issue_id"] for f in opened["review"]["findings"]] == [i.id for i in issues]
    assert opened["review"]["decisions"][0]["initiative_id"] == new.id

    r = client.post(url, json=body, headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
    assert r.status_code == 409
    # What opened the round stays in the record.
    r = client.put(f"{API}/reviews/{review['id']}/record", json=_record(team, findings=[], decisions=[
        {"kind": "no_change", "text": "Keep V1.0"}]), headers={**lead, "If-Match": _etag(client, team.leader,
                                                                                           review["id"])})
    assert r.status_code == 422, r.text
    assert len(session.exec(select(ReviewFinding).where(ReviewFinding.review_id == review["id"])).all()) == 2


def test_bad_input_is_refused_at_its_field_and_nothing_is_written(client, session, team):  # noqa: ANN001
    ini = team.initiative
    lead = Factory.bearer(team.leader)
    review = _plan(client, team.leader, ini.process_id)
    year, quarter, _ = _quarter()
    r = client.post(f"{API}/processes/{ini.process_id}/reviews", json={"year": year, "quarter": quarter}, headers=lead)
    assert r.status_code == 409
    r = client.post(f"{API}/processes/{ini.process_id}/reviews", json={"year": year, "quarter": 5}, headers=lead)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quarter"

    url = f"{API}/reviews/{review['id']}/record"
    cases = [
        (_record(team, held_on=(today() + timedelta(days=1)).isoformat()), "held_on"),
        (_record(team, participant_ids=[]), "participant_ids"),
        (_record(team, participant_ids=[10**9]), "participant_ids.0"),
        (_record(team, decisions=[]), "decisions"),
        (_record(team, next_review_on=today().isoformat()), None),
        (_record(team, findings=[{"text": "x", "category": "luck"}]), "findings.0.category"),
        (_record(team, findings=[{"id": 10**9, "text": "x", "category": "risk"}]), "findings.0.id"),
    ]
    for body, field in cases:
        r = client.put(url, json=body, headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.text
    session.expire_all()
    r = session.get(Review, review["id"])
    assert r.status == ReviewStatus.planned and r.pack is None
    assert session.exec(select(ReviewFinding)).all() == []
    r = client.put(url, json=_record(team), headers={**lead, "If-Match": f'"review-{review["id"]}-v99"'})
    assert r.status_code == 412


def test_only_the_process_owner_and_its_teams_hold_reviews(client, session, team):  # noqa: ANN001
    ini = team.initiative
    review = _plan(client, team.leader, ini.process_id)
    year, quarter, _ = _quarter()
    for user in (team.viewer, team.outsider, team.other_lead):
        h = Factory.bearer(user)
        assert client.get(f"{API}/reviews/{review['id']}", headers=h).status_code == 403
        assert client.get(f"{API}/processes/{ini.process_id}/reviews", headers=h).status_code == 403
        assert client.get(f"{API}/processes/{ini.process_id}/reviews/pack", headers=h,
                          params={"year": year, "quarter": quarter}).status_code == 403
        assert client.get(f"{API}/reviews/{review['id']}/docx", headers=h).status_code == 403
        r = client.put(f"{API}/reviews/{review['id']}/record", json=_record(team),
                       headers={**h, "If-Match": f'"review-{review["id"]}-v1"'})
        assert r.status_code == 403
        r = client.post(f"{API}/processes/{ini.process_id}/reviews", json={"year": year - 1, "quarter": 1}, headers=h)
        assert r.status_code == 403
    for user in (team.member, team.it, team.admin):
        assert client.get(f"{API}/reviews/{review['id']}", headers=Factory.bearer(user)).status_code == 200
    assert session.exec(select(Review)).all()[0].status == ReviewStatus.planned


def test_the_docx_holds_the_record_in_the_chosen_language(client, session, team):  # noqa: ANN001
    from docx import Document  # the test reads the file the way Word does

    ini = team.initiative
    lead = Factory.bearer(team.leader)
    review = _plan(client, team.leader, ini.process_id)
    client.put(f"{API}/reviews/{review['id']}/record", json=_record(team),
               headers={**lead, "If-Match": _etag(client, team.leader, review["id"])})
    for lang, heading in (("zh_CN", "季度复盘会"), ("en", "quarterly review")):
        r = client.get(f"{API}/reviews/{review['id']}/docx", params={"lang": lang}, headers=lead)
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"].endswith(f'-{lang}.docx"')
        doc = Document(io.BytesIO(r.content))
        text = "\n".join(p.text for p in doc.paragraphs)
        cells = "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
        assert heading in text
        assert "审批环节随业务量增长再次成为瓶颈" in cells and "Second approver above 50,000" in cells
        assert team.member.display_name in cells


def test_my_work_lists_the_review_coming_up(client, session, team):  # noqa: ANN001
    ini = team.initiative
    _plan(client, team.leader, ini.process_id, planned_on=(today() + timedelta(days=3)).isoformat())
    items = client.get(f"{API}/users/me/work", headers=Factory.bearer(team.leader)).json()["items"]
    assert [i["kind"] for i in items if i["kind"] == "quarterly_review"] == ["quarterly_review"]
    item = next(i for i in items if i["kind"] == "quarterly_review")
    assert item["due_date"] == (today() + timedelta(days=3)).isoformat() and item["urgency"] == "due_soon"
    for user in (team.member, team.outsider):  # a member is on the team but does not lead it
        items = client.get(f"{API}/users/me/work", headers=Factory.bearer(user)).json()["items"]
        assert "quarterly_review" not in {i["kind"] for i in items}
