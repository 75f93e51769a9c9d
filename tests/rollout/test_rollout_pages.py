"""Rollout pages: the initiative's plans and the plan form, the plan's sections changed in place (htmx), a
person's own test and acknowledgement, the question bank, the SOP pages' sections (in force per department, the
help channel); bad input comes back at the fields (422) with nothing written, and the service's rights hold."""

from __future__ import annotations

import re

import pytest
from sqlmodel import func, select

from app.core.calendar import today
from app.rollout import service
from app.rollout.models import (
    Acknowledgement,
    ChecklistItem,
    HelpAnswer,
    HelpQuestion,
    LaunchNotice,
    RolloutPlan,
    RolloutWave,
    TestAttempt,
    TestQuestion,
    TrainingSession,
)
from app.rollout.schemas import PeopleUpdate, SessionCreate, WaveIn
from tests.helpers import field_errors
from tests.initiatives.conftest import _fast_password_hashing  # noqa: F401
from tests.rollout.factories import RolloutWorld, plan_for, rollout_world, ten_questions
from tests.rollout.page_helpers import EN, HX, ZH, answer_form, h


@pytest.fixture
def world(session, factory) -> RolloutWorld:  # noqa: ANN001
    return rollout_world(session, factory)


def _count(session, model, **where) -> int:  # noqa: ANN001
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.exec(stmt).one()


def _no_inline(html: str) -> None:
    assert "style=" not in html and "<script>" not in html and "onclick" not in html


def _attempt_id(r) -> int:  # noqa: ANN001
    assert r.status_code == 303, r.text
    return int(re.search(r"/test-attempts/(\d+)", r.headers["location"]).group(1))


# ---------------------------------------------------------------- the plans and planning

def test_the_plans_page_and_planning_a_rollout(client, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/rollout"
    r = client.get(url, headers=h(team.leader, EN))
    assert r.status_code == 200, r.text
    assert f'href="/initiatives/{team.initiative.id}/rollout" aria-current="page"' in r.text  # the tab
    assert "No rollout plan yet." in r.text and 'id="new-plan"' in r.text
    assert f'<option value="{world.version.id}" selected>V1.0 · Effective</option>' in r.text
    assert 'name="pass_mark" min="1" max="100" value="80"' in r.text
    _no_inline(r.text)
    r = client.get(url, headers=h(team.leader, ZH))
    assert r.status_code == 200 and "推广" in r.text and 'lang="zh-CN"' in r.text

    r = client.post(url, data={"sop_version_id": str(world.version.id), "pass_mark": "80", "max_attempts": "3",
                               "note": "Ops first"}, headers=h(team.leader, EN), follow_redirects=False)
    assert r.status_code == 303, r.text
    plan = session.exec(select(RolloutPlan).where(RolloutPlan.initiative_id == team.initiative.id)).one()
    assert r.headers["location"] == f"/rollout-plans/{plan.id}"
    assert (plan.pass_mark, plan.max_attempts, plan.note) == (80, 3, "Ops first")
    r = client.get(url, headers=h(team.leader, EN))
    assert f'href="/rollout-plans/{plan.id}">V1.0</a>' in r.text
    assert "no approved or published version without a rollout plan" in r.text


def test_bad_plans_come_back_at_their_fields_with_nothing_written(client, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/rollout"
    hx = h(team.member, EN, HX)
    r = client.post(url, data={"sop_version_id": "", "pass_mark": "0", "max_attempts": "11"}, headers=hx)
    assert r.status_code == 422, r.text
    assert "<html" not in r.text and 'id="new-plan-h"' in r.text
    assert field_errors(r.text) == {"sop_version_id": "This field is required.", "pass_mark": "This is too small.",
                                    "max_attempts": "This is too large."}
    assert 'value="11"' in r.text  # what was typed stays
    r = client.post(url, data={"sop_version_id": "999999"}, headers=hx)
    assert r.status_code == 422
    assert field_errors(r.text) == {"sop_version_id": "Choose a version of the SOP of the initiative's process."}
    r = client.post(url, data={"sop_version_id": "", "pass_mark": "abc"}, headers=h(team.member, ZH, HX))
    assert r.status_code == 422 and field_errors(r.text)["pass_mark"] != "Enter a whole number."
    assert _count(session, RolloutPlan, initiative_id=team.initiative.id) == 0


def test_only_the_team_plans(client, session, world):
    team = world.team
    url = f"/initiatives/{team.initiative.id}/rollout"
    for user in (team.outsider, team.viewer, team.other_lead):
        r = client.get(url, headers=h(user))
        assert r.status_code == 200 and 'id="new-plan"' not in r.text
        assert client.post(url, data={"sop_version_id": str(world.version.id)}, headers=h(user)).status_code == 403
    assert _count(session, RolloutPlan, initiative_id=team.initiative.id) == 0


# ---------------------------------------------------------------- the plan's page

def test_the_plan_page_in_both_languages_and_who_sees_what(client, session, world):
    team = world.team
    plan = plan_for(session, world)
    url = f"/rollout-plans/{plan.id}"
    for lang, words in ((EN, ("Waves", "Readiness", "Training sessions", "IT configuration checklist",
                              "Launch notices", "Question bank", "Training record")),
                        (ZH, ("批次", "就绪", "培训", "上线通知", "题库", "培训记录"))):
        r = client.get(url, headers=h(team.leader, lang))
        assert r.status_code == 200, r.text
        assert all(w in r.text for w in words), (lang, [w for w in words if w not in r.text])
        _no_inline(r.text)
        assert '<link rel="stylesheet" href="/static/css/rollout.css">' in r.text
    r = client.get(url, headers=h(team.leader, EN))
    assert 'id="people"' in r.text and world.people[0].display_name in r.text
    assert f"/api/v1/rollout-plans/{plan.id}/training-record?format=csv&amp;lang=en" in r.text
    assert f'href="/sop-versions/{world.version.id}/questions"' in r.text
    # Everyone signed in sees the readiness counts, not the people.
    r = client.get(url, headers=h(team.viewer, EN))
    assert r.status_code == 200 and 'id="readiness"' in r.text and 'id="people"' not in r.text
    assert f'action="/rollout-plans/{plan.id}/waves"' not in r.text
    assert "Record the exception" not in r.text and "training-record" not in r.text
    # A person in scope gets the link to their test.
    r = client.get(url, headers=h(world.people[0], EN))
    assert f'href="/rollout-plans/{plan.id}/test"' in r.text
    assert client.get("/rollout-plans/999999", headers=h(team.viewer)).status_code == 404
    # htmx: a section only.
    r = client.get(f"{url}/sections/readiness", headers=h(team.viewer, EN, HX))
    assert r.status_code == 200 and "<html" not in r.text and 'id="readiness-h"' in r.text


def test_waves_people_sessions_checklist_notices_in_place(client, session, world):
    team = world.team
    plan = plan_for(session, world)
    depts = world.factory.departments()
    hx = h(team.leader, EN, HX)
    url = f"/rollout-plans/{plan.id}"

    # A wave: bad dates and no department at their fields, nothing written; then a good one.
    r = client.post(f"{url}/waves", data={"name": "", "starts_on": "2026-12-14", "ends_on": "2026-12-10"},
                    headers=hx)
    assert r.status_code == 422 and "<html" not in r.text
    errors = field_errors(r.text)
    assert errors["name"] == "This field is required." and errors["department_ids"]
    r = client.post(f"{url}/waves", data={"name": "Week 3", "starts_on": "2026-12-14", "ends_on": "2026-12-10",
                                          "department_ids": [str(depts["legal"].id)]}, headers=hx)
    assert r.status_code == 422 and "A wave ends on or after its start." in r.text
    r = client.post(f"{url}/waves", data={"name": "Week 3", "starts_on": "2026-12-14", "ends_on": "2026-12-18",
                                          "department_ids": [str(depts["technology"].id)]}, headers=hx)
    assert r.status_code == 422 and field_errors(r.text) == {"department_ids": "A department is in one wave of a plan."}
    assert _count(session, RolloutWave, plan_id=plan.id) == 1
    r = client.post(f"{url}/waves", data={"name": "Week 3: legal", "starts_on": "2026-12-14", "ends_on": "2026-12-18",
                                          "delivery": "live_online", "department_ids": [str(depts["legal"].id)]},
                    headers=hx)
    assert r.status_code == 200, r.text
    assert r.headers["HX-Trigger"] == "rollout-changed" and "Week 3: legal" in r.text and "Live online" in r.text

    # People: add one to the scope, take one out.
    outsider = world.factory.user(department="finance")
    r = client.post(f"{url}/people", data={"user_id": "", "sop_role": ""}, headers=hx)
    assert r.status_code == 422 and field_errors(r.text) == {"add": "This field is required."}
    r = client.post(f"{url}/people", data={"user_id": str(outsider.id), "department_id": ""}, headers=hx)
    assert r.status_code == 422 and "A person of the scope is in one of the plan&#39;s departments." in r.text
    r = client.post(f"{url}/people", data={"user_id": str(outsider.id), "department_id": str(depts["legal"].id),
                                           "sop_role": "IT"}, headers=hx)
    assert r.status_code == 200 and f'id="person-{outsider.id}"' in r.text
    r = client.post(f"{url}/people", data={"remove": str(outsider.id)}, headers=hx)
    assert r.status_code == 200 and f'id="person-{outsider.id}"' not in r.text

    # A session with a material; a bad link at its field.
    wave_id = service.waves(session, plan.id)[0].id
    form = {"wave_id": str(wave_id), "title": "V1.0 training", "held_on": today().isoformat(),
            "trainer_id": str(team.it.id), "delivery": "per_department",
            "material_title": ["Slides", ""], "material_url": ["not a url", ""]}
    r = client.post(f"{url}/sessions", data=form, headers=hx)
    assert r.status_code == 422 and "materials" in field_errors(r.text)
    assert _count(session, TrainingSession, plan_id=plan.id) == 0
    r = client.post(f"{url}/sessions", data={**form, "material_url": ["https://intranet.example/slides", ""]},
                    headers=hx)
    assert r.status_code == 200, r.text
    assert 'href="https://intranet.example/slides"' in r.text and "Record the attendance" in r.text
    ts = session.exec(select(TrainingSession).where(TrainingSession.plan_id == plan.id)).one()
    alice, bob = world.people
    r = client.post(f"/training-sessions/{ts.id}/attendance",
                    data={"people": [str(alice.id), str(bob.id)], "attended": [str(alice.id)]}, headers=h(team.it, EN, HX))
    assert r.status_code == 200, r.text
    assert service.session_reads(session, [ts])[0].attended == [alice.id]
    # Someone neither trainer nor on the team may not.
    assert client.post(f"/training-sessions/{ts.id}/attendance", data={"people": [str(alice.id)]},
                       headers=h(bob)).status_code == 403

    # The checklist: an item, done by its owner.
    r = client.post(f"{url}/checklist", data={"kind": "permissions", "text": ""}, headers=hx)
    assert r.status_code == 422 and field_errors(r.text) == {"text": "This field is required."}
    r = client.post(f"{url}/checklist", data={"kind": "permissions", "text": "Approval rights", "owner_id": str(team.it.id)},
                    headers=hx)
    assert r.status_code == 200 and "Approval rights" in r.text
    item = session.exec(select(ChecklistItem).where(ChecklistItem.plan_id == plan.id)).one()
    assert client.post(f"/checklist-items/{item.id}/done", data={"done": "true", "version": str(item.version)},
                       headers=h(bob)).status_code == 403
    r = client.post(f"/checklist-items/{item.id}/done", data={"done": "true", "version": str(item.version)},
                    headers=h(team.it, EN, HX))
    assert r.status_code == 200 and "Not done after all" in r.text
    session.refresh(item)
    assert item.done and item.done_by_id == team.it.id

    # A launch notice: a bad time at its field, then one per wave.
    r = client.post(f"{url}/notices", data={"wave_id": str(wave_id), "effective_at": "soon", "text": ""}, headers=hx)
    assert r.status_code == 422
    assert field_errors(r.text) == {"effective_at": "Enter a date and a time.", "text": "This field is required."}
    r = client.post(f"{url}/notices", data={"wave_id": str(wave_id), "effective_at": "2026-12-14T09:00",
                                            "text": "V1.0 goes live"}, headers=hx)
    assert r.status_code == 200 and "V1.0 goes live" in r.text and "2026-12-14 09:00" in r.text
    assert _count(session, LaunchNotice, plan_id=plan.id) == 1

    # The team's forms are the team's.
    for user in (team.viewer, team.outsider):
        assert client.post(f"{url}/waves", data={"name": "x", "starts_on": "2026-12-14", "ends_on": "2026-12-18",
                                                 "department_ids": [str(depts["finance"].id)]},
                           headers=h(user)).status_code == 403
        assert client.post(f"{url}/people", data={"remove": str(alice.id)}, headers=h(user)).status_code == 403
        assert client.post(f"{url}/checklist", data={"text": "x"}, headers=h(user)).status_code == 403
    assert _count(session, RolloutWave, plan_id=plan.id) == 2


def test_the_plan_its_waves_sessions_and_checklist_items_are_changed_and_deleted_in_place(client, session, world):
    team = world.team
    plan = plan_for(session, world)
    alice, bob = world.people
    hx = h(team.leader, EN, HX)
    url = f"/rollout-plans/{plan.id}"
    r = client.get(url, headers=h(team.leader, ZH))
    assert "修改推广计划" in r.text and "修改或删除" in r.text
    r = client.get(url, headers=h(team.viewer, EN))
    assert "Change the rollout plan" not in r.text and "/rollout-waves/" not in r.text

    # The plan: the pass mark at its field when out of range or emptied; then saved, with the note.
    r = client.post(f"{url}/edit", data={"pass_mark": "101", "max_attempts": "", "note": "x",
                                         "version": str(plan.version)}, headers=hx)
    assert r.status_code == 422 and "<html" not in r.text and 'id="overview-h"' in r.text
    assert field_errors(r.text) == {"pass_mark": "This is too large.", "max_attempts": "This field is required."}
    assert 'value="101"' in r.text  # what was typed stays
    r = client.post(f"{url}/edit", data={"pass_mark": "90", "max_attempts": "2", "note": "Ops first",
                                         "version": str(plan.version)}, headers=hx)
    assert r.status_code == 200, r.text
    assert "<dd>90</dd>" in r.text and "Ops first" in r.text
    session.refresh(plan)
    assert (plan.pass_mark, plan.max_attempts, plan.note) == (90, 2, "Ops first")
    r = client.post(f"{url}/edit", data={"pass_mark": "80", "max_attempts": "2", "note": "", "version": "1"},
                    headers=hx)
    assert r.status_code == 422 and "Someone else changed this meanwhile" in r.text
    session.refresh(plan)
    assert plan.pass_mark == 90

    # A wave: its dates at their fields, nothing written; then renamed.
    wave = service.waves(session, plan.id)[0]
    depts = world.factory.departments()
    tech, fin = str(depts["technology"].id), str(depts["finance"].id)
    form = {"name": "Week 2: tech", "starts_on": "2026-12-11", "ends_on": "2026-12-07", "delivery": "recording",
            "department_ids": [tech], "version": str(wave.version)}
    r = client.post(f"/rollout-waves/{wave.id}/edit", data=form, headers=hx)
    assert r.status_code == 422, r.text
    assert "A wave ends on or after its start." in r.text and 'value="Week 2: tech"' in r.text
    r = client.post(f"/rollout-waves/{wave.id}/edit", data={**form, "name": ""}, headers=hx)
    assert r.status_code == 422 and field_errors(r.text)["name"] == "This field is required."
    session.refresh(wave)
    assert wave.name == "Week 2: technology"
    r = client.post(f"/rollout-waves/{wave.id}/edit", data={**form, "ends_on": "2026-12-18"}, headers=hx)
    assert r.status_code == 200, r.text
    assert "Week 2: tech" in r.text and "Recording" in r.text
    session.refresh(wave)
    assert (wave.name, wave.ends_on.isoformat(), wave.delivery.value) == ("Week 2: tech", "2026-12-18", "recording")
    assert "HX-Trigger" not in r.headers  # the departments stayed: the scope did not move
    # Its departments: none is refused at the field; finance added comes into the scope (and the counts reload).
    form = {**form, "ends_on": "2026-12-18", "version": str(wave.version)}
    r = client.post(f"/rollout-waves/{wave.id}/edit", data={**form, "department_ids": []}, headers=hx)
    assert r.status_code == 422 and field_errors(r.text)["department_ids"] == "Choose at least one."
    world.factory.user(department="finance")
    r = client.post(f"/rollout-waves/{wave.id}/edit", data={**form, "department_ids": [tech, fin]}, headers=hx)
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "rollout-changed", r.text
    assert {d.department_id for d in service.departments_of(session, plan.id)} == {int(tech), int(fin)}
    session.refresh(wave)

    # A session: changed (the trainer taken off, a material added), refused at a bad link, deleted.
    ts = service.create_session(session, plan.id, SessionCreate(
        wave_id=wave.id, title="V1.0 training", held_on=today(), trainer_id=team.it.id), team.leader)
    session.flush()
    sform = {"title": "V1.0 training (2)", "held_on": today().isoformat(), "trainer_id": "",
             "delivery": "live_online", "material_title": ["Slides"], "material_url": ["no url"],
             "version": str(ts.version)}
    r = client.post(f"/training-sessions/{ts.id}/edit", data=sform, headers=hx)
    assert r.status_code == 422 and "materials" in field_errors(r.text)
    session.refresh(ts)
    assert ts.title == "V1.0 training" and ts.trainer_id == team.it.id
    r = client.post(f"/training-sessions/{ts.id}/edit",
                    data={**sform, "material_url": ["https://intranet.example/v1"]}, headers=hx)
    assert r.status_code == 200, r.text
    session.refresh(ts)
    assert (ts.title, ts.trainer_id, ts.delivery.value) == ("V1.0 training (2)", None, "live_online")
    assert ts.materials == [{"title": "Slides", "url": "https://intranet.example/v1"}]
    assert f'action="/training-sessions/{ts.id}/delete"' in r.text
    # A wave with a session stays, said at the wave.
    r = client.post(f"/rollout-waves/{wave.id}/delete", data={"version": str(wave.version)}, headers=hx)
    assert r.status_code == 422 and "The wave has training sessions: delete them first." in r.text
    assert _count(session, RolloutWave, plan_id=plan.id) == 1
    r = client.post(f"/training-sessions/{ts.id}/delete", data={"version": str(ts.version - 1)}, headers=hx)
    assert r.status_code == 422 and "Someone else changed this meanwhile" in r.text
    r = client.post(f"/training-sessions/{ts.id}/delete", data={"version": str(ts.version)}, headers=hx)
    assert r.status_code == 200 and "V1.0 training (2)" not in r.text
    assert _count(session, TrainingSession, plan_id=plan.id) == 0

    # A checklist item: the team changes and deletes it; its owner only marks it done.
    r = client.post(f"{url}/checklist", data={"kind": "tool", "text": "Deploy the tool", "owner_id": str(alice.id)},
                    headers=hx)
    item = session.exec(select(ChecklistItem).where(ChecklistItem.plan_id == plan.id)).one()
    iform = {"kind": "permissions", "text": "", "owner_id": str(bob.id), "version": str(item.version)}
    r = client.post(f"/checklist-items/{item.id}/edit", data=iform, headers=hx)
    assert r.status_code == 422 and field_errors(r.text) == {"text": "This field is required."}
    for path, data in ((f"/checklist-items/{item.id}/edit", {**iform, "text": "x"}),
                       (f"/checklist-items/{item.id}/delete", {"version": str(item.version)})):
        assert client.post(path, data=data, headers=h(alice)).status_code == 403  # the owner is not the team
    r = client.post(f"/checklist-items/{item.id}/edit", data={**iform, "text": "Approval rights"}, headers=hx)
    assert r.status_code == 200 and "Approval rights" in r.text
    session.refresh(item)
    assert (item.kind.value, item.text, item.owner_id) == ("permissions", "Approval rights", bob.id)
    for user in (team.viewer, team.outsider):
        for path, data in ((f"{url}/edit", {"pass_mark": "70", "max_attempts": "3"}),
                           (f"/rollout-waves/{wave.id}/edit", form), (f"/rollout-waves/{wave.id}/delete", {}),
                           (f"/checklist-items/{item.id}/edit", {**iform, "text": "x"}),
                           (f"/checklist-items/{item.id}/delete", {})):
            assert client.post(path, data={**data, "version": "99"}, headers=h(user)).status_code == 403, path
    r = client.post(f"/checklist-items/{item.id}/delete", data={"version": str(item.version)}, headers=hx)
    assert r.status_code == 200 and "Approval rights" not in r.text
    assert _count(session, ChecklistItem, plan_id=plan.id) == 0

    # The wave goes, with its people; without htmx the answer is a redirect to the section.
    session.refresh(wave)
    r = client.post(f"/rollout-waves/{wave.id}/delete", data={"version": str(wave.version)},
                    headers=h(team.leader, EN), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=waves#waves"
    assert _count(session, RolloutWave, plan_id=plan.id) == 0
    assert service.person_statuses(session, plan) == []


def test_the_pass_mark_stays_once_someone_took_the_test(client, session, world):
    team = world.team
    ten_questions(session, world)
    plan = plan_for(session, world)
    alice = world.people[0]
    r = client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice, EN), follow_redirects=False)
    attempt_id = _attempt_id(r)
    r = client.post(f"/test-attempts/{attempt_id}/submit", data=answer_form(session, attempt_id, world.version.id, 7),
                    headers=h(alice, EN), follow_redirects=False)
    assert r.status_code == 303, r.text
    session.refresh(plan)
    r = client.post(f"/rollout-plans/{plan.id}/edit", data={"pass_mark": "70", "max_attempts": "3", "note": "",
                                                           "version": str(plan.version)}, headers=h(team.leader, EN, HX))
    assert r.status_code == 422
    assert field_errors(r.text) == {"pass_mark": "People took the test: its pass mark and attempts no longer change."}
    # The note still changes (the pass mark and attempts sent as they are).
    r = client.post(f"/rollout-plans/{plan.id}/edit", data={"pass_mark": "80", "max_attempts": "3",
                                                           "note": "Retrain the ones below 80",
                                                           "version": str(plan.version)}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200, r.text
    session.refresh(plan)
    assert (plan.pass_mark, plan.note) == (80, "Retrain the ones below 80")


def test_the_leader_records_an_exception(client, session, world):
    team = world.team
    plan = plan_for(session, world)
    tech = world.factory.departments()["technology"]
    url = f"/rollout-plans/{plan.id}/departments/{tech.id}/exception"
    r = client.get(f"/rollout-plans/{plan.id}", headers=h(team.leader, EN))
    assert f'action="{url}"' in r.text
    r = client.get(f"/rollout-plans/{plan.id}", headers=h(team.member, EN))
    assert f'action="{url}"' not in r.text
    r = client.post(url, data={"reason": ""}, headers=h(team.leader, EN, HX))
    assert r.status_code == 422 and field_errors(r.text) == {"reason": "This field is required."}
    assert client.post(url, data={"reason": "Urgent"}, headers=h(team.member)).status_code == 403
    r = client.post(url, data={"reason": "Two are on leave"}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200 and "Two are on leave" in r.text and "ready" in r.text
    assert service.readiness(session, plan).ready


# ---------------------------------------------------------------- the test

def test_fail_retrain_pass_and_acknowledge_through_the_pages(client, session, world):
    team = world.team
    ten_questions(session, world)
    plan = plan_for(session, world)
    alice, bob = world.people
    wave_id = service.waves(session, plan.id)[0].id
    url = f"/rollout-plans/{plan.id}/test"

    for lang, words in ((EN, ("My test and acknowledgement", "Start the test", "I have read it")),
                        (ZH, ("测试", "阅读确认"))):
        r = client.get(url, headers=h(alice, lang))
        assert r.status_code == 200, r.text
        assert all(w in r.text for w in words), (lang, [w for w in words if w not in r.text])
        _no_inline(r.text)
    r = client.get(url, headers=h(alice, EN))
    assert f'href="/sop-versions/{world.version.id}"' in r.text
    # Not in scope: a clear message, no forms.
    r = client.get(url, headers=h(team.viewer, EN))
    assert r.status_code == 200 and "You are not in this rollout" in r.text and "Start the test" not in r.text
    assert client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(team.viewer, EN)).status_code == 403

    attempt_id = _attempt_id(client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice, EN),
                                         follow_redirects=False))
    assert _attempt_id(client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice, EN),
                                   follow_redirects=False)) == attempt_id  # the open one, continued
    r = client.get(f"/test-attempts/{attempt_id}", headers=h(alice, EN))
    assert r.status_code == 200 and r.text.count('type="radio"') == 40 and "Hand in the answers" in r.text
    _no_inline(r.text)
    # Nobody else sees it.
    assert client.get(f"/test-attempts/{attempt_id}", headers=h(bob)).status_code == 404
    assert client.get(f"/test-attempts/{attempt_id}", headers=h(team.leader)).status_code == 404
    assert client.post(f"/test-attempts/{attempt_id}/submit", data={}, headers=h(bob)).status_code == 404

    # A bad answer (a place not on the paper) comes back, nothing written.
    first_q = session.get(TestAttempt, attempt_id).paper[0]["question_id"]
    r = client.post(f"/test-attempts/{attempt_id}/submit", data={f"q-{first_q}": "9"}, headers=h(alice, EN))
    assert r.status_code == 422 and "Choose options of the question, each once." in r.text
    assert session.get(TestAttempt, attempt_id).submitted_at is None

    # 70: failed, retraining needed; the answers are marked right or wrong, the right ones not shown.
    r = client.post(f"/test-attempts/{attempt_id}/submit", data=answer_form(session, attempt_id, world.version.id, 7),
                    headers=h(alice, EN), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/test-attempts/{attempt_id}")
    r = client.get(f"/test-attempts/{attempt_id}", headers=h(alice, EN))
    assert "Score: 70" in r.text and "not passed" in r.text and "Retraining needed" in r.text
    assert r.text.count('class="badge ro-ok">right<') == 7 and r.text.count('class="badge ro-bad">wrong<') == 3
    assert "Hand in the answers" not in r.text
    r = client.get(url, headers=h(alice, EN))
    assert "retraining needed" in r.text and "Start the test" not in r.text and "Retake" not in r.text
    r = client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice, EN))
    assert r.status_code == 409 and "Retraining first" in r.text
    r = client.get(f"/rollout-plans/{plan.id}", headers=h(team.leader, EN))
    assert re.search(rf'id="person-{alice.id}".*?retraining needed', r.text, re.S)

    # Retrained today (attendance on the page), she passes at 90.
    ts = service.create_session(session, plan.id, SessionCreate(wave_id=wave_id, title="Retraining",
                                                                held_on=today()), team.leader)
    session.flush()
    r = client.post(f"/training-sessions/{ts.id}/attendance", data={"people": [str(alice.id)], "attended": [str(alice.id)]},
                    headers=h(team.leader, EN, HX))
    assert r.status_code == 200, r.text
    r = client.get(url, headers=h(alice, EN))
    assert "Retake the test" in r.text
    second = _attempt_id(client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice), follow_redirects=False))
    client.post(f"/test-attempts/{second}/submit", data=answer_form(session, second, world.version.id, 9),
                headers=h(alice))
    r = client.get(f"/test-attempts/{second}", headers=h(alice, ZH))
    assert "90" in r.text and "通过" in r.text

    # Acknowledge: a stale hash is refused; the right one recorded once.
    r = client.post(f"/rollout-plans/{plan.id}/acknowledgement", data={"content_hash": "0" * 64}, headers=h(alice, EN))
    assert r.status_code == 422 and "The version changed since you read it" in r.text
    assert _count(session, Acknowledgement, plan_id=plan.id) == 0
    mine = service.my_test(session, plan.id, alice)
    r = client.post(f"/rollout-plans/{plan.id}/acknowledgement", data={"content_hash": mine.content_hash},
                    headers=h(alice, EN), follow_redirects=False)
    assert r.status_code == 303
    r = client.get(url, headers=h(alice, EN))
    assert "You passed the test." in r.text and "You confirmed you read it." in r.text


def test_true_false_options_are_translated(client, session, world):
    team = world.team
    step = world.steps()[0]
    client.post(f"/sop-versions/{world.version.id}/questions",
                data={"kind": "true_false", "text": "The user fills in first", "tf": "0", "link": f"step:{step['id']}"},
                headers=h(team.leader, EN))
    plan = plan_for(session, world)
    alice = world.people[0]
    attempt_id = _attempt_id(client.post(f"/rollout-plans/{plan.id}/attempts", headers=h(alice),
                                         follow_redirects=False))
    r = client.get(f"/test-attempts/{attempt_id}", headers=h(alice, EN))
    assert "> True</label>" in r.text and "> False</label>" in r.text and "> true</label>" not in r.text
    r = client.get(f"/test-attempts/{attempt_id}", headers=h(alice, ZH))
    assert "> 对</label>" in r.text and "> 错</label>" in r.text


# ---------------------------------------------------------------- the question bank

def test_the_question_bank(client, session, world):
    team = world.team
    v = world.version
    url = f"/sop-versions/{v.id}/questions"
    for user in (team.viewer, team.outsider, world.people[0]):
        assert client.get(url, headers=h(user)).status_code == 403
        assert client.post(url, data={"kind": "single"}, headers=h(user)).status_code == 403
    for lang, words in ((EN, ("Question bank", "Draft questions from the control points and steps")),
                        (ZH, ("题库",))):
        r = client.get(url, headers=h(team.leader, lang))
        assert r.status_code == 200 and all(w in r.text for w in words), lang
        _no_inline(r.text)

    # Drafted in the reader's language, waiting for a review.
    r = client.post(f"{url}/draft", headers=h(team.leader, EN, HX))
    assert r.status_code == 200 and "<html" not in r.text and "draft — needs review" in r.text
    drafted = session.exec(select(TestQuestion).where(TestQuestion.sop_version_id == v.id)).all()
    assert drafted and all(q.reviewed_at is None for q in drafted)
    q = drafted[0]
    r = client.post(f"/test-questions/{q.id}/review", data={"version": str(q.version)}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200
    session.refresh(q)
    assert q.reviewed_by_id == team.leader.id

    # Added: bad input at its fields, nothing written.
    n = _count(session, TestQuestion, sop_version_id=v.id)
    r = client.post(url, data={"kind": "single", "text": "", "option": ["A", "", ""], "link": ""},
                    headers=h(team.leader, EN, HX))
    assert r.status_code == 422
    assert field_errors(r.text) == {"text": "This field is required.", "correct": "Mark the right options.",
                                    "link": "Choose the step or the control point it tests."}
    step = world.steps()[1]
    r = client.post(url, data={"kind": "single", "text": "Who reviews?", "option": ["A", "A"], "right": ["0"],
                               "link": f"step:{step['id']}"}, headers=h(team.leader, EN, HX))
    assert r.status_code == 422 and "Write each option once." in r.text
    assert _count(session, TestQuestion, sop_version_id=v.id) == n
    r = client.post(url, data={"kind": "multiple", "text": "Which are steps?", "option": ["Fill in", "", "Review", "Cook"],
                               "right": ["0", "2"], "link": f"step:{step['id']}"}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200, r.text
    new = session.exec(select(TestQuestion).where(TestQuestion.text == "Which are steps?")).one()
    assert (new.options, new.correct, new.step_id) == (["Fill in", "Review", "Cook"], [0, 1], step["id"])

    # Edited (the editor reviewed it), then deleted; a stale version is refused.
    r = client.post(f"/test-questions/{new.id}", data={"version": str(new.version), "kind": "single",
                                                       "text": "Which comes first?", "option": ["Fill in", "Review"],
                                                       "right": ["0"], "link": f"step:{step['id']}"},
                    headers=h(team.leader, EN, HX))
    assert r.status_code == 200 and "Which comes first?" in r.text
    r = client.post(f"/test-questions/{new.id}/delete", data={"version": "1"}, headers=h(team.leader, EN, HX))
    assert r.status_code == 422 and "Someone else changed this" in r.text
    session.refresh(new)
    r = client.post(f"/test-questions/{new.id}/delete", data={"version": str(new.version)}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200 and "Which comes first?" not in r.text


# ---------------------------------------------------------------- the SOP pages

def test_the_sop_pages_show_where_it_is_in_force_and_the_help_channel(client, session, world):
    team = world.team
    plan = plan_for(session, world)
    tech = world.factory.departments()["technology"]
    service.record_exception(session, plan.id, tech.id, service.ExceptionRequest(reason="e2e"), team.leader)
    session.flush()
    sop_id = world.version.sop_id
    for lang, words in ((EN, ("In force per department", "Help channel")), (ZH, ("各部门生效", "答疑"))):
        r = client.get(f"/sop-versions/{world.version.id}", headers=h(team.viewer, lang))
        assert r.status_code == 200 and all(w in r.text for w in words), lang
        _no_inline(r.text)
    r = client.get(f"/sops/{sop_id}", headers=h(team.viewer, EN))
    assert f'id="in-force-{tech.id}"' in r.text and "Help channel" in r.text

    # Everyone signed in asks; a blank question at its field; the team answers.
    r = client.post(f"/sops/{sop_id}/help", data={"text": ""}, headers=h(team.viewer, EN, HX))
    assert r.status_code == 422 and field_errors(r.text) == {"ask-text": "This field is required."}
    assert _count(session, HelpQuestion, sop_id=sop_id) == 0
    r = client.post(f"/sops/{sop_id}/help", data={"text": "Who activates?"}, headers=h(team.viewer, EN),
                    follow_redirects=False)
    assert r.status_code == 303
    q = session.exec(select(HelpQuestion).where(HelpQuestion.sop_id == sop_id)).one()
    assert r.headers["location"] == f"/sops/{sop_id}?saved=help#help-{q.id}"
    r = client.get(f"/sops/{sop_id}", headers=h(team.viewer, EN))
    assert f'id="help-{q.id}"' in r.text and f'action="/help-questions/{q.id}/answers"' not in r.text
    assert client.post(f"/help-questions/{q.id}/answers", data={"text": "IT"}, headers=h(team.viewer)).status_code == 403
    r = client.get(f"/sops/{sop_id}", headers=h(team.leader, EN))
    assert f'action="/help-questions/{q.id}/answers"' in r.text
    r = client.post(f"/help-questions/{q.id}/answers", data={"text": "IT does"}, headers=h(team.leader, EN, HX))
    assert r.status_code == 200 and "IT does" in r.text and "<html" not in r.text
    assert _count(session, HelpAnswer, question_id=q.id) == 1


def test_the_people_table_filters_by_department_standing_and_name(client, session, world):  # noqa: ANN001
    team = world.team
    plan = plan_for(session, world)  # technology: the two people of the world
    alice, bob = world.people
    depts = world.factory.departments()
    service.add_wave(session, plan.id, WaveIn(name="W2", starts_on=today(), ends_on=today(),
                                                      department_ids=[depts["finance"].id]), team.leader)
    carol = world.factory.user(department="finance")
    service.update_people(session, plan.id, PeopleUpdate(add=[{"user_id": carol.id}]), team.leader)
    session.commit()
    url = f"/rollout-plans/{plan.id}"
    everyone = service.person_statuses(session, plan)

    def names(r) -> set[str]:  # noqa: ANN001
        assert r.status_code == 200, r.text
        return set(re.findall(r'<tr id="person-\d+">\s*<td data-label="Person">([^<]+)</td>', r.text))

    r = client.get(url, headers=h(team.leader, EN))
    assert names(r) == {p.user.display_name for p in everyone} and f"People <span class=\"muted\">({len(everyone)})" in r.text
    # The department (as the section loads itself with htmx), the standing, and a part of a name.
    r = client.get(f"{url}/sections/people?department={depts['finance'].id}", headers=h(team.leader, EN, HX))
    assert names(r) == {carol.display_name} and f"1 of {len(everyone)}" in r.text and "<html" not in r.text
    assert names(client.get(f"{url}?standing=passed", headers=h(team.leader, EN))) == set()
    assert "No one in the scope matches the filter." in client.get(f"{url}?standing=passed", headers=h(team.leader, EN)).text
    assert names(client.get(f"{url}?standing=not_passed&name={alice.display_name[-4:].upper()}",
                            headers=h(team.leader, EN))) == {alice.display_name}
    # A filter that is not one shows everyone; the API selects the same way.
    assert len(names(client.get(f"{url}?standing=nope&department=x", headers=h(team.leader, EN)))) == len(everyone)
    r = client.get(f"/api/v1/rollout-plans/{plan.id}/people?standing=not_passed&name={bob.display_name}",
                   headers=h(team.leader))
    assert r.status_code == 200 and [p["user"]["id"] for p in r.json()] == [bob.id]
    assert client.get(f"/api/v1/rollout-plans/{plan.id}/people?standing=nope", headers=h(team.leader)).status_code == 422
