"""Pilot pages: the rounds and the plan form, the pilot's sections changed in place (htmx), the evaluation with its
charts' data, the decision, Table 3; bad input comes back at the fields (422) with nothing written, and the
service's rights hold (403)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlmodel import func, select

from app.core.calendar import today
from app.initiatives.models import Phase
from app.issues.models import Issue
from app.pilots import service
from app.pilots.models import Pilot, PilotAction, PilotAnswer, PilotLogEntry, PilotRetro, PilotUnmet
from app.pilots.schemas import PilotCreate, PilotKpiIn, PilotMemberIn, PilotUpdate
from tests.pilots.factories import observe, pilot_world

HX = {"HX-Request": "true"}
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def world(session, factory):
    return pilot_world(session, factory)


def _count(session, model, **where) -> int:  # noqa: ANN001
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.exec(stmt).one()


def _pilot(session, world, *, started: bool = False, ended: bool = False, **extra) -> Pilot:  # noqa: ANN001
    team = world.team
    data = {"sop_version_id": world.version.id, "scope": "运营A组", "scope_labels": {"team": "A"},
            "planned_start": world.start, "prediction": "30 → 8 min",
            "kpis": [PilotKpiIn(kpi_id=world.time.id, expected=8), PilotKpiIn(kpi_id=world.errors.id)],
            "members": [PilotMemberIn(user_id=team.member.id, briefed_on=world.start),
                        PilotMemberIn(user_id=team.it.id), PilotMemberIn(user_id=team.viewer.id)], **extra}
    pilot = service.create_pilot(session, team.initiative.id, PilotCreate(**data), team.leader)
    if started or ended:
        pilot = service.update_pilot(session, pilot.id, PilotUpdate(
            actual_start=world.start, actual_end=today() if ended else None), team.leader, expected_version=None)
    session.flush()
    return pilot


def _observe(session, world) -> None:  # noqa: ANN001
    """Team A: 30 min before, 8 during (40 and 35 observations); team B 50 throughout; errors 10 % -> 5 %."""
    observe(session, world, world.time, world.start - timedelta(weeks=4), 28, [30.0] * 40)
    observe(session, world, world.time, world.start, 14, [8.0] * 35)
    observe(session, world, world.time, world.start - timedelta(weeks=4), 42, [50.0] * 42, team="B")
    observe(session, world, world.errors, world.start - timedelta(weeks=4), 28, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 4)
    observe(session, world, world.errors, world.start, 14, [1] + [0] * 19)
    session.flush()


def _plan_form(world, **extra) -> dict:  # noqa: ANN001
    member = world.team.member
    return {"sop_version_id": str(world.version.id), "scope": "运营A组", "scope_labels": "team=A\n",
            "planned_start": world.start.isoformat(), "planned_weeks": "2", "baseline_weeks": "4",
            "prediction": "30 → 8 min", "kpi_ids": [str(world.time.id), str(world.errors.id)],
            f"target_{world.time.id}": "9", f"expected_{world.time.id}": "8",
            "member_ids": [str(member.id), str(world.team.it.id)], f"briefed_{member.id}": world.start.isoformat(),
            **extra}


def _errors(html: str) -> dict[str, str]:
    """The form's field messages by field name."""
    return {m.group(1): unescape(m.group(2)) for m in re.finditer(r'<p class="field-error" id="([\w.]+)-error">([^<]*)</p>',
                                                                   html)}


def _charts(html: str) -> list[dict]:
    return [json.loads(unescape(m)) for m in re.findall(r"data-pilot-chart='([^']*)'", html)]


# ---------------------------------------------------------------- the rounds and planning

def test_the_rounds_page_and_planning_a_pilot(client, factory, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/pilots"
    lead = {**factory.bearer(team.leader), **EN}
    r = client.get(url, headers=lead)
    assert r.status_code == 200, r.text
    assert f'href="/initiatives/{team.initiative.id}/pilots" aria-current="page"' in r.text  # the tab
    assert "No pilot yet." in r.text and 'id="new-pilot"' in r.text
    assert f'<option value="{world.version.id}" selected>V1.0 · Effective</option>' in r.text
    assert f'name="kpi_ids" value="{world.time.id}"' in r.text and f'name="briefed_{team.member.id}"' in r.text

    r = client.post(url, data=_plan_form(world), headers=lead, follow_redirects=False)
    assert r.status_code == 303, r.text
    pilot = session.exec(select(Pilot).where(Pilot.initiative_id == team.initiative.id)).one()
    assert r.headers["location"] == f"/pilots/{pilot.id}"
    read = service.to_read(session, pilot)
    assert read.scope == "运营A组" and read.scope_labels == {"team": "A"} and read.planned_weeks == 2
    assert [(k.kpi_id, k.target, k.expected) for k in read.kpis] == [(world.time.id, 9, 8),
                                                                      (world.errors.id, 0.02, None)]
    assert {m.user.id: m.briefed_on for m in read.members} == {team.member.id: world.start, team.it.id: None}

    # The list shows the round; no second form while it is undecided.
    r = client.get(url, headers=lead)
    assert "Round 1" in r.text and "运营A组" in r.text and 'id="new-pilot"' not in r.text
    assert "Round 1 is not decided yet" in r.text
    r = client.post(url, data=_plan_form(world), headers={**lead, **HX})
    assert r.status_code == 422 and "is not decided yet" in r.text
    assert _count(session, Pilot, initiative_id=team.initiative.id) == 1


def test_bad_plans_come_back_at_their_fields_with_nothing_written(client, factory, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/pilots"
    h = {**factory.bearer(team.member), **EN, **HX}
    r = client.post(url, data=_plan_form(world, scope="", scope_labels="team A", planned_start="",
                                          planned_weeks="99", **{f"target_{world.time.id}": "abc"}), headers=h)
    assert r.status_code == 422, r.text
    assert "<html" not in r.text and 'id="new-pilot-h"' in r.text  # the form's section only
    errors = _errors(r.text)
    assert errors == {"scope": "This field is required.",
                      "scope_labels": "Write one label a line, as key=value (team=A), each key once.",
                      "planned_start": "This field is required.", "planned_weeks": "This is too large.",
                      "kpis": "Enter a number, e.g. 30 or 12.5."}
    assert 'value="99"' in r.text and "team A</textarea>" in r.text  # what was typed stays
    r = client.post(url, data=_plan_form(world, kpi_ids=[]), headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"kpis": "Choose at least one KPI."}
    # The service's rule, at its field.
    r = client.post(url, data=_plan_form(world, sop_version_id="999999"), headers=h)
    assert r.status_code == 422
    assert _errors(r.text) == {"sop_version_id": "Choose a version of the SOP of the initiative's process."}
    r = client.post(url, data=_plan_form(world, scope_labels="ts=1"), headers=h)
    assert r.status_code == 422 and _errors(r.text)["scope_labels"].startswith("A scope label is named like")
    assert _count(session, Pilot, initiative_id=team.initiative.id) == 0
    # In Chinese the schema's messages are translated too.
    r = client.post(url, data=_plan_form(world, scope=""), headers={**h, **ZH})
    assert r.status_code == 422 and _errors(r.text)["scope"] != "This field is required."


def test_only_the_team_plans_and_only_in_the_pilot_phase(client, factory, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/pilots"
    for user in (team.outsider, team.viewer, team.other_lead):
        r = client.get(url, headers=factory.bearer(user))
        assert r.status_code == 200 and 'id="new-pilot"' not in r.text
        assert client.post(url, data=_plan_form(world), headers=factory.bearer(user)).status_code == 403
    team.initiative.current_phase = Phase.design
    session.add(team.initiative)
    session.flush()
    r = client.get(url, headers={**factory.bearer(team.leader), **EN})
    assert 'id="new-pilot"' not in r.text and "Pilots are planned in the pilot phase" in r.text
    r = client.post(url, data=_plan_form(world), headers={**factory.bearer(team.leader), **EN, **HX})
    assert r.status_code == 422 and "Pilots are run in the pilot phase." in r.text
    assert _count(session, Pilot, initiative_id=team.initiative.id) == 0


# ---------------------------------------------------------------- the pilot's page

def test_the_pilot_page_renders_in_both_languages(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    _observe(session, world)
    for lang, words in ((EN, ("Daily log", "Weekly retrospectives", "Is it easier to operate?", "Evaluation")),
                        (ZH, ("试点", "之前", "目标值"))):
        r = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(world.team.viewer), **lang})
        assert r.status_code == 200, r.text
        assert all(w in r.text for w in words), lang
        assert ('lang="zh-CN"' if lang is ZH else 'lang="en"') in r.text
        assert "style=" not in r.text and "<script>" not in r.text  # CSP: no inline styles or scripts
        assert '<script src="/static/js/pilots.js" defer></script>' in r.text
        assert '<link rel="stylesheet" href="/static/css/pilots.css">' in r.text
    r = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(world.team.viewer), **EN})
    # A viewer reads; no form is theirs (the viewer is one of the pilot's people: the survey and the log are).
    assert f'action="/pilots/{pilot.id}/plan"' not in r.text and "Edit the plan" not in r.text
    assert f'action="/pilots/{pilot.id}/retrospectives"' not in r.text
    assert f'action="/pilots/{pilot.id}/survey"' in r.text and f'action="/pilots/{pilot.id}/log"' in r.text
    assert "The initiative&#39;s leader decides once the pilot has ended." in r.text
    r = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(world.team.outsider), **EN})
    assert r.status_code == 200 and f'action="/pilots/{pilot.id}/log"' not in r.text
    assert client.get("/pilots/999999", headers=factory.bearer(world.team.viewer)).status_code == 404


def test_the_plan_and_the_dates_change_in_place(client, factory, session, world):
    pilot = _pilot(session, world)
    h = {**factory.bearer(world.team.leader), **EN, **HX}
    r = client.get(f"/pilots/{pilot.id}/plan/edit", headers=h)
    assert r.status_code == 200 and "<html" not in r.text
    assert f'action="/pilots/{pilot.id}/plan"' in r.text and "team=A\n</textarea>" in r.text
    assert 'name="version" value="1"' in r.text
    form = {**_plan_form(world, scope="运营B组", scope_labels="team=B"), "version": "1"}
    r = client.post(f"/pilots/{pilot.id}/plan", data=form, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["HX-Trigger"] == "pilot-plan-changed"  # the evaluation and the decision load again
    assert "运营B组" in r.text and "team=B" in r.text and "<textarea" not in r.text
    session.refresh(pilot)
    assert pilot.scope == "运营B组" and pilot.scope_labels == {"team": "B"} and pilot.version == 2
    # A stale form: the plan as it is now, with the message.
    r = client.post(f"/pilots/{pilot.id}/plan", data={**form, "scope": "Stale"}, headers=h)
    assert r.status_code == 422 and "Someone else changed this pilot meanwhile" in r.text
    assert "Stale" not in r.text and 'name="version" value="2"' in r.text
    # The dates: the service's rules at their fields.
    url = f"/pilots/{pilot.id}/dates"
    future = (today() + timedelta(days=3)).isoformat()
    r = client.post(url, data={"version": "2", "actual_start": future}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"actual_start": "The actual start cannot be in the future."}
    r = client.post(url, data={"version": "2", "actual_start": world.start.isoformat(),
                               "actual_end": (world.start - timedelta(days=1)).isoformat()}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"actual_end": "The pilot ends after it starts."}
    r = client.post(url, data={"version": "2", "actual_start": "2026-02-30"}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"actual_start": "Enter a date."}
    session.refresh(pilot)
    assert pilot.actual_start is None and pilot.version == 2
    r = client.post(url, data={"version": "2", "actual_start": world.start.isoformat()}, headers=h)
    assert r.status_code == 200 and "Running" in r.text and r.headers["HX-Trigger"] == "pilot-plan-changed"
    session.refresh(pilot)
    assert pilot.actual_start == world.start
    # Without htmx: a redirect back to the section.
    r = client.post(url, data={"version": "3", "actual_start": world.start.isoformat()},
                    headers=factory.bearer(world.team.leader), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/pilots/{pilot.id}?saved=overview#overview"
    # The sections that listen load on their own.
    r = client.get(f"/pilots/{pilot.id}/sections/evaluation", headers=h)
    assert r.status_code == 200 and 'id="evaluation-h"' in r.text and "<html" not in r.text
    # Others may not.
    r = client.post(url, data={"version": "4", "actual_end": today().isoformat()}, headers=factory.bearer(
        world.team.outsider))
    assert r.status_code == 403
    r = client.post(f"/pilots/{pilot.id}/plan", data={**form, "version": "4"}, headers=factory.bearer(world.team.viewer))
    assert r.status_code == 403


def test_the_people_section(client, factory, session, world):
    pilot = _pilot(session, world)
    h = {**factory.bearer(world.team.leader), **EN, **HX}
    team = world.team
    r = client.post(f"/pilots/{pilot.id}/people", data={
        "version": "1", "member_ids": [str(team.member.id), str(team.it.id)],
        f"briefed_{team.it.id}": world.start.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["HX-Trigger"] == "pilot-people-changed"  # the survey loads again
    read = service.to_read(session, service.get_pilot(session, pilot.id))
    assert {m.user.id: m.briefed_on for m in read.members} == {team.member.id: None, team.it.id: world.start}
    r = client.post(f"/pilots/{pilot.id}/people", data={"version": "2", "member_ids": [str(team.member.id)],
                                                        f"briefed_{team.member.id}": "not a date"}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"members": "Enter a date."}
    assert len(service.to_read(session, service.get_pilot(session, pilot.id)).members) == 2


def test_the_daily_log_and_promoting_a_problem(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    team = world.team
    url = f"/pilots/{pilot.id}/log"
    member = {**factory.bearer(team.viewer), **EN, **HX}  # one of the pilot's people, not on the team
    r = client.post(url, data={"day": today().isoformat(), "progress": "40 activations",
                               "problems": "新系统不熟悉，暂无提速"}, headers=member)
    assert r.status_code == 200, r.text
    assert "40 activations" in r.text and "新系统不熟悉" in r.text and "Promote to a problem" not in r.text
    r = client.post(url, data={"day": today().isoformat()}, headers=member)
    assert r.status_code == 422 and _errors(r.text) == {"progress": "Write the day's progress or its problems."}
    r = client.post(url, data={"day": (today() + timedelta(days=2)).isoformat(), "progress": "x"}, headers=member)
    assert r.status_code == 422 and _errors(r.text) == {"day": "A log entry is for today or a day before."}
    r = client.post(url, data={"day": "", "progress": "x"}, headers=member)
    assert r.status_code == 422 and _errors(r.text) == {"day": "This field is required."}
    assert _count(session, PilotLogEntry, pilot_id=pilot.id) == 1
    assert client.post(url, data={"day": today().isoformat(), "progress": "x"},
                       headers=factory.bearer(team.outsider)).status_code == 403
    # The team promotes it: the entry links the new problem.
    lead = {**factory.bearer(team.leader), **EN, **HX}
    page = client.get(f"/pilots/{pilot.id}", headers=factory.bearer(team.leader)).text
    entry = session.exec(select(PilotLogEntry).where(PilotLogEntry.pilot_id == pilot.id)).one()
    assert f'hx-post="/pilots/{pilot.id}/log/{entry.id}/promote"' in page
    assert client.post(f"/pilots/{pilot.id}/log/{entry.id}/promote", headers=factory.bearer(team.viewer)
                       ).status_code == 403
    r = client.post(f"/pilots/{pilot.id}/log/{entry.id}/promote", headers=lead)
    assert r.status_code == 200, r.text
    session.refresh(entry)
    issue = session.get(Issue, entry.issue_id)
    assert issue.title == "新系统不熟悉，暂无提速" and issue.initiative_id == team.initiative.id
    assert f'href="/issues/{issue.id}"' in r.text and "Promote to a problem" not in r.text
    r = client.post(f"/pilots/{pilot.id}/log/{entry.id}/promote", headers=lead)
    assert r.status_code == 422 and "is already problem" in r.text


def test_retrospectives_carry_actions_until_closed(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    team = world.team
    h = {**factory.bearer(team.member), **EN, **HX}
    url = f"/pilots/{pilot.id}/retrospectives"
    r = client.post(url, data={"week": "1", "held_on": (world.start + timedelta(days=6)).isoformat(),
                               "went_well": "checklist", "went_badly": "SMS",
                               "action_text": ["Ask the SMS vendor", "", ""],
                               "action_owner": [str(team.it.id), "", ""]}, headers=h)
    assert r.status_code == 200, r.text
    assert "Week 1" in r.text and "Ask the SMS vendor" in r.text and "Open actions" in r.text
    action = session.exec(select(PilotAction).where(PilotAction.pilot_id == pilot.id)).one()
    assert action.owner_id == team.it.id and action.closed_week is None
    # Week 1 again, or an unknown owner: at the fields, nothing written.
    r = client.post(url, data={"week": "1", "held_on": today().isoformat()}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"week": "This week has its retrospective already."}
    r = client.post(url, data={"week": "2", "held_on": today().isoformat(), "action_text": ["x"],
                               "action_owner": ["999999"]}, headers=h)
    assert r.status_code == 422 and _errors(r.text) == {"actions": "The owner must be an active user."}
    r = client.post(url, data={"week": "0", "held_on": ""}, headers=h)
    assert r.status_code == 422 and set(_errors(r.text)) == {"week", "held_on"}
    assert _count(session, PilotRetro, pilot_id=pilot.id) == 1
    # Week 2 closes it: carried, closed this week.
    r = client.post(url, data={"week": "2", "held_on": (world.start + timedelta(days=13)).isoformat(),
                               "close_action_ids": [str(action.id)]}, headers=h)
    assert r.status_code == 200, r.text
    session.refresh(action)
    assert action.closed_week == 2
    assert "Carried from earlier weeks" in r.text and "closed this week" in r.text and "Open actions" not in r.text
    # An action closed with its own button.
    r = client.post(url, data={"week": "3", "held_on": today().isoformat(), "action_text": ["Train team B"]},
                    headers=h)
    assert r.status_code == 200
    other = session.exec(select(PilotAction).where(PilotAction.text == "Train team B")).one()
    r = client.post(f"/pilot-actions/{other.id}/close", data={"version": "1", "closed_week": "2"}, headers=h)
    assert r.status_code == 422 and "An action is closed in its own week or a later one." in r.text
    assert client.post(f"/pilot-actions/{other.id}/close", data={"version": "1", "closed_week": "3"},
                       headers=factory.bearer(team.viewer)).status_code == 403
    r = client.post(f"/pilot-actions/{other.id}/close", data={"version": "1", "closed_week": "3"}, headers=h)
    assert r.status_code == 200 and "closed in week 3" in r.text
    assert client.post(url, data={"week": "4", "held_on": today().isoformat()},
                       headers=factory.bearer(team.outsider)).status_code == 403


def test_the_survey_anonymous_below_three_answers(client, factory, session, world):
    pilot = _pilot(session, world, started=True, anonymous_survey=True)
    team = world.team
    url = f"/pilots/{pilot.id}/survey"
    r = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(team.member), **EN})
    assert "Anonymous: your answer is kept without your account." in r.text
    r = client.post(url, data={"comment": "?"}, headers={**factory.bearer(team.member), **EN, **HX})
    assert r.status_code == 422
    assert _errors(r.text) == {"easier": "This field is required.", "risk_controlled": "This field is required."}
    r = client.post(url, data={"easier": "9", "risk_controlled": "4"}, headers={**factory.bearer(team.member), **EN, **HX})
    assert r.status_code == 422 and _errors(r.text) == {"easier": "This is too large."}
    assert _count(session, PilotAnswer, pilot_id=pilot.id) == 0
    assert client.post(url, data={"easier": "5", "risk_controlled": "5"},
                       headers=factory.bearer(team.outsider)).status_code == 403
    for n, (user, scores) in enumerate(((team.member, (5, 4)), (team.it, (4, 5)), (team.viewer, (5, 4))), 1):
        r = client.post(url, data={"easier": str(scores[0]), "risk_controlled": str(scores[1]), "comment": "好用"},
                        headers={**factory.bearer(user), **EN, **HX})
        assert r.status_code == 200, r.text
        assert r.headers["HX-Trigger"] == "pilot-survey-changed"  # the people's "answered" loads again
        assert f"{n} of 3 people have answered." in r.text and "You have answered this survey." in r.text
        if n < 3:
            assert "its results show from 3 answers on" in r.text and "survey-stats" not in r.text
    assert "4.5" in r.text and "好用" in r.text and "its results show" not in r.text
    r = client.post(url, data={"easier": "1", "risk_controlled": "1"}, headers={**factory.bearer(team.member), **EN, **HX})
    assert r.status_code == 422 and "You answered this survey already." in r.text
    assert _count(session, PilotAnswer, pilot_id=pilot.id) == 3
    assert session.exec(select(PilotAnswer.user_id).where(PilotAnswer.pilot_id == pilot.id)).all() == [None] * 3


def test_unmet_problems_added_and_removed(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    h = {**factory.bearer(world.team.leader), **EN, **HX}
    url = f"/pilots/{pilot.id}/unmet"
    r = client.post(url, data={"problem": "", "cause": "x" * 1001}, headers=h)
    assert r.status_code == 422
    assert _errors(r.text) == {"problem": "This field is required.", "cause": "At most 1,000 characters."}
    r = client.post(url, data={"problem": "部分用户反馈手机号验证码收不到", "cause": "短信通道", "change": "短信通道需优化"},
                    headers=h)
    assert r.status_code == 200 and "部分用户反馈手机号验证码收不到" in r.text and "短信通道需优化" in r.text
    item = session.exec(select(PilotUnmet).where(PilotUnmet.pilot_id == pilot.id)).one()
    assert client.post(f"/pilot-unmet/{item.id}/delete", headers=factory.bearer(world.team.viewer)).status_code == 403
    r = client.post(f"/pilot-unmet/{item.id}/delete", headers=h)
    assert r.status_code == 200 and "No unmet problem recorded." in r.text
    assert _count(session, PilotUnmet, pilot_id=pilot.id) == 0
    assert client.post(f"/pilot-unmet/{item.id}/delete", headers=h).status_code == 404


def test_the_evaluation_table_and_charts(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    _observe(session, world)
    r = client.get(f"/pilots/{pilot.id}/sections/evaluation", headers={**factory.bearer(world.team.viewer), **EN, **HX})
    assert r.status_code == 200, r.text
    text = unescape(r.text)
    assert "-73.3 %" in text and "-50.0 %" in text  # 30 -> 8 min; 10 % -> 5 %
    assert "n = 40" in text and "n = 35" in text and "n = 20" in text
    assert "30 min" in text and "8 min" in text and "10%" in text and "5%" in text
    # 20 error observations during the pilot: flagged, with the threshold and why.
    assert "Too few observations" in text and "fewer than 30 observations" in text
    assert "a sample's mean starts to behave normally" in text
    assert text.count('class="badge badge-ok">met<') == 1 and text.count('class="badge badge-bad">not met<') == 1
    time, errors = _charts(r.text)
    assert time["values"] == [30.0, 8.0, None] and time["counts"] == [40, 35, None]
    assert time["target"] == 10 and time["expected"] == 8 and time["labels"] == ["Before", "Pilot", "After"]
    assert errors["unit"] == "%" and errors["values"] == [10.0, 5.0, None] and errors["too_few"] == [False, True, False]
    assert errors["target"] == 2.0
    zh = client.get(f"/pilots/{pilot.id}/sections/evaluation", headers={**factory.bearer(world.team.viewer), **ZH, **HX})
    assert _charts(zh.text)[0]["locale"] == "ZH" and _charts(zh.text)[0]["labels"][0] == "之前"


def test_deciding_adopt_opens_the_gate(client, factory, session, world):
    team = world.team
    pilot = _pilot(session, world, started=True)
    url = f"/pilots/{pilot.id}/decision"
    lead = {**factory.bearer(team.leader), **EN, **HX}
    page = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(team.leader), **EN}).text
    assert "Record the pilot&#39;s actual end first" in page and f'action="{url}"' not in page
    r = client.post(url, data={"version": "2", "decision": "adopt", "reason": "-73 %"}, headers=lead)
    assert r.status_code == 422 and "End the pilot (its actual end) before deciding." in r.text
    service.update_pilot(session, pilot.id, PilotUpdate(actual_end=today()), team.leader, expected_version=None)
    session.flush()
    page = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(team.leader), **EN}).text
    assert f'action="{url}"' in page and "Adopt" in page and "Abandon" in page
    # A member of the team may not decide; bad input at the fields.
    assert client.post(url, data={"version": "3", "decision": "adopt", "reason": "the reason"},
                       headers=factory.bearer(team.member)).status_code == 403
    r = client.post(url, data={"version": "3", "reason": ""}, headers=lead)
    assert r.status_code == 422 and _errors(r.text) == {"decision": "This field is required.",
                                                        "reason": "This field is required."}
    r = client.post(url, data={"version": "3", "decision": "adapt", "reason": "again", "start_next_version": "1"},
                    headers=lead)
    assert r.status_code == 422
    assert _errors(r.text) == {"start_next_version": "Only an adopted pilot starts the next version."}
    r = client.post(url, data={"version": "3", "decision": "abandon", "reason": "no"}, headers=lead)
    assert r.status_code == 422 and _errors(r.text) == {
        "reason": "At least 5 characters: the initiative goes back to design with this reason."}
    session.refresh(pilot)
    assert pilot.decision is None
    r = client.post(url, data={"version": "3", "decision": "adopt", "reason": "-73 %, satisfaction 4.5",
                               "start_next_version": "1"}, headers=lead)
    assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/pilots/{pilot.id}?saved=decision#decision"
    session.refresh(pilot)
    assert pilot.decision.value == "adopt" and pilot.decided_by_id == team.leader.id and pilot.next_version_id
    page = client.get(f"/pilots/{pilot.id}", headers={**factory.bearer(team.leader), **EN}).text
    assert "badge-decision-adopt" in page and "-73 %, satisfaction 4.5" in page
    assert f'href="/sop-versions/{pilot.next_version_id}"' in page
    assert f'action="/pilots/{pilot.id}/log"' not in page and "Edit the plan" not in page  # decided: no changes
    overview = client.get(f"/initiatives/{team.initiative.id}", headers={**factory.bearer(team.leader), **EN}).text
    assert re.search(r'<li class="gate-met">.*?Decide a pilot of the SOP version &#34;adopt&#34;', overview, re.S) \
        or re.search(r'<li class="gate-met">.*?Decide a pilot of the SOP version &quot;adopt&quot;', overview, re.S)
    # The next round may be planned.
    r = client.get(f"/initiatives/{team.initiative.id}/pilots", headers={**factory.bearer(team.leader), **EN})
    assert 'id="new-pilot"' in r.text and "Adopt" in r.text


def test_table3_page_in_both_languages(client, factory, session, world):
    pilot = _pilot(session, world, started=True)
    _observe(session, world)
    service.add_unmet(session, pilot.id, service.UnmetCreate(problem="部分用户反馈手机号验证码收不到",
                                                             change="短信通道需优化"), world.team.leader)
    session.flush()
    h = factory.bearer(world.team.viewer)
    r = client.get(f"/pilots/{pilot.id}/table3", headers={**h, **ZH})
    assert r.status_code == 200, r.text
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", r.text)
    assert heads == ["试点流程", "试点范围", "关键指标", "优化前数据", "优化后数据", "差异率", "满意度(1-5分)",
                     "未达标问题及原因"]
    assert "试点效果评估表" in r.text and "-73.3 %" in r.text and "30 min" in r.text and "8 min" in r.text
    assert "部分用户反馈手机号验证码收不到 → 短信通道需优化" in unescape(r.text)
    assert f'href="/api/v1/pilots/{pilot.id}/table3/export?format=xlsx&amp;lang=zh_CN"' in r.text
    assert f'href="/api/v1/pilots/{pilot.id}/table3/export?format=csv&amp;lang=en"' in r.text
    r = client.get(f"/pilots/{pilot.id}/table3", headers={**h, **EN})
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", r.text)
    assert heads[:3] == ["Piloted process", "Pilot scope", "Key indicator"] and heads[-1] == "Unmet problems and causes"
    assert "Pilot evaluation (table 3)" in r.text and "10.0 %" in r.text and "5.0 %" in r.text
    assert client.get(f"/api/v1/pilots/{pilot.id}/table3/export?format=csv&lang=en", headers=h).status_code == 200

