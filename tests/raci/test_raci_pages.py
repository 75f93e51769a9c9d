"""The RACI page: the grid, toggling letters in place (htmx) with violations highlighted, management, import."""

from __future__ import annotations

import re

from app.core.i18n import gettext_for
from app.raci.pages import MEMBER_MESSAGES

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


def _header(html: str, role_id: int) -> str:
    m = re.search(rf'<th scope="col" id="role-{role_id}".*?</th>', html, re.S)
    assert m, html[:2000]
    return m.group(0)


def _member_of(client, factory, team, ini: int, role_id: int):  # noqa: ANN001, ANN202
    roles = client.get(f"/api/v1/initiatives/{ini}/raci", headers=factory.bearer(team.viewer)).json()["roles"]
    return next(r["member_user_id"] for r in roles if r["id"] == role_id)


def test_role_headers_offer_the_team(client, factory, team, grid):
    r = client.get(f"/initiatives/{grid['ini']}/raci", headers=factory.bearer(team.member))
    head = _header(r.text, grid["roles"][0])
    assert f'action="/initiatives/{grid["ini"]}/raci/roles/{grid["roles"][0]}/member"' in head
    assert '<option value="">Nobody</option>' in head
    for user in (team.leader, team.member, team.it):
        assert f'<option value="{user.id}">{user.display_name}</option>' in head
    for user in (team.outsider, team.viewer, team.other_lead):
        assert f'value="{user.id}"' not in head
    assert 'aria-label="Member · Operations specialist"' in head
    assert 'id="member-new"' in r.text  # the add-role form offers it too
    r = client.get(f"/initiatives/{grid['ini']}/raci", headers=factory.bearer(team.viewer))
    assert "/member" not in r.text and 'name="member_user_id"' not in r.text  # viewers read only


def test_link_and_unlink_a_member_on_the_page(client, factory, team, grid):
    h = {**factory.bearer(team.member), **HX}
    ini, role = grid["ini"], grid["roles"][1]
    url = f"/initiatives/{ini}/raci/roles/{role}/member"
    r = client.post(url, data={"member_user_id": str(team.it.id)}, headers=h)
    assert r.status_code == 200 and "<html" not in r.text
    head = _header(r.text, role)
    assert f'<span class="raci-msg muted raci-member">{team.it.display_name}</span>' in head
    assert f'<option value="{team.it.id}" selected>' in head
    assert _member_of(client, factory, team, ini, role) == team.it.id
    viewer_page = client.get(f"/initiatives/{ini}/raci", headers=factory.bearer(team.viewer)).text
    assert team.it.display_name in _header(viewer_page, role)  # everyone sees who plays the role
    r = client.post(url, data={"member_user_id": ""}, headers=h)  # nobody
    assert r.status_code == 200
    assert "raci-member\"" not in _header(r.text, role)
    assert _member_of(client, factory, team, ini, role) is None
    r = client.post(url, data={"member_user_id": str(team.leader.id)}, headers=factory.bearer(team.member),
                    follow_redirects=False)  # without htmx: back to the page
    assert r.status_code == 303 and r.headers["location"].endswith(f"/initiatives/{ini}/raci")
    assert _member_of(client, factory, team, ini, role) == team.leader.id


def test_add_role_with_a_member_on_the_page(client, factory, team, grid):
    h = {**factory.bearer(team.member), **HX}
    base = f"/initiatives/{grid['ini']}/raci"
    r = client.post(f"{base}/roles", data={"name": "Compliance", "member_user_id": str(team.leader.id)}, headers=h)
    assert r.status_code == 200
    roles = client.get(f"/api/v1{base}", headers=h).json()["roles"]
    assert roles[-1]["name"] == "Compliance" and roles[-1]["member_user_id"] == team.leader.id
    r = client.post(f"{base}/roles", data={"name": "Legal", "member_user_id": ""}, headers=h)
    assert r.status_code == 200
    assert client.get(f"/api/v1{base}", headers=h).json()["roles"][-1]["member_user_id"] is None
    r = client.post(f"{base}/roles", data={"name": "Audit", "member_user_id": str(team.outsider.id)}, headers=h)
    assert r.status_code == 422 and 'role="alert">Not on the initiative' in r.text
    assert 'value="Audit"' in r.text  # what was typed stays
    assert [x["name"] for x in client.get(f"/api/v1{base}", headers=h).json()["roles"]][-1] == "Legal"


def test_member_not_on_the_team_is_refused_inline(client, factory, team, grid):
    h = {**factory.bearer(team.member), **HX}
    ini, role = grid["ini"], grid["roles"][0]
    url = f"/initiatives/{ini}/raci/roles/{role}/member"
    client.post(url, data={"member_user_id": str(team.member.id)}, headers=h)
    for bad in (team.outsider.id, team.viewer.id, 999999, "x"):
        r = client.post(url, data={"member_user_id": str(bad)}, headers=h)
        assert r.status_code == 422, bad
        head = _header(r.text, role)
        assert 'aria-invalid="true"' in head and 'class="raci-msg raci-msg-error" role="alert"' in head
        assert team.member.display_name in head  # unchanged
        assert _member_of(client, factory, team, ini, role) == team.member.id
    assert "Not on the initiative&#39;s team: choose one of its members or nobody." in _header(
        client.post(url, data={"member_user_id": str(team.outsider.id)}, headers=h).text, role)
    r = client.post(url, data={"member_user_id": str(team.outsider.id)},
                    headers={**h, "Accept-Language": "zh-CN"})
    zh = gettext_for("zh_CN")(MEMBER_MESSAGES["unknown_user"]).replace("'", "&#39;")
    assert r.status_code == 422 and f'role="alert">{zh}</span>' in _header(r.text, role)  # in the user's language
    assert "is not on the initiative" not in r.text  # not the service's English detail
    assert client.post(url, data={}, headers=h).status_code == 422
    other_role = f"/initiatives/{team.other.id}/raci/roles/{role}/member"
    assert client.post(other_role, data={"member_user_id": ""}, headers=factory.bearer(team.other_lead)).status_code \
        == 404
    assert client.post(f"/initiatives/{ini}/raci/roles/999999/member", data={"member_user_id": ""},
                       headers=h).status_code == 404


def test_only_the_team_links_members(client, factory, team, grid):
    ini, role = grid["ini"], grid["roles"][0]
    url = f"/initiatives/{ini}/raci/roles/{role}/member"
    for user in (team.viewer, team.outsider, team.other_lead):
        r = client.post(url, data={"member_user_id": str(team.member.id)}, headers={**factory.bearer(user), **HX})
        assert r.status_code == 403, user.role
        assert client.post(f"/initiatives/{ini}/raci/roles", data={"name": "X", "member_user_id": ""},
                           headers={**factory.bearer(user), **HX}).status_code == 403
    assert _member_of(client, factory, team, ini, role) is None
    r = client.post(url, data={"member_user_id": str(team.member.id)}, headers={**factory.bearer(team.admin), **HX})
    assert r.status_code == 200 and _member_of(client, factory, team, ini, role) == team.member.id


def test_a_linked_person_who_left_the_team_is_marked(client, factory, team, grid, session):
    from app.initiatives.service import membership, remove_member

    h = {**factory.bearer(team.leader), **HX}
    ini, role = grid["ini"], grid["roles"][2]
    client.post(f"/initiatives/{ini}/raci/roles/{role}/member", data={"member_user_id": str(team.it.id)}, headers=h)
    remove_member(session, ini, membership(session, ini, team.it).id, team.leader)
    session.flush()
    head = _header(client.get(f"/initiatives/{ini}/raci", headers=h).text, role)
    assert f"{team.it.display_name} (not on the team)</span>" in head
    assert f'<option value="{team.it.id}" selected>{team.it.display_name} (not on the team)</option>' in head
