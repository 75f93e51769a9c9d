"""Control points' rules (issue #15): CEL conditions over declared case attributes, checked when written (422
with the position, nothing written) and answered live by `POST /processes/{code}/control-points/check`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from app.sops import rules, service
from app.sops.schemas import (
    ActivityDone,
    EditSection,
    SopContent,
)
from app.users.models import Role
from tests.factories import Factory
from tests.helpers import assert_problem
from tests.sops.factories import publish_now, standalone_draft
from tests.sops.helpers import API, ok, send

CP_FINANCE, CP_REVIEW = uuid.uuid4(), uuid.uuid4()
ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
              {"name": "urgent", "type": "boolean"}, {"name": "ordered_on", "type": "date"}]
CONTROL_POINTS = [
    {"id": str(CP_FINANCE), "description": "Orders >= 10,000 need the finance head's approval",
     "rule": {"condition": 'amount >= 10000 && channel != "internal"',
              "requirement": {"activity": "Finance approval", "before": "Ship", "role": "Finance head"}}},
    {"id": str(CP_REVIEW), "description": "Activation within 5 minutes of the review",
     "rule": {"condition": 'ordered_on >= timestamp("2026-01-01T00:00:00Z")',
              "requirement": {"activity": "Activate", "within_minutes": 5, "after": "Review"}}},
    {"description": "The customer is told (no rule)"},
]
SPECIAL = {"kind": "special_case", "situation": "Urgent large order", "instead": "The operations head approves",
           "approver": "Operations head", "backfill_hours": 24, "control_point_id": str(CP_FINANCE),
           "condition": "amount >= 100000.0 && urgent"}
CASE = {"amount": 12500, "channel": "web", "urgent": False, "ordered_on": "2026-03-02"}


def _content() -> SopContent:
    return SopContent.model_validate({"attributes": ATTRIBUTES, "control_points": CONTROL_POINTS,
                                      "contingencies": [SPECIAL]})


SECTIONS = {EditSection.steps: [{"name": "Review", "minutes": 5}], EditSection.attributes: ATTRIBUTES,
            EditSection.control_points: CONTROL_POINTS, EditSection.contingencies: [SPECIAL]}


def _draft(session, factory: Factory):  # noqa: ANN001, ANN202
    return standalone_draft(session, factory, SECTIONS)


def _published(session, factory: Factory):  # noqa: ANN001, ANN202
    process, owner, v = _draft(session, factory)
    return process, publish_now(session, factory, owner, v)


# ---------------------------------------------------------------- writing rules

@pytest.mark.parametrize(("condition", "column", "words"), [
    ("amount >= && urgent", 11, "`&&` is unexpected"),
    ("amount >= 10000 &&", 17, "ends too early"),
    ('amount >= 10000 && chanel == "web"', 20, "Unknown attribute 'chanel'"),
    ("channel >= 5", 12, "a text and a whole number"),
    ("amount * 2 > 100.0", 10, "write 2.0"),
    ("amount + 1.0", 1, "true or false"),
    ("urgent && size(amount) > 1", 11, "size() does not take a number"),
])
def test_a_bad_rule_is_422_naming_the_control_point_and_the_position(client, factory, session, condition, column,
                                                                     words):
    _, owner, v = _draft(session, factory)
    before = service.get_version(session, v.id).content
    points = [{**CONTROL_POINTS[0], "rule": {**CONTROL_POINTS[0]["rule"], "condition": condition}}]
    r = send(client, "PATCH", f"/sop-versions/{v.id}/sections/control_points", owner,
             f'"sop-version-{v.id}-v{v.version}"', json=points)
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["field"] == "control_points.0.rule.condition"
    assert (problem["errors"][0]["line"], problem["errors"][0]["column"]) == (1, column)
    assert problem["errors"][0]["offset"] == column - 1
    assert words in problem["detail"] and "Control point 1" in problem["detail"]
    session.expire_all()
    assert service.get_version(session, v.id).content == before  # nothing written


def test_a_position_on_a_later_line(factory, session):
    with pytest.raises(rules.RuleError) as caught:
        rules.compile_condition('amount >= 10000.0\n  && chanel == "x"', {"amount": "number"})
    assert (caught.value.line, caught.value.column, caught.value.offset) == (2, 6, 23)


def test_attributes_and_special_cases_are_checked_with_the_rules(client, factory, session):
    _, owner, v = _draft(session, factory)
    etag = f'"sop-version-{v.id}-v{v.version}"'
    # Only who edits the draft (here the process owner) changes its rules and attributes.
    for section, value in (("control_points", CONTROL_POINTS), ("attributes", ATTRIBUTES)):
        assert_problem(send(client, "PATCH", f"/sop-versions/{v.id}/sections/{section}", factory.user(Role.member),
                            etag, json=value), 403)
    # Dropping an attribute a rule uses: refused, naming the section changed.
    r = send(client, "PATCH", f"/sop-versions/{v.id}/sections/attributes", owner, etag, json=ATTRIBUTES[1:])
    assert assert_problem(r, 422)["errors"][0]["field"] == "attributes"
    # Changing its type: refused too.
    changed = [{"name": "amount", "type": "text"}, *ATTRIBUTES[1:]]
    assert_problem(send(client, "PATCH", f"/sop-versions/{v.id}/sections/attributes", owner, etag, json=changed), 422)
    # A special case's condition is checked like a rule, with its position.
    bad = [{**SPECIAL, "condition": "amount >= 100000.0 && urgnt"}]
    problem = assert_problem(send(client, "PATCH", f"/sop-versions/{v.id}/sections/contingencies", owner, etag,
                                  json=bad), 422)
    assert problem["errors"][0]["field"] == "contingencies.0.condition" and problem["errors"][0]["column"] == 23
    # ... of a control point the SOP has.
    other = [{**SPECIAL, "control_point_id": str(uuid.uuid4())}]
    problem = assert_problem(send(client, "PATCH", f"/sop-versions/{v.id}/sections/contingencies", owner, etag,
                                  json=other), 422)
    assert problem["errors"][0]["field"] == "contingencies.0.control_point_id"
    # Two attributes of one name, a reserved word.
    for value in ([ATTRIBUTES[0], ATTRIBUTES[0]], [{"name": "in", "type": "text"}]):
        assert_problem(send(client, "PATCH", f"/sop-versions/{v.id}/sections/attributes", owner, etag,
                            json=value), 422)
    session.expire_all()
    assert service.get_version(session, v.id).version == v.version


def test_a_stored_text_rule_reads_as_none():
    content = SopContent.model_validate({"control_points": [{"description": "x", "rule": "amount > 1"}]})
    assert content.control_points[0].rule is None and content.attributes == []


# ---------------------------------------------------------------- checking a case

def _check(attributes: dict, done: list[dict] | None = None) -> dict:
    result = rules.check_case(_content(), attributes, [ActivityDone(**a) for a in done] if done is not None else None)
    return {str(c.id): c for c in result.control_points}


T0 = datetime(2026, 3, 2, 9, 0)


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def test_which_control_points_apply():
    found = _check(CASE)
    assert found[str(CP_FINANCE)].applies is True and found[str(CP_FINANCE)].met is None
    assert found[str(CP_FINANCE)].requirement.activity == "Finance approval"
    assert found[str(CP_REVIEW)].applies is True
    small = _check({**CASE, "amount": 9999.5})
    assert small[str(CP_FINANCE)].applies is False and small[str(CP_FINANCE)].reason == "condition_false"
    assert _check({**CASE, "channel": "internal"})[str(CP_FINANCE)].applies is False
    early = _check({**CASE, "ordered_on": "2025-12-31"})
    assert early[str(CP_REVIEW)].applies is False
    no_rule = [c for c in rules.check_case(_content(), CASE, None).control_points if c.id is None]
    assert no_rule[0].applies is None and no_rule[0].reason == "no_rule"


def test_a_missing_attribute_is_not_evaluable():
    found = _check({"channel": "web"})
    assert found[str(CP_FINANCE)].applies is None and found[str(CP_FINANCE)].reason == "missing_attributes:amount"


@pytest.mark.parametrize(("condition", "amount"), [("int(amount) > 5", 1e300), ("1 / int(amount) > 0", 0.5)])
def test_a_condition_that_fails_on_the_values_is_not_evaluable(condition, amount):
    """cel-rust raises OverflowError or ZeroDivisionError for these: an `error:` answer, never a 500."""
    content = SopContent.model_validate({"attributes": ATTRIBUTES, "control_points": [
        {"description": "Fails", "rule": {"condition": condition, "requirement": {"activity": "Ship"}}}]})
    found = rules.check_case(content, {"amount": amount}, None).control_points[0]
    assert found.applies is None and found.reason.startswith("error:")


def test_a_special_case_applies_instead():
    found = _check({**CASE, "amount": 150000, "urgent": True}, [])
    assert found[str(CP_FINANCE)].special_case.approver == "Operations head"
    assert found[str(CP_FINANCE)].reason == "special_case" and found[str(CP_FINANCE)].met is None
    assert _check({**CASE, "amount": 150000}, [])[str(CP_FINANCE)].special_case is None


@pytest.mark.parametrize(("done", "met", "reason"), [
    ([{"activity": "Finance approval", "role": "Finance head"}, {"activity": "Ship"}], True, "met"),
    ([{"activity": "Finance approval", "role": "Finance head"}], True, "met"),
    ([{"activity": "Ship"}, {"activity": "Finance approval", "role": "Finance head"}], False, "wrong_order"),
    ([{"activity": "Finance approval", "role": "Clerk"}, {"activity": "Ship"}], False, "wrong_role"),
    ([{"activity": "Ship"}], False, "missing_activity"),
])
def test_the_finance_approval_before_shipping(done, met, reason):
    found = _check(CASE, done)[str(CP_FINANCE)]
    assert (found.met, found.reason) == (met, reason)


@pytest.mark.parametrize(("done", "met", "reason"), [
    ([{"activity": "Review", "at": _at(0)}, {"activity": "Activate", "at": _at(5)}], True, "met"),
    ([{"activity": "Review", "at": _at(0)}, {"activity": "Activate", "at": _at(5.5)}], False, "too_late"),
    ([{"activity": "Review", "at": _at(0)}], False, "missing_activity"),
    ([{"activity": "Review"}, {"activity": "Activate"}], None, "times_missing"),
    ([{"activity": "Review", "at": "2026-03-02T10:00:00+01:00"}, {"activity": "Activate", "at": _at(4)}], True, "met"),
])
def test_activation_within_five_minutes_of_the_review(done, met, reason):
    found = _check(CASE, done)[str(CP_REVIEW)]
    assert (found.met, found.reason) == (met, reason)


def test_the_compiled_rules_are_kept_by_content():
    content = _content()
    rules.check_case(content, CASE, None)
    key = next(k for k, c in rules._cache.items() if c.points[0][0].id == CP_FINANCE)
    assert rules.compiled(key, lambda: pytest.fail("compiled again")) is rules._cache[key]


# ---------------------------------------------------------------- the API

def _url(process) -> str:  # noqa: ANN001
    return f"{API}/processes/{process.code}/control-points/check"


def test_the_check_api_with_a_controls_check_token(client, factory, session):
    process, v = _published(session, factory)
    token = factory.service_token(["controls:check"])
    body = {"attributes": CASE, "activities": [{"activity": "Ship"}]}
    r = client.post(_url(process), json=body, headers={"Authorization": f"Bearer {token}"})
    answer = ok(r)
    assert answer["version_id"] == v.id and answer["number"] == "V1.0"
    finance = next(c for c in answer["control_points"] if c["id"] == str(CP_FINANCE))
    assert finance["applies"] is True and finance["met"] is False and finance["reason"] == "missing_activity"
    assert finance["requirement"]["before"] == "Ship"
    # Without activities, `met` is null; a person signed in may ask too.
    person = ok(client.post(_url(process), json={"attributes": CASE}, headers=Factory.bearer(factory.user(Role.viewer))))
    assert {c["met"] for c in person["control_points"]} == {None}
    # A value of the wrong type is a 422 naming it.
    r = client.post(_url(process), json={"attributes": {**CASE, "amount": "lots"}},
                    headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(r, 422)["errors"][0]["field"] == "attributes.amount"
    r = client.post(_url(process), content=b'{"attributes": {"amount": 1e400}}',
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert assert_problem(r, 422)["errors"][0]["field"] == "attributes.amount"
    r = client.post(_url(process), json={"attributes": {**CASE, "ordered_on": "2nd of March"}},
                    headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(r, 422)["errors"][0]["field"] == "attributes.ordered_on"


def test_the_check_api_refuses_other_scopes_and_unknown_processes(client, factory, session):
    process, _ = _published(session, factory)
    metrics_only = factory.service_token(["metrics:read"])
    r = client.post(_url(process), json={"attributes": CASE}, headers={"Authorization": f"Bearer {metrics_only}"})
    assert "controls:check" in assert_problem(r, 403)["detail"]
    assert_problem(client.post(_url(process), json={"attributes": CASE}), 401)
    token = factory.service_token(["controls:check"])
    other = factory.process()  # no SOP in force
    for code in (other.code, "NO-SUCH"):
        r = client.post(f"{API}/processes/{code}/control-points/check", json={"attributes": CASE},
                        headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 404)


def test_the_editor_form_saves_a_rule_and_shows_a_parse_error_at_its_field(client, factory, session):
    _, owner, v = _draft(session, factory)
    page = client.get(f"/sop-versions/{v.id}/edit", headers=Factory.bearer(owner))
    assert page.status_code == 200 and 'name="condition"' in page.text and "sec-attributes" in page.text
    row = {"id": str(CP_FINANCE), "step_id": "", "description": "Finance approval", "approver_role": "",
           "condition": "amount >= && urgent", "activity": "Finance approval", "before": "Ship",
           "within_minutes": "", "after": "", "req_role": "Finance head"}
    form = {**row, "version": str(v.version), "base": ""}
    r = client.post(f"/sop-versions/{v.id}/sections/control_points", data=form,
                    headers={**Factory.bearer(owner), "HX-Request": "true"})
    assert r.status_code == 422 and "Line 1, column 11" in r.text
    r = client.post(f"/sop-versions/{v.id}/sections/control_points", data={**form, "condition": "amount >= 1.0"},
                    headers={**Factory.bearer(owner), "HX-Request": "true"})
    assert r.status_code == 200, r.text
    session.expire_all()
    saved = service.content_of(service.get_version(session, v.id)).control_points
    assert [c.rule.condition for c in saved] == ["amount >= 1.0"]
    assert saved[0].rule.requirement.role == "Finance head" and saved[0].rule.requirement.before == "Ship"
    page = client.get(f"/sop-versions/{v.id}", headers=Factory.bearer(owner)).text
    assert "amount &gt;= 1.0" in page and "by Finance head" in page and "amount &gt;= 100000.0 &amp;&amp; urgent" in page
    zh = client.get(f"/sop-versions/{v.id}", headers={**Factory.bearer(owner), "Accept-Language": "zh-CN"}).text
    assert "由Finance head完成" in zh and "适用条件" in zh
