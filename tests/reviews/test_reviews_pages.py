"""Quarterly review pages: plan a review, the review page with its pack, the meeting record form (bad input at its
fields with nothing written), opening a new round from a decision, the card on the process page; in both
languages, for the process's people only."""

from __future__ import annotations

from sqlmodel import select

from app.core.calendar import today
from app.initiatives.models import Initiative, Phase
from app.reviews import service
from app.reviews.models import Review, ReviewDecision, ReviewFinding, ReviewStatus
from app.reviews.records import figure
from tests.factories import Factory
from tests.helpers import field_errors

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _h(user, lang=EN) -> dict[str, str]:  # noqa: ANN001
    return {**Factory.bearer(user), **lang}



def _record_form(team, review: Review, **extra) -> dict:  # noqa: ANN001
    return {"version": str(review.version), "held_on": today().isoformat(),
            "participant_ids": [str(team.leader.id), str(team.member.id)],
            "findings-0-id": "", "findings-0-text": "审批环节随业务量增长再次成为瓶颈", "findings-0-category": "efficiency",
            "findings-1-id": "", "findings-1-text": "", "findings-1-category": "efficiency",
            "decisions-0-id": "", "decisions-0-kind": "new_round", "decisions-0-text": "增加第二审批人",
            "decisions-0-owner_id": str(team.leader.id), "decisions-0-due_on": "",
            "decisions-1-id": "", "decisions-1-kind": "no_change", "decisions-1-text": "", "decisions-1-owner_id": "",
            "decisions-1-due_on": "", "next_review_on": "", "notes": "", **extra}


def test_plan_record_and_open_a_round_on_the_pages(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    r = client.get(f"/processes/{pid}/reviews", headers=_h(team.leader))
    assert r.status_code == 200 and "Plan the review" in r.text and "style=" not in r.text
    year, quarter = service.quarter_of(today())
    r = client.post(f"/processes/{pid}/reviews", data={"year": str(year), "quarter": "9", "planned_on": ""},
                    headers=_h(team.leader))
    assert r.status_code == 422 and "quarter" in field_errors(r.text)
    assert session.exec(select(Review)).all() == []
    r = client.post(f"/processes/{pid}/reviews", data={"year": str(year), "quarter": str(quarter), "planned_on": ""},
                    headers=_h(team.leader), follow_redirects=False)
    assert r.status_code == 303, r.text
    review = session.exec(select(Review)).one()
    assert r.headers["location"] == f"/reviews/{review.id}"

    for lang, words in ((EN, ("KPIs per month", "Meeting record")), (ZH, ("会议记录",))):
        r = client.get(f"/reviews/{review.id}", headers=_h(team.leader, lang))
        assert r.status_code == 200 and all(w in r.text for w in words), r.text[:300]
    r = client.get(f"/processes/{pid}", headers=_h(team.leader))
    assert f'href="/reviews/{review.id}"' in r.text

    # Bad input: at its field, nothing written.
    r = client.post(f"/reviews/{review.id}/record", data=_record_form(team, review, participant_ids=""),
                    headers=_h(team.leader))
    assert r.status_code == 422 and "participant_ids" in field_errors(r.text)
    assert "审批环节随业务量增长再次成为瓶颈" in r.text  # what was typed is shown again
    r = client.post(f"/reviews/{review.id}/record", data=_record_form(team, review, held_on="2999-01-01"),
                    headers=_h(team.leader))
    assert r.status_code == 422 and "held_on" in field_errors(r.text)
    session.expire_all()
    assert session.get(Review, review.id).status == ReviewStatus.planned
    assert session.exec(select(ReviewFinding)).all() == []

    r = client.post(f"/reviews/{review.id}/record", data=_record_form(team, review), headers=_h(team.leader),
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    session.expire_all()
    review = session.get(Review, review.id)
    assert review.status == ReviewStatus.held
    (finding,) = session.exec(select(ReviewFinding)).all()
    (decision,) = session.exec(select(ReviewDecision)).all()
    assert finding.text == "审批环节随业务量增长再次成为瓶颈" and decision.owner_id == team.leader.id

    r = client.get(f"/reviews/{review.id}", headers=_h(team.leader))
    assert "Open the new round" in r.text
    r = client.post(f"/reviews/{review.id}/decisions/{decision.id}/round",
                    data={"version": str(review.version), "title": "", "trigger": "inefficiency",
                          "choose_findings": "1", "finding_ids": str(finding.id)}, headers=_h(team.leader))
    assert r.status_code == 422 and "title" in field_errors(r.text)
    r = client.post(f"/reviews/{review.id}/decisions/{decision.id}/round",
                    data={"version": str(review.version), "title": "第二轮：审批瓶颈", "trigger": "inefficiency",
                          "choose_findings": "1", "finding_ids": str(finding.id)}, headers=_h(team.leader),
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    new = session.exec(select(Initiative).where(Initiative.title == "第二轮：审批瓶颈")).one()
    assert r.headers["location"].startswith(f"/initiatives/{new.id}") and new.current_phase == Phase.design
    r = client.get(f"/reviews/{review.id}", headers=_h(team.leader))
    assert f'href="/initiatives/{new.id}"' in r.text


def test_the_pages_refuse_other_teams_and_viewers(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    year, quarter = service.quarter_of(today())
    client.post(f"/processes/{pid}/reviews", data={"year": str(year), "quarter": str(quarter), "planned_on": ""},
                headers=_h(team.leader))
    review = session.exec(select(Review)).one()
    for user in (team.viewer, team.outsider):
        assert client.get(f"/reviews/{review.id}", headers=_h(user)).status_code == 403
        assert client.get(f"/processes/{pid}/reviews", headers=_h(user)).status_code == 403
        r = client.post(f"/reviews/{review.id}/record", data=_record_form(team, review), headers=_h(user))
        assert r.status_code == 403
        r = client.get(f"/processes/{pid}", headers=_h(user))
        assert r.status_code == 200 and f'href="/reviews/{review.id}"' not in r.text
    session.expire_all()
    assert session.get(Review, review.id).status == ReviewStatus.planned


def test_kpi_figures_have_at_most_two_decimals_and_rates_are_percentages() -> None:
    assert [figure(7.7422), figure(30.0), figure(0.009539, rate=True), figure(0.75, rate=True), figure(None)] == \
        ["7.74", "30", "0.95 %", "75 %", ""]
