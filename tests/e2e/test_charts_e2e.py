"""The KPI charts in Chromium (static/js/charts.js, shared with the pilot's): drawn when the page loads, drawn
again for the content an htmx grain switch brings, the old ones disposed of."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import htmx_idle, login, mark_document, not_reloaded
from tests.e2e.server import LEAD

pytestmark = pytest.mark.e2e


def test_the_kpi_charts_are_drawn_and_drawn_again_after_a_grain_switch(page) -> None:  # noqa: ANN001
    login(page, *LEAD)
    page.goto("/metrics")
    charts = page.locator("#kpi-board .chart[data-chart]")
    expect(charts.first).to_be_visible()
    n = charts.count()
    assert n >= 3
    expect(page.locator("#kpi-board .chart[data-chart] canvas")).to_have_count(n)
    first = charts.first.get_attribute("data-chart")
    mark_document(page)
    page.locator("a[hx-get*='grain=month']").first.click()
    htmx_idle(page)
    assert not_reloaded(page)
    expect(page.locator("#kpi-board .chart[data-chart] canvas")).to_have_count(n)
    assert charts.first.get_attribute("data-chart") != first  # new data, drawn
    instances = page.evaluate("Array.from(document.querySelectorAll('#kpi-board .chart[data-chart]'))"
                              ".filter(el => echarts.getInstanceByDom(el)).length")
    assert instances == n
