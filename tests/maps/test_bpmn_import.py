"""BPMN imports that write: a file onto an initiative's survey (append or replace) and onto an SOP draft's steps,
through the API; lanes matched to departments; procopt's own export restoring its facts; all or nothing; who may
do it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from app.core.audit import AuditRecord
from app.maps import bpmn_read, bpmn_write
from app.maps.model import MapDoc, MapStep
from app.sops import service as sops
from app.survey.models import SurveyStep
from app.users.models import Role
from tests.factories import Factory
from tests.initiatives.factories import InitiativeFactory, add_steps
from tests.sops.factories import publish_now, standalone_draft
from tests.sops.test_control_rules import CONTROL_POINTS, SECTIONS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bpmn"
API = "/api/v1"


@pytest.fixture
def team(session, factory):
    return InitiativeFactory(session, factory).team()


def _file(doc: MapDoc) -> dict:
    return {"file": ("map.bpmn", bpmn_write.write(doc), "application/bpmn+xml")}


def _foreign() -> MapDoc:
    """A map as another tool would have it: lanes named in Chinese, English and by code, one nobody knows."""
    steps = [MapStep("S", "Order received", "input", lane="运营部"),
             MapStep("T1", "Check\n  the order", "activity", lane="Operations"),
             MapStep("G", "Amount >= 10,000?", "decision", lane="finance"),
             MapStep("T2", "Approve", "activity", lane="Regional office"),
             MapStep("E", "Order shipped", "output", lane="技术部")]
    return MapDoc("bpmn:p", "Orders", steps, lanes=["运营部", "Operations", "finance", "Regional office", "技术部"])


def _survey(session, initiative_id: int) -> list[SurveyStep]:
    return list(session.exec(select(SurveyStep).where(SurveyStep.initiative_id == initiative_id)
                             .order_by(SurveyStep.position)))


def test_a_file_onto_the_survey_matches_lanes_to_departments(client, factory, session, team):
    add_steps(session, team.initiative, team.leader, [{"name": "Existing", "minutes": "3"}])
    r = client.post(f"{API}/initiatives/{team.initiative.id}/survey/bpmn", headers=factory.bearer(team.member),
                    files=_file(_foreign()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "append" and body["imported"] == 5
    assert {m["lane"]: m["department"] for m in body["lanes"]} == {
        "运营部": "operations", "Operations": "operations", "finance": "finance", "Regional office": None,
        "技术部": "technology"}
    steps = _survey(session, team.initiative.id)
    assert [(s.position, s.name, s.kind.value) for s in steps] == [
        (1, "Existing", "activity"), (2, "Order received", "input"), (3, "Check the order", "activity"),
        (4, "Amount >= 10,000?", "decision"), (5, "Approve", "activity"), (6, "Order shipped", "output")]
    codes = {d.id: d.code for d in factory.departments().values()}
    assert [codes.get(s.department_id) for s in steps[1:]] == ["operations", "operations", "finance", None,
                                                              "technology"]
    assert steps[4].role == "Regional office"  # the unknown lane is kept as who does it
    assert all(n["reason"] for n in body["report"] if not n["taken"])
    entry = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "initiative",
                                                   AuditRecord.action == "import")).all()[-1]
    assert entry.after["format"] == "bpmn" and entry.after["imported"][0] == "Order received"


def test_replace_and_the_round_trip_of_procopts_own_export(client, factory, session, team):
    add_steps(session, team.initiative, team.leader, [
        {"name": "用户填写信息", "kind": "input", "minutes": "5", "department": "operations"},
        {"name": "人工审核", "kind": "activity", "minutes": "30", "waiting_minutes": "10.5",
         "department": "operations", "role": "审核专员", "systems": ["CRM", "KYC"],
         "problem_flags": ["efficiency", "risk"], "description": "Manual review"},
        {"name": "系统激活", "kind": "activity", "minutes": "2", "department": "technology"}])
    leader = factory.bearer(team.leader)
    before = client.get(f"{API}/initiatives/{team.initiative.id}/survey/steps", headers=leader).json()["items"]
    exported = client.get(f"{API}/initiatives/{team.initiative.id}/map.bpmn", headers=leader,
                          params={"lang": "zh_CN"})
    r = client.post(f"{API}/initiatives/{team.initiative.id}/survey/bpmn", headers=leader,
                    params={"mode": "replace"}, files={"file": ("m.bpmn", exported.content, "application/xml")})
    assert r.status_code == 200, r.text
    after = client.get(f"{API}/initiatives/{team.initiative.id}/survey/steps", headers=leader).json()["items"]
    fields = ("position", "name", "kind", "department", "role", "minutes", "waiting_minutes", "systems",
              "problem_flags", "description")
    assert [{k: s[k] for k in fields} for s in after] == [{k: s[k] for k in fields} for s in before]
    assert r.json()["mode"] == "replace" and r.json()["imported"] == len(after) == 3  # replaced, not appended


def test_a_step_procopt_cannot_keep_writes_nothing(client, factory, session, team):
    add_steps(session, team.initiative, team.leader, [{"name": "Existing", "minutes": "3"}])
    doc = _foreign()
    doc.steps[1].role = "x" * 500  # longer than a role may be
    r = client.post(f"{API}/initiatives/{team.initiative.id}/survey/bpmn", headers=factory.bearer(team.leader),
                    params={"mode": "replace"}, files=_file(doc))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert "T1" in r.json()["detail"] and r.json()["errors"][0]["field"].startswith("file.steps.1.role")
    assert [s.name for s in _survey(session, team.initiative.id)] == ["Existing"]


@pytest.mark.parametrize("content", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', b"not xml",
    b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'/>"])
def test_hostile_or_empty_files_write_nothing(client, factory, session, team, content):
    add_steps(session, team.initiative, team.leader, [{"name": "Existing", "minutes": "3"}])
    r = client.post(f"{API}/initiatives/{team.initiative.id}/survey/bpmn", headers=factory.bearer(team.leader),
                    params={"mode": "replace"}, files={"file": ("x.bpmn", content, "application/xml")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    assert [s.name for s in _survey(session, team.initiative.id)] == ["Existing"]


def test_who_may_import_onto_a_survey(client, factory, session, team):
    url = f"{API}/initiatives/{team.initiative.id}/survey/bpmn"
    for user in (team.outsider, team.viewer, team.other_lead):
        r = client.post(url, headers=factory.bearer(user), files=_file(_foreign()))
        assert r.status_code == 403, (user.role, r.text)
    assert client.post(url, files=_file(_foreign())).status_code == 401
    assert _survey(session, team.initiative.id) == []
    assert client.post(url, headers=factory.bearer(team.admin), files=_file(_foreign())).status_code == 200


def _etag(client, owner, version_id: int) -> str:
    return client.get(f"{API}/sop-versions/{version_id}", headers=Factory.bearer(owner)).headers["etag"]


def test_a_file_onto_an_sop_draft_replaces_its_steps(client, factory, session):
    process, owner, v = standalone_draft(session, factory, {})
    headers = {**factory.bearer(owner), "If-Match": _etag(client, owner, v.id)}
    r = client.post(f"{API}/sop-versions/{v.id}/steps/bpmn", headers=headers, files=_file(_foreign()))
    assert r.status_code == 200, r.text
    body = r.json()
    steps = body["version"]["content"]["steps"]
    assert [s["name"] for s in steps] == ["Check the order", "Amount >= 10,000?", "Approve"]
    assert steps[0]["inputs"] == "Order received" and steps[-1]["outputs"] == "Order shipped"
    assert [s["department"] for s in steps] == ["operations", "finance", None]
    assert steps[2]["role"] == "Regional office" and body["imported"] == 3
    assert r.headers["etag"] != headers["If-Match"]
    # Without If-Match, or with a stale one: nothing.
    stale = client.post(f"{API}/sop-versions/{v.id}/steps/bpmn", headers=headers, files=_file(_foreign()))
    assert stale.status_code == 412
    assert client.post(f"{API}/sop-versions/{v.id}/steps/bpmn", headers=factory.bearer(owner),
                       files=_file(_foreign())).status_code == 428


def test_the_sops_own_flow_comes_back_with_its_control_points_attached(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    step_id = sops.content_of(v).steps[0].id
    points = [{**CONTROL_POINTS[2], "step_id": str(step_id)}]
    v = sops.update_section(session, v.id, sops.Section.control_points, [*CONTROL_POINTS[:2], *points], owner,
                            expected_version=v.version)
    headers = factory.bearer(owner)
    exported = client.get(f"{API}/sop-versions/{v.id}/flow.bpmn", headers=headers)
    before = client.get(f"{API}/sop-versions/{v.id}", headers=headers).json()["content"]["steps"]
    r = client.post(f"{API}/sop-versions/{v.id}/steps/bpmn", headers={**headers, "If-Match": _etag(client, owner, v.id)},
                    files={"file": ("f.bpmn", exported.content, "application/xml")})
    assert r.status_code == 200, r.text
    assert r.json()["version"]["content"]["steps"] == before  # same ids, same facts: the control point stays on


def test_a_foreign_flow_refuses_to_orphan_a_control_point(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    step_id = sops.content_of(v).steps[0].id
    v = sops.update_section(session, v.id, sops.Section.control_points,
                            [*CONTROL_POINTS[:2], {**CONTROL_POINTS[2], "step_id": str(step_id)}], owner,
                            expected_version=v.version)
    r = client.post(f"{API}/sop-versions/{v.id}/steps/bpmn",
                    headers={**factory.bearer(owner), "If-Match": _etag(client, owner, v.id)}, files=_file(_foreign()))
    assert r.status_code == 422, r.text
    assert "Control point 3" in r.json()["detail"]
    assert [s.name for s in sops.content_of(sops.get_version(session, v.id)).steps] == ["Review"]


def test_who_may_import_onto_an_sop(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    etag = _etag(client, owner, v.id)
    for user in (factory.user(Role.member), factory.user(Role.viewer), factory.user(Role.lead)):
        r = client.post(f"{API}/sop-versions/{v.id}/steps/bpmn", headers={**factory.bearer(user), "If-Match": etag},
                        files=_file(_foreign()))
        assert r.status_code in (403, 404), r.text
    published = publish_now(session, factory, owner, v)
    r = client.post(f"{API}/sop-versions/{published.id}/steps/bpmn",
                    headers={**factory.bearer(owner), "If-Match": _etag(client, owner, published.id)},
                    files=_file(_foreign()))
    assert r.status_code == 409, r.text
    assert [s.name for s in sops.content_of(sops.get_version(session, published.id)).steps] == ["Review"]


@pytest.mark.parametrize("name", ["A.4.0.bpmn", "C.1.0.bpmn"])
def test_a_reference_file_onto_a_survey_takes_what_the_preview_shows(client, factory, session, team, name):
    path = SHARED / "camunda-modeler" / name
    if not path.exists():
        pytest.skip(f"no reference files at {path.parent}")
    headers = factory.bearer(team.leader)
    preview = client.post(f"{API}/maps/bpmn/preview", headers=headers,
                          files={"file": (name, path.read_bytes(), "application/xml")}).json()
    r = client.post(f"{API}/initiatives/{team.initiative.id}/survey/bpmn", headers=headers,
                    files={"file": (name, path.read_bytes(), "application/xml")})
    assert r.status_code == 200, r.text
    read = bpmn_read.read(path.read_bytes())
    assert [s.name for s in _survey(session, team.initiative.id)] == [
        " ".join(s.name.split()) or s.key for s in read.doc.steps]
    assert r.json()["report"] == preview["report"] and r.json()["lanes"] == preview["lanes"]
