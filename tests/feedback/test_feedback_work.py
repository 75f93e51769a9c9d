"""My work: feedback not acknowledged yet waits for the people who triage its process (the owner, the team of an
initiative on it, administrators), due by the response target, the overdue first; it goes once acknowledged."""

from __future__ import annotations

import re
from datetime import timedelta

from app.core.calendar import add_working_days, today
from app.feedback.models import Feedback
from app.processes.models import Process
from tests.factories import Factory

API = "/api/v1"


def _post(client, user, process_id: int, text: str, *, anonymous: bool = False) -> int:  # noqa: ANN001
    r = client.post(f"{API}/feedback{'/anonymous' if anonymous else ''}", headers=Factory.bearer(user),
                    json={"process_id": process_id, "category": "efficiency", "text": text})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _work(client, user) -> list[dict]:  # noqa: ANN001
    r = client.get(f"{API}/users/me/work", headers=Factory.bearer(user))
    assert r.status_code == 200, r.text
    kinds = {k["code"]: k["count"] for k in r.json()["kinds"]}
    items = [i for i in r.json()["items"] if i["kind"] == "feedback_new"]
    assert kinds["feedback_new"] == len(items)
    return items


def test_new_feedback_waits_for_the_triagers_the_overdue_first(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    first = _post(client, team.outsider, pid, "审批节点太多，一单要等半天")
    second = _post(client, team.outsider, pid, "大额订单绕过了财务审批" * 20, anonymous=True)
    _post(client, team.member, team.other.process_id, "另一个流程的反馈")  # the other team's process
    due = add_working_days(today(), 2).isoformat()
    code = session.get(Process, pid).code
    for user in (team.leader, team.member, team.it, team.admin):
        mine = [i for i in _work(client, user) if i["link"].startswith(f"/processes/{pid}/")]
        assert [(i["link"], i["due_date"], i["urgency"]) for i in mine] == [
            (f"/processes/{pid}/feedback?status=new#feedback-{first}", due, "normal"),
            (f"/processes/{pid}/feedback?status=new#feedback-{second}", due, "normal")], user.email
        assert mine[0]["title"] == f"{code}: 审批节点太多，一单要等半天"
    for user in (team.outsider, team.viewer, team.other_lead):  # not a triager of the process
        assert all(not i["link"].startswith(f"/processes/{pid}/") for i in _work(client, user)), user.email
    assert [i["link"].split("/")[2] for i in _work(client, team.other_lead)] == [str(team.other.process_id)]
    assert _work(client, team.viewer) == []

    # Came eight days ago: past the response target, listed first.
    fb = session.get(Feedback, second)
    fb.received_on = today() - timedelta(days=8)
    session.add(fb)
    session.flush()
    items = _work(client, team.leader)
    assert [(i["link"].rsplit("-", 1)[1], i["urgency"]) for i in items] == [(str(second), "overdue"),
                                                                            (str(first), "normal")]
    assert items[0]["due_date"] == add_working_days(fb.received_on, 2).isoformat()
    assert len(items[0]["title"]) <= 140

    # Acknowledged (here by a reply, the first one acknowledges): no longer waiting, for anyone.
    r = client.post(f"{API}/feedback/{second}/replies", json={"text": "收到"}, headers=Factory.bearer(team.member))
    assert r.status_code == 201
    for user in (team.leader, team.member, team.admin):
        assert [i["link"].rsplit("-", 1)[1] for i in _work(client, user)
                if i["link"].startswith(f"/processes/{pid}/")] == [str(first)]


def test_the_process_owner_outside_any_team_triages_and_the_page_lists_it(client, session, factory):  # noqa: ANN001
    owner = factory.user()
    process = factory.process(owner=owner)
    sender = factory.user()
    fid = _post(client, sender, process.id, "表单字段重复")
    assert [i["link"] for i in _work(client, owner)] == [f"/processes/{process.id}/feedback?status=new#feedback-{fid}"]
    assert _work(client, sender) == []
    for language in ("en", "zh-CN"):
        r = client.get("/my-work", headers={**Factory.bearer(owner), "Accept-Language": language})
        assert r.status_code == 200
        section = re.search(r'<section class="card related" id="related-feedback_new".*?</section>', r.text, re.S)
        assert section, r.text
        assert f'href="/processes/{process.id}/feedback?status=new#feedback-{fid}"' in section.group(0).replace("&amp;", "&")
        assert f"{process.code}: 表单字段重复" in section.group(0)
    # The link opens the triage page, where the feedback is.
    r = client.get(f"/processes/{process.id}/feedback", params={"status": "new"}, headers=Factory.bearer(owner))
    assert r.status_code == 200 and f'id="feedback-{fid}"' in r.text
