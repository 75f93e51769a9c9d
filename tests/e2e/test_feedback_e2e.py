"""Feedback in a real browser: a person sends feedback anonymously with a screenshot, keeps the receipt code,
follows it on the receipt page without logging in and downloads the file there, named `attachment.png`, its
text chunks gone; the process's owner finds it on My work and on the triage page."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, PngImagePlugin
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


def _screenshot(path) -> None:  # noqa: ANN001
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Zhang San")
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (10, 120, 200)).save(out, "PNG", pnginfo=info)
    path.write_bytes(out.getvalue())


def test_anonymous_feedback_with_a_file_followed_by_its_receipt(page, tmp_path, console) -> None:  # noqa: ANN001
    shot = tmp_path / "张三的截图.png"
    _screenshot(shot)
    login(page, "member@example.com", "demo-member-2026")
    page.goto("/feedback/new")
    process = page.locator("select[name=process] option", has_text="YH-LC01").get_attribute("value")
    page.select_option("select[name=process]", process)
    page.get_by_role("button", name="Show its steps").click()
    page.select_option("select[name=category]", "quality")
    text = "导出的报表截图里日期列是空的 (e2e)"
    page.fill("textarea[name=text]", text)
    page.set_input_files("input[name=file]", str(shot))
    page.get_by_role("button", name="Send anonymously").click()
    code = page.locator("#receipt-code").inner_text()
    expect(page.locator("main")).to_contain_text("The file was kept with it.")

    page.context.clear_cookies()  # the sender follows it without logging in
    page.goto("/feedback/receipt")
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("main")).to_contain_text(text)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the file").click()
    assert download.value.suggested_filename == "attachment.png"
    kept = Image.open(download.value.path())
    assert kept.size == (60, 40) and "Author" not in kept.info

    login(page, *LEAD)  # the process's owner
    page.goto("/my-work")
    waiting = page.locator("#related-feedback_new")
    waiting.get_by_role("link", name=re.compile("导出的报表截图")).click()
    expect(page).to_have_url(re.compile(r"/processes/\d+/feedback\?status=new#feedback-\d+$"))
    item = page.locator("article.fb-item", has_text=text)
    expect(item.get_by_role("link", name=re.compile("attachment.png"))).to_be_visible()
    assert console.csp_violations() == [] and console.script_errors() == []
