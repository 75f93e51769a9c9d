"""The RACI page: the grid, toggling letters in place (htmx) with violations highlighted, management, import."""

from __future__ import annotations

import re

HX = {"HX-Request": "true"}


def _row(html: str, activity_id: int) -> str:
    m = re.search(rf'<tr id="activity-{activity_id}" class="([^"]*)"', html)
    assert m, html[:2000]
    return m.group(1)


def test_page_renders_grid_for_readers(client, factory, team, grid):
    r = client.get(f"/initiatives/{grid['ini']}/raci", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    assert "Operations manager" in r.text and "Manual review" in r.text
    assert 'name="letter"' not in r.text  # viewers read only
    assert "/static/js/raci.js" in r.text and "<script>" not in r.text
    assert _row(r.text, grid["acts"][0]) == "raci-row-error"  # no A, no R yet
    overview = client.get(f"/initiatives/{grid['ini']}", headers=factory.bearer(team.viewer))
    assert f'href="/initiatives/{grid["ini"]}/raci"' in overview.text


def test_toggle_returns_fragment_with_violation_highlight(client, factory, team, grid):
    h = {**factory.bearer(team.member), **HX}
    ops, mgr, it = grid["roles"]
    a1 = grid["acts"][0]
    url = f"/initiatives/{grid['ini']}/raci/cells"
    r = client.post(url, data={"activity_id": a1, "role_id": ops, "letter": "R"}, headers=h)
    r = client.post(url, data={"activity_id": a1, "role_id": mgr, "letter": "A"}, headers=h)
    assert r.status_code == 200 and "<html" not in r.text
    assert _row(r.text, a1) == ""  # one R, one A: fine
    assert f'id="c-{a1}-{mgr}-A" class="raci-letter on" aria-pressed="true"' in r.text
    assert f'id="role-{it}" class="raci-role raci-col-warning"' in r.text  # the idle role's column
    assert f'id="role-{mgr}" class="raci-role"' in r.text
    r = client.post(url, data={"activity_id": a1, "role_id": it, "letter": "A"}, headers=h)
    assert _row(r.text, a1) == "raci-row-error"
    assert "has 2 A (accountable)" in r.text
    assert "raci-col-warning" not in r.text
    r = client.post(url, data={"activity_id": a1, "role_id": it, "letter": "A"}, headers=h)  # toggled off
    assert _row(r.text, a1) == "" and "has 2 A" not in r.text
    assert 'class="raci-load-R">R 1<' in r.text
    r = client.post(url, data={"activity_id": a1, "role_id": it, "letter": "X"}, headers=h)
    assert r.status_code == 422 and "flash-error" in r.text
    r = client.post(url, data={"activity_id": "x", "role_id": it, "letter": "R"}, headers=h)
    assert r.status_code == 422
    r = client.post(url, data={"activity_id": a1, "role_id": it, "letter": "R"},
                    headers={**factory.bearer(team.outsider), **HX})
    assert r.status_code == 403
    r = client.post(url, data={"activity_id": a1, "role_id": it, "letter": "R"}, headers=factory.bearer(team.member),
                    follow_redirects=False)
    assert r.status_code == 303


def test_manage_roles_and_activities_on_the_page(client, factory, team, grid):
    h = {**factory.bearer(team.member), **HX}
    base = f"/initiatives/{grid['ini']}/raci"
    r = client.post(f"{base}/roles", data={"name": "Compliance"}, headers=h)
    assert r.status_code == 200 and "Compliance" in r.text
    r = client.post(f"{base}/roles", data={"name": ""}, headers=h)
    assert r.status_code == 422
    r = client.post(f"{base}/activities", data={"name": "Archive"}, headers=h)
    assert "Archive" in r.text
    r = client.post(f"{base}/roles/{grid['roles'][0]}/rename", data={"name": "Ops specialist"}, headers=h)
    assert "Ops specialist" in r.text
    r = client.post(f"{base}/activities/{grid['acts'][1]}/move", data={"direction": "up"}, headers=h)
    assert r.text.index(f'id="activity-{grid["acts"][1]}"') < r.text.index(f'id="activity-{grid["acts"][0]}"')
    r = client.post(f"{base}/activities/{grid['acts'][0]}/delete", headers=h)
    assert f'id="activity-{grid["acts"][0]}"' not in r.text
    r = client.post(f"{base}/from-survey", headers=h)
    assert 'id="activity-' in r.text and "User fills in information" in r.text
    assert client.post(f"{base}/nothing/1/delete", headers=h).status_code == 404


def test_import_on_the_page(client, factory, team, grid):
    h = factory.bearer(team.member)
    url = f"/initiatives/{grid['ini']}/raci/import"
    r = client.post(url, files={"file": ("r.csv", b"Activity,Operations manager\nManual review,Q\n")}, headers=h)
    assert r.status_code == 422 and "Nothing was imported." in r.text and "Row 2" in r.text
    r = client.post(url, files={"file": ("r.csv", b"Activity,Operations manager\nManual review,A\n")}, headers=h,
                    follow_redirects=False)
    assert r.status_code == 303


def test_page_in_chinese(client, factory, team, grid):
    r = client.get(f"/initiatives/{grid['ini']}/raci",
                   headers={**factory.bearer(team.member), "Accept-Language": "zh-CN"})
    assert r.status_code == 200
    for text in ("RACI 矩阵", "添加角色", "将调研步骤添加为活动", "负荷", "没有 A（批准人）", "个错误"):
        assert text in r.text, text
    assert "has no A" not in r.text and "Add role" not in r.text
