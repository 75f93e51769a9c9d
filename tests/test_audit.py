"""The audit trail of processes: who did what, with the record before and after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.core.audit import AuditRecord
from app.users.models import Role
from tests.test_processes import API, assert_problem, payload, person


def trail(session: Session, process_id: int) -> list[AuditRecord]:
    session.expire_all()
    return list(session.exec(select(AuditRecord).where(
        AuditRecord.entity_type == "process", AuditRecord.entity_id == process_id).order_by(AuditRecord.id)))


def changed_keys(rec: AuditRecord) -> set[str]:
    return {k for k in rec.after if rec.before.get(k) != rec.after.get(k)}


@pytest.fixture
def created(client, factory):  # noqa: ANN201
    member = person(factory)
    auth = factory.bearer(member)
    started = datetime.now(UTC)
    r = client.post(API, json=payload(), headers=auth)
    assert r.status_code == 201
    return member, auth, r.json(), r.headers["ETag"], started


def test_create_is_recorded_with_actor_and_after_only(session, created):
    member, _, process, _, started = created
    [rec] = trail(session, process["id"])
    assert (rec.action, rec.actor_id, rec.actor_label) == ("create", member.id, member.email)
    assert rec.before is None
    sent = payload()
    assert rec.after["code"] == sent["code"] and rec.after["name"] == sent["name"]
    assert rec.after["description"] == sent["description"]
    assert rec.after["departments"] == sorted(sent["departments"])
    assert rec.after["owner_department"] == sent["owner_department"]
    assert rec.after["owner"]["id"] == member.id
    assert rec.after["status"] == "active" and rec.after["version"] == 1
    assert started - timedelta(seconds=1) <= rec.at <= datetime.now(UTC) + timedelta(seconds=1)


def test_update_is_recorded_with_before_and_after(client, factory, session, created):
    member, auth, process, etag, _ = created
    lead = person(factory, Role.lead)
    r = client.patch(f"{API}/{process['id']}", json={"name": "Registration v2", "departments": ["legal"]},
                     headers={**factory.bearer(lead), "If-Match": etag})
    assert r.status_code == 200
    create, update = trail(session, process["id"])
    assert (update.action, update.actor_id, update.actor_label) == ("update", lead.id, lead.email)
    assert update.before == create.after  # the trail is continuous
    assert update.before["name"] == process["name"] and update.after["name"] == "Registration v2"
    assert update.before["departments"] == process["departments"] and update.after["departments"] == ["legal"]
    assert update.after["version"] == process["version"] + 1
    assert changed_keys(update) == {"name", "departments", "version"}


def test_owner_change_is_recorded(client, factory, session, created):
    member, _, process, etag, _ = created
    admin = person(factory, Role.admin)
    r = client.patch(f"{API}/{process['id']}", json={"owner_id": admin.id},
                     headers={**factory.bearer(admin), "If-Match": etag})
    assert r.status_code == 200
    update = trail(session, process["id"])[-1]
    assert update.before["owner"]["id"] == member.id and update.after["owner"]["id"] == admin.id


def test_archive_and_restore_are_recorded(client, session, created):
    member, auth, process, _, _ = created
    assert client.post(f"{API}/{process['id']}/archive", headers=auth).status_code == 200
    assert client.post(f"{API}/{process['id']}/archive", headers=auth).status_code == 200  # no change
    assert client.post(f"{API}/{process['id']}/restore", headers=auth).status_code == 200
    _, archive, restore = trail(session, process["id"])
    assert (archive.action, archive.actor_id) == ("archive", member.id)
    assert (archive.before["status"], archive.after["status"]) == ("active", "archived")
    assert changed_keys(archive) == {"status", "version"}
    assert (restore.action, restore.before["status"], restore.after["status"]) == ("restore", "archived", "active")
    assert restore.after["version"] == process["version"] + 2


def test_refused_changes_leave_no_trace(client, factory, session, created):
    _, auth, process, etag, _ = created
    url = f"{API}/{process['id']}"
    assert_problem(client.patch(url, json={"name": "x"}, headers=auth), 428)
    assert_problem(client.patch(url, json={"name": "x"}, headers={**auth, "If-Match": '"process-1-v99"'}), 412)
    assert_problem(client.patch(url, json={"name": None}, headers={**auth, "If-Match": etag}), 422)
    assert_problem(client.patch(url, json={"name": "ok", "departments": ["nowhere"]},
                                headers={**auth, "If-Match": etag}), 422)
    stranger = factory.bearer(person(factory))
    assert_problem(client.patch(url, json={"name": "x"}, headers={**stranger, "If-Match": etag}), 403)
    assert_problem(client.post(f"{url}/archive", headers=stranger), 403)
    assert_problem(client.post(API, json=payload(code="yh-lc01"), headers=auth), 409)
    assert [r.action for r in trail(session, process["id"])] == ["create"]


def test_history_endpoint_returns_the_trail_newest_first(client, factory, session, created):
    _, auth, process, etag, _ = created
    url = f"{API}/{process['id']}"
    assert client.patch(url, json={"description": "changed"}, headers={**auth, "If-Match": etag}).status_code == 200
    assert client.post(f"{url}/archive", headers=auth).status_code == 200
    lead = factory.bearer(person(factory, Role.lead))
    r = client.get(f"{url}/history", headers=lead)
    assert r.status_code == 200
    body = r.json()
    stored = trail(session, process["id"])
    assert [h["id"] for h in body] == [rec.id for rec in reversed(stored)]
    assert [h["action"] for h in body] == ["archive", "update", "create"]
    assert body[1]["before"]["description"] == process["description"]
    assert body[1]["after"]["description"] == "changed"
    assert body[-1]["before"] is None
    assert {h["entity_type"] for h in body} == {"process"} and {h["entity_id"] for h in body} == {process["id"]}


def test_service_token_changes_are_recorded_as_its_owner(client, factory, session):
    admin = person(factory, Role.admin)
    token = factory.service_token(["write"], owner=admin)
    r = client.post(API, json=payload(), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    [rec] = trail(session, r.json()["id"])
    assert (rec.action, rec.actor_id, rec.actor_label) == ("create", admin.id, admin.email)
