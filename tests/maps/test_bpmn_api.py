"""BPMN through the API: an initiative's as-is map and an SOP version's flow exported (valid against the OMG
schemas, read back by the importer with procopt's facts), the preview of a file that writes nothing, and who may
do what."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from app.maps import bpmn_read
from app.users.models import Role
from tests.initiatives.factories import InitiativeFactory, add_steps
from tests.sops.factories import publish_now, standalone_draft
from tests.sops.test_control_rules import SECTIONS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "bpmn"
API = "/api/v1"


@pytest.fixture
def team(session, factory):
    return InitiativeFactory(session, factory).team()


def _valid(body: bytes) -> None:
    xsd = SHARED / "schema" / "BPMN20.xsd"
    if not xsd.exists():
        pytest.skip(f"no OMG schemas at {xsd}")
    etree.XMLSchema(etree.parse(str(xsd))).assertValid(etree.fromstring(body))


@pytest.mark.parametrize(("lang", "start"), [("en", "Start"), ("zh_CN", "开始")])
def test_the_as_is_map_as_bpmn(client, factory, session, team, lang, start):
    add_steps(session, team.initiative, team.leader, [
        {"name": "用户填写信息 User fills in information", "kind": "input", "minutes": "5", "department": "operations"},
        {"name": "人工审核 Manual review", "kind": "activity", "minutes": "30", "waiting_minutes": "10",
         "department": "operations", "systems": ["CRM", "KYC"], "problem_flags": ["efficiency"]},
        {"name": "系统激活 Activation", "kind": "activity", "minutes": "2", "department": "technology"}])
    session.flush()
    viewer = factory.bearer(factory.user(Role.viewer))  # reading the survey is everyone's
    r = client.get(f"{API}/initiatives/{team.initiative.id}/map.bpmn", headers=viewer, params={"lang": lang})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/bpmn+xml")
    assert r.headers["content-disposition"].endswith('.bpmn"')
    _valid(r.content)
    back = bpmn_read.read(r.content)
    steps = back.doc.steps
    assert [s.name for s in steps] == ["用户填写信息 User fills in information", "人工审核 Manual review",
                                       "系统激活 Activation"]
    assert [s.kind for s in steps] == ["input", "activity", "activity"]
    assert steps[1].minutes == 30 and steps[1].waiting_minutes == 10 and steps[1].systems == ["CRM", "KYC"]
    assert steps[1].flags == ["efficiency"] and len(back.doc.lanes) == 2
    assert back.doc.key == f"survey:{team.initiative.id}"
    added = [n for n in back.report if not n.taken and n.type == "endEvent"]
    assert len(added) == 1  # the end procopt drew (the map has no output step) is not a step
    assert start not in [s.name for s in steps]


def test_an_sop_versions_flow_as_bpmn(client, factory, session):
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    member = factory.bearer(factory.user(Role.member))
    # A draft is read by those who may read it: its author, not another member.
    assert client.get(f"{API}/sop-versions/{v.id}/flow.bpmn", headers=member).status_code in (403, 404)
    r = client.get(f"{API}/sop-versions/{v.id}/flow.bpmn", headers=factory.bearer(owner))
    assert r.status_code == 200, r.text
    published = publish_now(session, factory, owner, v)
    r = client.get(f"{API}/sop-versions/{published.id}/flow.bpmn", headers=member)
    assert r.status_code == 200
    _valid(r.content)
    back = bpmn_read.read(r.content)
    assert back.doc.sop_version == "V1.0" and [s.name for s in back.doc.steps] == ["Review"]
    assert client.get(f"{API}/sop-versions/999999/flow.bpmn", headers=member).status_code == 404
    assert client.get(f"{API}/sop-versions/{published.id}/flow.bpmn").status_code == 401


def test_the_preview_reads_a_reference_file_and_writes_nothing(client, factory):
    path = SHARED / "reference" / "A.4.0.bpmn"
    if not path.exists():
        pytest.skip(f"no reference files at {path.parent}")
    member = factory.bearer(factory.user(Role.member))
    r = client.post(f"{API}/maps/bpmn/preview", headers=member,
                    files={"file": ("A.4.0.bpmn", path.read_bytes(), "application/xml")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lanes"] and all(s["kind"] in ("input", "activity", "decision", "output") for s in body["steps"])
    assert {n["type"] for n in body["report"] if not n["taken"]} >= {"messageFlow"}
    assert all(n["reason"] for n in body["report"] if not n["taken"])


@pytest.mark.parametrize(("content", "status"), [
    (b"", 422), (b"case,activity\n1,a\n", 422),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', 422),
    (b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'/>", 422),
])
def test_the_preview_refuses_what_is_not_bpmn_with_a_problem(client, factory, content, status):
    r = client.post(f"{API}/maps/bpmn/preview", headers=factory.bearer(factory.user(Role.member)),
                    files={"file": ("x.bpmn", content, "application/xml")})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["errors"][0]["field"] == "file"


def test_the_preview_refuses_a_file_over_the_limit(client, factory, monkeypatch):
    monkeypatch.setattr("app.maps.service.MAX_BYTES", 1000)
    big = b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>" + b" " * 2000 + b"</definitions>"
    r = client.post(f"{API}/maps/bpmn/preview", headers=factory.bearer(factory.user(Role.member)),
                    files={"file": ("big.bpmn", big, "application/xml")})
    assert r.status_code == 413


def test_the_map_page_and_the_sop_page_offer_the_bpmn(client, factory, session, team):
    from tests.factories import PASSWORD
    from tests.helpers import page_login

    add_steps(session, team.initiative, team.leader, [{"name": "Review", "kind": "activity", "minutes": "5"}])
    process, owner, v = standalone_draft(session, factory, SECTIONS)
    session.flush()
    page_login(client, owner.email, PASSWORD)
    page = client.get(f"/initiatives/{team.initiative.id}/map")
    assert f'href="/api/v1/initiatives/{team.initiative.id}/map.bpmn?lang=en"' in page.text
    assert f'href="/api/v1/sop-versions/{v.id}/flow.bpmn?lang=en"' in client.get(f"/sop-versions/{v.id}").text
