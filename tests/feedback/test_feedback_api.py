"""Feedback: named and anonymous posts, the receipt code, the triage (acknowledge, reply, close, promote), who may
do what, bad input, and what an anonymous post leaves behind: nothing that names the sender in any table, the
audit trail, the app's logs or the access log."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.calendar import add_working_days, today
from app.core.logs import NoAddressOnAnonymousRoutes
from app.feedback import service
from app.feedback.models import Feedback, FeedbackReply, FeedbackThrottle
from app.issues.models import Issue, IssueSource
from app.sops.schemas import EditSection
from tests.factories import Factory
from tests.sops.factories import publish_now, standalone_draft

API = "/api/v1"


def _rows(session) -> dict[str, set[tuple]]:  # noqa: ANN001
    """Every row of every table, as tuples."""
    conn = session.connection()
    return {t: {tuple(map(str, r)) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"'))}  # noqa: S608
            for t in sa.inspect(conn).get_table_names() if t != "alembic_version"}


def _count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(sa.func.count()).select_from(model)).one()


def _post(client, user, process_id: int, *, anonymous: bool = False, **extra) -> dict:  # noqa: ANN001
    body = {"process_id": process_id, "category": "efficiency", "text": "审批节点太多，一单要等半天", **extra}
    r = client.post(f"{API}/feedback{'/anonymous' if anonymous else ''}", json=body, headers=Factory.bearer(user))
    assert r.status_code == 201, r.text
    return r.json()


def _receipt(client, code: str) -> dict:  # noqa: ANN001
    r = client.post(f"{API}/feedback/receipt", json={"code": code})
    assert r.status_code == 200, r.text
    return r.json()


def _etag(client, user, fid: int) -> str:  # noqa: ANN001
    r = client.get(f"{API}/feedback/{fid}", headers=Factory.bearer(user))
    assert r.status_code == 200, r.text
    return r.headers["etag"]


def test_named_feedback_is_triaged_and_followed_by_its_receipt(client, session, team):  # noqa: ANN001
    process_id = team.initiative.process_id
    posted = _post(client, team.outsider, process_id)
    assert posted["status"] == "new" and posted["received_on"] == today().isoformat()
    assert len(posted["receipt_code"]) >= 22
    fb = session.get(Feedback, posted["id"])
    assert fb.author_id == team.outsider.id and fb.receipt_hash != posted["receipt_code"]

    lead = Factory.bearer(team.leader)
    r = client.get(f"{API}/processes/{process_id}/feedback", headers=lead)
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert item["author"]["id"] == team.outsider.id and item["anonymous"] is False and item["overdue"] is False

    r = client.post(f"{API}/feedback/{fb.id}/replies", json={"text": "收到，已在评估合并审批节点"}, headers=lead)
    assert r.status_code == 201 and r.json()["author"]["id"] == team.leader.id
    seen = _receipt(client, posted["receipt_code"])
    assert seen["status"] == "acknowledged" and [x["text"] for x in seen["replies"]] == ["收到，已在评估合并审批节点"]

    # Close: If-Match, a reason the sender reads; closed stays closed.
    url = f"{API}/feedback/{fb.id}/close"
    assert client.post(url, json={"reason": "x"}, headers=lead).status_code == 428
    r = client.post(url, json={"reason": ""}, headers={**lead, "If-Match": _etag(client, team.leader, fb.id)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = client.post(url, json={"reason": "已在 V1.2 中取消重复审批"},
                    headers={**lead, "If-Match": _etag(client, team.leader, fb.id)})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert _receipt(client, posted["receipt_code"])["close_reason"] == "已在 V1.2 中取消重复审批"
    r = client.post(f"{API}/feedback/{fb.id}/acknowledge", headers={**lead, "If-Match": r.headers["etag"]})
    assert r.status_code == 409
    audits = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "feedback",
                                                    AuditRecord.entity_id == fb.id)).all()
    assert [a.action for a in audits][0] == "create" and audits[0].actor_id == team.outsider.id


def test_an_anonymous_post_leaves_nothing_that_names_its_sender(client, session, team, caplog):  # noqa: ANN001
    sender = team.outsider
    caplog.set_level(logging.DEBUG)
    before = _rows(session)
    posted = _post(client, sender, team.initiative.process_id, anonymous=True, category="risk",
                   text="大额订单绕过了财务审批")
    fb = session.get(Feedback, posted["id"])
    assert fb.anonymous and fb.author_id is None and fb.received_on == today() and fb.updated_at is None
    # What the post wrote: the feedback and the throttle's row, nothing else (no audit record: there is no actor
    # to name; the sender's account row unchanged); none of it holds the sender's id, email or address.
    after = _rows(session)
    written = {t: after[t] - before.get(t, set()) for t in after if after[t] - before.get(t, set())}
    assert set(written) == {"feedback", "feedback_throttle"}, written
    assert all(before.get(t, set()) <= after[t] for t in after)  # nothing changed or deleted
    marks = {sender.email, sender.email_norm, "testclient"}
    for table, rows in written.items():
        for row in rows:
            values = {v for v in row if v != "None"}
            assert not any(m in v for m in marks for v in values), (table, row)
    throttle = session.exec(select(FeedbackThrottle)).one()
    assert len(throttle.key) == 64 and throttle.key not in {hashlib.sha256(str(sender.id).encode()).hexdigest(),
                                                           hashlib.sha256(sender.email.encode()).hexdigest()}
    assert throttle.window_start.minute == 0 and throttle.window_start.second == 0  # the hour, not the moment
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert sender.email not in logged and "testclient" not in logged
    # The team sees it without a name; the sender follows it by the code, without logging in.
    r = client.get(f"{API}/feedback/{fb.id}", headers=Factory.bearer(team.leader))
    assert r.json()["author"] is None and r.json()["anonymous"] is True
    assert _receipt(client, posted["receipt_code"])["text"] == "大额订单绕过了财务审批"
    assert client.post(f"{API}/feedback/receipt", json={"code": "nope"}).status_code == 404


def test_the_access_log_line_of_an_anonymous_post_has_no_address(caplog):  # noqa: ANN001
    """uvicorn's access record: (client address, method, path, HTTP version, status)."""
    access = logging.getLogger("uvicorn.access")
    access.addFilter(f := NoAddressOnAnonymousRoutes())
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:5123", "POST", "/api/v1/feedback/anonymous", "1.1",
                        201)
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:5123", "POST", "/api/v1/feedback", "1.1", 201)
    finally:
        access.removeFilter(f)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ['- - "POST /api/v1/feedback/anonymous HTTP/1.1" 201',
                     '203.0.113.7:5123 - "POST /api/v1/feedback HTTP/1.1" 201']


def test_anonymous_posts_are_limited_per_account_and_hour(client, session, team, monkeypatch):  # noqa: ANN001
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "feedback_anonymous_per_hour", 2)
    for _ in range(2):
        _post(client, team.member, team.initiative.process_id, anonymous=True)
    body = {"process_id": team.initiative.process_id, "category": "quality", "text": "x"}
    r = client.post(f"{API}/feedback/anonymous", json=body, headers=Factory.bearer(team.member))
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 3600
    assert _count(session, Feedback) == 2
    _post(client, team.it, team.initiative.process_id, anonymous=True)  # another account has its own count
    _post(client, team.member, team.initiative.process_id)  # named posts are not limited
    # An ended window's keys go with the next anonymous post.
    for row in session.exec(select(FeedbackThrottle)).all():
        row.window_start -= timedelta(hours=2)
        session.add(row)
    session.flush()
    _post(client, team.member, team.initiative.process_id, anonymous=True)
    assert _count(session, FeedbackThrottle) == 1


def test_bad_posts_are_refused_at_their_fields_with_nothing_written(client, session, team, factory):  # noqa: ANN001
    h = Factory.bearer(team.member)
    for body, field in (({"process_id": team.initiative.process_id, "category": "nonsense", "text": "x"}, "category"),
                        ({"process_id": team.initiative.process_id, "category": "risk", "text": ""}, "text"),
                        ({"process_id": team.initiative.process_id, "category": "risk", "text": "x",
                          "step_id": "no-such-step"}, "step_id"),
                        ({"process_id": team.initiative.process_id, "category": "risk", "text": "x", "author_id": 1},
                         "author_id")):
        for path in ("/feedback", "/feedback/anonymous"):
            r = client.post(f"{API}{path}", json=body, headers=h)
            assert r.status_code == 422, (path, body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    assert client.post(f"{API}/feedback", json={"process_id": 999999, "category": "risk", "text": "x"},
                       headers=h).status_code == 404
    assert client.post(f"{API}/feedback", json={"process_id": team.initiative.process_id, "category": "risk",
                                                "text": "x"}).status_code == 401
    assert _count(session, Feedback) == 0 and _count(session, FeedbackThrottle) == 0


def test_feedback_on_a_step_of_the_sop_in_force(client, session, factory):  # noqa: ANN001
    process, owner, v = standalone_draft(session, factory, {EditSection.steps: [{"name": "Finance check", "minutes": 5}]})
    v = publish_now(session, factory, owner, v)
    step_id = v.content["steps"][0]["id"]
    sender = factory.user()
    posted = _post(client, sender, process.id, step_id=step_id, category="suggestion")
    r = client.get(f"{API}/feedback/{posted['id']}", headers=Factory.bearer(owner))  # the process's owner triages
    assert r.status_code == 200, r.text
    assert (r.json()["sop_version_id"], r.json()["step_name"]) == (v.id, "Finance check")


def test_only_the_process_owner_the_team_and_admins_triage(client, session, team):  # noqa: ANN001
    posted = _post(client, team.member, team.initiative.process_id, anonymous=True)
    fid = posted["id"]
    etag = _etag(client, team.admin, fid)
    for user in (team.outsider, team.viewer, team.other_lead):
        h = Factory.bearer(user)
        assert client.get(f"{API}/processes/{team.initiative.process_id}/feedback", headers=h).status_code == 403
        assert client.get(f"{API}/feedback/{fid}", headers=h).status_code == 403
        assert client.post(f"{API}/feedback/{fid}/replies", json={"text": "x"}, headers=h).status_code == 403
        for action, body in (("acknowledge", None), ("close", {"reason": "x"}),
                             ("promote", {"initiative_id": team.initiative.id})):
            r = client.post(f"{API}/feedback/{fid}/{action}", json=body, headers={**h, "If-Match": etag})
            assert r.status_code == 403, (action, r.text)
    assert _count(session, FeedbackReply) == 0 and session.get(Feedback, fid).status.value == "new"
    for user in (team.admin, team.leader, team.member, team.it):
        assert client.get(f"{API}/feedback/{fid}", headers=Factory.bearer(user)).status_code == 200
    # A read-only service token reads, never triages.
    token = Factory(session).service_token(["read"])
    assert client.get(f"{API}/processes/{team.initiative.process_id}/feedback",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.post(f"{API}/feedback/{fid}/replies", json={"text": "x"},
                       headers={"Authorization": f"Bearer {token}"}).status_code == 403
    # Service tokens do not send feedback (it is a person's).
    assert client.post(f"{API}/feedback", json={"process_id": team.initiative.process_id, "category": "risk",
                                                "text": "x"}, headers={"Authorization": f"Bearer {token}"}
                       ).status_code == 403


def test_promoted_to_a_problem_of_an_initiative_keeping_the_link(client, session, team):  # noqa: ANN001
    posted = _post(client, team.outsider, team.initiative.process_id, anonymous=True, category="suggestion",
                   text="部分用户反馈手机号验证码收不到")
    fid = posted["id"]
    lead = Factory.bearer(team.leader)
    url = f"{API}/feedback/{fid}/promote"
    r = client.post(url, json={"initiative_id": team.other.id}, headers={**lead, "If-Match": _etag(client, team.leader, fid)})
    assert r.status_code in (403, 422), r.text  # another process's initiative (or another team's)
    r = client.post(url, json={"initiative_id": team.initiative.id},
                    headers={**lead, "If-Match": _etag(client, team.leader, fid)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "category"  # a suggestion: say which
    assert _count(session, Issue) == 0
    r = client.post(url, json={"initiative_id": team.initiative.id, "category": "efficiency"},
                    headers={**lead, "If-Match": _etag(client, team.leader, fid)})
    assert r.status_code == 200, r.text
    issue = session.get(Issue, r.json()["issue_id"])
    assert issue.initiative_id == team.initiative.id and issue.source == IssueSource.feedback
    assert issue.title == "部分用户反馈手机号验证码收不到" and issue.category.value == "efficiency"
    seen = _receipt(client, posted["receipt_code"])
    assert seen["promoted"] is True and seen["status"] == "promoted"
    r = client.post(url, json={"initiative_id": team.initiative.id},
                    headers={**lead, "If-Match": _etag(client, team.leader, fid)})
    assert r.status_code == 409


def test_overdue_after_the_working_days_of_the_response_target(session, team):  # noqa: ANN001
    fb = Feedback(process_id=team.initiative.process_id, category="risk", text="x", anonymous=True,
                  received_on=date(2026, 12, 4), receipt_hash="0" * 64)  # a Friday
    assert add_working_days(date(2026, 12, 4), 2) == date(2026, 12, 8)  # Monday, Tuesday
    from datetime import datetime

    assert not service.overdue(fb, datetime(2026, 12, 8, 12))
    assert service.overdue(fb, datetime(2026, 12, 9, 1))
    fb.status = "acknowledged"
    assert not service.overdue(fb, datetime(2026, 12, 9, 1))


def test_the_receipt_look_up_takes_the_code_in_the_body_only(client, team):  # noqa: ANN001
    code = _post(client, team.member, team.initiative.process_id, anonymous=True)["receipt_code"]
    r = client.post(f"{API}/feedback/receipt?code={code}", json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"
    assert client.post(f"{API}/feedback/receipt", json={"code": code}).status_code == 200


def test_the_export_in_both_languages_names_no_anonymous_sender(client, session, team):  # noqa: ANN001
    import csv
    import io

    from openpyxl import load_workbook

    pid = team.initiative.process_id
    _post(client, team.outsider, pid, anonymous=True, category="risk", text="=HYPERLINK(\"x\") 绕过审批")
    _post(client, team.member, pid, category="quality", text="表单字段重复")
    url = f"{API}/processes/{pid}/feedback/export"
    lead = Factory.bearer(team.leader)
    r = client.get(url, params={"format": "csv", "lang": "zh_CN"}, headers=lead)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "提交日期", "类别"] and len(rows) == 3
    by_text = {row[4]: row for row in rows[1:]}
    assert by_text["表单字段重复"][5] == team.member.display_name and by_text["表单字段重复"][2] == "质量"
    anonymous = next(row for row in rows[1:] if row[2] == "风险")
    assert anonymous[5] == "匿名" and anonymous[4].startswith("'=")  # never a formula
    assert team.outsider.display_name not in r.content.decode("utf-8-sig")
    r = client.get(url, params={"format": "xlsx", "lang": "en", "status": "new"}, headers=lead)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws[2]][:3] == ["No.", "Received on", "Category"] and ws.max_row == 4
    assert {ws.cell(row=i, column=6).value for i in (3, 4)} == {"anonymous", team.member.display_name}
    for user in (team.outsider, team.viewer, team.other_lead):
        assert client.get(url, headers=Factory.bearer(user)).status_code == 403
