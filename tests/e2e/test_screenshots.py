"""`SCREENSHOTS=1 pytest -m e2e tests/e2e/test_screenshots.py`: save PNGs of the main pages in screenshots/."""

from __future__ import annotations

import os

import pytest

from tests.e2e.screenshots import take
from tests.e2e.server import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="set SCREENSHOTS=1 to save screenshots"),
]


def test_screenshots(browser, live_url: str) -> None:  # noqa: ANN001
    problems = take(live_url, ROOT / "screenshots", browser)
    assert not [p for p in problems if "Content Security Policy" in p or p.startswith("pageerror")], problems
