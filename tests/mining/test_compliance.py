"""Control-point compliance over event logs (issue #15): every rule of the SOP version in force over every case
of a log, each violation type in a small log whose expected counts are worked out by hand below; the same log as
CSV (case attributes as columns) and as XES (trace attributes), the live check agreeing with the log check case by
case, the API with its authorization, and the weekly KPIs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

import pytest

from app.core.i18n import LANG_COOKIE
from app.mining import compliance, readers
from app.sops import rules
from app.sops.schemas import ActivityDone, EditSection, SopContent
from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import page_login
from tests.mining.test_eventlogs_api import upload
from tests.sops.factories import publish_now, standalone_draft

CP1, CP2 = uuid.uuid4(), uuid.uuid4()
ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
              {"name": "urgent", "type": "boolean"}]
CONTROL_POINTS = [
    {"description": "Customer told (no rule)"},
    {"id": str(CP1), "description": "Orders >= 10,000 need the finance head's approval before shipping",
     "rule": {"condition": "amount >= 10000.0",
              "requirement": {"activity": "Finance approval", "before": "Ship", "role": "finance_head"}}},
    {"id": str(CP2), "description": "Web orders are activated within 5 minutes of the review",
     "rule": {"condition": 'channel == "web"',
              "requirement": {"activity": "Activate", "within_minutes": 5, "after": "Review"}}},
]
SPECIAL = {"kind": "special_case", "situation": "Urgent large order", "instead": "The operations head approves",
           "approver": "Operations head", "backfill_hours": 24, "control_point_id": str(CP1),
           "condition": "amount >= 100000.0 && urgent"}
SECTIONS = {EditSection.steps: [{"name": "Review", "minutes": 5}], EditSection.attributes: ATTRIBUTES,
            EditSection.control_points: CONTROL_POINTS, EditSection.contingencies: [SPECIAL]}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

# Each case: attributes (amount, channel, urgent; None = no value) and its events (minutes after T0 + one day per
# case, activity, role). CP1 is the control point numbered 2, CP2 the one numbered 3 (the first has no rule).
CASES: dict[str, tuple[tuple[str | None, str | None, str | None], list[tuple[int, str, str]]]] = {
    # CP1 compliant (approved by finance_head before Ship); CP2 compliant (activated 3 min after review).
    "c01": (("12000", "web", "false"), [(0, "Review", "clerk"), (3, "Activate", "clerk"),
                                        (10, "Finance approval", "finance_head"), (20, "Ship", "clerk")]),
    # CP1 missing_activity; CP2 out of scope (shop).
    "c02": (("15000", "shop", "false"), [(0, "Review", "clerk"), (20, "Ship", "clerk")]),
    # CP1 wrong_role (approved by a clerk); CP2 out of scope.
    "c03": (("20000", "shop", "false"), [(0, "Finance approval", "clerk"), (20, "Ship", "clerk")]),
    # CP1 wrong_order (shipped before the approval); CP2 out of scope.
    "c04": (("30000", "shop", "false"), [(0, "Ship", "clerk"), (20, "Finance approval", "finance_head")]),
    # CP1 out of scope (500); CP2 too_late (10 minutes).
    "c05": (("500", "web", "false"), [(0, "Review", "clerk"), (10, "Activate", "clerk")]),
    # CP1 not evaluable, amount missing; CP2 missing_activity (never activated).
    "c06": ((None, "web", "false"), [(0, "Review", "clerk"), (30, "Ship", "clerk")]),
    # CP1 special case (150,000 and urgent: no finance approval needed); CP2 out of scope.
    "c07": (("150000", "shop", "true"), [(0, "Ops approval", "ops_head"), (5, "Ship", "clerk")]),
    # CP1 not evaluable, amount not a number; CP2 not evaluable, channel missing.
    "c08": (("abc", None, "false"), [(0, "Review", "clerk"), (5, "Ship", "clerk")]),
    # CP1 compliant (150,000 but not urgent: approved); CP2 missing_activity (activated, never reviewed).
    "c09": (("150000", "web", "false"), [(0, "Finance approval", "finance_head"), (2, "Activate", "clerk"),
                                         (9, "Ship", "clerk")]),
    # CP1 compliant at the boundary (10,000; never shipped, so the order holds); CP2 compliant at exactly 5 min.
    "c10": (("10000", "web", "false"), [(0, "Review", "clerk"), (5, "Activate", "clerk"),
                                        (6, "Finance approval", "finance_head")]),
}
EXPECTED = {
    2: {"compliant": 3, "violating": 3, "violations": {"missing_activity": 1, "wrong_role": 1, "wrong_order": 1,
                                                        "too_late": 0},
        "special_case": 1, "not_evaluable": 2,
        "not_evaluable_reasons": {"missing_attribute": 1, "invalid_attribute": 1, "error": 0, "roles_missing": 0},
        "out_of_scope": 1, "compliance_rate": 0.5},
    3: {"compliant": 2, "violating": 3, "violations": {"missing_activity": 2, "wrong_role": 0, "wrong_order": 0,
                                                        "too_late": 1},
        "special_case": 0, "not_evaluable": 1,
        "not_evaluable_reasons": {"missing_attribute": 1, "invalid_attribute": 0, "error": 0, "roles_missing": 0},
        "out_of_scope": 4, "compliance_rate": 0.4},
}
BY_CASE = {  # (point, case) -> (status, reason), the same hand count case by case
    (2, "c01"): ("compliant", None), (2, "c02"): ("violating", "missing_activity"),
    (2, "c03"): ("violating", "wrong_role"), (2, "c04"): ("violating", "wrong_order"),
    (2, "c05"): ("out_of_scope", None), (2, "c06"): ("not_evaluable", "missing_attribute"),
    (2, "c07"): ("special_case", None), (2, "c08"): ("not_evaluable", "invalid_attribute"),
    (2, "c09"): ("compliant", None), (2, "c10"): ("compliant", None),
    (3, "c01"): ("compliant", None), (3, "c05"): ("violating", "too_late"),
    (3, "c06"): ("violating", "missing_activity"), (3, "c08"): ("not_evaluable", "missing_attribute"),
    (3, "c09"): ("violating", "missing_activity"), (3, "c10"): ("compliant", None),
    **{(3, c): ("out_of_scope", None) for c in ("c02", "c03", "c04", "c07")},
}


def _events(case_id: str) -> list[tuple[datetime, str, str]]:
    day = T0 + timedelta(days=int(case_id[1:]) - 1)
    return [(day + timedelta(minutes=m), activity, role) for m, activity, role in CASES[case_id][1]]


def csv_log() -> bytes:
    lines = ["case_id,activity,timestamp,resource,role,amount,case:channel,urgent"]
    for case_id, ((amount, channel, urgent), _) in CASES.items():
        for at, activity, role in _events(case_id):
            lines.append(f"{case_id},{activity},{at.isoformat()},{role}-1,{role},{amount or ''},{channel or ''},"
                         f"{urgent}")
    return ("\n".join(lines) + "\n").encode()


def xes_log() -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">']
    for case_id, ((amount, channel, urgent), _) in CASES.items():
        out.append(f'<trace><string key="concept:name" value="{case_id}"/>')
        if amount is not None:
            kind = "float" if amount.replace(".", "").isdigit() else "string"
            out.append(f'<{kind} key="amount" value={quoteattr(amount)}/>')
        if channel is not None:
            out.append(f'<string key="channel" value={quoteattr(channel)}/>')
        out.append(f'<boolean key="urgent" value="{urgent}"/>')
        for at, activity, role in _events(case_id):
            out.append(f'<event><string key="concept:name" value={quoteattr(activity)}/>'
                       f'<string key="org:resource" value="{role}-1"/><string key="org:role" value="{role}"/>'
                       f'<date key="time:timestamp" value="{at.isoformat()}"/></event>')
        out.append("</trace>")
    out.append("</log>")
    return "\n".join(out).encode()


def _compiled() -> rules.Compiled:
    return rules.compile_content(SopContent.model_validate(
        {"attributes": ATTRIBUTES, "control_points": CONTROL_POINTS, "contingencies": [SPECIAL]}))


def _by_case(outcome: compliance.Outcome) -> dict[tuple[int, str], tuple[str, str | None]]:
    return {(p, c): (s, r) for c, p, s, r in outcome.results.select("case_id", "point", "status", "reason").iter_rows()}


@pytest.mark.parametrize(("kind", "content"), [("csv", csv_log), ("xes", xes_log)])
def test_each_violation_type_is_counted_as_by_hand(kind, content):
    events, _, cases = readers.read_log(kind, content())
    assert {"amount", "channel", "urgent"} <= set(cases.columns)
    outcome = compliance.evaluate(events, cases, _compiled(), "Asia/Shanghai")
    assert _by_case(outcome) == BY_CASE
    assert [n for n, _ in outcome.points] == [2, 3]
    assert outcome.cases == 10 and outcome.roles


def test_the_live_check_agrees_with_the_log_check_case_by_case():
    """The live check (rules.check with the case's activities) and the log check give one verdict per case."""
    compiled = _compiled()
    types = compiled.types
    for case_id, ((amount, channel, urgent), _) in CASES.items():
        attributes = {"amount": float(amount) if amount and amount.isdigit() else None, "channel": channel,
                      "urgent": urgent == "true"}
        done = [ActivityDone(activity=a, at=at, role=role) for at, a, role in _events(case_id)]
        result = rules.check(compiled, {k: v for k, v in attributes.items() if k in types}, done)
        for number, point in ((2, result.control_points[1]), (3, result.control_points[2])):
            status, reason = BY_CASE[(number, case_id)]
            if status in ("compliant", "violating"):
                assert point.met is (status == "compliant") and (reason or "met") == point.reason, case_id
            elif status == "special_case":
                assert point.reason == "special_case"
            elif status == "out_of_scope":
                assert point.applies is False
            else:  # not evaluable: the live check names the missing attribute (the invalid one is absent there)
                assert point.applies is None and point.reason.startswith("missing_attributes:")


def test_a_requirement_with_a_role_is_not_evaluable_in_a_log_without_roles():
    no_roles = csv_log().decode().replace(",role,", ",unused_role,").encode()
    events, _, cases = readers.read_log("csv", no_roles)
    assert "role" not in events.columns
    outcome = compliance.evaluate(events, cases, _compiled(), "UTC")
    got = _by_case(outcome)
    assert not outcome.roles
    # Where the activity is there but who did it is unknown: not evaluable; never done: still a violation.
    assert got[(2, "c01")] == ("not_evaluable", "roles_missing")
    assert got[(2, "c03")] == ("not_evaluable", "roles_missing")
    assert got[(2, "c02")] == ("violating", "missing_activity")
    assert got[(3, "c05")] == ("violating", "too_late")  # no role asked: unaffected


def test_a_condition_that_fails_on_a_value_is_not_evaluable_and_conditions_outside_the_translation_still_run():
    content = SopContent.model_validate({"attributes": ATTRIBUTES, "control_points": [
        {"description": "Whole amounts", "rule": {"condition": "int(amount) > 5",
                                                   "requirement": {"activity": "Ship"}}}]})
    log = (b"case,activity,timestamp,amount\n1,Ship,2026-03-02T09:00:00Z,7\n2,Review,2026-03-02T09:00:00Z,1e300\n"
           b"3,Review,2026-03-02T09:00:00Z,2\n4,Review,2026-03-02T09:00:00Z,9\n")
    events, _, cases = readers.read_log("csv", log)
    got = _by_case(compliance.evaluate(events, cases, rules.compile_content(content), "UTC"))
    assert got == {(1, "1"): ("compliant", None), (1, "2"): ("not_evaluable", "error"),
                   (1, "3"): ("out_of_scope", None), (1, "4"): ("violating", "missing_activity")}


def test_declared_attributes_match_log_attributes_ignoring_case_and_punctuation():
    assert compliance.match_attributes({"order_amount": "number", "channel": "text", "urgent": "boolean"},
                                       ["Order Amount", "Channel", "channel ", "other"]) == {
        "order_amount": "Order Amount", "channel": "Channel", "urgent": None}


# ---------------------------------------------------------------- through the API

@pytest.fixture
def published(session, factory):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    return process, owner, publish_now(session, factory, owner, v)


def test_compliance_of_a_log_through_the_api(client, factory, published):
    process, owner, v = published
    member = factory.user(Role.member)
    r = upload(client, factory.bearer(member), process.id, csv_log(), filename="orders.csv")
    assert r.status_code == 201, r.text
    assert r.json()["case_attributes"] == ["amount", "channel", "urgent"]
    log_id = r.json()["id"]
    viewer = factory.bearer(factory.user(Role.viewer))  # everyone signed in reads it
    body = client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=viewer).json()
    assert (body["version_id"], body["number"], body["cases"], body["roles_recorded"]) == (v.id, "V1.0", 10, True)
    assert [a["column"] for a in body["attributes"]] == ["amount", "channel", "urgent"]
    assert body["attributes"][0] == {"name": "amount", "type": "number", "column": "amount",
                                     "cases_with_value": 9, "invalid": 1}
    points = {p["number"]: p for p in body["control_points"]}
    for number, expected in EXPECTED.items():
        assert {k: points[number][k] for k in expected} == expected
        assert points[number]["cases"] == 10 and points[number]["kpi"] == f"{process.code}-CP{number}"

    r = client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=viewer,
                   params={"point": 2, "limit": 2})
    page = r.json()
    assert [(c["case_id"], c["reason"]) for c in page["items"]] == [("c02", "missing_activity"),
                                                                      ("c03", "wrong_role")]
    assert page["items"][0]["attributes"] == {"amount": "15000", "channel": "shop", "urgent": "false"}
    assert [e["activity"] for e in page["items"][0]["trace"]] == ["Review", "Ship"]
    assert page["items"][1]["trace"][0]["role"] == "clerk"
    assert 'rel="next"' in r.headers["link"]
    rest = client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=viewer,
                      params={"point": 2, "cursor": page["next_cursor"]}).json()
    assert [c["case_id"] for c in rest["items"]] == ["c04"] and rest["next_cursor"] is None
    too_late = client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=viewer,
                          params={"reason": "too_late"}).json()["items"]
    assert [(c["point"], c["case_id"]) for c in too_late] == [(3, "c05")]
    specials = client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=viewer,
                          params={"status": "special_case"}).json()["items"]
    assert [(c["point"], c["case_id"]) for c in specials] == [(2, "c07")]


def test_compliance_needs_a_version_in_force_of_the_logs_process(client, factory, published):
    process, owner, v = published
    member = factory.bearer(factory.user(Role.member))
    other = factory.process(owner=factory.user(Role.member))
    log_id = upload(client, member, other.id, csv_log()).json()["id"]
    r = client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=member)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=member, params={"version_id": v.id})
    assert r.status_code == 422 and "version_id" in r.text
    assert client.get("/api/v1/event-logs/999999/compliance", headers=member).status_code == 404
    assert client.get(f"/api/v1/event-logs/{log_id}/compliance").status_code == 401
    # The live check's scope reads no logs; `read` does.
    checker = {"Authorization": f"Bearer {factory.service_token(['controls:check'])}"}
    assert client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=checker).status_code == 403
    reader = {"Authorization": f"Bearer {factory.service_token(['read'])}"}
    assert client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=reader).status_code == 404
    r = client.get(f"/api/v1/event-logs/{log_id}/compliance/cases", headers=member, params={"status": "bad"})
    assert r.status_code == 422


def test_a_draft_version_is_checked_only_by_those_who_may_read_it(client, factory, session):
    process, owner, draft = standalone_draft(session, factory, SECTIONS)
    member = factory.bearer(factory.user(Role.member))
    log_id = upload(client, member, process.id, csv_log()).json()["id"]
    r = client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=member, params={"version_id": draft.id})
    assert r.status_code in (403, 404), r.text
    r = client.get(f"/api/v1/event-logs/{log_id}/compliance", headers=factory.bearer(owner),
                   params={"version_id": draft.id})
    assert r.status_code == 200 and r.json()["number"] is None


def test_publishing_a_logs_kpis_adds_the_weekly_compliance_of_each_rule(client, factory, published, session):
    process, owner, v = published
    member = factory.user(Role.member)
    log_id = upload(client, factory.bearer(member), process.id, csv_log()).json()["id"]
    r = client.post(f"/api/v1/event-logs/{log_id}/publish-kpis", headers=factory.bearer(member))
    assert r.status_code == 200, r.text
    assert {f"{process.code}-CP2", f"{process.code}-CP3"} <= set(r.json()["kpis"])
    obs = client.get("/api/v1/metrics/observations", headers=factory.bearer(member),
                     params={"kpi": f"{process.code}-CP2", "limit": 100})
    assert obs.status_code == 200, obs.text
    # Cases c01..c10 end on 2-11 March 2026 (Asia/Shanghai weeks from Monday 2 and 9 March): CP1 (point 2) in the
    # first week c01 ok, c02 c03 c04 violating (c05 c06 c07 c08 not counted) -> 1/4; second week c09 c10 ok -> 1.
    shanghai = ZoneInfo("Asia/Shanghai")
    values = sorted((datetime.fromisoformat(o["ts"]).astimezone(shanghai).date().isoformat(), o["value"])
                    for o in obs.json()["items"])
    assert values == [("2026-03-02", 0.25), ("2026-03-09", 1.0)]


def case(case_id: str) -> str:
    """A case as the page shows it: its id in its own element (a bare id can occur in a random CSRF token)."""
    return f'<span class="code">{case_id}</span>'


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Compliance rate", "Activity missing", "within 5 min of Review")),
    ("zh_CN", ("合规率", "缺少活动", "在Review后 5 分钟内"))])
def test_the_pages_show_the_counts_and_the_cases(client, factory, published, lang, words):
    process, owner, v = published
    member = factory.user(Role.member)
    log_id = upload(client, factory.bearer(member), process.id, csv_log()).json()["id"]
    page_login(client, member.email, PASSWORD)
    client.cookies.set(LANG_COOKIE, lang)
    header, reason, requirement = words
    fragment = client.get(f"/event-logs/{log_id}/compliance", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text, fragment.text[:300]
    assert header in fragment.text and requirement in fragment.text
    assert "50.0 %" in fragment.text and "40.0 %" in fragment.text  # the hand-counted rates
    full = client.get(f"/event-logs/{log_id}/compliance", params={"point": 2})
    assert full.status_code == 200 and reason in full.text
    assert case("c02") in full.text and case("c01") not in full.text
    cases = client.get(f"/event-logs/{log_id}/compliance", params={"status": "special_case"},
                       headers={"HX-Request": "true"})
    assert 'id="compliance-cases"' in cases.text and case("c07") in cases.text and case("c02") not in cases.text
    # The filter form sends every field, empty ones too.
    late = client.get(f"/event-logs/{log_id}/compliance", params={"point": "", "status": "violating",
                                                                   "reason": "too_late"}, headers={"HX-Request": "true"})
    assert late.status_code == 200 and case("c05") in late.text and case("c02") not in late.text
    log_page = client.get(f"/event-logs/{log_id}")
    assert f'hx-get="/event-logs/{log_id}/compliance"' in log_page.text
    sop_page = client.get(f"/sop-versions/{v.id}")
    assert f'hx-get="/event-logs/{log_id}/compliance?version_id={v.id}"' in sop_page.text
