"""The pages in a real browser: login, forms with inline errors, live search, language switch, CSRF via htmx."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login, mark_document, not_reloaded
from tests.e2e.server import ADMIN, LEAD

pytestmark = pytest.mark.e2e


def test_login_language_switch_and_logout(page) -> None:  # noqa: ANN001
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("h1")).to_have_text("Log in to procopt")

    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text("Incorrect email or password.")
    expect(page.locator("input[name=email]")).to_have_value(ADMIN[0])

    login(page, *ADMIN)
    expect(page.locator("#messages")).to_contain_text("Welcome back.")
    nav = page.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Processes")).to_have_attribute("aria-current", "page")
    expect(nav).to_contain_text("Users")

    page.locator(".langs").get_by_role("link", name="中文").click()
    expect(page).to_have_url(re.compile(r"/processes$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("流程")
    expect(nav.get_by_role("link", name="流程")).to_be_visible()
    expect(nav.get_by_role("link", name="用户")).to_be_visible()
    expect(nav.get_by_role("link", name="服务令牌")).to_be_visible()
    expect(page.get_by_role("link", name="新建流程")).to_be_visible()
    expect(page.locator("table thead")).to_contain_text("负责部门")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.locator(".whoami")).to_contain_text("管理员")

    page.get_by_role("link", name="新建流程").click()
    expect(page.locator("h1")).to_have_text("新建流程")
    expect(page.get_by_role("button", name="保存")).to_be_visible()
    expect(page.locator("legend")).to_have_text("涉及部门")
    expect(page.locator("#process-form")).to_contain_text("运营部")  # departments in Chinese too

    page.locator(".langs").get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/processes/new$"))
    expect(page.locator("h1")).to_have_text("New process")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#messages")).to_contain_text("You have been logged out.")
    page.goto("/processes")
    expect(page).to_have_url(re.compile(r"/login\?next=/processes"))


def test_create_process_with_inline_errors(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.get_by_role("link", name="New process").click()
    expect(page).to_have_url(re.compile(r"/processes/new$"))
    name = f"客户投诉处理流程 Complaint handling {uuid.uuid4().hex[:6]}"
    page.fill("input[name=code]", "!!")
    page.fill("input[name=name]", name)
    page.fill("textarea[name=description]", "受理 -> 分派 -> 处理 -> 回访")
    page.select_option("select[name=owner_department]", "customer_service")
    page.check("input[name=departments][value=customer_service]")
    page.check("input[name=departments][value=operations]")
    mark_document(page)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 422

    code = page.locator("input[name=code]")
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#code-error")).to_have_text("This format is not valid.")
    expect(code).to_have_value("!!")
    expect(code).to_be_focused()  # the first field with an error
    expect(page.locator("input[name=name]")).to_have_value(name)
    expect(page.locator("textarea[name=description]")).to_have_value("受理 -> 分派 -> 处理 -> 回访")
    expect(page.locator("select[name=owner_department]")).to_have_value("customer_service")
    expect(page.locator("input[name=departments][value=customer_service]")).to_be_checked()
    expect(page.locator("input[name=departments][value=operations]")).to_be_checked()
    expect(page.locator("input[name=departments][value=finance]")).not_to_be_checked()
    expect(page.locator("input[name=name]")).not_to_have_attribute("aria-invalid", "true")
    assert not_reloaded(page), "the error should be swapped in by htmx, not by a page load"
    expect(page).to_have_url(re.compile(r"/processes/new$"))

    new_code = f"E2E-{uuid.uuid4().hex[:6].upper()}"
    code.fill(new_code)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/processes/\d+$"))
    expect(page.locator("#messages")).to_contain_text("Process created.")
    expect(page.locator("h1")).to_contain_text(new_code)
    expect(page.locator("h1")).to_contain_text(name)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("受理 -> 分派 -> 处理 -> 回访")
    expect(facts).to_contain_text("Customer service")
    expect(facts).to_contain_text("Wang Li")


def test_live_search_updates_rows_without_reload(page) -> None:  # noqa: ANN001
    login(page, *ADMIN)
    rows = page.locator("#process-rows tr")
    expect(rows.filter(has_text="YH-LC01")).to_have_count(1)
    expect(rows.filter(has_text="YH-LC02")).to_have_count(1)
    mark_document(page)

    search = page.get_by_role("searchbox")
    search.press_sequentially("LC02", delay=30)
    expect(rows.filter(has_text="YH-LC01")).to_have_count(0)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("订单履约流程")
    expect(page).to_have_url(re.compile(r"[?&]q=LC02"))  # shareable: the URL follows the search

    search.fill("")
    search.press_sequentially("履约", delay=30)  # Chinese names are searchable too
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("YH-LC02")

    search.fill("no-such-process-zz")
    expect(rows.first).to_contain_text("No process matches.")

    search.fill("")
    page.select_option("select[name=status]", "archived")
    expect(rows.first).to_contain_text("No process matches.")
    page.select_option("select[name=status]", "")
    expect(rows.filter(has_text="YH-LC01")).to_have_count(1)
    expect(rows.filter(has_text="YH-LC02")).to_have_count(1)
    assert not_reloaded(page)


def test_htmx_posts_carry_the_csrf_token_header(page) -> None:  # noqa: ANN001
    login(page, *ADMIN)
    headers = page.locator("body").get_attribute("hx-headers") or ""
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]{64})"', headers)
    assert token, f"body hx-headers has no CSRF token: {headers!r}"

    page.goto("/processes/new")
    # Without the form's hidden field, only the header htmx adds can pass the CSRF check.
    page.evaluate("document.querySelector('#process-form input[name=csrf_token]').remove()")
    page.fill("input[name=code]", "")
    page.fill("input[name=name]", "CSRF via htmx")
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.get_by_role("button", name="Save").click()
    request = sent.value
    assert request.headers.get("x-csrf-token") == token.group(1)
    assert request.headers.get("hx-request") == "true"
    assert "csrf_token" not in (request.post_data or "")
    assert request.response().status == 422  # the form's own validation, not 403
    expect(page.locator("#code-error")).to_have_text("This field is required.")

    # The same post without the token is refused.
    refused = page.request.post("/processes/new", form={"code": "X-1", "name": "x"}, max_redirects=0)
    assert refused.status == 403


def test_pages_render_without_console_errors(page, console) -> None:  # noqa: ANN001
    """Every main page, as an administrator, in both languages: no CSP violation, no script error."""
    login(page, *ADMIN)
    page.get_by_role("link", name="YH-LC01").click()
    expect(page).to_have_url(re.compile(r"/processes/\d+$"))
    detail = page.url
    for lang in ("en", "zh_CN"):
        page.goto(f"/lang?set={lang}&next=/processes")
        for path in (detail, f"{detail}/history", f"{detail}/edit", "/admin/users", "/admin/users/new",
                     "/admin/tokens", "/no-such-page"):
            page.goto(path)
            expect(page.locator("h1")).to_be_visible()
    page.goto("/no-such-page")
    expect(page.locator(".error-code")).to_have_text("404")
    expect(page.locator("h1")).to_have_text("未找到")
    unexpected = [m for m in console if m.startswith("error") and "404 (Not Found)" not in m]
    assert not unexpected, unexpected


def test_not_found_page_when_logged_in(page) -> None:  # noqa: ANN001
    login(page, *ADMIN)
    response = page.goto("/processes/999999")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("nav.mainnav")).to_contain_text("Processes")  # still logged in, with the menu


def test_chinese_browser_sees_chinese_login(browser, live_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(base_url=live_url, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("h1")).to_have_text("登录 procopt")
        expect(page.get_by_role("button", name="登录")).to_be_visible()
    finally:
        context.close()
