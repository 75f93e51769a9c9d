"""Survey pages: the table edited in place, totals, research records, import, the as-is map."""

from __future__ import annotations

from tests.initiatives.factories import YH_STEPS, add_steps

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
