"""The BPMN import in a real browser, in English and in Chinese: a Camunda Modeler file previewed in place (htmx,
the chosen file kept in the form), every element of the file listed, then imported onto a new initiative's
survey."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.e2e.conftest import htmx_idle, login, mark_document, not_reloaded
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e
FILE = Path(__file__).resolve().parents[3] / "shared" / "bpmn" / "camunda-modeler" / "C.2.0.bpmn"
BUTTONS = {"en": ("Preview", "Import"), "zh_CN": ("预览", "导入")}


def _new_initiative(live_url: str, title: str) -> int:
    with httpx.Client(base_url=live_url) as api:
        token = api.post("/api/v1/auth/token", data={"username": LEAD[0], "password": LEAD[1]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        process = api.get("/api/v1/processes", headers=headers).json()["items"][0]
        r = api.post("/api/v1/initiatives", headers=headers,
                     json={"process_id": process["id"], "title": title, "trigger": "inefficiency"})
        assert r.status_code == 201, r.text
        return r.json()["id"]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_camunda_file_previewed_then_imported_onto_the_survey(page, live_url, locale):  # noqa: ANN001
    if not FILE.exists():
        pytest.skip(f"no reference files at {FILE.parent}")
    preview_label, import_label = BUTTONS[locale]
    initiative_id = _new_initiative(live_url, f"BPMN import {locale}")
    page.goto(f"/lang?set={locale}&next=/login")
    login(page, *LEAD)
    page.goto(f"/initiatives/{initiative_id}/survey")
    page.locator("a[href$='/survey/bpmn']").click()
    page.set_input_files("input[type=file][name=file]", str(FILE))
    mark_document(page)
    page.get_by_role("button", name=preview_label, exact=True).click()
    htmx_idle(page)
    report = page.locator("table.bpmn-report tbody tr")
    elements = etree.parse(str(FILE)).getroot().iter()
    flow_nodes = [e for e in elements if isinstance(e.tag, str) and e.tag.endswith(("Task", "}task", "Event",
                                                                                     "Gateway", "subProcess"))]
    expect(report.first).to_be_visible()
    ids = set(page.locator("table.bpmn-report tbody tr td:first-child code").all_inner_texts())
    assert {e.get("id") for e in flow_nodes} <= ids  # every flow node of the file is listed
    assert not_reloaded(page)
    steps = page.locator("ol.bpmn-steps li").all_inner_texts()
    page.get_by_role("button", name=f"{import_label} {len(steps)}").click()  # "Import 24 steps" / "导入 24 个步骤"
    page.wait_for_url(f"**/initiatives/{initiative_id}/survey")
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("#survey tr[id^='step-']")).to_have_count(len(steps))
