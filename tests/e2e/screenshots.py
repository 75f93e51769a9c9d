"""Screenshots of the main pages, in English and Chinese, on a desktop and a phone.

    .venv/bin/python -m tests.e2e.screenshots [--out screenshots]

Starts its own server with demo data (see `tests/e2e/server.py`). Not collected by pytest;
`SCREENSHOTS=1 pytest -m e2e` runs it too (tests/e2e/test_screenshots.py).
Also fails when the browser reports a Content Security Policy violation or a script error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tests.e2e.server import ADMIN, ROOT, launch_browser, live_server

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}
LOCALES = {"en": "en", "zh": "zh_CN"}


def _login(page, base: str, email: str, password: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/processes$"))


def _prepare_data(page, base: str) -> int:  # noqa: ANN001
    """An edited process (for a history with changes) and a service token; returns the process id."""
    page.goto(f"{base}/processes?q=YH-LC01")
    page.click("a:text('YH-LC01')")
    pid = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.goto(f"{base}/processes/{pid}/edit")
    page.fill("textarea[name=description]", page.input_value("textarea[name=description]")
              + "\n5. Weekly review with 运营部 and 技术部.")
    page.check("input[name=departments][value=legal]")
    page.click("#process-form button[type=submit]")
    page.wait_for_url(f"{base}/processes/{pid}")
    page.goto(f"{base}/admin/tokens")
    if page.locator("table.table tbody tr td code").count() == 0:
        page.fill("input[name=name]", "Power BI 报表")
        page.check("input[name=scopes][value=read]")
        page.check("input[name=scopes][value='metrics:read']")
        page.click("form[action='/admin/tokens'] button[type=submit]")
        page.wait_for_load_state()
    return pid


def take(base: str, out: Path, browser) -> list[str]:  # noqa: ANN001
    """Save the screenshots; return the console problems seen (CSP violations, script errors)."""
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    pid = None
    for vp_name, viewport in VIEWPORTS.items():
        for short, locale in LOCALES.items():
            ctx = browser.new_context(viewport=viewport, locale="en-US", device_scale_factor=1)
            page = ctx.new_page()
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.goto(f"{base}/lang?set={locale}&next=/login")

            def shot(name: str, page=page, vp_name=vp_name, short=short) -> None:  # noqa: ANN001
                page.screenshot(path=str(out / f"{name}-{short}-{vp_name}.png"), full_page=True)

            shot("01-login")
            _login(page, base, *ADMIN)
            if pid is None:
                pid = _prepare_data(page, base)
            page.goto(f"{base}/processes")
            shot("02-processes")
            page.goto(f"{base}/processes/new")
            page.fill("input[name=code]", "!!")
            page.fill("input[name=name]", "客户投诉处理流程 Complaint handling")
            page.check("input[name=departments][value=customer_service]")
            page.click("#process-form button[type=submit]")
            page.wait_for_selector(".field-error")
            shot("03-new-process-errors")
            page.goto(f"{base}/processes/{pid}")
            shot("04-process-detail")
            page.goto(f"{base}/processes/{pid}/history")
            shot("05-history")
            page.goto(f"{base}/admin/users")
            shot("06-users")
            page.goto(f"{base}/admin/tokens")
            shot("07-tokens")
            page.goto(f"{base}/processes/999999")
            shot("08-not-found")
            page.goto(f"{base}/my-work")
            shot("09-my-work")
            # Phase 6 on the demo process: the feedback form and triage, the reviews, the risk register.
            page.goto(f"{base}/feedback/new?process={pid}")
            shot("10-feedback-form")
            page.goto(f"{base}/processes/{pid}/feedback")
            shot("11-feedback-triage")
            page.goto(f"{base}/processes/{pid}/reviews")
            shot("12-reviews")
            page.locator("a[href^='/reviews/']").first.click()
            page.wait_for_url(re.compile(r".*/reviews/\d+$"))
            shot("13-review")
            page.goto(f"{base}/processes/{pid}/risks")
            shot("14-risks")
            ctx.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args(argv)
    with live_server() as base, sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            problems = take(base, args.out, browser)
        finally:
            browser.close()
    print(f"screenshots saved in {args.out}")
    for p in problems:
        print("console:", p, file=sys.stderr)
    return 1 if any("Content Security Policy" in p or p.startswith("pageerror") for p in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
