"""The demo SOPs: YH-LC01's V1.0 from the initiative's chain, V1.1 adds the SMS channel step (Table 4's example
row: 经理 wrote it, 总监 reviewed it, "解决验证码接收问题"); YH-LC02's V1.0 with the method's two control-point rules
and an event log checked against them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import col, select

from app import demo
from app.core.audit import AuditRecord
from app.core.calendar import today
from app.initiatives.models import Initiative, Phase
from app.processes.models import Process
from app.sops.diff import Change, diff_versions
from app.sops.models import Sop, SopVersion
from app.users.models import User
from tests.factories import Factory

API = "/api/v1"


@pytest.fixture
def loaded(session):  # noqa: ANN001, ANN201
    assert demo.is_empty(session)  # the test database starts empty
    demo.load(session)
    session.commit()
    return {u.email: u for u in session.exec(select(User))}


def get(client, url: str, user: User) -> dict:  # noqa: ANN001
    r = client.get(f"{API}{url}", headers=Factory.bearer(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_table4_shows_the_methods_example_row_and_v1_1_is_in_force(client, loaded):  # noqa: ANN001
    viewer = loaded["viewer@example.com"]
    current = get(client, "/processes/YH-LC01/sop", viewer)
    rows = get(client, f"/sops/{current['sop_id']}/table4", viewer)["items"]
    assert [r["version"] for r in rows] == ["V1.0", "V1.1"]
    v1_0, v1_1 = rows
    assert v1_1["process_code"] == "YH-LC01" and v1_1["process_name"].startswith("用户注册激活流程")
    assert v1_1["change_summary"] == "新增短信通道优化步骤" and v1_1["note"] == "解决验证码接收问题"
    assert v1_1["author"] == "经理" and v1_1["reviewers"][0] == "总监"
    assert date.fromisoformat(v1_0["effective_date"]) < date.fromisoformat(v1_1["effective_date"]) <= today()
    assert current["id"] == v1_1["version_id"] and current["status"] == "effective"
    old = get(client, f"/sop-versions/{v1_0['version_id']}", viewer)
    assert old["status"] == "superseded"
    assert len(current["content"]["steps"]) == len(old["content"]["steps"]) + 1
    # V1.0's review: a reviewer for every department it covers, then the leader's signature.
    assert set(old["content"]["scope"]["departments"]) <= {r["department"] for r in old["reviewers"]}
    assert all(r["vote"] == "approve" for r in old["reviewers"])
    assert old["signed_by"]["id"] == loaded["lead@example.com"].id and old["open_comments"] == 0


def test_v1_0_is_the_designed_chain_and_v1_1_adds_one_step(session, loaded):  # noqa: ANN001
    sop_id = session.exec(select(Sop.id).join(Process, col(Process.id) == Sop.process_id)
                          .where(Process.code_norm == "YH-LC01")).one()
    versions = list(session.exec(select(SopVersion).where(SopVersion.sop_id == sop_id).order_by(SopVersion.id)))
    assert [(v.number_major, v.number_minor) for v in versions] == [(1, 0), (1, 1)]
    v1_0, v1_1 = versions
    purpose, steps = v1_0.content["purpose"], v1_0.content["steps"]
    assert (purpose["baseline"], purpose["target"], purpose["unit"]) == (30, 5, "min")
    assert purpose["kpi_id"] is not None
    assert "CRM, KYC and Billing" in steps[1]["name"] and steps[1]["measure_ids"]
    diff = diff_versions(session, v1_1.sop_id, v1_0.id, v1_1.id, loaded["viewer@example.com"])
    added = diff.sections.steps.of(Change.added)
    assert len(diff.sections.steps.items) == len(added) == 1
    assert added[0].new.name.startswith("短信通道切换") and added[0].new.issue_ids
    # Every step went through the services: audited, and the initiative stays where its demo is.
    actions = set(session.exec(select(AuditRecord.action).where(AuditRecord.entity_type == "sop_version",
                                                                AuditRecord.entity_id == v1_1.id)))
    assert {"create", "update", "submit", "vote", "sign", "publish"} <= actions
    # the main initiative (the pilot's is its own, app/demo/yh_lc01_pilot.py)
    assert session.exec(select(Initiative).order_by(Initiative.id)).first().current_phase == Phase.root_cause


def test_yh_lc02_has_the_methods_rules_and_a_log_with_a_few_violations(client, loaded):  # noqa: ANN001
    viewer = loaded["viewer@example.com"]
    sop = get(client, "/processes/YH-LC02/sop", viewer)
    rules = [cp["rule"] for cp in sop["content"]["control_points"]]
    assert rules[0]["condition"] == "amount >= 10000.0" and rules[0]["requirement"]["before"] == "发货 Shipping"
    special = [c for c in sop["content"]["contingencies"] if c["kind"] == "special_case"]
    assert special[0]["condition"] == "amount >= 100000.0 && urgent" and special[0]["backfill_hours"] == 24
    logs = get(client, "/event-logs?process_id=" + str(sop["process"]["id"]), viewer)["items"]
    checked = get(client, f"/event-logs/{logs[0]['id']}/compliance", viewer)
    assert checked["version_id"] == sop["id"]
    finance, backfill = checked["control_points"]
    # A real figure: most cases comply, each kind of violation occurs, the urgent ones are special cases.
    assert 0.6 < finance["compliance_rate"] < 1 and finance["special_case"] > 0
    assert all(finance["violations"][r] for r in ("missing_activity", "wrong_role", "wrong_order"))
    assert backfill["violations"]["too_late"] >= 1 and backfill["compliance_rate"] > 0.6
    kpis = {k["code"] for k in get(client, "/kpis?limit=100", viewer)["items"]}
    assert {"YH-LC02-CP1", "YH-LC02-CP2"} <= kpis
