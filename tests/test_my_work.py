"""My work (`/my-work`, `GET /api/v1/users/me/work`): each kind of SOP work is listed for the people it waits
for and nobody else, and goes away when it is done."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.calendar import today
from app.processes.models import Process
from app.sops import service
from app.sops.schemas import PublishRequest, Section, SopCreate, SubmitRequest, VoteRequest
from app.sops.service import add_months
from app.users.models import Role, User
from tests.factories import Factory
from tests.helpers import assert_401, assert_problem
from tests.initiatives.conftest import _fast_password_hashing  # noqa: F401 - an autouse fixture
from tests.initiatives.factories import InitiativeFactory, Team
from tests.sops.helpers import API, Story, design_story, ok, send

WORK = "/users/me/work"


@pytest.fixture
def team(session: Session, factory: Factory) -> Team:
    return InitiativeFactory(session, factory).team()


def code(session: Session, t: Team) -> str:
    return session.get(Process, t.initiative.process_id).code


def work(client: TestClient, user: User) -> dict[str, list[dict[str, Any]]]:
    """The caller's items, by kind (every kind there is, each with the count the response gives it)."""
    body = ok(send(client, "GET", WORK, user))
    found: dict[str, list[dict[str, Any]]] = {k["code"]: [] for k in body["kinds"]}
    for item in body["items"]:
        found[item["kind"]].append(item)
    assert {k["code"]: k["count"] for k in body["kinds"]} == {code: len(items) for code, items in found.items()}
    return found


def links(client: TestClient, user: User, kind: str) -> list[str]:
    return [item["link"] for item in work(client, user)[kind]]


def nothing(client: TestClient, user: User) -> bool:
    return not any(work(client, user).values())


def submitted(client: TestClient, story: Story) -> int:
    """The leader drafts the SOP; the business member submits it to the operations and the IT reviewer."""
    vid = ok(send(client, "POST", f"/initiatives/{story.team.initiative.id}/sop/draft", story.team.leader), 201)["id"]
    ok(send(client, "POST", f"/sop-versions/{vid}/submit", story.team.member,
            json={"reviewers": [{"user_id": story.ops_reviewer.id}, {"user_id": story.team.it.id}]}))
    return vid


def vote(client: TestClient, vid: int, user: User, choice: str = "approve") -> None:
    ok(send(client, "POST", f"/sop-versions/{vid}/votes", user, json={"vote": choice}))


def comment(client: TestClient, vid: int, user: User, **fields: Any) -> dict[str, Any]:
    return ok(send(client, "POST", f"/sop-versions/{vid}/comments", user,
                   json={"section": "steps", "text": "Name the systems checked", **fields}), 201)


def resolve(client: TestClient, vid: int, c: dict[str, Any], user: User) -> None:
    ok(send(client, "PATCH", f"/sop-versions/{vid}/comments/{c['id']}", user,
            f'"sop-comment-{c["id"]}-v{c["version"]}"', json={"resolved": True}))


def test_a_review_waits_for_each_reviewer_until_they_vote_in_the_current_round(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = submitted(client, story)
    review = f"/sop-versions/{vid}"
    for reviewer in (story.ops_reviewer, team.it):
        items = work(client, reviewer)["sop_review"]
        assert [(i["link"], i["urgency"]) for i in items] == [(review, "normal")]
        assert items[0]["title"].startswith(code(session, team))
    for other in (team.leader, team.member, team.admin, team.outsider, team.other_lead, team.viewer):
        assert links(client, other, "sop_review") == []

    vote(client, vid, story.ops_reviewer)
    assert links(client, story.ops_reviewer, "sop_review") == []
    assert links(client, team.it, "sop_review") == [review]  # a request for changes is a vote too
    vote(client, vid, team.it, "request_changes")
    assert links(client, team.it, "sop_review") == []

    # A change to the content starts a new round: the votes of the last one no longer count.
    etag = send(client, "GET", f"/sop-versions/{vid}", team.member).headers["ETag"]
    ok(send(client, "PATCH", f"/sop-versions/{vid}/sections/forms", team.member, etag,
            json=[{"name": "Activation request form"}]))
    assert links(client, story.ops_reviewer, "sop_review") == [review]
    assert links(client, team.it, "sop_review") == [review]


def test_my_draft_is_listed_with_its_open_threads_until_they_are_resolved(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = submitted(client, story)
    assert links(client, team.leader, "sop_draft_comments") == []
    first = comment(client, vid, story.ops_reviewer)
    comment(client, vid, team.member, parent_id=first["id"], text="Done in the next round")  # same thread
    second = comment(client, vid, team.it, section="forms", text="Which form?")
    items = work(client, team.leader)["sop_draft_comments"]  # the leader drafted it
    assert [(i["link"], i["count"]) for i in items] == [(f"/sop-versions/{vid}#comment-{first['id']}", 2)]
    for other in (team.member, team.it, story.ops_reviewer, team.admin, team.outsider, team.viewer):
        assert links(client, other, "sop_draft_comments") == []

    resolve(client, vid, first, story.ops_reviewer)
    items = work(client, team.leader)["sop_draft_comments"]
    assert [(i["link"], i["count"]) for i in items] == [(f"/sop-versions/{vid}#comment-{second['id']}", 1)]
    resolve(client, vid, second, team.member)
    assert links(client, team.leader, "sop_draft_comments") == []


def test_the_leader_signs_once_every_reviewer_approved_and_no_comment_is_open(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = submitted(client, story)
    vote(client, vid, story.ops_reviewer)
    assert links(client, team.leader, "sop_sign_off") == []  # the IT reviewer has not voted yet
    c = comment(client, vid, team.it)
    vote(client, vid, team.it)
    assert links(client, team.leader, "sop_sign_off") == []  # a comment is open
    resolve(client, vid, c, team.it)
    assert links(client, team.leader, "sop_sign_off") == [f"/sop-versions/{vid}#actions"]
    for other in (team.member, team.it, story.ops_reviewer, team.admin, team.outsider, team.other_lead, team.viewer):
        assert links(client, other, "sop_sign_off") == []

    ok(send(client, "POST", f"/sop-versions/{vid}/sign", team.leader))
    assert nothing(client, team.leader)


def test_a_standalone_revision_waits_for_its_process_owner_and_its_sop_comes_due(client, factory, session):
    owner, reviewer, lead, stranger = (factory.user(Role.member), factory.user(Role.member),
                                       factory.user(Role.lead), factory.user(Role.lead))
    process = factory.process(owner=owner)
    InitiativeFactory(session, factory).initiative(lead, process_id=process.id)  # an initiative of the process, led by `lead`
    v = service.start_standalone(session, process.code, SopCreate(), owner)
    v = service.update_section(session, v.id, Section.steps, [{"name": "Check the request", "minutes": 5}], owner,
                               expected_version=v.version)
    v = service.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), owner,
                       expected_version=v.version)
    service.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    session.flush()
    assert links(client, owner, "sop_sign_off") == [f"/sop-versions/{v.id}#actions"]
    for other in (reviewer, lead, stranger):
        assert links(client, other, "sop_sign_off") == []

    # Published a year ago less ten days: its periodic review is due in ten days.
    effective = add_months(today(), -12) + timedelta(days=10)
    v = service.sign(session, v.id, owner, expected_version=None)
    service.publish(session, v.id, PublishRequest(effective_date=effective), owner, expected_version=None)
    session.flush()
    due = {"kind": "sop_review_due", "title": f"{process.code} {process.name}", "link": f"/sops/{v.sop_id}",
           "due_date": add_months(effective, 12).isoformat(), "urgency": "due_soon", "count": None}
    for person in (owner, lead):
        assert work(client, person)["sop_review_due"] == [due]
    for other in (reviewer, stranger):
        assert nothing(client, other)

    sop = service.get_sop(session, v.sop_id)
    sop.review_interval_months = 11  # due twenty days ago
    session.add(sop)
    session.flush()
    [item] = work(client, owner)["sop_review_due"]
    assert (item["urgency"], item["due_date"]) == ("overdue", add_months(effective, 11).isoformat())
    sop.review_interval_months = 14  # due in two months: not yet listed
    session.add(sop)
    session.flush()
    assert links(client, owner, "sop_review_due") == []


def test_the_api_answers_the_callers_own_work_and_a_token_its_owners(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = ok(send(client, "POST", f"/initiatives/{team.initiative.id}/sop/draft", team.leader), 201)["id"]
    ok(send(client, "POST", f"/sop-versions/{vid}/submit", team.member, json={"reviewers": [
        {"user_id": story.ops_reviewer.id}, {"user_id": team.it.id}, {"user_id": team.admin.id}]}))
    token = factory.service_token(["read"], owner=team.admin)
    r = client.get(f"{API}{WORK}", headers={"Authorization": f"Bearer {token}"})
    assert [i["link"] for i in ok(r)["items"]] == [f"/sop-versions/{vid}"]

    metrics_only = factory.service_token(["metrics:read"], owner=team.admin)
    problem = assert_problem(client.get(f"{API}{WORK}", headers={"Authorization": f"Bearer {metrics_only}"}), 403)
    assert "read" in problem["detail"]
    assert_401(client.get(f"{API}{WORK}"))


def _section(page: str, kind: str) -> str:
    m = re.search(rf'<section class="card related" id="related-{kind}".*?</section>', page, re.S)
    assert m, f"no {kind} section"
    return m.group(0)


def test_the_page_lists_the_work_in_english_and_chinese(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = submitted(client, story)
    comment(client, vid, story.ops_reviewer)
    for language in ("en", "zh-CN"):
        headers = {**Factory.bearer(story.ops_reviewer), "Accept-Language": language}
        r = client.get("/my-work", headers=headers)
        assert r.status_code == 200 and f'<html lang="{language}">' in r.text
        reviews = _section(r.text, "sop_review")
        assert f'href="/sop-versions/{vid}"' in reviews and code(session, team) in reviews
        assert 'class="related-count">1<' in reviews
        assert "related-sop_draft_comments" not in r.text and "related-sop_sign_off" not in r.text
        drafts = _section(client.get("/my-work", headers={**Factory.bearer(team.leader),
                                                          "Accept-Language": language}).text, "sop_draft_comments")
        assert f'href="/sop-versions/{vid}#comment-' in drafts
        assert re.search(r'<span class="badge">[^<0-9]*1[^<0-9]*</span>', drafts)  # one open thread

    empty = client.get("/my-work", headers=Factory.bearer(team.viewer))
    assert empty.status_code == 200 and 'class="empty"' in empty.text and 'class="card related"' not in empty.text


def test_the_navigation_badge_counts_what_waits(client, factory, team, session):
    story = design_story(session, factory, team)
    submitted(client, story)
    badge = client.get("/my-work/count", headers={**Factory.bearer(team.it), "HX-Request": "true"})
    assert badge.status_code == 200 and re.fullmatch(r'<span class="related-count work-count" title="[^"]+">1</span>',
                                                     badge.text.strip())
    assert client.get("/my-work/count", headers=Factory.bearer(team.viewer)).text.strip() == ""


def test_the_page_asks_to_log_in(client):
    r = client.get("/my-work", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/my-work")
