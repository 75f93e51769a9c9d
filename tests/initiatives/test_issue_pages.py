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


def _causes(client, h, issue_id):  # noqa: ANN001, ANN202
    return {c["text"]: c for c in client.get(f"/api/v1/issues/{issue_id}/causes", headers=h).json()}


def _fishbone(session, team, issue):  # noqa: ANN001, ANN202
    """method: A > B > C > D; machine: M. D sits at depth 3, one level above the deepest allowed."""
    from app.issues.schemas import CauseCreate
    from app.issues.service import create_cause

    def add(text, parent=None, category=None):  # noqa: ANN001, ANN202
        return create_cause(session, issue.id, CauseCreate(text=text, parent_id=parent and parent.id,
                                                           category=category), team.leader)

    a = add("Cause A", category="method")
    b = add("Cause B", a)
    c = add("Cause C", b)
    d = add("Cause D", c)
    m = add("Cause M", category="machine")
    session.flush()
    return a, b, c, d, m


def _options(html):  # noqa: ANN001, ANN202
    import re

    select = html[html.index('name="to"'):]
    select = select[:select.index("</select>")]
    return re.findall(r'<option value="([^"]+)"', select)


def test_move_form_lists_only_valid_places(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    a, b, c, d, m = _fishbone(session, team, issue)
    h = {**factory.bearer(team.member), **HX}
    page = client.get(f"/issues/{issue.id}", headers=factory.bearer(team.member)).text
    assert f'hx-get="/issues/{issue.id}?move={b.id}"' in page and 'name="to"' not in page
    r = client.get(f"/issues/{issue.id}?move={b.id}", headers=h)
    assert r.status_code == 200 and "<html" not in r.text and "<svg" in r.text
    assert f'action="/issues/{issue.id}/causes/{b.id}/move"' in r.text and "Move to" in r.text
    options = _options(r.text)
    assert options == ["man", "machine", str(m.id), "material", "method", str(a.id), "environment"]
    assert f'<option value="{a.id}" selected>' in r.text  # its current place
    assert "Method: top level</option>" in r.text and ">\u00a0\u00a0\u00a0Method · Cause A</option>" in r.text
    r = client.get(f"/issues/{issue.id}?move={a.id}", headers=h)
    assert _options(r.text) == ["man", "machine", str(m.id), "material", "method", "environment"]
    assert '<option value="method" selected>' in r.text
    r = client.get(f"/issues/{issue.id}?move={d.id}", headers=h)
    assert set(_options(r.text)) >= {str(a.id), str(b.id), str(c.id), str(m.id)}
    assert "\u00a0" * 9 + "Method · Cause C</option>" in r.text  # indented by depth
    # viewers read the fishbone but get no move controls
    viewer_page = client.get(f"/issues/{issue.id}?move={b.id}", headers=factory.bearer(team.viewer)).text
    assert 'name="to"' not in viewer_page and f"?move={b.id}" not in viewer_page


def test_move_a_cause_to_another_parent_bone_and_top_level(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    a, b, c, d, m = _fishbone(session, team, issue)
    h = {**factory.bearer(team.it), **HX}
    url = f"/issues/{issue.id}/causes"
    # C (with its sub-cause D) under M: the branch changes bone
    r = client.post(f"{url}/{c.id}/move", data={"to": str(m.id), "version": str(c.version)}, headers=h)
    assert r.status_code == 200 and "<html" not in r.text and "<svg" in r.text and 'name="to"' not in r.text
    machine = r.text[r.text.index('bone-head">Machine</h3>'):r.text.index('bone-head">Method</h3>')]
    assert "Cause M" in machine and "Cause C" in machine and "Cause D" in machine
    assert f'class="depth-1" id="cause-{c.id}"' in r.text and f'class="depth-2" id="cause-{d.id}"' in r.text
    causes = _causes(client, h, issue.id)
    assert causes["Cause C"]["parent_id"] == m.id and causes["Cause C"]["category"] == "machine"
    assert causes["Cause D"]["parent_id"] == c.id and causes["Cause D"]["category"] == "machine"
    # B to the top of the environment bone
    version = causes["Cause B"]["version"]
    r = client.post(f"{url}/{b.id}/move", data={"to": "environment", "version": str(version)}, headers=h)
    assert r.status_code == 200
    assert f'class="depth-0" id="cause-{b.id}"' in r.text
    assert r.text.index('bone-head">Environment') < r.text.index(f'id="cause-{b.id}"')
    causes = _causes(client, h, issue.id)
    assert causes["Cause B"]["parent_id"] is None and causes["Cause B"]["category"] == "environment"
    # without htmx: back to the page
    r = client.post(f"{url}/{m.id}/move", data={"to": "man", "version": str(causes["Cause M"]["version"])},
                    headers=factory.bearer(team.it), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/issues/{issue.id}?saved=fishbone#fishbone"
    assert _causes(client, h, issue.id)["Cause C"]["category"] == "man"


def test_move_refused_for_a_cycle_or_too_deep_changes_nothing(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    a, b, c, d, m = _fishbone(session, team, issue)
    h = {**factory.bearer(team.member), **HX}
    url = f"/issues/{issue.id}/causes"
    before = _causes(client, h, issue.id)
    r = client.post(f"{url}/{a.id}/move", data={"to": str(c.id), "version": str(a.version)}, headers=h)
    assert r.status_code == 422 and "<html" not in r.text and "<svg" in r.text
    assert "cannot be placed under itself or one of its own sub-causes" in r.text and 'role="alert"' in r.text
    assert f'action="/issues/{issue.id}/causes/{a.id}/move"' in r.text  # the form stays open
    assert str(c.id) not in _options(r.text)
    r = client.post(f"{url}/{b.id}/move", data={"to": str(d.id), "version": str(b.version)}, headers=h)
    assert r.status_code == 422 and "cannot be placed under itself" in r.text
    assert _causes(client, h, issue.id) == before
    # M under D (depth 3) lands at depth 4, the deepest allowed; a branch E > F under D would reach depth 5
    r = client.post(f"{url}/{m.id}/move", data={"to": str(d.id), "version": str(m.version)}, headers=h)
    assert r.status_code == 200
    m_version = _causes(client, h, issue.id)["Cause M"]["version"]
    e = client.post(f"/api/v1/issues/{issue.id}/causes", json={"text": "Cause E", "category": "material"},
                    headers=factory.bearer(team.member)).json()
    client.post(f"/api/v1/issues/{issue.id}/causes", json={"text": "Cause F", "parent_id": e["id"]},
                headers=factory.bearer(team.member))
    before = _causes(client, h, issue.id)
    r = client.post(f"{url}/{e['id']}/move", data={"to": str(d.id), "version": str(e["version"])},
                    headers={**factory.bearer(team.member), **HX, "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "下级原因最多嵌套四层。" in r.text
    assert f'<option value="{d.id}" selected>' in r.text  # the choice is kept
    assert _causes(client, h, issue.id) == before
    for bad in ("", "money", "9" * 30):
        r = client.post(f"{url}/{m.id}/move", data={"to": bad, "version": str(m_version)}, headers=h)
        assert r.status_code == 422 and "Choose one of the options." in r.text
    r = client.post(f"{url}/{m.id}/move", data={"to": "999999", "version": str(m_version)}, headers=h)
    assert r.status_code == 422 and "Not a cause of this problem." in r.text
    r = client.post(f"{url}/{m.id}/move", data={"to": "man", "version": "1"}, headers=h)
    assert r.status_code == 422 and "Someone else changed this cause" in r.text
    assert _causes(client, h, issue.id) == before
    r = client.get(f"/issues/{issue.id}?move=0", headers=h)  # "Cancel": the fishbone, no form open
    assert r.status_code == 200 and "<svg" in r.text and 'name="to"' not in r.text


def test_move_refused_to_viewers_and_outsiders(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    a, b, c, d, m = _fishbone(session, team, issue)
    url = f"/issues/{issue.id}/causes/{b.id}/move"
    before = _causes(client, factory.bearer(team.member), issue.id)
    for user in (team.viewer, team.outsider):
        for to in ("man", "", str(b.id)):
            r = client.post(url, data={"to": to, "version": str(b.version)},
                            headers={**factory.bearer(user), **HX})
            assert r.status_code == 403
    other = add_issue(session, team.initiative, team.leader, title="Other problem")
    r = client.post(f"/issues/{other.id}/causes/{b.id}/move", data={"to": "man", "version": str(b.version)},
                    headers={**factory.bearer(team.member), **HX})
    assert r.status_code == 404
    assert _causes(client, factory.bearer(team.member), issue.id) == before
