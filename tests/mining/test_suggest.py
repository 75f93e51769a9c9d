"""The suggested mapping of log activities to survey steps (app.mining.steps.suggest_mapping): by name in
either language, by order when no name matches."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from app.demo.yh_lc01 import STEPS
from app.mining.steps import activity_order, name_similarity, suggest_mapping

DEMO = [(i + 1, spec["name"]) for i, spec in enumerate(STEPS)]  # 用户填写信息 User fills in information, ...
FILL, REVIEW, ACTIVATE, SMS = (step_id for step_id, _ in DEMO)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "eventlogs" / "expected"


@pytest.mark.parametrize(("activity", "step_id"), [
    ("Manual review", REVIEW), ("Review", REVIEW), ("Manual check", REVIEW), ("人工审核", REVIEW), ("审核", REVIEW),
    ("Fill in form", FILL), ("User registration", FILL), ("填写信息", FILL),
    ("Activate", ACTIVATE), ("System activation", ACTIVATE), ("账户激活", ACTIVATE),
    ("Send SMS", SMS), ("SMS sent", SMS), ("发送短信", SMS), ("短信验证码发送", SMS),
    ("人工审核 Manual review", REVIEW),
])
def test_demo_steps_by_name_in_either_language(activity, step_id):
    got = suggest_mapping([activity, "Something else"], DEMO)
    assert got[activity].step_id == step_id and got[activity].basis == "name"
    assert "Something else" not in got  # a name that matches nothing gets no suggestion beside name matches


def test_similarity_is_case_blind_and_ignores_stop_words():
    assert name_similarity("MANUAL REVIEW", "人工审核 Manual review") == 1.0
    assert name_similarity("Review of the application", "Manual review") == pytest.approx(0.5)
    assert name_similarity("", "Manual review") == 0.0
    assert name_similarity("Register", "人工审核 Manual review") == 0.0


def test_ties_are_not_guessed():
    steps = [(1, "Check request"), (2, "Approve request")]
    assert suggest_mapping(["Check request", "Forward request"], steps) == {
        "Check request": (1, 1.0, "name")}


def test_by_order_when_no_name_matches():
    # Four codes for four steps: one each; eight for four: two each, in order.
    codes = ["E10", "E20", "E30", "E40"]
    assert {a: s.step_id for a, s in suggest_mapping(codes, DEMO).items()} == dict(zip(codes, [1, 2, 3, 4],
                                                                                           strict=True))
    assert all(s.basis == "order" and s.score == 0 for s in suggest_mapping(codes, DEMO).values())
    eight = [f"X{i}" for i in range(8)]
    assert [s.step_id for s in suggest_mapping(eight, DEMO).values()] == [1, 1, 2, 2, 3, 3, 4, 4]
    two = suggest_mapping(["X", "Y"], DEMO)
    assert [s.step_id for s in two.values()] == [1, 3]
    assert suggest_mapping(["X"], []) == {} and suggest_mapping([], DEMO) == {}


def test_activity_order_by_mean_position_in_cases():
    ts = pl.Series([f"2026-01-01T0{h}:00:00Z" for h in (1, 2, 3, 1, 2, 3, 4)]).str.to_datetime(time_zone="UTC")
    frame = pl.DataFrame({"case_id": ["a", "a", "a", "b", "b", "b", "b"],
                          "activity": ["Start", "Check", "End", "Start", "Check", "Check", "End"],
                          "timestamp": ts, "idx": range(7)})
    assert activity_order(frame) == ["Start", "Check", "End"]
    assert activity_order(frame.filter(pl.col("case_id") == "a").head(1)) == ["Start"]  # a case of one event


def _activities(name: str) -> list[str]:
    if not SHARED.is_dir():
        pytest.skip(f"the real logs' reference results are not here ({SHARED}; see ../shared/eventlogs/README.md)")
    result = json.loads((SHARED / f"{name}.json").read_text())
    return sorted({a for pair in result["directly_follows"] for a in (pair["from"], pair["to"])})


@pytest.mark.parametrize("name", ["receipt", "helpdesk", "running-example"])
def test_real_logs_against_the_demo_survey_fall_back_to_order(name):
    activities = _activities(name)
    got = suggest_mapping(activities, DEMO)
    assert list(got) == activities and {s.basis for s in got.values()} == {"order"}
    # Each step gets a contiguous run of activities, the first and the last step included.
    ids = [s.step_id for s in got.values()]
    assert ids == sorted(ids) and ids[0] == FILL and ids[-1] == SMS


@pytest.mark.parametrize("name", ["receipt", "helpdesk", "running-example"])
def test_real_logs_against_steps_named_like_their_activities(name):
    activities = _activities(name)
    steps = list(enumerate(activities))
    got = suggest_mapping(activities, steps)
    assert {a: s.step_id for a, s in got.items()} == {a: i for i, a in steps}  # T07-1 vs T07-2 told apart


def test_real_logs_against_bilingual_surveys():
    helpdesk = [(1, "录入工单 Insert ticket"), (2, "评估严重程度 Assign seriousness"), (3, "接手工单 Take in charge"),
                (4, "解决工单 Resolve ticket"), (5, "关闭工单 Close ticket")]
    got = {a: s.step_id for a, s in suggest_mapping(_activities("helpdesk"), helpdesk).items()}
    assert got == {"Insert ticket": 1, "Assign seriousness": 2, "Take in charge ticket": 3, "Resolve ticket": 4,
                   "RESOLVED": 4, "Resolve SW anomaly": 4, "Closed": 5}
    running = [(1, "登记申请 Register request"), (2, "审查 Examine the request"), (3, "检查票据 Check ticket"),
               (4, "决定 Decide"), (5, "赔付 Pay compensation"), (6, "拒绝 Reject")]
    got = {a: s.step_id for a, s in suggest_mapping(_activities("running-example"), running).items()}
    assert got == {"register request": 1, "examine casually": 2, "examine thoroughly": 2, "check ticket": 3,
                   "decide": 4, "pay compensation": 5, "reject request": 6}  # "reinitiate request": a tie, none
