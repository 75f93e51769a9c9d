"""Table 2 page: rows, filters, adding from a problem, editing a row in place (htmx), the problem's list."""

from __future__ import annotations

from datetime import timedelta

from app.core.calendar import today
from tests.initiatives.factories import add_issue
from tests.measures.helpers import add_measure

HX = {"HX-Request": "true"}


def test_add_from_a_problem_and_see_it_in_table2(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Slow review", impact=5, urgency=5)
    session.flush()
    h = factory.bearer(team.it)
    problem = client.get(f"/issues/{issue.id}", headers=h).text
    assert "No countermeasure planned yet." in problem
    link = f"/initiatives/{team.initiative.id}/measures?issue={issue.id}#new-measure"
    assert link.replace("&", "&amp;") in problem or link in problem
    page = client.get(f"/initiatives/{team.initiative.id}/measures", params={"issue": issue.id}, headers=h).text
    assert f'<option value="{issue.id}" selected>' in page
    url = f"/initiatives/{team.initiative.id}/measures/new"
    r = client.post(url, data={"goal": "", "issue_ids": [str(issue.id)], "description": "x", "type": "magic",
                               "due_date": "31/02/2030"}, headers={**h, **HX})
    assert r.status_code == 422 and r.text.count('class="field-error"') == 3 and "<html" not in r.text
    r = client.post(url, data={"goal": "Activation <= 5 min", "issue_ids": [str(issue.id)],
                               "description": "Build an automatic check against the 3 systems", "type": "automate",
                               "department": "technology", "due_date": "2030-01-31", "status": "planned",
                               "effect_metric": "Activation time", "effect_unit": "min", "effect_baseline": "30",
                               "effect_target": "5", "effect_direction": "lower_is_better"}, headers={**h, **HX})
    assert r.status_code == 200, r.text
    assert r.headers["HX-Redirect"] == f"/initiatives/{team.initiative.id}/measures"
    table = client.get(r.headers["HX-Redirect"], headers=h).text
    assert "Build an automatic check against the 3 systems" in table and "Activation time: 30 -&gt; 5 min" in table
    assert f'<a href="/issues/{issue.id}">Slow review</a>' in table
    problem = client.get(f"/issues/{issue.id}", headers=h).text
    assert "Build an automatic check against the 3 systems" in problem


def test_filters_and_overdue_badge(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    late = (today() - timedelta(days=2)).isoformat()
    add_measure(session, team.initiative.id, team.leader, [issue.id], description="Late one", due_date=late)
    add_measure(session, team.initiative.id, team.leader, [issue.id], description="Ops one",
                department="operations", status="in_progress")
    url = f"/initiatives/{team.initiative.id}/measures"
    h = factory.bearer(team.viewer)
    page = client.get(url, headers=h).text
    assert "Late one" in page and "Ops one" in page and page.count("badge-late") == 1
    assert "Add a countermeasure" not in page and "/edit" not in page  # viewers only read
    r = client.get(url, params={"overdue": "yes"}, headers={**h, **HX})
    assert "Late one" in r.text and "Ops one" not in r.text and "<html" not in r.text
    r = client.get(url, params={"department": "operations"}, headers={**h, **HX})
    assert "Late one" not in r.text and "Ops one" in r.text
    r = client.get(url, params={"status": "planned"}, headers={**h, **HX})
    assert "Late one" in r.text and "Ops one" not in r.text
    r = client.get(url, params={"status": "nonsense", "overdue": "maybe"}, headers={**h, **HX})
    assert "Late one" in r.text and "Ops one" in r.text


def test_edit_in_place_returns_the_row(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    m = add_measure(session, team.initiative.id, team.leader, [issue.id], description="Check 3 systems")
    h = {**factory.bearer(team.member), **HX}
    r = client.get(f"/measures/{m.id}/edit", headers=h)
    assert r.status_code == 200 and f'<tr id="measure-{m.id}"' in r.text and 'name="version" value="1"' in r.text
    assert "<html" not in r.text
    form = {"goal": "Activation <= 5 min", "issue_ids": [str(issue.id)], "description": "Check 3 systems automatically",
            "type": "automate", "department": "technology", "status": "done", "version": "1",
            "progress_notes": "Live since Monday"}
    r = client.post(f"/measures/{m.id}/edit", data=form, headers=h)
    assert r.status_code == 200, r.text
    assert r.text.lstrip().startswith(f'<tr id="measure-{m.id}"') and "Check 3 systems automatically" in r.text
    assert "Live since Monday" in r.text and "<form" not in r.text
    r = client.post(f"/measures/{m.id}/edit", data=form, headers=h)  # version 1 is stale now
    assert r.status_code == 422 and "Someone else changed" in r.text
    r = client.post(f"/measures/{m.id}/edit", data={**form, "version": "2", "due_date": "soon"}, headers=h)
    assert r.status_code == 422 and "field-error" in r.text
    assert client.get(f"/measures/{m.id}/row", headers=h).text.count("<form") == 0
    # Without htmx: the table with the row open.
    r = client.get(f"/measures/{m.id}/edit", headers=factory.bearer(team.member), follow_redirects=True)
    assert r.status_code == 200 and 'name="version" value="2"' in r.text
    r = client.post(f"/measures/{m.id}/edit", data=form, headers=factory.bearer(team.viewer))
    assert r.status_code == 403


def test_delete_and_tab(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    m = add_measure(session, team.initiative.id, team.leader, [issue.id], description="Drop me")
    h = factory.bearer(team.leader)
    overview = client.get(f"/initiatives/{team.initiative.id}", headers=h).text
    assert f'href="/initiatives/{team.initiative.id}/measures"' in overview
    r = client.post(f"/measures/{m.id}/delete", headers=h, follow_redirects=False)
    assert r.status_code == 303
    assert "Drop me" not in client.get(r.headers["location"], headers=h).text


def test_table2_in_chinese(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    add_measure(session, team.initiative.id, team.leader, [issue.id])
    page = client.get(f"/initiatives/{team.initiative.id}/measures",
                      headers={**factory.bearer(team.viewer), "Accept-Language": "zh-CN"}).text
    for column in ("优化目标", "对应问题", "具体措施", "责任部门", "完成时间", "预期效果"):
        assert column in page
