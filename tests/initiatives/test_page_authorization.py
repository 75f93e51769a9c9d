"""Every page form of initiatives, the survey and issues refuses another team's member (403) and asks
people without a session to log in."""

from __future__ import annotations

import pytest

from tests.initiatives.factories import YH_STEPS, add_issue, add_record, add_steps

# (url, form data, leader only)
POSTS: list[tuple[str, dict, bool]] = [
    ("/initiatives/{ini}/edit", {"version": "1", "title": "x", "trigger": "compliance", "status": "active",
                                 "priority_threshold": "3"}, True),
    ("/initiatives/{ini}/team", {"user_id": "{newcomer}", "project_role": "it"}, True),
    ("/initiatives/{ini}/team/{member}/role", {"version": "1", "project_role": "compliance"}, True),
    ("/initiatives/{ini}/team/{member}/remove", {}, True),
    ("/initiatives/{ini}/phases/diagnosis", {"version": "1", "planned_start": "2026-03-01",
                                             "planned_end": "2026-03-20"}, True),
    ("/initiatives/{ini}/advance", {"version": "1", "override_reason": "because we must"}, True),
    ("/initiatives/{ini}/back-to-design", {"version": "1", "reason": "pilot failed"}, True),
    ("/initiatives/{ini}/survey/steps", {"name": "x", "minutes": "1"}, False),
    ("/survey/steps/{step}/edit", {"version": "1", "name": "x", "minutes": "1"}, False),
    ("/survey/steps/{step}/move", {"position": "1"}, False),
    ("/survey/steps/{step}/delete", {}, False),
    ("/initiatives/{ini}/research", {"method": "interview", "conducted_on": "2026-03-02", "participants": "x"},
     False),
    ("/research-records/{record}/delete", {}, False),
    ("/initiatives/{ini}/issues/new", {"title": "x", "category": "risk", "source": "data"}, False),
    ("/issues/{issue}/edit", {"version": "1", "title": "x", "category": "risk", "source": "data"}, False),
    ("/issues/{issue}/delete", {}, False),
    ("/issues/{issue}/causes", {"category": "man", "text": "x"}, False),
    ("/issues/{issue}/causes/{cause}/root", {"version": "1"}, False),
    ("/issues/{issue}/causes/{cause}/delete", {}, False),
    ("/issues/{issue}/whys", {"question": "x", "answer": "y"}, False),
    ("/issues/{issue}/whys/{why}/edit", {"version": "1", "answer": "z"}, False),
    ("/issues/{issue}/whys/{why}/delete", {}, False),
    ("/initiatives/{ini}/matrix/{issue}", {"version": "1", "impact": "3", "urgency": "3"}, False),
]


@pytest.fixture
def ids(team, session, factory):  # noqa: ANN001, ANN201
    from app.initiatives.service import team as team_of
    from app.issues.schemas import CauseCreate, WhyCreate
    from app.issues.service import create_cause, create_why

    steps = add_steps(session, team.initiative, team.leader, YH_STEPS[:2])
    rec = add_record(session, team.initiative, team.leader)
    issue = add_issue(session, team.initiative, team.leader)
    cause = create_cause(session, issue.id, CauseCreate(category="man", text="c"), team.leader)
    why = create_why(session, issue.id, WhyCreate(question="q", answer="a"), team.leader)
    member = next(m for m in team_of(session, team.initiative.id) if m.user.id == team.it.id)
    return {"ini": team.initiative.id, "step": steps[0].id, "record": rec.id, "issue": issue.id, "cause": cause.id,
            "why": why.id, "member": member.id, "newcomer": factory.user().id}


@pytest.mark.parametrize(("url", "data", "leader_only"), POSTS, ids=[p[0] for p in POSTS])
def test_page_forms_refuse_outsiders(client, factory, team, ids, url, data, leader_only):  # noqa: ANN001
    path = url.format(**ids)
    form = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in data.items()}
    refused = [team.outsider, team.other_lead, team.viewer] + ([team.member] if leader_only else [])
    for user in refused:
        r = client.post(path, data=form, headers=factory.bearer(user))
        assert r.status_code == 403, (user.role, r.status_code)
    r = client.post(path, data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("url", ["/initiatives/{ini}", "/initiatives/{ini}/survey", "/initiatives/{ini}/map",
                                 "/initiatives/{ini}/issues", "/issues/{issue}", "/initiatives/{ini}/matrix"])
def test_pages_are_read_by_viewers_and_need_a_session(client, factory, team, ids, url):  # noqa: ANN001
    path = url.format(**ids)
    assert client.get(path, headers=factory.bearer(team.viewer)).status_code == 200
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
