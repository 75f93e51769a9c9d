"""Problem pages: list and filters, a problem with its fishbone and 5-Whys, the priority matrix board."""

from __future__ import annotations

from tests.initiatives.factories import YH_STEPS, add_issue, add_steps

HX = {"HX-Request": "true"}


def test_list_filters_and_create(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    add_issue(session, team.initiative, team.leader, title="Late fulfilment", category="risk", impact=5, urgency=5)
    add_issue(session, team.initiative, team.leader, title="Report format tweak", category="quality",
              impact=1, urgency=1)
    url = f"/initiatives/{team.initiative.id}/issues"
    h = factory.bearer(team.member)
    r = client.get(url, headers=h)
    assert r.status_code == 200 and "Late fulfilment" in r.text and "Record a problem" in r.text
    r = client.get(url, params={"quadrant": "do_first"}, headers={**h, **HX})
    assert "Late fulfilment" in r.text and "Report format tweak" not in r.text and "<html" not in r.text
    r = client.post(f"{url}/new", data={"title": "", "category": "morale", "source": "data", "impact": "6"},
                    headers={**h, **HX})
    assert r.status_code == 422 and r.text.count('class="field-error"') == 3
    r = client.post(f"{url}/new", data={"title": "Manual review takes 30 minutes", "category": "efficiency",
                                        "source": "observation", "impact": "5", "urgency": "4", "status": "open",
                                        "step_ids": [str(steps[1].id)]}, headers={**h, **HX})
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/issues/")
    page = client.get(r.headers["HX-Redirect"], headers=h)
    assert page.status_code == 200 and "Manual review takes 30 minutes" in page.text
    assert "Do first" in page.text
    assert client.get(url, headers=factory.bearer(team.viewer)).text.count("Record a problem") == 0


def test_fishbone_and_whys_on_the_problem_page(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    h = {**factory.bearer(team.it), **HX}
    url = f"/issues/{issue.id}"
    page = client.get(url, headers=factory.bearer(team.viewer)).text
    for bone in ("Man", "Machine", "Material", "Method", "Environment"):
        assert f">{bone}</text>" in page
    r = client.post(f"{url}/causes", data={"category": "method", "text": "No interface between A and B"},
                    headers=h)
    assert r.status_code == 200 and "No interface between A and B" in r.text and "<svg" in r.text
    causes = client.get(f"/api/v1/issues/{issue.id}/causes", headers=h).json()
    cause_id = causes[0]["id"]
    r = client.post(f"{url}/causes", data={"parent_id": str(cause_id), "text": "Never budgeted", "is_root": "1"},
                    headers=h)
    assert r.status_code == 200 and "fb-root" in r.text and "Never budgeted" in r.text
    r = client.post(f"{url}/causes", data={"category": "money", "text": "x"}, headers=h)
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(f"{url}/causes/{cause_id}/root", data={"version": "1"}, headers=h)
    assert r.status_code == 200 and r.text.count("fb-root") == 2
    r = client.post(f"{url}/whys", data={"question": "Why is data entered twice?",
                                         "answer": "Systems A and B are not synced"}, headers=h)
    assert r.status_code == 200 and "Systems A and B are not synced" in r.text
    r = client.post(f"{url}/whys", data={"question": "", "answer": ""}, headers=h)
    assert r.status_code == 422 and r.text.count('class="field-error"') == 2
    why_id = client.get(f"/api/v1/issues/{issue.id}/whys", headers=h).json()[0]["id"]
    r = client.post(f"{url}/whys/{why_id}/edit", data={"version": "1", "is_root": "1"}, headers=h)
    assert r.status_code == 200 and "why-root" in r.text and 'id="why-form"' not in r.text
    r = client.get(f"{url}?why={why_id}", headers=h)
    assert r.status_code == 200 and f'/whys/{why_id}/edit' in r.text
    r = client.post(f"{url}/causes/{cause_id}/delete", headers=h)
    assert r.status_code == 200 and "Never budgeted" not in r.text
    r = client.post(f"{url}/whys", data={"question": "Why?", "answer": "x"},
                    headers={**factory.bearer(team.outsider), **HX})
    assert r.status_code == 403


def test_problem_form_and_delete(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Slow review", impact=2, urgency=2)
    h = {**factory.bearer(team.member), **HX}
    data = {"version": "1", "title": "Slow review", "category": "efficiency", "source": "interview",
            "status": "analysing", "impact": "4", "urgency": "5"}
    r = client.post(f"/issues/{issue.id}/edit", data=data, headers=h)
    assert r.status_code == 200 and "HX-Redirect" in r.headers
    r = client.post(f"/issues/{issue.id}/edit", data={**data, "title": "Stale"}, headers=h)
    assert r.status_code == 422 and "Someone else changed this problem" in r.text
    r = client.post(f"/issues/{issue.id}/delete", headers=h)
    assert r.headers["HX-Redirect"] == f"/initiatives/{team.initiative.id}/issues"
    assert client.get(f"/issues/{issue.id}", headers=h).status_code == 404


def test_matrix_board_moves_a_card_when_a_score_changes(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Report format tweak", impact=1, urgency=1)
    add_issue(session, team.initiative, team.leader, title="Not scored yet")
    url = f"/initiatives/{team.initiative.id}/matrix"
    h = factory.bearer(team.member)
    page = client.get(url, headers=h).text
    defer = page.index('quadrant-defer')
    assert page.index("Report format tweak") > defer and "Not scored yet" in page
    r = client.post(f"{url}/{issue.id}", data={"version": "1", "impact": "5", "urgency": "4"}, headers={**h, **HX})
    assert r.status_code == 200 and "<html" not in r.text
    do_first, defer = r.text.index("quadrant-do_first"), r.text.index("quadrant-defer")
    assert do_first < r.text.index("Report format tweak") < defer
    assert "moved" in r.text
    r = client.post(f"{url}/{issue.id}", data={"version": "1", "impact": "3", "urgency": "3"}, headers={**h, **HX})
    assert r.status_code == 422 and "Someone else changed this problem" in r.text
    r = client.post(f"{url}/{issue.id}", data={"version": "2", "impact": "0", "urgency": "3"}, headers={**h, **HX})
    assert r.status_code == 422
    assert client.get(f"/api/v1/issues/{issue.id}", headers=h).json()["impact"] == 5
    r = client.post(f"{url}/{issue.id}", data={"version": "2", "impact": "3", "urgency": "3"},
                    headers={**factory.bearer(team.outsider), **HX})
    assert r.status_code == 403
    other = add_issue(session, team.other, team.other_lead)
    assert client.post(f"{url}/{other.id}", data={"version": "1", "impact": "3", "urgency": "3"},
                       headers=h).status_code == 404
