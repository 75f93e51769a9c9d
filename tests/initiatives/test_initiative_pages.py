"""Initiative pages: list, create form, overview with team, phases and the gate, settings, history."""

from __future__ import annotations

from app.users.models import Role
from tests.initiatives.factories import YH_STEPS, add_record, add_steps

HX = {"HX-Request": "true"}


def test_list_and_overview_render(client, factory, team):
    h = factory.bearer(team.viewer)
    r = client.get("/initiatives", headers=h)
    assert r.status_code == 200, r.text
    assert team.initiative.title in r.text and "New initiative" not in r.text
    r = client.get("/initiatives", params={"q": team.initiative.title}, headers={**h, **HX})
    assert r.status_code == 200 and "<html" not in r.text and team.initiative.title in r.text
    r = client.get(f"/initiatives/{team.initiative.id}", headers=h)
    assert r.status_code == 200
    assert 'aria-current="step"' in r.text  # the current phase is marked
    assert "Record the current process in the survey" in r.text  # the gate explained
    assert "/advance" not in r.text  # viewers do not get the button
    r = client.get(f"/initiatives/{team.initiative.id}", headers=factory.bearer(team.leader))
    assert "/advance" in r.text and "/team" in r.text


def test_create_through_the_form(client, factory):
    lead = factory.user(Role.lead)
    process = factory.process(owner=lead)
    h = factory.bearer(lead)
    assert client.get("/initiatives/new", headers=h).status_code == 200
    r = client.post("/initiatives/new", data={"process_id": str(process.id), "title": "", "trigger": "bogus",
                                              "priority_threshold": "9"}, headers={**h, **HX})
    assert r.status_code == 422
    assert r.text.count('class="field-error"') == 3  # title, trigger, threshold
    r = client.post("/initiatives/new", data={"process_id": str(process.id), "title": "Faster activation",
                                              "trigger": "inefficiency", "goal": "30 -> 5 min",
                                              "priority_threshold": "3", "start_date": "2026-03-02"},
                    headers={**h, **HX})
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/initiatives/")
    page = client.get(r.headers["HX-Redirect"], headers=h)
    assert "Faster activation" in page.text and "03-02" in page.text
    member = factory.user(Role.member)
    assert client.get("/initiatives/new", headers=factory.bearer(member)).status_code == 403


def test_refused_gate_is_explained_and_override_advances(client, factory, team):
    url = f"/initiatives/{team.initiative.id}"
    h = factory.bearer(team.leader)
    r = client.post(f"{url}/advance", data={"version": "1"}, headers={**h, **HX})
    assert r.status_code == 422
    assert "The gate does not hold yet" in r.text
    assert "Record at least one interview" in r.text and "gate-unmet" in r.text
    r = client.post(f"{url}/advance", data={"version": "1", "override_reason": "no"}, headers={**h, **HX})
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(f"{url}/advance", data={"version": "1", "override_reason": "Survey is on paper for now"},
                    headers={**h, **HX})
    assert r.status_code == 200 and r.headers["HX-Redirect"] == url
    page = client.get(url, headers=h).text
    assert "Record at least one problem." in page  # the root-cause gate is shown now
    hist = client.get(f"{url}/history", headers=h)
    assert "Survey is on paper for now" in hist.text


def test_gate_passes_after_survey(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    add_record(session, team.initiative, team.leader)
    url = f"/initiatives/{team.initiative.id}"
    h = factory.bearer(team.leader)
    assert "gate-unmet" not in client.get(url, headers=h).text
    r = client.post(f"{url}/advance", data={"version": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")  # no credentials
    r = client.post(f"{url}/advance", data={"version": "1"}, headers=h, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url


def test_team_and_phase_forms(client, factory, team):
    url = f"/initiatives/{team.initiative.id}"
    h = factory.bearer(team.leader)
    newcomer = factory.user()
    r = client.post(f"{url}/team", data={"user_id": str(newcomer.id), "project_role": "compliance"},
                    headers={**h, **HX})
    # The section comes back to be swapped in, with the newcomer in it: never a redirect to `url#team`, which a
    # browser takes for a jump within the page (nothing would change until a reload).
    assert r.status_code == 200 and "HX-Redirect" not in r.headers and "<html" not in r.text
    assert newcomer.display_name in r.text and "Team saved." in r.text
    r = client.post(f"{url}/team", data={"user_id": str(newcomer.id), "project_role": "it"}, headers={**h, **HX})
    assert r.status_code == 422 and "already in use" in r.text
    r = client.post(f"{url}/phases/diagnosis", data={"version": "1", "planned_start": "2026-03-10",
                                                   "planned_end": "2026-03-01"}, headers={**h, **HX})
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(f"{url}/phases/diagnosis", data={"version": "1", "planned_start": "2026-03-01",
                                                   "planned_end": "2026-03-20"}, headers={**h, **HX})
    assert r.status_code == 200 and "HX-Redirect" not in r.headers and "Dates saved." in r.text
    assert 'id="ini-head" hx-swap-oob="true"' in r.text and "03-01 – 03-20" in r.text  # the phase bar follows
    assert "2026-03-20" in client.get(url, headers=h).text
    # Without htmx: a redirect whose URL differs from the page, so the browser loads it.
    other = factory.user()
    r = client.post(f"{url}/team", data={"user_id": str(other.id), "project_role": "it"}, headers=h,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=team#team"
    page = client.get(f"{url}?saved=team", headers=h).text
    assert other.display_name in page and "Team saved." in page
    member_id = next(m["id"] for m in client.get(f"/api/v1/initiatives/{team.initiative.id}/team", headers=h).json()
                     if m["user"]["id"] == other.id)
    r = client.post(f"{url}/team/{member_id}/remove", headers=h, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=team#team"
    r = client.post(f"{url}/phases/design", data={"version": "1", "planned_start": "2026-05-01",
                                                "planned_end": "2026-05-20"}, headers=h, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=phases#phases"
    assert "Dates saved." in client.get(f"{url}?saved=phases", headers=h).text
    bogus = client.get(f"{url}?saved=bogus", headers=h).text
    assert "Team saved." not in bogus and "Dates saved." not in bogus
    # Others cannot manage the team.
    r = client.post(f"{url}/team", data={"user_id": str(factory.user().id), "project_role": "it"},
                    headers=factory.bearer(team.member))
    assert r.status_code == 403


def test_settings_form_with_a_stale_version(client, factory, team):
    url = f"/initiatives/{team.initiative.id}/edit"
    h = factory.bearer(team.leader)
    assert client.get(url, headers=h).status_code == 200
    assert client.get(url, headers=factory.bearer(team.member)).status_code == 403
    data = {"version": "1", "title": "Renamed", "trigger": "compliance", "goal": "", "status": "active",
            "priority_threshold": "4"}
    assert "HX-Redirect" in client.post(url, data=data, headers={**h, **HX}).headers
    r = client.post(url, data={**data, "title": "Stale"}, headers={**h, **HX})
    assert r.status_code == 422 and "Someone else changed this initiative" in r.text
