"""Feedback pages: the form in both languages with what anonymity protects, named and anonymous sending (the
receipt code shown once), bad input at its fields with nothing written, the receipt page without login, the
triage page for the triagers only."""

from __future__ import annotations

import re

from sqlmodel import func, select

from app.feedback.models import Feedback, FeedbackReply
from app.issues.models import Issue
from tests.factories import Factory
from tests.helpers import field_errors

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _h(user, lang=EN) -> dict[str, str]:  # noqa: ANN001
    return {**Factory.bearer(user), **lang}


def _count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(func.count()).select_from(model)).one()



def _code(html: str) -> str:
    return re.search(r'<code id="receipt-code">([^<]+)</code>', html).group(1)


def test_send_named_and_anonymous_then_follow_and_triage(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    r = client.get(f"/feedback/new?process={pid}", headers=_h(team.outsider))
    assert r.status_code == 200 and 'formaction="/feedback/anonymous"' in r.text
    assert "Not protected: the text itself" in r.text and "style=" not in r.text
    r = client.get(f"/feedback/new?process={pid}", headers=_h(team.outsider, ZH))
    assert r.status_code == 200 and "匿名" in r.text and 'lang="zh-CN"' in r.text

    for bad in ("abc", "１２", "9" * 30):  # not an id: the form without steps, never a database error
        assert client.get("/feedback/new", params={"process": bad}, headers=_h(team.outsider)).status_code == 200
    r = client.post("/feedback", data={"process_id": "abc", "category": "risk", "text": "x"}, headers=_h(team.outsider))
    assert r.status_code == 422 and "process_id" in field_errors(r.text)

    form = {"process_id": str(pid), "category": "risk", "text": ""}
    r = client.post("/feedback/anonymous", data=form, headers=_h(team.outsider))
    assert r.status_code == 422 and field_errors(r.text) == {"text": "This field is required."}
    r = client.post("/feedback", data={**form, "text": "x", "step_id": "nope"}, headers=_h(team.outsider))
    assert r.status_code == 422 and "step_id" in field_errors(r.text)
    assert _count(session, Feedback) == 0

    r = client.post("/feedback/anonymous", data={**form, "text": "大额订单绕过了财务审批"}, headers=_h(team.outsider))
    assert r.status_code == 200, r.text
    code = _code(r.text)
    assert session.exec(select(Feedback)).one().author_id is None
    r = client.post("/feedback", data={**form, "category": "efficiency", "text": "审批太慢"}, headers=_h(team.outsider))
    assert r.status_code == 200 and _code(r.text) != code

    # The triage page: the team sees both, the anonymous one without a name; outsiders and viewers are refused.
    for user in (team.outsider, team.viewer, team.other_lead):
        assert client.get(f"/processes/{pid}/feedback", headers=_h(user)).status_code == 403
    r = client.get(f"/processes/{pid}/feedback", headers=_h(team.leader))
    assert r.status_code == 200 and "大额订单绕过了财务审批" in r.text and "审批太慢" in r.text
    assert team.outsider.display_name in r.text  # the named one
    anonymous = session.exec(select(Feedback).where(Feedback.anonymous)).one()
    r = client.post(f"/feedback/{anonymous.id}/replies", data={"text": ""}, headers=_h(team.leader))
    assert r.status_code == 422 and field_errors(r.text) == {"text": "This field is required."}
    r = client.post(f"/feedback/{anonymous.id}/replies", data={"text": "已安排财务复核"}, headers=_h(team.leader),
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"#feedback-{anonymous.id}")
    assert client.post(f"/feedback/{anonymous.id}/replies", data={"text": "x"},
                       headers=_h(team.outsider)).status_code == 403
    assert _count(session, FeedbackReply) == 1
    session.refresh(anonymous)
    r = client.post(f"/feedback/{anonymous.id}/promote", data={"initiative_id": str(team.initiative.id),
                                                               "version": str(anonymous.version)},
                    headers=_h(team.leader), follow_redirects=False)
    assert r.status_code == 303, r.text
    session.refresh(anonymous)
    assert session.get(Issue, anonymous.issue_id).initiative_id == team.initiative.id

    # The sender, without logging in, by the code.
    r = client.post("/feedback/receipt", data={"code": "nope"})
    assert r.status_code == 422 and field_errors(r.text) == {"code": "No feedback has this receipt code."}
    r = client.post("/feedback/receipt", data={"code": code}, headers=ZH)
    assert r.status_code == 200 and "已安排财务复核" in r.text and "大额订单绕过了财务审批" in r.text
    assert client.get("/feedback/receipt").status_code == 200
