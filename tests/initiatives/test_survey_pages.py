"""Survey pages: the table edited in place, totals, research records, import, the as-is map."""

from __future__ import annotations

from tests.initiatives.factories import YH_STEPS, add_record, add_steps

HX = {"HX-Request": "true"}


def test_survey_page_renders_steps_and_totals(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    r = client.get(f"/initiatives/{team.initiative.id}/survey", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    assert "Manual review" in r.text and "CRM, KYC, Billing" in r.text
    assert "Low efficiency" in r.text  # the flag shown with the method's wording
    assert "38.5" in r.text and "99" in r.text  # working and total minutes
    assert 'id="new-step"' not in r.text  # viewers cannot add


def test_add_edit_move_delete_in_place(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS[:2])
    h = {**factory.bearer(team.member), **HX}
    url = f"/initiatives/{team.initiative.id}/survey/steps"
    r = client.post(url, data={"name": "System activation", "kind": "activity", "department": "technology",
                               "minutes": "2,5", "systems": "Account service、SMS", "problem_flags": ["risk", "quality"]},
                    headers=h)
    assert r.status_code == 200, r.text
    assert "<html" not in r.text and "System activation" in r.text and "Account service, SMS" in r.text
    r = client.post(url, data={"name": "", "minutes": "-3"}, headers=h)
    assert r.status_code == 422 and r.text.count('class="field-error"') == 2
    r = client.post(url, data={"name": "Bad", "minutes": "abc"}, headers=h)
    assert r.status_code == 422 and "Enter a number" in r.text
    r = client.get(f"/survey/steps/{steps[1].id}/edit", headers=h)
    assert r.status_code == 200 and f'id="step-form-{steps[1].id}"' in r.text
    r = client.post(f"/survey/steps/{steps[1].id}/edit", data={"version": "1", "name": "Manual review (3 systems)",
                                                              "kind": "activity", "minutes": "25",
                                                              "department": "operations"}, headers=h)
    assert r.status_code == 200 and "Manual review (3 systems)" in r.text
    r = client.post(f"/survey/steps/{steps[1].id}/edit", data={"version": "1", "name": "Stale", "minutes": "1"},
                    headers=h)
    assert r.status_code == 422 and "Someone else changed this step" in r.text
    r = client.post(f"/survey/steps/{steps[1].id}/move", data={"position": "1"}, headers=h)
    assert r.status_code == 200
    assert r.text.index("Manual review (3 systems)") < r.text.index("User fills in information")
    r = client.post(f"/survey/steps/{steps[0].id}/delete", headers=h)
    assert r.status_code == 200 and "User fills in information" not in r.text
    # Another team's member cannot.
    r = client.post(url, data={"name": "x", "minutes": "1"}, headers={**factory.bearer(team.outsider), **HX})
    assert r.status_code == 403


def test_research_records_on_the_page(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    h = {**factory.bearer(team.member), **HX}
    url = f"/initiatives/{team.initiative.id}/research"
    r = client.post(url, data={"method": "observation", "conducted_on": "2026-03-04", "participants": "Ops team",
                               "findings": "Paper signature, 1 day wait", "step_ids": [str(steps[1].id)]}, headers=h)
    assert r.status_code == 200 and "Paper signature" in r.text and "2. Manual review" in r.text
    r = client.post(url, data={"method": "séance", "conducted_on": "", "participants": ""}, headers=h)
    assert r.status_code == 422 and r.text.count('class="field-error"') >= 3


def test_import_on_the_page_reports_rows(client, factory, team, session):
    h = factory.bearer(team.member)
    url = f"/initiatives/{team.initiative.id}/survey/import"
    bad = "现有步骤,耗时（分钟）\n审核,-1\n激活,2\n".encode()
    r = client.post(url, data={"mode": "append"}, files={"file": ("t.csv", bad)}, headers=h)
    assert r.status_code == 422 and "Nothing was imported." in r.text and "Row 2" in r.text
    good = "现有步骤,耗时（分钟）\n审核,30\n激活,2\n".encode()
    r = client.post(url, data={"mode": "append"}, files={"file": ("t.csv", good)}, headers=h, follow_redirects=False)
    assert r.status_code == 303
    assert "审核" in client.get(f"/initiatives/{team.initiative.id}/survey", headers=h).text


def test_as_is_map_page_draws_every_step(client, factory, team, session):
    h = factory.bearer(team.viewer)
    r = client.get(f"/initiatives/{team.initiative.id}/map", headers=h)
    assert r.status_code == 200 and "add them in the current-state survey" in r.text
    add_steps(session, team.initiative, team.leader, YH_STEPS + [
        {"name": f"Extra {i}", "minutes": i, "department": "finance", "kind": "decision" if i % 2 else "activity"}
        for i in range(20)])
    r = client.get(f"/initiatives/{team.initiative.id}/map", headers=h)
    assert r.status_code == 200
    assert r.text.count('<g class="node ') == 24 and r.text.count('class="edge"') == 23
    assert "<polygon" in r.text and "node-input" in r.text and "node-output" in r.text
    assert "CRM · KYC · Billing" in r.text and "Finance" in r.text
    assert "style=" not in r.text  # CSP: no inline styles


def test_edit_research_record_in_place(client, factory, team, session):
    from app.core.audit import history

    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    rec = add_record(session, team.initiative, team.leader, step_ids=[steps[0].id])
    session.flush()
    h = {**factory.bearer(team.member), **HX}
    page = client.get(f"/initiatives/{team.initiative.id}/survey", headers=factory.bearer(team.member)).text
    assert f'hx-get="/research-records/{rec.id}/edit"' in page
    # The form replaces the record only, filled in with what is stored and the version it expects.
    r = client.get(f"/research-records/{rec.id}/edit", headers=h)
    assert r.status_code == 200, r.text
    assert "<html" not in r.text and 'id="research-h"' not in r.text
    assert f'<article class="record editing" id="record-{rec.id}">' in r.text
    assert 'name="version" value="1"' in r.text and 'value="Zhang Wei"' in r.text
    assert 'value="2026-03-03"' in r.text and "Checks 3 systems by hand</textarea>" in r.text
    assert f'value="{steps[0].id}" checked' in r.text and f'value="{steps[1].id}" checked' not in r.text
    # Cancel: the record as shown.
    r = client.get(f"/research-records/{rec.id}/row", headers=h)
    assert r.status_code == 200 and f'<article class="record" id="record-{rec.id}">' in r.text
    assert "Zhang Wei" in r.text and "<form" in r.text and "<textarea" not in r.text
    # Save: through the service; the record comes back as shown.
    url = f"/research-records/{rec.id}/edit"
    form = {"version": "1", "method": "observation", "conducted_on": "2026-03-03",
            "participants": "Zhang Wei, 2 reviewers", "findings": "Paper signature at approval",
            "step_ids": [str(steps[1].id), str(steps[2].id)]}
    r = client.post(url, data=form, headers=h)
    assert r.status_code == 200, r.text
    assert f'<article class="record" id="record-{rec.id}">' in r.text and "<textarea" not in r.text
    assert "Zhang Wei, 2 reviewers" in r.text and "2026-03-03" in r.text and "Observation" in r.text
    assert "2. Manual review" in r.text and "1. User fills in information" not in r.text
    api = client.get(f"/api/v1/research-records/{rec.id}", headers=factory.bearer(team.member)).json()
    assert api["method"] == "observation" and api["conducted_on"] == "2026-03-03" and api["version"] == 2
    assert api["participants"] == "Zhang Wei, 2 reviewers" and api["findings"] == "Paper signature at approval"
    assert api["step_ids"] == sorted([steps[1].id, steps[2].id])
    last = history(session, "research_record", rec.id)[0]
    assert last.action == "update" and last.actor_id == team.member.id
    assert last.before["participants"] == "Zhang Wei" and last.after["participants"] == "Zhang Wei, 2 reviewers"
    # No steps ticked: the links are removed.
    r = client.post(url, data={**form, "version": "2", "step_ids": []}, headers=h)
    assert r.status_code == 200 and "Steps:" not in r.text
    assert client.get(f"/api/v1/research-records/{rec.id}", headers=h).json()["step_ids"] == []


def test_editing_a_records_date_shows_the_list_in_its_new_order(client, factory, team, session):
    from datetime import date

    older = add_record(session, team.initiative, team.leader, conducted_on=date(2026, 3, 3), participants="Older")
    add_record(session, team.initiative, team.leader, conducted_on=date(2026, 3, 10), participants="Newer")
    session.flush()
    h = {**factory.bearer(team.member), **HX}
    page = client.get(f"/initiatives/{team.initiative.id}/survey", headers=factory.bearer(team.member)).text
    assert page.index("Newer") < page.index("Older")  # newest first
    form = {"version": "1", "method": "interview", "conducted_on": "2026-03-20", "participants": "Older",
            "findings": "Checks 3 systems by hand"}
    r = client.post(f"/research-records/{older.id}/edit", data=form, headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["HX-Retarget"] == "#research" and r.headers["HX-Reswap"] == "innerHTML"
    assert "<html" not in r.text and r.text.index("Older") < r.text.index("Newer")


def test_edit_research_record_keeps_what_was_typed(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS[:2])
    other_steps = add_steps(session, team.other, team.other_lead, YH_STEPS[:1])
    rec = add_record(session, team.initiative, team.leader)
    session.flush()
    h = {**factory.bearer(team.member), **HX}
    url = f"/research-records/{rec.id}/edit"
    r = client.post(url, data={"version": "1", "method": "séance", "conducted_on": "", "participants": "  ",
                               "findings": "Typed findings", "step_ids": [str(steps[1].id)]}, headers=h)
    assert r.status_code == 422
    assert f'<article class="record editing" id="record-{rec.id}">' in r.text
    assert r.text.count('class="field-error"') == 3
    assert "Choose one of the options." in r.text and "This field is required." in r.text
    assert f'aria-describedby="record-{rec.id}-conducted_on-error"' in r.text
    assert "Typed findings</textarea>" in r.text and f'value="{steps[1].id}" checked' in r.text
    assert 'name="version" value="1"' in r.text
    r = client.post(url, data={"version": "1", "method": "interview", "conducted_on": "last week",
                               "participants": "Li Na"}, headers=h)
    assert r.status_code == 422 and "Enter a date." in r.text and 'value="Li Na"' in r.text
    # A step of another initiative: the service's rule, shown on the steps.
    r = client.post(url, data={"version": "1", "method": "interview", "conducted_on": "2026-03-06",
                               "participants": "Li Na", "step_ids": [str(other_steps[0].id)]}, headers=h)
    assert r.status_code == 422 and "Choose steps of this initiative." in r.text and 'value="Li Na"' in r.text
    # Nothing was written.
    api = client.get(f"/api/v1/research-records/{rec.id}", headers=h).json()
    assert api["participants"] == "Zhang Wei" and api["version"] == 1
    # Without htmx: the whole page, with the record open.
    r = client.post(url, data={"version": "1", "method": "interview", "conducted_on": "2026-03-06",
                               "participants": ""}, headers=factory.bearer(team.member))
    assert r.status_code == 422 and "<html" in r.text and 'id="research-h"' in r.text
    assert f'<article class="record editing" id="record-{rec.id}">' in r.text and 'value="2026-03-06"' in r.text


def test_edit_research_record_checks_the_version(client, factory, team, session):
    rec = add_record(session, team.initiative, team.leader)
    session.flush()
    h = {**factory.bearer(team.member), **HX}
    url = f"/research-records/{rec.id}/edit"
    form = {"version": "1", "method": "interview", "conducted_on": "2026-03-03", "participants": "Zhang Wei"}
    assert client.post(url, data={**form, "participants": "First"}, headers=h).status_code == 200
    # A form opened on version 1 does not overwrite version 2: the record is shown again as it is now.
    r = client.post(url, data={**form, "participants": "Second"}, headers=h)
    assert r.status_code == 422 and "Someone else changed this research record" in r.text
    assert 'value="First"' in r.text and 'name="version" value="2"' in r.text
    # A form without a version is refused the same way.
    r = client.post(url, data={k: v for k, v in form.items() if k != "version"}, headers=h)
    assert r.status_code == 422 and "Someone else changed this research record" in r.text
    assert client.get(f"/api/v1/research-records/{rec.id}", headers=h).json()["participants"] == "First"
    # Saved without htmx: back to the page, at the record.
    r = client.post(url, data={**form, "version": "2", "participants": "Third"},
                    headers=factory.bearer(team.member), follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/initiatives/{team.initiative.id}/survey#record-{rec.id}"


def test_edit_research_record_without_htmx_opens_it_on_the_page(client, factory, team, session):
    rec = add_record(session, team.initiative, team.leader)
    session.flush()
    h = factory.bearer(team.member)
    r = client.get(f"/research-records/{rec.id}/edit", headers=h, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/initiatives/{team.initiative.id}/survey?edit_record={rec.id}#record-{rec.id}"
    r = client.get(r.headers["location"], headers=h)
    assert r.status_code == 200 and f'<article class="record editing" id="record-{rec.id}">' in r.text
    # A viewer following the same link sees the record, not a form.
    r = client.get(f"/initiatives/{team.initiative.id}/survey?edit_record={rec.id}", headers=factory.bearer(team.viewer))
    assert r.status_code == 200 and f'<article class="record" id="record-{rec.id}">' in r.text
    assert "<textarea" not in r.text and f"/research-records/{rec.id}/edit" not in r.text


def test_edit_research_record_only_by_the_team(client, factory, team, session):
    rec = add_record(session, team.initiative, team.leader)
    session.flush()
    url = f"/research-records/{rec.id}/edit"
    form = {"version": "1", "method": "observation", "conducted_on": "2026-03-05", "participants": "Changed"}
    for user in (team.viewer, team.outsider, team.other_lead):
        for headers in (factory.bearer(user), {**factory.bearer(user), **HX}):
            assert client.get(url, headers=headers, follow_redirects=False).status_code == 403, user.role
            assert client.post(url, data=form, headers=headers).status_code == 403, user.role
            assert client.post(url, data={**form, "participants": ""}, headers=headers).status_code == 403
    # The viewer reads the record, without the controls.
    r = client.get(f"/research-records/{rec.id}/row", headers={**factory.bearer(team.viewer), **HX})
    assert r.status_code == 200 and "Zhang Wei" in r.text and "<form" not in r.text and "/edit" not in r.text
    r = client.get(f"/initiatives/{team.initiative.id}/survey", headers=factory.bearer(team.viewer))
    assert f'id="record-{rec.id}"' in r.text and f"/research-records/{rec.id}/edit" not in r.text
    # Without a session: to the login page.
    r = client.post(url, data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # The leader and an administrator may.
    assert client.post(url, data=form, headers={**factory.bearer(team.leader), **HX}).status_code == 200
    r = client.post(url, data={**form, "version": "2", "participants": "By admin"},
                    headers={**factory.bearer(team.admin), **HX})
    assert r.status_code == 200 and "By admin" in r.text
    api = client.get(f"/api/v1/research-records/{rec.id}", headers=factory.bearer(team.viewer)).json()
    assert api["participants"] == "By admin" and api["version"] == 3
    # An unknown record.
    assert client.get("/research-records/999999/edit", headers={**factory.bearer(team.member), **HX}).status_code == 404
    assert client.post("/research-records/999999/edit", data=form, headers=factory.bearer(team.member)).status_code == 404


def test_a_step_id_in_other_digits_is_refused_inline(client, factory, team, session):
    """"²" is a digit to Python's str.isdigit() but no number: the form says so, it does not fail (500)."""
    add_steps(session, team.initiative, team.leader, YH_STEPS[:1])
    session.flush()
    r = client.post(f"/initiatives/{team.initiative.id}/research", headers={**factory.bearer(team.member), **HX},
                    data={"method": "interview", "conducted_on": "2026-03-03", "participants": "Zhang Wei",
                          "findings": "Checks by hand", "step_ids": ["²"]})
    assert r.status_code == 422, r.text
    assert 'class="field-error"' in r.text and "Zhang Wei" in r.text  # the message, and what was typed
