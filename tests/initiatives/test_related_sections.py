"""Related records link to each other (#20 item 6): the process page's sections (initiatives, KPIs, event logs,
added by those domains with `@extends("process_detail")`), the initiative overview's (KPIs, event logs), and
who sees which links: everyone signed in reads them all; the links to create are for those who may."""

from __future__ import annotations

import re
from html import unescape

from sqlmodel import select

from app.metrics.models import Kpi
from app.mining import service as mining
from app.users.models import Role
from tests.metrics.helpers import make_kpi
from tests.metrics.test_pages import login
from tests.mining.test_eventlogs_api import SMALL_CSV


def _log(session, team, *, initiative: bool = True, name: str = "Activation log"):  # noqa: ANN001, ANN202
    return mining.import_log(
        session, process_id=team.initiative.process_id, initiative_id=team.initiative.id if initiative else None,
        name=name, filename="log.csv", data=SMALL_CSV.encode(), options=mining.ImportOptions(), actor=team.leader)


def _section(page: str, section_id: str) -> str:
    m = re.search(rf'<section class="card related" id="{section_id}".*?</section>', page, re.S)
    assert m, f"no section {section_id}"
    return m.group(0)


def _initiative_select(page: str) -> str:
    m = re.search(r'<select name="initiative_id".*?</select>', page, re.S)
    assert m, "no initiative select"
    return m.group(0)


def _hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


def test_process_page_links_its_initiatives_kpis_and_logs(client, factory, session, team):
    process_id = team.initiative.process_id
    kpi = make_kpi(session, team.leader, code="ACT-1", name_en="Activation time", process_id=process_id,
                   initiative_id=team.initiative.id)
    log = _log(session, team)
    session.flush()
    r = client.get(f"/processes/{process_id}", headers=factory.bearer(team.viewer))
    assert r.status_code == 200, r.text
    initiatives, kpis, logs = (_section(r.text, s) for s in ("related-initiatives", "related-kpis", "related-logs"))
    assert r.text.index('id="related-initiatives"') < r.text.index('id="related-kpis"') \
        < r.text.index('id="related-logs"')  # in the sections' order
    assert f'href="/initiatives/{team.initiative.id}">{team.initiative.title}</a>' in initiatives
    assert f"/initiatives/{team.other.id}" not in initiatives  # another process's
    assert f"/metrics/kpis/{kpi.id}" in kpis and "Activation time" in kpis and f"/initiatives/{team.initiative.id}" in kpis
    assert f"/event-logs/{log.id}" in logs and "Activation log" in logs
    assert f"/metrics?process={process_id}" in kpis and f"/event-logs?process_id={process_id}" in logs
    # A viewer opens every link but is offered nothing to create.
    for href in _hrefs(initiatives + kpis + logs):
        assert client.get(href.split("#")[0], headers=factory.bearer(team.viewer)).status_code == 200, href
    assert "/initiatives/new" not in r.text and "/metrics/kpis/new" not in r.text and "#upload" not in r.text
    r = client.get(f"/processes/{process_id}", headers=factory.bearer(team.leader))
    assert f"/initiatives/new?process_id={process_id}" in r.text
    assert f"/metrics/kpis/new?process_id={process_id}" in r.text and f"/event-logs?process_id={process_id}#upload" in r.text


def test_empty_sections_and_show_all(client, factory, session, team):
    lead = factory.user(Role.lead)
    empty = factory.process(owner=lead)
    session.flush()
    r = client.get(f"/processes/{empty.id}", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    assert "No initiative for this process yet." in r.text and "No KPI yet." in r.text and "No event log yet." in r.text
    for n in range(12):
        make_kpi(session, lead, code=f"MANY-{n:02d}", process_id=empty.id)
    session.flush()
    kpis = _section(client.get(f"/processes/{empty.id}", headers=factory.bearer(team.viewer)).text, "related-kpis")
    assert kpis.count('href="/metrics/kpis/') == 10 and "MANY-09" in kpis and "MANY-10" not in kpis
    assert f'href="/metrics?process={empty.id}">Show all 12 on the dashboard</a>' in kpis
    assert '<span class="related-count">12</span>' in kpis


def test_initiative_overview_links_its_kpis_and_logs(client, factory, session, team):
    ini = team.initiative
    kpi = make_kpi(session, team.leader, code="ACT-2", process_id=ini.process_id, initiative_id=ini.id)
    elsewhere = make_kpi(session, team.leader, code="ELSE-1", process_id=ini.process_id)
    log, loose = _log(session, team), _log(session, team, initiative=False, name="Loose log")
    session.flush()
    r = client.get(f"/initiatives/{ini.id}", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    kpis, logs = _section(r.text, "related-kpis"), _section(r.text, "related-logs")
    own, _, of_process = kpis.partition('class="related-sub"')
    assert f"/metrics/kpis/{kpi.id}" in own and f"/metrics/kpis/{elsewhere.id}" not in own
    # Below, the process's KPIs of no initiative (the demo's are such), with their dashboard.
    assert f"/metrics/kpis/{elsewhere.id}" in of_process and f"/metrics/kpis/{kpi.id}" not in of_process
    assert f"/metrics?process={ini.process_id}" in of_process
    assert f"/metrics?initiative={ini.id}" in kpis
    assert f"/event-logs/{log.id}" in logs and f"/event-logs/{loose.id}" not in logs
    assert f"/event-logs?process_id={ini.process_id}" in logs
    assert "/metrics/kpis/new" not in r.text and "#upload" not in r.text  # a viewer adds nothing
    for who in (team.member, team.admin):  # the team and administrators may add
        r = client.get(f"/initiatives/{ini.id}", headers=factory.bearer(who))
        assert f"/metrics/kpis/new?process_id={ini.process_id}&amp;initiative_id={ini.id}" in r.text
        assert f"/event-logs?process_id={ini.process_id}#upload" in r.text
    for who in (team.outsider, team.other_lead):  # not on the team: they could not
        r = client.get(f"/initiatives/{ini.id}", headers=factory.bearer(who))
        assert r.status_code == 200 and "/metrics/kpis/new" not in r.text and "#upload" not in r.text
    # An htmx section of the overview does not carry them.
    r = client.get(f"/initiatives/{ini.id}", headers={**factory.bearer(team.viewer), "HX-Request": "true"})
    assert r.status_code == 200


def test_kpi_form_chooses_the_initiative(client, factory, session, team):
    ini, other = team.initiative, team.other
    r = client.get("/metrics/kpis/new", headers=factory.bearer(team.member))
    assert r.status_code == 200
    assert 'name="initiative_id" type="number"' not in r.text
    choice = _initiative_select(r.text)
    assert f'<option value="{ini.id}"' in choice and f'<option value="{other.id}"' not in choice  # not on its team
    assert f"· {ini.title}</option>" in choice
    choice = _initiative_select(client.get("/metrics/kpis/new", headers=factory.bearer(team.admin)).text)
    assert f'<option value="{ini.id}"' in choice and f'<option value="{other.id}"' in choice
    # Prefilled from the initiative's link; the process narrows the choice (also by htmx on change).
    r = client.get(f"/metrics/kpis/new?process_id={other.process_id}&initiative_id={other.id}",
                   headers=factory.bearer(team.admin))
    choice = _initiative_select(r.text)
    assert f'<option value="{other.id}" selected' in choice and f'<option value="{ini.id}"' not in choice
    r = client.get(f"/metrics/kpi-form/initiatives?process_id={ini.process_id}&initiative_id={ini.id}",
                   headers=factory.bearer(team.admin))
    assert r.status_code == 200 and "<html" not in r.text and 'id="initiative-field"' in r.text
    choice = _initiative_select(r.text)
    assert f'<option value="{ini.id}" selected' in choice and f'<option value="{other.id}"' not in choice
    r = client.get("/metrics/kpi-form/initiatives", headers=factory.bearer(team.viewer))
    assert r.status_code == 200 and _initiative_select(r.text).count("<option") == 1  # only "—"


def test_kpi_form_creates_and_edits_with_the_chosen_initiative(client, factory, session, team):
    ini = team.initiative
    csrf = login(client, team.member)
    form = {"csrf_token": csrf, "code": "ACT-9", "name_en": "Wait", "name_zh": "等待", "unit": "min",
            "direction": "lower_is_better", "aggregation": "mean", "target": "", "baseline": "",
            "process_id": str(ini.process_id), "initiative_id": str(ini.id)}
    r = client.post("/metrics/kpis/new", data=form, headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text
    kpi = session.exec(select(Kpi).where(Kpi.code == "ACT-9")).one()
    assert kpi.initiative_id == ini.id
    page = client.get(f"/metrics/kpis/{kpi.id}").text
    assert f'<a href="/initiatives/{ini.id}" class="related-link">{ini.title}</a>' in page
    assert f'<a href="/processes/{ini.process_id}" class="related-link">' in page and f"<dd>#{ini.id}</dd>" not in page
    edit = client.get(f"/metrics/kpis/{kpi.id}/edit").text
    assert f'<option value="{ini.id}" selected' in _initiative_select(edit)
    # An initiative of another process is refused in the form's words.
    r = client.post("/metrics/kpis/new", data={**form, "code": "ACT-10", "initiative_id": str(team.other.id)},
                    headers={"HX-Request": "true"})
    assert r.status_code in (403, 422)
