"""The BPMN import pages: the preview lists every element and writes nothing, the import writes, a bad file is an
inline message with nothing written, both languages, and who may see them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.core.i18n import LANG_COOKIE
from app.maps import bpmn_write
from app.maps.model import MapDoc, MapStep
from app.sops import service as sops
from app.survey.models import SurveyStep
from app.users.models import Role
from tests.initiatives.factories import InitiativeFactory, add_steps
from tests.sops.factories import publish_now, standalone_draft
from tests.sops.test_control_rules import SECTIONS


@pytest.fixture
def team(session, factory):
    return InitiativeFactory(session, factory).team()


def _doc() -> MapDoc:
    steps = [MapStep("S", "收到订单", "input", lane="运营部"), MapStep("T", "审核订单", "activity", lane="运营部"),
             MapStep("U", "Approve", "activity", lane="Regional office"), MapStep("E", "发货", "output", lane="运营部")]
    return MapDoc("bpmn:p", "Orders", steps, lanes=["运营部", "Regional office"])


def _files(content: bytes | None = None) -> dict:
    return {"file": ("orders.bpmn", content if content is not None else bpmn_write.write(_doc()), "application/xml")}


def _names(session, initiative_id: int) -> list[str]:
    return [s.name for s in session.exec(select(SurveyStep).where(SurveyStep.initiative_id == initiative_id)
                                         .order_by(SurveyStep.position))]


@pytest.mark.parametrize(("lang", "words"), [("en", ["Every element of the file", "Import 4 steps", "Operations"]),
                                             ("zh_CN", ["文件中的每个元素", "导入 4 个步骤", "运营部"])])
def test_the_preview_lists_every_element_and_writes_nothing(client, factory, session, team, lang, words):
    client.cookies.set(LANG_COOKIE, lang)
    h = factory.bearer(team.member)
    base = f"/initiatives/{team.initiative.id}/survey/bpmn"
    page = client.get(base, headers=h)
    assert page.status_code == 200 and f'action="{base}"' in page.text
    r = client.post(f"{base}/preview", headers=h, files=_files())
    assert r.status_code == 200, r.text
    for word in words:
        assert word in r.text
    assert r.text.count('<tr class="taken"') == 4 + 2  # 4 steps, 2 lanes
    assert "Regional office" in r.text and _names(session, team.initiative.id) == []
    # htmx swaps in the preview alone, keeping the form (and its chosen file)
    fragment = client.post(f"{base}/preview", headers={**h, "HX-Request": "true"}, files=_files())
    assert "bpmn-preview" in fragment.text and "<form" not in fragment.text


def test_the_import_writes_and_goes_back_to_the_survey(client, factory, session, team):
    add_steps(session, team.initiative, team.leader, [{"name": "Existing", "minutes": "3"}])
    h = factory.bearer(team.member)
    r = client.post(f"/initiatives/{team.initiative.id}/survey/bpmn", headers=h, data={"mode": "replace"},
                    files=_files(), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/initiatives/{team.initiative.id}/survey"
    assert _names(session, team.initiative.id) == ["收到订单", "审核订单", "Approve", "发货"]


@pytest.mark.parametrize("content", [b"", b"<x/>", b'<!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>'])
def test_a_bad_file_is_an_inline_message_and_nothing_is_written(client, factory, session, team, content):
    add_steps(session, team.initiative, team.leader, [{"name": "Existing", "minutes": "3"}])
    h = factory.bearer(team.member)
    for url in (f"/initiatives/{team.initiative.id}/survey/bpmn/preview",
                f"/initiatives/{team.initiative.id}/survey/bpmn"):
        r = client.post(url, headers=h, data={"mode": "replace"}, files=_files(content))
        assert r.status_code == 422 and 'role="alert"' in r.text and "Nothing was imported." in r.text, r.text
    assert _names(session, team.initiative.id) == ["Existing"]


def test_who_may_open_the_survey_import(client, factory, session, team):
    base = f"/initiatives/{team.initiative.id}/survey/bpmn"
    for user in (team.outsider, team.viewer, team.other_lead):
        h = factory.bearer(user)
        assert client.get(base, headers=h).status_code == 403
        assert client.post(f"{base}/preview", headers=h, files=_files()).status_code == 403
        assert client.post(base, headers=h, files=_files()).status_code == 403
    assert _names(session, team.initiative.id) == []


def test_the_sop_import_page_replaces_the_steps(client, factory, session):
    process, owner, v = standalone_draft(session, factory, {})
    h = factory.bearer(owner)
    base = f"/sop-versions/{v.id}/steps/bpmn"
    assert f'href="{base}"' in client.get(f"/sop-versions/{v.id}/edit", headers=h).text
    page = client.get(base, headers=h)
    assert page.status_code == 200 and f'name="version" value="{v.version}"' in page.text
    assert client.post(f"{base}/preview", headers=h, files=_files()).status_code == 200
    stale = client.post(base, headers=h, data={"version": str(v.version - 1)}, files=_files())
    assert stale.status_code == 422 and "nothing was imported" in stale.text
    r = client.post(base, headers=h, data={"version": str(v.version)}, files=_files(), follow_redirects=False)
    assert r.status_code == 303, r.text
    session.expire_all()
    steps = sops.content_of(sops.get_version(session, v.id)).steps
    assert [s.name for s in steps] == ["审核订单", "Approve"] and steps[0].inputs == "收到订单"


def test_a_published_version_offers_no_import(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    published = publish_now(session, factory, owner, v)
    h = factory.bearer(owner)
    page = client.get(f"/sop-versions/{published.id}/steps/bpmn", headers=h)
    assert page.status_code == 200 and "This version can no longer change." in page.text
    assert 'id="bpmn-form"' not in page.text
    r = client.post(f"/sop-versions/{published.id}/steps/bpmn", headers=h, data={"version": str(published.version)},
                    files=_files())
    assert r.status_code == 422 and 'role="alert"' in r.text
    session.expire_all()
    assert [s.name for s in sops.content_of(sops.get_version(session, published.id)).steps] == ["Review"]


def test_who_may_open_the_sop_import(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    for user in (factory.user(Role.member), factory.user(Role.viewer)):
        h = factory.bearer(user)
        assert client.get(f"/sop-versions/{v.id}/steps/bpmn", headers=h).status_code in (403, 404)
        r = client.post(f"/sop-versions/{v.id}/steps/bpmn", headers=h, data={"version": str(v.version)},
                        files=_files())
        assert r.status_code in (403, 404)
    assert [s.name for s in sops.content_of(sops.get_version(session, v.id)).steps] == ["Review"]


def test_the_survey_page_links_the_import(client, factory, session, team):
    text = client.get(f"/initiatives/{team.initiative.id}/survey", headers=factory.bearer(team.member)).text
    assert f'href="/initiatives/{team.initiative.id}/survey/bpmn"' in text


def test_the_viewer_pages_follow_the_read_rules(client, factory, session, team):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    page = client.get(f"/sop-versions/{v.id}/flow/bpmn", headers=factory.bearer(owner))
    assert page.status_code == 200 and f'data-bpmn-url="/api/v1/sop-versions/{v.id}/flow.bpmn?lang=en"' in page.text
    # A draft is read by those who may read it: its author, not another member.
    assert client.get(f"/sop-versions/{v.id}/flow/bpmn",
                      headers=factory.bearer(factory.user(Role.member))).status_code in (403, 404)
    r = client.get(f"/initiatives/{team.initiative.id}/map/bpmn", headers=factory.bearer(team.viewer))
    assert r.status_code == 200 and "bpmn-canvas" in r.text
    assert client.get(f"/initiatives/{team.initiative.id}/map/bpmn", follow_redirects=False).status_code in (303, 401)
