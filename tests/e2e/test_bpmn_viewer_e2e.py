"""procopt's BPMN 2.0 exports in the bpmn.io viewer (bpmn-js, vendored), in a real browser, in English and in
Chinese: the demo initiative's as-is map and the demo's SOP versions in force, opened by the "View as BPMN"
links. bpmn-js draws every task of the file (read here with lxml from the same URL, with the page's session)
with its name, every lane and event with theirs, all of it in view; the "powered by bpmn.io" watermark shows;
no console error, no Content Security Policy violation, nothing loaded from another origin."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e
VIEWER = ("viewer@example.com", "demo-viewer-2026")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# The activities of BPMN 2.0 that are drawn as a box with their name inside.
TASKS = ("task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask",
         "receiveTask", "subProcess", "callActivity")
# Drawn with their name as an external label (`<id>_label`).
LABELLED = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
            "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Recorded by the page itself: every `securitypolicyviolation` event, before any of its scripts run.
RECORD_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _compact(text: str) -> str:
    """bpmn-js wraps a name into lines (tspans): compared without any white space."""
    return re.sub(r"\s+", "", text)


def _named(root: etree._Element, kinds: tuple[str, ...]) -> dict[str, str]:
    """id -> name of the elements of these kinds that have a name."""
    found = {}
    for kind in kinds:
        for el in root.iter(f"{{{BPMN_NS}}}{kind}"):
            if (el.get("name") or "").strip():
                found[el.get("id")] = el.get("name")
    return found


def _bpmn(page, url: str) -> etree._Element:  # noqa: ANN001
    response = page.request.get(url)
    assert response.ok, f"{url}: {response.status}"
    assert response.headers["content-type"].startswith("application/bpmn+xml")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(response.body(), parser)


def _demo_initiative(page) -> int:  # noqa: ANN001
    """The first initiative of the demo with survey steps."""
    items = page.request.get("/api/v1/initiatives?limit=100").json()["items"]
    for ini in sorted(items, key=lambda i: i["id"]):
        if page.request.get(f"/api/v1/initiatives/{ini['id']}/survey/steps").json()["items"]:
            return ini["id"]
    raise AssertionError("no initiative with survey steps in the demo data")


def _demo_sop_versions(page) -> list[int]:  # noqa: ANN001
    """The SOP version in force of each demo process (YH-...) that has one."""
    versions = []
    for process in page.request.get("/api/v1/processes?limit=100").json()["items"]:
        if not process["code"].startswith("YH-"):
            continue
        current = page.request.get(f"/api/v1/processes/{process['id']}/sop")
        if current.ok:
            assert current.json()["state"] == "published"
            versions.append(current.json()["id"])
    assert versions, "no SOP version in force in the demo data"
    return versions


def _assert_drawn(page, lang: str, console) -> None:  # noqa: ANN001
    """The viewer page is open: bpmn-js draws every element of its file with its name, in view."""
    canvas = page.locator("#bpmn-canvas")
    expect(canvas).to_have_attribute("data-bpmn-state", "ready", timeout=15000)
    url = canvas.get_attribute("data-bpmn-url")
    assert parse_qs(urlsplit(url).query)["lang"] == [lang]
    assert canvas.get_attribute("data-bpmn-warnings") == "0", [m for m in console if m.startswith("warning")]
    assert canvas.get_attribute("data-bpmn-fits") == "true"  # the demo's flows fit at a readable scale
    expect(page.locator("#bpmn-error")).to_be_empty()
    expect(page.locator("#bpmn-error")).to_be_hidden()
    box = canvas.bounding_box()
    assert box["height"] >= 240, box

    root = _bpmn(page, url)
    tasks = _named(root, TASKS)
    assert tasks, f"{url} has no task"
    for element_id, name in tasks.items():
        shape = canvas.locator(f"g.djs-element.djs-shape[data-element-id='{element_id}']")
        expect(shape).to_have_count(1)
        assert _compact(name) in _compact(shape.text_content()), (element_id, name, shape.text_content())
        b = shape.bounding_box()
        assert b["width"] > 50 and b["height"] > 40, (element_id, b)  # drawn at a readable scale
        assert box["x"] <= b["x"] and b["x"] + b["width"] <= box["x"] + box["width"], (element_id, b, box)
        assert box["y"] <= b["y"] and b["y"] + b["height"] <= box["y"] + box["height"], (element_id, b, box)
    for element_id, name in _named(root, LABELLED).items():
        label = canvas.locator(f"g.djs-element[data-element-id='{element_id}_label']")
        expect(label).to_have_count(1)
        assert _compact(name) in _compact(label.text_content()), (element_id, name)
    lanes = _named(root, ("lane",))
    for element_id, name in lanes.items():
        assert _compact(name) in _compact(canvas.locator(f"g.djs-element[data-element-id='{element_id}']")
                                          .first.text_content()), (element_id, name)

    # In Chinese the names are the Chinese file's: the departments (lanes) in Chinese, not the English ones.
    other = _bpmn(page, url.replace(f"lang={lang}", "lang=" + ("en" if lang == "zh_CN" else "zh_CN")))
    other_lanes = _named(other, ("lane",))
    assert lanes and lanes.keys() == other_lanes.keys()
    if lang == "zh_CN":
        assert all(CJK.search(n) for n in [*lanes.values(), *tasks.values()]), (lanes, tasks)
        assert all(lanes[k] != other_lanes[k] for k in lanes), (lanes, other_lanes)
    else:
        assert not any(CJK.search(n) for n in lanes.values()), lanes

    # The bpmn.io watermark (its license): shown, in the box, not covered by anything.
    logo = canvas.locator(".bjs-powered-by")
    expect(logo).to_be_visible()
    lb = logo.bounding_box()
    assert lb["width"] > 20 and lb["height"] > 10, lb
    assert box["x"] <= lb["x"] and lb["x"] + lb["width"] <= box["x"] + box["width"], (lb, box)
    assert box["y"] <= lb["y"] and lb["y"] + lb["height"] <= box["y"] + box["height"], (lb, box)
    on_top = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('.bjs-powered-by')",
                           [lb["x"] + lb["width"] / 2, lb["y"] + lb["height"] / 2])
    assert on_top, "something covers the bpmn.io watermark"

    assert page.evaluate("window.__cspViolations") == []
    errors = [m for m in console if m.startswith(("error", "pageerror"))]
    assert not errors, errors


@pytest.fixture
def requests_seen(page, live_url: str) -> list[str]:  # noqa: ANN001
    """Every URL the page asks for; checked at the end: all on the app's own origin (no CDN)."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    yield seen
    foreign = [u for u in seen if not u.startswith((live_url + "/", "data:"))]
    assert not foreign, f"requests to another origin: {foreign}"


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_as_is_map_in_the_bpmn_viewer(page, console, requests_seen, lang: str) -> None:  # noqa: ANN001
    page.add_init_script(RECORD_CSP)
    page.goto(f"/lang?set={lang}&next=/login")
    login(page, *VIEWER)
    ini = _demo_initiative(page)
    page.goto(f"/initiatives/{ini}/map")
    with page.expect_response(lambda r: f"/api/v1/initiatives/{ini}/map.bpmn" in r.url) as bpmn:
        page.click(f"a[href='/initiatives/{ini}/map/bpmn']")
    assert bpmn.value.status == 200
    assert page.url.endswith(f"/initiatives/{ini}/map/bpmn")
    expect(page.locator(".tabs a[aria-current]")).to_have_attribute("href", f"/initiatives/{ini}/map")
    expect(page.locator(".page-head a[download]")).to_have_attribute("href", re.compile(rf"lang={lang}$"))
    _assert_drawn(page, lang, console)
    assert any(u.endswith("/bpmn-navigated-viewer.production.min.js") for u in requests_seen)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_sop_flows_in_the_bpmn_viewer(page, console, requests_seen, lang: str) -> None:  # noqa: ANN001
    page.add_init_script(RECORD_CSP)
    page.goto(f"/lang?set={lang}&next=/login")
    login(page, *VIEWER)
    for version in _demo_sop_versions(page):
        page.goto(f"/sop-versions/{version}")
        with page.expect_response(lambda r, v=version: f"/api/v1/sop-versions/{v}/flow.bpmn" in r.url) as bpmn:
            page.click(f"a[href='/sop-versions/{version}/flow/bpmn']")
        assert bpmn.value.status == 200
        _assert_drawn(page, lang, console)
        # Back to the version, by the page's own link.
        page.click(f".page-head a[href='/sop-versions/{version}']")
        page.wait_for_url(re.compile(rf"/sop-versions/{version}$"))


def test_a_file_that_cannot_be_read_shows_the_error(page, console) -> None:  # noqa: ANN001
    """A file that is no BPMN: the viewer says so in the alert (the page's translated text), the box goes away."""
    page.add_init_script(RECORD_CSP)
    login(page, *VIEWER)
    ini = _demo_initiative(page)
    page.route("**/map.bpmn*", lambda route: route.fulfill(status=200, content_type="application/bpmn+xml",
                                                           body="<not-bpmn/>"))
    page.goto(f"/initiatives/{ini}/map/bpmn")
    canvas = page.locator("#bpmn-canvas")
    expect(canvas).to_have_attribute("data-bpmn-state", "error")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(canvas.get_attribute("data-error-text"))
    expect(alert).to_be_visible()
    expect(canvas).to_be_hidden()
    assert page.evaluate("window.__cspViolations") == []
