"""Two SOP versions compared section by section: the pure comparison of contents, and `diff_versions`
through the services (its read rule, versions of another SOP)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.core.calendar import today
from app.core.errors import Forbidden, NotFound, RuleViolation
from app.sops import service
from app.sops.diff import Change, TextOp, diff_contents, diff_text, diff_versions
from app.sops.schemas import (
    Bump,
    EditSection,
    NextRequest,
    PublishRequest,
    Section,
    SopContent,
    SopCreate,
    Step,
    SubmitRequest,
    VoteRequest,
)
from app.users.models import Role
from tests.factories import Factory
from tests.sops.factories import add_approved_sop, leader_of
from tests.sops.helpers import design_story, ok, send

IDS = [uuid.uuid4() for _ in range(5)]


def _doc(**sections) -> SopContent:  # noqa: ANN003
    base = {
        "purpose": {"text": "用户注册激活", "baseline": 30, "target": 5, "unit": "min"},
        "scope": {"scenarios": ["New user"], "departments": ["operations"], "roles": ["Specialist"]},
        "raci": {"roles": ["Specialist", "IT"], "activities": [{"name": "Review"}, {"name": "Activate"}],
                 "cells": [{"activity": "Review", "role": "Specialist", "letters": "RA"},
                           {"activity": "Activate", "role": "IT", "letters": "RA"}]},
        "steps": [{"id": str(i), "name": f"Step {n}", "minutes": n} for n, i in enumerate(IDS[:4], start=1)],
        "control_points": [{"id": str(IDS[4]), "step_id": str(IDS[1]), "description": "Amount >= 10,000",
                            "approver_role": "Finance head"}],
        "forms": [{"name": "Register", "kind": "form"}, {"name": "CRM", "kind": "system", "location": "crm.local"}],
        "contingencies": [{"situation": "System down", "instead": "Paper register", "backfill_hours": 24},
                          {"situation": "Urgent order", "instead": "Skip approval", "kind": "special_case"}],
    }
    return SopContent.model_validate({**base, **sections})


def _spell(ops: list[TextOp], keep: str) -> str:
    return "".join(o.text for o in ops if o.op in ("equal", keep))


# ---------------------------------------------------------------- diff_contents

def test_the_same_content_has_no_changes():
    d = diff_contents(_doc(), _doc())
    assert d.changed_sections == []
    assert d.steps.items == [] and d.raci.cells == [] and d.purpose == []


def test_steps_added_removed_moved_and_changed_field_by_field():
    old = _doc()
    steps = [s.model_copy() for s in old.steps]
    s1, _, s3, s4 = steps
    s3.instructions, s3.minutes, s3.measure_ids = "Check CRM", 4, [7]
    new_id = uuid.uuid4()
    # s4 moves to the front, s2 is removed, a new step comes last; s1 and s3 keep their order
    new = old.model_copy(update={"steps": [s4, s1, s3, Step(id=new_id, name="Send SMS")]})
    d = diff_contents(old, new)
    assert d.changed_sections == [Section.steps]
    by_key = {i.key: i for i in d.steps.items}
    assert set(by_key) == {str(IDS[3]), str(IDS[1]), str(IDS[2]), str(new_id)}
    moved, removed, changed, added = (by_key[str(IDS[3])], by_key[str(IDS[1])], by_key[str(IDS[2])],
                                      by_key[str(new_id)])
    assert (moved.change, moved.moved, moved.old_position, moved.new_position) == (Change.moved, True, 4, 1)
    assert moved.fields == []
    assert (removed.change, removed.old_position, removed.new_position, removed.new) == (Change.removed, 2, None, None)
    assert removed.old.name == "Step 2"
    assert (added.change, added.new_position, added.new.name) == (Change.added, 4, "Send SMS")
    assert (changed.change, changed.moved, changed.old_position, changed.new_position) == (Change.changed, False, 3, 3)
    fields = {f.field: f for f in changed.fields}
    assert set(fields) == {"instructions", "minutes", "measure_ids"}
    assert (fields["minutes"].old, fields["minutes"].new, fields["minutes"].ops) == (3, 4, [])
    assert fields["instructions"].ops == [TextOp(op="insert", text="Check CRM")]
    assert (fields["measure_ids"].added, fields["measure_ids"].removed) == ([7], [])
    # Document order: the new version's, the removed step where it was (after the step before it).
    assert [i.key for i in d.steps.items] == [str(IDS[3]), str(IDS[1]), str(IDS[2]), str(new_id)]
    assert d.steps.of(Change.added) == [added]


def test_chinese_text_changes_character_by_character():
    assert diff_text("用户注册激活", "用户注册并激活") == [
        TextOp(op="equal", text="用户注册"), TextOp(op="insert", text="并"), TextOp(op="equal", text="激活")]
    d = diff_contents(_doc(), _doc(purpose={"text": "用户注册并激活", "baseline": 30, "target": 5, "unit": "min"}))
    [change] = d.purpose
    assert change.field == "text"
    assert [o for o in change.ops if o.op != "equal"] == [TextOp(op="insert", text="并")]
    assert d.changed_sections == [Section.purpose]


@pytest.mark.parametrize(("old", "new"), [
    ("系统宕机时使用纸质登记", "系统故障时改用纸质登记表，24小时内补录"),
    ("人工审核", ""), ("", "自动校验三个系统"), ("CRM › 客户 › 激活", "CRM › Customers › Activate"),
])
def test_text_ops_spell_both_texts(old, new):
    ops = diff_text(old, new)
    assert _spell(ops, "delete") == old and _spell(ops, "insert") == new
    assert all(o.text for o in ops)


def test_raci_letters_roles_and_activities():
    raci = {"roles": ["Specialist", "Head"], "activities": [{"name": "Review"}],
            "cells": [{"activity": "Review", "role": "Specialist", "letters": "R"},
                      {"activity": "Review", "role": "Head", "letters": "A"}]}
    d = diff_contents(_doc(), _doc(raci=raci))
    assert d.changed_sections == [Section.raci]
    assert (d.raci.roles_added, d.raci.roles_removed) == (["Head"], ["IT"])
    [activity] = d.raci.activities.items
    assert (activity.change, activity.key) == (Change.removed, "Activate")
    cells = {(c.activity, c.role): (c.old, c.new) for c in d.raci.cells}
    assert cells == {("Review", "Specialist"): ("RA", "R"), ("Review", "Head"): ("", "A"),
                     ("Activate", "IT"): ("RA", "")}


def test_control_points_contingencies_and_forms():
    old = _doc()
    point = {"step_id": str(IDS[2]), "description": "Blacklist hit needs compliance", "approver_role": "Compliance"}
    points = [*[c.model_dump(mode="json") for c in old.control_points], {"id": str(uuid.uuid4()), **point}]
    forms = [{"name": "Register", "kind": "tool"}, {"name": "CRM", "kind": "system", "location": "crm.local"}]
    contingencies = [{"situation": "Urgent order", "instead": "Skip approval, back-fill", "kind": "special_case"}]
    d = diff_contents(old, _doc(control_points=points, forms=forms, contingencies=contingencies))
    assert d.changed_sections == [Section.control_points, Section.forms, Section.contingencies]
    [added] = d.control_points.items
    assert (added.change, added.new_position, added.new.description) == (Change.added, 2, point["description"])
    [form] = d.forms.items
    assert (form.change, form.key, [(f.field, f.old, f.new) for f in form.fields]) == (
        Change.changed, "Register", [("kind", "form", "tool")])
    removed, changed = d.contingencies.items
    assert (removed.change, removed.old.situation, removed.old_position) == (Change.removed, "System down", 1)
    # Its place changed only because the one before it went: not moved.
    assert (changed.change, changed.moved, changed.old_position, changed.new_position) == (Change.changed, False, 2, 1)
    assert [f.field for f in changed.fields] == ["instead"]
    assert [o for o in changed.fields[0].ops if o.op != "equal"] == [TextOp(op="insert", text=", back-fill")]


def test_scope_lists_added_and_removed():
    scope = {"scenarios": ["New user", "Returning user"], "departments": ["technology"], "roles": ["Specialist"]}
    [scenarios, departments] = diff_contents(_doc(), _doc(scope=scope)).scope
    assert (scenarios.field, scenarios.added, scenarios.removed) == ("scenarios", ["Returning user"], [])
    assert (departments.added, departments.removed) == (["technology"], ["operations"])


def test_forms_of_one_name_are_matched_in_order():
    twice = [{"name": "Register"}, {"name": "Register", "location": "shelf 2"}]
    d = diff_contents(_doc(forms=twice), _doc(forms=[*twice, {"name": "Register", "location": "shelf 3"}]))
    [added] = d.forms.items
    assert (added.change, added.key, added.new.location) == (Change.added, "Register#3", "shelf 3")


# ---------------------------------------------------------------- diff_versions

def _publish(session, v, leader, days_ago):  # noqa: ANN001, ANN202
    return service.publish(session, v.id, PublishRequest(effective_date=today() - timedelta(days=days_ago),
                                                          change_summary="新增短信通道优化步骤"),
                           leader, expected_version=None)


def _next_with_step(session, factory, team, v1):  # noqa: ANN001, ANN202
    """The next version of v1 with one step added and one step's name changed, left a draft."""
    v = service.next_version(session, v1.id, NextRequest(initiative_id=team.initiative.id), team.leader)
    steps = service.content_of(v).model_dump(mode="json")["steps"]
    steps[0]["name"] += "并激活"
    steps.append({"name": "短信通道优化", "minutes": 1})
    return service.update_section(session, v.id, Section.steps, steps, team.member, expected_version=v.version)


def _approve(session, factory, team, v):  # noqa: ANN001, ANN202
    reviewer = factory.user(Role.member)
    v = service.submit(session, v.id, SubmitRequest(reviewers=[{"user_id": reviewer.id}]), team.member,
                       expected_version=v.version)
    service.vote(session, v.id, VoteRequest(vote="approve"), reviewer, expected_version=None)
    return service.sign(session, v.id, leader_of(session, team.initiative), expected_version=None)


def test_two_published_versions(session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    v2 = _publish(session, _approve(session, factory, team, _next_with_step(session, factory, team, v1)),
                  team.leader, 1)
    d = diff_versions(session, v1.sop_id, v1.id, v2.id, team.viewer)
    assert (d.from_version.id, d.from_version.number, d.from_version.status) == (v1.id, "V1.0", "superseded")
    assert (d.to_version.id, d.to_version.number, d.to_version.status) == (v2.id, "V2.0", "effective")
    assert d.changed and d.changed_sections == [Section.steps] and d.suggested_bump == Bump.major
    added = d.sections.steps.of(Change.added)
    assert [(a.new.name, a.new_position) for a in added] == [("短信通道优化", len(service.content_of(v2).steps))]
    [renamed] = d.sections.steps.of(Change.changed)
    assert [o.text for o in renamed.fields[0].ops if o.op != "equal"] == ["并激活"]
    # The other way round: the step is removed; a version against itself: nothing changed.
    back = diff_versions(session, v1.sop_id, v2.id, v1.id, team.outsider)
    assert [i.change for i in back.sections.steps.items] == [Change.changed, Change.removed]
    assert back.suggested_bump == Bump.major
    same = diff_versions(session, v1.sop_id, v2.id, v2.id, team.outsider)
    assert not same.changed and same.changed_sections == [] and same.suggested_bump == Bump.minor


def test_a_draft_is_compared_by_its_readers_only(session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    draft = _next_with_step(session, factory, team, v1)
    d = diff_versions(session, v1.sop_id, v1.id, draft.id, team.member)
    assert (d.to_version.number, d.to_version.status, d.suggested_bump) == (None, "draft", Bump.major)
    for user in (team.viewer, team.outsider, team.other_lead):
        with pytest.raises(Forbidden):
            diff_versions(session, v1.sop_id, v1.id, draft.id, user)
        with pytest.raises(Forbidden):
            diff_versions(session, v1.sop_id, draft.id, v1.id, user)


def test_versions_of_another_sop_are_refused(session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    owner = factory.user(Role.member)
    other = service.start_standalone(session, factory.process(owner).code, SopCreate(), owner)
    with pytest.raises(RuleViolation) as refused:
        diff_versions(session, v1.sop_id, v1.id, other.id, owner)
    assert [(e["loc"], e["type"]) for e in refused.value.errors] == [(["query", "to"], "other_sop")]
    with pytest.raises(RuleViolation) as refused:
        diff_versions(session, other.sop_id, v1.id, other.id, owner)
    assert [e["field"] for e in refused.value.errors] == ["from"]
    with pytest.raises(NotFound):
        diff_versions(session, v1.sop_id, v1.id, other.id + 1000, team.leader)
    with pytest.raises(NotFound):
        diff_versions(session, other.sop_id + 1000, v1.id, v1.id, team.leader)


def test_the_diff_over_the_api(client, session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    draft = _next_with_step(session, factory, team, v1)
    session.commit()
    url = f"/sops/{v1.sop_id}/diff?from={v1.id}&to={draft.id}"
    d = ok(send(client, "GET", url, team.member))
    assert [i["change"] for i in d["sections"]["steps"]["items"]] == ["changed", "added"]
    for user in (team.viewer, team.outsider):
        assert send(client, "GET", url, user).status_code == 403
    r = send(client, "GET", f"/sops/{v1.sop_id}/diff?from={v1.id}", team.member)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"


# ---------------------------------------------------------------- the rules and the case attributes

RULE = {"condition": 'amount >= 10000.0 && channel != "internal"',
        "requirement": {"activity": "Finance approval", "before": "Ship", "role": "finance_head"}}
ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"}]


def _with_rule(rule: dict | None, **point) -> list[dict]:  # noqa: ANN003
    return [{"id": str(IDS[4]), "step_id": str(IDS[1]), "description": "Amount >= 10,000",
             "approver_role": "Finance head", "rule": rule, **point}]


def _exception(condition: str, control_point_id: uuid.UUID | None = IDS[4]) -> list[dict]:
    return [{"situation": "Urgent order", "instead": "Skip approval", "kind": "special_case",
             "control_point_id": str(control_point_id), "condition": condition}]


def test_case_attributes_added_removed_and_type_changed():
    attributes = [{"name": "amount", "type": "text"}, {"name": "urgent", "type": "boolean"}]
    d = diff_contents(_doc(attributes=ATTRIBUTES), _doc(attributes=attributes))
    assert d.changed_sections == [EditSection.attributes]
    assert [(i.change, i.key) for i in d.attributes.items] == [
        (Change.changed, "amount"), (Change.removed, "channel"), (Change.added, "urgent")]
    changed, removed, added = d.attributes.items
    # A type is a choice, not a text: no character-level edit.
    assert [(f.field, f.old, f.new, f.ops) for f in changed.fields] == [("type", "number", "text", [])]
    assert (removed.old.name, removed.old.type, added.new.type) == ("channel", "text", "boolean")
    assert diff_contents(_doc(attributes=ATTRIBUTES), _doc(attributes=ATTRIBUTES[::-1])).attributes.of(Change.moved)


def test_a_control_points_rule_is_compared_field_by_field():
    old = _doc(attributes=ATTRIBUTES, control_points=_with_rule(RULE))
    rule = {"condition": 'amount >= 20000.0 && channel != "internal"',
            "requirement": {"activity": "Finance approval", "within_minutes": 60, "after": "Review",
                            "role": "finance_head"}}
    d = diff_contents(old, _doc(attributes=ATTRIBUTES, control_points=_with_rule(rule)))
    assert d.changed_sections == [EditSection.control_points]
    [point] = d.control_points.items
    assert (point.change, point.key) == (Change.changed, str(IDS[4]))
    fields = {f.field: f for f in point.fields}
    assert list(fields) == ["rule.condition", "rule.requirement.before", "rule.requirement.within_minutes",
                            "rule.requirement.after"]
    assert [o for o in fields["rule.condition"].ops if o.op != "equal"] == [
        TextOp(op="delete", text="1"), TextOp(op="insert", text="2")]
    assert (fields["rule.requirement.before"].old, fields["rule.requirement.before"].new) == ("Ship", None)
    assert (fields["rule.requirement.within_minutes"].old, fields["rule.requirement.within_minutes"].new) == (None, 60)
    # A rule given or taken away: each of its fields from or to none.
    plain = _doc(attributes=ATTRIBUTES, control_points=_with_rule(None))
    [given] = diff_contents(plain, old).control_points.items
    assert [(f.field, f.old, f.new) for f in given.fields] == [
        ("rule.condition", None, RULE["condition"]), ("rule.requirement.activity", None, "Finance approval"),
        ("rule.requirement.before", None, "Ship"), ("rule.requirement.role", None, "finance_head")]
    [taken] = diff_contents(old, plain).control_points.items
    assert {f.field: f.new for f in taken.fields} == dict.fromkeys(
        ["rule.condition", "rule.requirement.activity", "rule.requirement.before", "rule.requirement.role"])


def test_a_special_cases_condition_and_control_point():
    other = uuid.uuid4()
    points = [*_with_rule(RULE), {"id": str(other), "description": "Blacklist hit"}]
    old = _doc(attributes=ATTRIBUTES, control_points=points, contingencies=_exception("amount >= 100000.0"))
    new = _doc(attributes=ATTRIBUTES, control_points=points,
               contingencies=_exception('amount >= 50000.0 || channel == "vip"', other))
    d = diff_contents(old, new)
    assert d.changed_sections == [EditSection.contingencies]
    [case] = d.contingencies.items
    fields = {f.field: f for f in case.fields}
    assert list(fields) == ["control_point_id", "condition"]
    # An id is no text: no character-level edit, the page names the control points.
    assert (fields["control_point_id"].old, fields["control_point_id"].new, fields["control_point_id"].ops) == (
        str(IDS[4]), str(other), [])
    condition = fields["condition"]
    assert (_spell(condition.ops, "delete"), _spell(condition.ops, "insert")) == (
        "amount >= 100000.0", 'amount >= 50000.0 || channel == "vip"')


def _next_with_rules(session, team, v1):  # noqa: ANN001, ANN202
    """The next version of v1 with case attributes, a rule on a new control point and a special case of it."""
    v = service.next_version(session, v1.id, NextRequest(initiative_id=team.initiative.id), team.leader)
    point = {"id": str(IDS[4]), "description": "Amount >= 10,000 needs finance", "rule": RULE}
    for section, value in ((EditSection.attributes, ATTRIBUTES), (EditSection.control_points, [point]),
                           (EditSection.contingencies, _exception("amount >= 100000.0"))):
        v = service.update_section(session, v.id, section, value, team.member, expected_version=v.version)
    return v


def test_rules_and_attributes_are_a_minor_change(session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    draft = _next_with_rules(session, team, v1)
    d = diff_versions(session, v1.sop_id, v1.id, draft.id, team.member)
    assert d.changed
    assert {EditSection.control_points, EditSection.contingencies, EditSection.attributes} <= set(d.changed_sections)
    assert d.changed_sections[-1] == EditSection.attributes
    assert [i.key for i in d.sections.attributes.of(Change.added)] == ["amount", "channel"]
    # Like any control point's change, a rule changes no step and no A of the RACI: a minor bump.
    assert d.suggested_bump == Bump.minor


def test_the_comparison_page_shows_rules_and_attributes(client, session, factory, team):
    design_story(session, factory, team)
    v1 = _publish(session, add_approved_sop(session, team.initiative, team.leader), team.leader, 10)
    v2 = _publish(session, _approve(session, factory, team, _next_with_rules(session, team, v1)), team.leader, 1)
    v3 = service.next_version(session, v2.id, NextRequest(initiative_id=team.initiative.id), team.leader)
    rule = {**RULE, "condition": 'amount >= 20000.0 && channel != "internal"'}
    other = {"id": str(uuid.uuid4()), "description": "Blacklist hit needs compliance"}
    points = [{"id": str(IDS[4]), "description": "Amount >= 10,000 needs finance", "rule": rule}, other]
    for section, value in ((EditSection.attributes, [*ATTRIBUTES, {"name": "urgent", "type": "boolean"}]),
                           (EditSection.control_points, points),
                           (EditSection.contingencies, _exception("amount >= 100000.0", other["id"]))):
        v3 = service.update_section(session, v3.id, section, value, team.member, expected_version=v3.version)
    session.commit()
    url = f"/sops/{v1.sop_id}/diff?from={v2.id}&to={v3.id}"
    page = client.get(url, headers=Factory.bearer(team.member))
    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="diff-attributes"' in text and "Case attributes for the rules" in text
    assert "<code>urgent</code></ins></strong> (Yes or no)" in text
    assert "Rule (machine-checkable) · Condition" in text
    assert '<code>amount &gt;= <del class="sop-del">1</del><ins class="sop-ins">2</ins>0000.0' in text
    # The special case is now an exception of the other control point: named by its description.
    assert "Exception of control point" in text
    assert '<del class="sop-del">Amount &gt;= 10,000 needs finance</del> → <ins class="sop-ins">Blacklist hit needs ' \
           "compliance</ins>" in text
    zh = client.get(url, headers={**Factory.bearer(team.member), "Accept-Language": "zh-CN"}).text
    assert "规则使用的案例属性" in zh and "规则（可机器校验） · 条件" in zh and "关键节点的例外" in zh
    assert "<code>urgent</code></ins></strong> (是/否)" in zh
    api = ok(send(client, "GET", url, team.member))
    assert api["changed_sections"] == ["control_points", "contingencies", "attributes"]
    assert [f["field"] for f in api["sections"]["control_points"]["items"][0]["fields"]] == ["rule.condition"]
    assert api["suggested_bump"] == "minor"
