"""The risk register in a real browser, in English and in Chinese, on a fresh process (the lead its owner) made
through the JSON API: a risk added on the page (first without its description: the message at the field), shown
in its heat-map cell; the cell filters the list to it; the risk edited (status and response) and shown so; a second
cell's risk is not in the first cell's list.

`RISKS_SHOTS=/tmp/risks-shots` also saves screenshots of the pages.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.server import ADMIN, LEAD

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("RISKS_SHOTS")


def _client(live_url: str, who: tuple[str, str]) -> httpx.Client:
    token = httpx.post(f"{live_url}/api/v1/auth/token", data={"username": who[0], "password": who[1]}).json()
    return httpx.Client(base_url=live_url, timeout=30, headers={"Authorization": f"Bearer {token['access_token']}"})


def _process(live_url: str, locale: str) -> int:
    n = f"{locale.split('_')[0].upper()}{datetime.now().strftime('%H%M%S%f')[:9]}"
    with _client(live_url, ADMIN) as admin, _client(live_url, LEAD) as lead:
        lead_id = lead.get("/api/v1/users/me").json()["id"]
        r = admin.post("/api/v1/processes", json={"code": f"RK-{n}", "name": f"Refund approval {n}",
                                                  "owner_id": lead_id})
        assert r.status_code == 201, r.text
        return r.json()["id"]


def _shot(page, name: str) -> None:  # noqa: ANN001
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _add(page, pid: int, description: str, likelihood: str, impact: str) -> None:  # noqa: ANN001
    page.goto(f"/processes/{pid}/risks")
    page.locator(f"a.button[href='/processes/{pid}/risks/new']").click()
    form = page.locator("#risk-form")
    form.locator("textarea[name=description]").fill(description)
    form.locator("select[name=likelihood]").select_option(likelihood)
    form.locator("select[name=impact]").select_option(impact)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/processes/{pid}/risks#risk-*")


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_add_edit_and_filter_by_the_heat_map(page, live_url, locale):  # noqa: ANN001
    zh = locale == "zh_CN"
    pid = _process(live_url, locale)
    page.context.clear_cookies()
    page.goto(f"/lang?set={locale}&next=/login")
    login(page, *LEAD)
    page.goto(f"/processes/{pid}/risks")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if zh else "en")
    expect(page.locator("#risks tbody tr td.empty")).to_be_visible()
    expect(page.locator("a.rk-cell")).to_have_count(25)

    # Without a description: refused at its field, the rest kept as typed.
    page.locator(f"a.button[href='/processes/{pid}/risks/new']").click()
    form = page.locator("#risk-form")
    form.locator("select[name=likelihood]").select_option("5")
    form.locator("textarea[name=response]").fill("发货前系统校验")
    form.locator("button[type=submit]").click()
    expect(page.locator("#description-error")).to_be_visible()
    expect(page.locator("textarea[name=description]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("select[name=likelihood]")).to_have_value("5")
    expect(page.locator("textarea[name=response]")).to_have_value("发货前系统校验")
    _shot(page, f"{locale}-form-error")
    page.locator("textarea[name=description]").fill("大额退款未经复核即打款")
    page.locator("select[name=impact]").select_option("2")
    page.locator("#risk-form button[type=submit]").click()
    page.wait_for_url(f"**/processes/{pid}/risks#risk-*")
    expect(page.locator(".flash-ok")).to_be_visible()
    row = page.locator("#risks tbody tr", has_text="大额退款未经复核即打款")
    expect(row).to_contain_text("10")  # 5 x 2
    expect(page.locator("#cell-5-2")).to_contain_text("1")
    _add(page, pid, "退款原因填写不规范", "2", "3")
    expect(page.locator("#cell-2-3")).to_contain_text("1")
    expect(page.locator("#risks tbody tr")).to_have_count(2)

    # A cell filters the list to its risks; choosing it again shows every cell.
    page.locator("#cell-5-2").click()
    expect(page.locator("#cell-5-2")).to_have_attribute("aria-current", "true")
    expect(page.locator("#risks tbody tr")).to_have_count(1)
    expect(page.locator("#risks tbody tr")).to_contain_text("大额退款未经复核即打款")
    _shot(page, f"{locale}-cell")
    page.locator("#cell-5-2").click()
    expect(page.locator("#risks tbody tr")).to_have_count(2)

    # Edit: status and response; back on the register, the row shows them.
    page.locator("#risks tbody tr", has_text="大额退款未经复核即打款").locator("a.button").click()
    form = page.locator("#risk-form")
    expect(form.locator("textarea[name=description]")).to_have_value("大额退款未经复核即打款")
    form.locator("select[name=status]").select_option("mitigating")
    form.locator("textarea[name=response]").fill("超过 5,000 元的退款需财务复核")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/processes/{pid}/risks#risk-*")
    row = page.locator("#risks tbody tr", has_text="大额退款未经复核即打款")
    expect(row.locator(".rk-status-mitigating")).to_be_visible()
    expect(row).to_contain_text("超过 5,000 元的退款需财务复核")
    page.locator("a.rk-filter, .rk-filter a[href*='status=mitigating']").first.click()
    expect(page.locator("#risks tbody tr")).to_have_count(1)
    _shot(page, f"{locale}-register")
