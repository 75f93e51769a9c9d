"""Issue 20 on the pages: the as-is map as an SVG file, the priority matrix as CSV and XLSX (en, zh-CN), the
root-cause gate's "No problems yet.", and closing an initiative from its monitoring gate."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from openpyxl import load_workbook

from app.initiatives.models import InitiativeStatus, Phase
from app.initiatives.schemas import AdvanceRequest
from app.initiatives.service import advance, get_initiative
from tests.initiatives.factories import YH_STEPS, add_issue, add_steps

HX = {"HX-Request": "true"}
API = "/api/v1"


def _advance(session, team, phases: int) -> None:  # noqa: ANN001
    for _ in range(phases):
        ini = get_initiative(session, team.initiative.id)
        advance(session, ini.id, AdvanceRequest(override_reason="Set up by the test"), team.leader,
                expected_version=ini.version)
    session.flush()


def test_as_is_map_downloads_as_svg(client, factory, team, session):
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    h = factory.bearer(team.viewer)
    page = client.get(f"/initiatives/{team.initiative.id}/map", headers=h).text
    assert f'href="/initiatives/{team.initiative.id}/map.svg" download' in page
    r = client.get(f"/initiatives/{team.initiative.id}/map.svg", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith(f'-{team.initiative.id}-en.svg"')
    root = ET.fromstring(r.content)  # noqa: S314 - our own response: well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert r.text.count('<g class="node ') == len(YH_STEPS) and "<style>" in r.text and "lane-label" in r.text
    zh = client.get(f"/initiatives/{team.initiative.id}/map.svg", headers={**h, "Accept-Language": "zh-CN"})
    assert zh.headers["content-disposition"].endswith('-zh_CN.svg"') and "现状流程图" in zh.text
    # Without steps there is nothing to download, and the page offers nothing.
    empty = client.get(f"/initiatives/{team.other.id}/map", headers=factory.bearer(team.other_lead)).text
    assert "map.svg" not in empty


def test_priority_matrix_exports_csv_and_xlsx(client, factory, team, session):
    add_issue(session, team.initiative, team.leader, title="Late fulfilment", category="risk", impact=5, urgency=5)
    add_issue(session, team.initiative, team.leader, title="=HYPERLINK(1)", category="quality", impact=1, urgency=2)
    add_issue(session, team.initiative, team.leader, title="Not scored yet", category="efficiency")
    h = factory.bearer(team.viewer)
    page = client.get(f"/initiatives/{team.initiative.id}/matrix", headers=h).text
    assert "/matrix/export?format=csv&amp;lang=en" in page and "/matrix/export?format=xlsx&amp;lang=zh_CN" in page
    assert f"/api/v1/initiatives/{team.initiative.id}/priority-matrix" in page  # the JSON is still offered
    r = client.get(f"/initiatives/{team.initiative.id}/matrix/export", params={"format": "csv", "lang": "en"},
                   headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].endswith(f'-{team.initiative.id}-en.csv"')
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Quadrant", "Rank", "Problem", "Category", "Impact", "Urgency", "Score", "Status"]
    assert rows[1] == ["Do first", "1", "Late fulfilment", "Risk", "5", "5", "25", "Open"]
    assert rows[2][0] == "Defer" and rows[2][2] == "'=HYPERLINK(1)"  # never a formula
    assert rows[3][0] == "Not scored yet" and rows[3][4:7] == ["", "", ""]
    r = client.get(f"/initiatives/{team.initiative.id}/matrix/export", params={"format": "csv", "lang": "zh_CN"},
                   headers=h)
    zh = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert zh[0] == ["象限", "排名", "问题", "类别", "影响程度", "紧急程度", "得分", "状态"]
    assert zh[1][0] == "立即处理"
    r = client.get(f"/initiatives/{team.initiative.id}/matrix/export", params={"format": "xlsx"}, headers=h)
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('-zh_CN.xlsx"')
    ws = load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws[2]][:3] == ["象限", "排名", "问题"] and ws["C3"].value == "Late fulfilment"
    assert client.get(f"/initiatives/{team.initiative.id}/matrix/export", params={"format": "pdf"},
                      headers=h).status_code == 422
    # Outsiders of a team-only initiative are refused like on the board.
    board = client.get(f"/initiatives/{team.initiative.id}/matrix", headers=factory.bearer(team.outsider))
    export = client.get(f"/initiatives/{team.initiative.id}/matrix/export", headers=factory.bearer(team.outsider))
    assert export.status_code == board.status_code


def test_gate_says_no_problems_yet(client, factory, team, session):
    _advance(session, team, 1)
    url = f"/initiatives/{team.initiative.id}"
    h = factory.bearer(team.leader)
    page = client.get(url, headers=h).text
    assert "No problems yet." in page and "not scored" not in page
    zh = client.get(url, headers={**h, "Accept-Language": "zh-CN"}).text
    assert "尚无问题。" in zh
    gate = client.get(f"{API}/initiatives/{team.initiative.id}/gate", headers=h).json()
    scored = next(c for c in gate["criteria"] if c["code"] == "problems_scored")
    assert scored["met"] is True and scored["message"] == "No problems yet."
    assert scored["params"] == {"n": 0} and scored["message_key"] == "problems_scored.none"
    # With a problem the count is back, unchanged.
    add_issue(session, team.initiative, team.leader, title="Unscored")
    gate = client.get(f"{API}/initiatives/{team.initiative.id}/gate", headers=h).json()
    scored = next(c for c in gate["criteria"] if c["code"] == "problems_scored")
    assert scored["met"] is False and "(1 not scored)" in scored["message"] and scored["params"] == {"n": 1}
    assert "(1 not scored)" in client.get(url, headers=h).text


def test_close_the_initiative_from_the_monitoring_gate(client, factory, team, session):
    url = f"/initiatives/{team.initiative.id}"
    h = factory.bearer(team.leader)
    assert "Close the initiative" not in client.get(url, headers=h).text  # not before the last phase
    _advance(session, team, 5)
    version = get_initiative(session, team.initiative.id).version
    page = client.get(url, headers=h).text
    assert "Close the initiative" in page and f'action="{url}/close"' in page
    for other in (team.member, team.viewer):
        text = client.get(url, headers=factory.bearer(other)).text
        assert "close the initiative when it is done" in text and f"{url}/close" not in text
        r = client.post(f"{url}/close", data={"version": str(version)}, headers={**factory.bearer(other), **HX})
        assert r.status_code == 403
    # A stale version is refused in place and nothing changes.
    r = client.post(f"{url}/close", data={"version": str(version - 1)}, headers={**h, **HX})
    assert r.status_code == 422 and "Someone else changed this initiative" in r.text
    assert get_initiative(session, team.initiative.id).status == InitiativeStatus.active
    r = client.post(f"{url}/close", data={"version": str(version)}, headers={**h, **HX})
    assert r.status_code == 200 and r.headers["HX-Redirect"] == url
    session.expire_all()
    ini = get_initiative(session, team.initiative.id)
    assert ini.status == InitiativeStatus.completed and ini.current_phase == Phase.monitoring
    page = client.get(url, headers=h).text
    assert "Initiative closed." in page and f"{url}/close" not in page
    hist = client.get(f"{url}/history", headers=h).text
    assert "Completed" in hist
