"""A rule's refusal in the reader's language: the checker's reasons are msgids with named placeholders
(`rules.MESSAGES`, the types named by `rules.TYPE_NAMES`); the editor page says them in Chinese, the API in
English as it says every problem, with the reason and its params in `errors[]`."""

from __future__ import annotations

import html

import pytest

from app.core.i18n import LANG_COOKIE, gettext_for
from app.sops import rules
from app.sops.schemas import AttributeType, EditSection
from tests.factories import Factory
from tests.helpers import assert_problem
from tests.sops.factories import standalone_draft
from tests.sops.helpers import send

ATTRIBUTES = [{"name": "amount", "type": "number"}, {"name": "channel", "type": "text"},
              {"name": "urgent", "type": "boolean"}]
RULE = {"condition": "amount >= 1.0", "requirement": {"activity": "Finance approval"}}
# A condition of each kind of refusal: where it is, and what the Chinese page says (after the position).
WRONG = [
    ("amount >= && urgent", 11, "表达式无法解析：此处不应出现 `&&`。"),
    ("amount >= 10000.0 &&", 19, "表达式无法解析：表达式过早结束。"),
    ('amount >= 1.0 && chanel == "web"', 18, "未知属性 'chanel'：请在本版本的属性中声明（已声明：amount, channel, urgent）。"),
    ("channel >= 5", 12, "`>=` 比较同一类型的值：此处是文本和整数。"),
    ("amount * 2 > 100.0", 10, "数字属性是小数：与它们一起使用时请写 2.0，而不是 2。"),
    ("urgent && size(amount) > 1", 11, "size() 不接受这样的参数：一个数字。"),
    ("amount + 1.0", 1, "条件的结果应为真或假；这个条件的结果是一个数字。"),
]


def _draft(session, factory: Factory):  # noqa: ANN001, ANN202
    return standalone_draft(session, factory, {
        EditSection.steps: [{"name": "Review", "minutes": 5}], EditSection.attributes: ATTRIBUTES,
        EditSection.control_points: [{"description": "Finance approval", "rule": RULE}]})


def _post_condition(client, owner, v, condition: str):  # noqa: ANN001, ANN202
    """The control points' form of the editor (as htmx sends it) with one row whose condition is `condition`."""
    row = {"id": "", "step_id": "", "description": "Finance approval", "approver_role": "", "condition": condition,
           "activity": "Finance approval", "before": "", "within_minutes": "", "after": "", "req_role": ""}
    return client.post(f"/sop-versions/{v.id}/sections/control_points",
                       data={**row, "version": str(v.version), "base": ""},
                       headers={**Factory.bearer(owner), "HX-Request": "true"})


def test_the_chinese_editor_shows_a_rule_error_in_chinese_at_its_position(client, factory, session):
    _, owner, v = _draft(session, factory)
    client.cookies.set(LANG_COOKIE, "zh_CN")
    for condition, column, chinese in WRONG:
        r = _post_condition(client, owner, v, condition)
        text = html.unescape(r.text)
        assert r.status_code == 422, (condition, r.status_code)
        assert f"第 1 行第 {column} 列：{chinese}" in text, (condition, text[:2000])
        english = rules.words(*_reason(condition))
        assert english not in text  # no English words left in the Chinese error


def test_the_english_editor_keeps_the_english_words(client, factory, session):
    _, owner, v = _draft(session, factory)
    client.cookies.set(LANG_COOKIE, "en")
    r = _post_condition(client, owner, v, 'amount >= 1.0 && chanel == "web"')
    assert r.status_code == 422
    assert ("Line 1, column 18: Unknown attribute 'chanel': declare it in the version's attributes (declared: "
            "amount, channel, urgent).") in html.unescape(r.text)


def test_the_api_answers_in_english_with_the_reason_and_its_params(client, factory, session):
    """As every problem of the API: English whatever the language asked (the page translates)."""
    _, owner, v = _draft(session, factory)
    client.cookies.set(LANG_COOKIE, "zh_CN")
    points = [{"description": "Finance approval", "rule": {**RULE, "condition": "channel >= 5"}}]
    r = send(client, "PATCH", f"/sop-versions/{v.id}/sections/control_points", owner,
             f'"sop-version-{v.id}-v{v.version}"', json=points)
    problem = assert_problem(r, 422)
    error = problem["errors"][0]
    assert "`>=` compares values of one type: a text and a whole number." in problem["detail"]
    assert error["message"] == "`>=` compares values of one type: a text and a whole number. (line 1, column 12)"
    assert (error["line"], error["column"], error["offset"]) == (1, 12, 11)
    assert error["reason"] == "compare_types" and error["params"] == {"op": ">=", "left": "text", "right": "int"}


def _reason(condition: str) -> tuple[str, dict]:
    types = {a["name"]: AttributeType(a["type"]) for a in ATTRIBUTES}
    with pytest.raises(rules.RuleError) as caught:
        rules.compile_condition(condition, types)
    return caught.value.reason, caught.value.params


@pytest.mark.parametrize(("condition", "english", "chinese"), [
    ("size() > 1", "size() does not take nothing.", "size() 不接受这样的参数：无参数。"),
    ("channel.startsWith(1)", "startsWith() does not take a text, a whole number.",
     "startsWith() 不接受这样的参数：文本、整数。"),
    ("urgent > true", "`>` compares numbers, texts or dates, not true or false.",
     "`>` 比较数字、文本或日期，不能比较布尔值（真或假）。"),
    ("[1] == 1", "`==` compares values of one type: list<int> and a whole number.",
     "`==` 比较同一类型的值：此处是list<int>和整数。"),
])
def test_every_reason_says_its_types_in_either_language(condition, english, chinese):
    reason, params = _reason(condition)
    assert reason in rules.MESSAGES
    assert rules.words(reason, params) == english
    assert rules.words(reason, params, gettext_for("zh_CN")) == chinese


def test_no_attribute_declared_yet():
    with pytest.raises(rules.RuleError) as caught:
        rules.compile_condition("amount > 1.0", {})
    assert caught.value.message.endswith("(declared: none yet).")
    assert rules.words(caught.value.reason, caught.value.params, gettext_for("zh_CN")).endswith("（已声明：尚无）。")
