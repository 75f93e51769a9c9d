"""A zh-CN page shows no English sentence that comes from procopt itself (20.4).

Chromium walks every page an administrator reaches by links from the process list (at most two pages
of each shape, e.g. `/issues/N`), plus pages reached by an address a person may edit (a record that does
not exist), in Chinese, and reads what the page shows. Two ways of finding English:
- a message of the catalog whose Chinese exists but whose English is shown, in any case and inside
  a line too ("... 30 -> 5 min (lower is better)");
- a line of English words (three or more, only Latin letters) that is not demo data: the demo's
  records are bilingual on purpose (`用户填写信息 User fills in information`), and format names and codes
  are not sentences.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

from app.core.i18n import TRANSLATIONS_DIR
from tests.e2e.conftest import DESKTOP, login
from tests.e2e.server import live_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("admin@example.com", "demo-admin-2026")
SKIP = re.compile(r"^/(static|api|logout|lang|login)\b|export|download|\.(csv|xlsx|svg|png|json|parquet)$")
EXTRA = ["/issues/999999", "/initiatives/999999", "/processes/999999", "/metrics/kpis/999999", "/no-such-page"]
PER_SHAPE = 2
# Three or more words of Latin letters (numbers may stand between them: "Problem 12 not found.").
ENGLISH_LINE = re.compile(r"^(?=(?:.*?\b[A-Za-z]{2,}\b){3})[A-Za-z0-9'’,:;()\-]+(?: [A-Za-z0-9'’,:;()\-]+){2,}[.!?]?$")


def _catalog_english() -> list[str]:
    """The English of every translated message, as the literal runs a page would show (placeholders out)."""
    with (TRANSLATIONS_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    found = set()
    for message in catalog:
        if not message.id or not message.string or message.id == message.string or message.fuzzy:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        for run in re.split(r"%\(\w+\)[sd]|\{\w*\}|%[sd]", msgid):
            run = run.strip(" .,:;()“”\"'")
            if len(run) >= 14 and run.count(" ") >= 2:
                found.add(run)
    return sorted(found)


def _demo_text() -> str:
    """Every string literal of the demo data (bilingual records are not procopt's own English)."""
    parts = []
    for path in [*sorted((ROOT / "app" / "demo").glob("*.py")), *sorted((ROOT / "app").glob("*/demo.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts.append(node.value)
    return "\n".join(parts)


def _shape(path: str) -> str:
    return re.sub(r"/\d+", "/N", path)


def _crawl(page, start: str, limit: int = 120) -> dict[str, str]:  # noqa: ANN001
    seen_shapes: dict[str, int] = {}
    texts: dict[str, str] = {}
    queue = deque([start, *EXTRA])
    while queue and len(texts) < limit:
        path = queue.popleft()
        if path in texts or SKIP.search(path):
            continue
        shape = _shape(path)
        if seen_shapes.get(shape, 0) >= PER_SHAPE:
            continue
        seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
        page.goto(path)
        texts[path] = page.locator("body").inner_text()
        for href in page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
            parts = urlsplit(href)
            if not parts.scheme and not parts.netloc and parts.path.startswith("/"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return texts


@pytest.fixture
def demo_page(browser, _browser_available):  # noqa: ANN001, ANN201
    """A page on a server of its own with the demo data only: the other browser tests' records (typed in
    English on purpose) are not procopt's words."""
    with live_server() as base:
        context = browser.new_context(base_url=base, viewport=DESKTOP)
        context.set_default_timeout(5000)
        yield context.new_page()
        context.close()


def test_chinese_pages_show_no_english_of_procopts_own(demo_page) -> None:  # noqa: ANN001
    page = demo_page
    login(page, *ADMIN)
    page.goto("/lang?set=zh_CN&next=/processes")
    texts = _crawl(page, "/processes")
    assert len(texts) > 30, sorted(texts)  # the walk reached the pages, not just the start
    english, demo = _catalog_english(), _demo_text().lower()
    leaks: list[str] = []
    for path, text in texts.items():
        lowered = text.lower()
        for run in english:
            if run.lower() in lowered and run.lower() not in demo:
                leaks.append(f"{path}: catalog English {run!r}")
        for line in (line.strip() for line in text.splitlines()):
            if ENGLISH_LINE.match(line) and line.lower() not in demo:
                leaks.append(f"{path}: English line {line!r}")
    assert leaks == [], "\n".join(sorted(set(leaks)))
