"""No lost update: two PATCHes sent with the same If-Match never both win, on any versioned record.

Real concurrent transactions need PostgreSQL (SQLite has one writer at a time, and a writing request
holds the write lock from its first statement). The test runs the app as deployed against a scratch
database of its own (migrated by Alembic, with the demo data, dropped at the end), so nothing has to be
cleaned up record by record.

Each case holds the record's row locked from a connection of the test's, sends two PATCHes with the
same ETag from two threads, waits until both wait for that lock, and lets go. With the version check
locking the row before it compares (app/core/versioning.py), the second request to get the row sees the
first's new version: one 200, one 412, one audited update. Without it both had read the old version
before waiting, and both answered 200 (the second overwriting the first).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core import db as core_db
from app.core.migrate import upgrade
from app.core.security import create_access_token
from app.demo import load as load_demo

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="needs concurrent transactions: PostgreSQL (TEST_DATABASE_URL)")


@dataclass
class Race:
    engine: sa.Engine
    client: TestClient
    headers: dict[str, str]

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).one()


@pytest.fixture(scope="module")
def race(backend: str, app, engine: sa.Engine) -> Iterator[Race]:  # noqa: ANN001
    if backend != "postgresql":
        pytest.skip("needs concurrent transactions (SQLite has a single writer)")
    server = sa.make_url(os.environ["TEST_DATABASE_URL"])
    name = f"procopt_race_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name)
    race_engine = core_db.make_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(url.render_as_string(hide_password=False))
        with Session(race_engine) as s:
            load_demo(s)
            s.commit()
            admin_id = s.exec(sa.text("SELECT id FROM users WHERE role = 'admin' LIMIT 1")).scalar_one()
        core_db.set_engine(race_engine)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Race(race_engine, client, {"Authorization": f"Bearer {create_access_token(str(admin_id))}"})
    finally:
        core_db.set_engine(engine)
        race_engine.dispose()
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@dataclass
class Case:
    table: str
    # the record's id and the PATCH URL, from the demo data (and what the case sets up)
    target: Callable[[Race], tuple[int, str]]
    bodies: tuple[dict[str, Any], dict[str, Any]]
    etag_from: str = "get"  # "get": the ETag of a GET on the URL; else a POST's answer (set up by target)


def _row(table: str, where: str = "TRUE") -> Callable[[Race], int]:
    return lambda race: race.one(f"SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT 1").id  # noqa: S608


def _simple(table: str, url: str, where: str = "TRUE") -> Callable[[Race], tuple[int, str]]:
    def target(race: Race) -> tuple[int, str]:
        rid = _row(table, where)(race)
        return rid, url.format(id=rid)
    return target


def _member(race: Race) -> tuple[int, str]:
    row = race.one("SELECT id, initiative_id FROM initiative_members WHERE project_role <> 'leader' ORDER BY id LIMIT 1")
    return row.id, f"/api/v1/initiatives/{row.initiative_id}/team/{row.id}"


def _phase(race: Race) -> tuple[int, str]:
    row = race.one("SELECT id, initiative_id, phase FROM initiative_phases WHERE phase = 'pilot' ORDER BY id LIMIT 1")
    return row.id, f"/api/v1/initiatives/{row.initiative_id}/phases/{row.phase}"


def _nested(table: str, parent: str, url: str) -> Callable[[Race], tuple[int, str]]:
    def target(race: Race) -> tuple[int, str]:
        row = race.one(f"SELECT id, {parent} AS parent FROM {table} ORDER BY id LIMIT 1")  # noqa: S608
        return row.id, url.format(parent=row.parent, id=row.id)
    return target


def _alert_rule(race: Race) -> tuple[int, str]:
    kpi = _row("kpis")(race)
    r = race.client.post(f"/api/v1/kpis/{kpi}/alert-rules", json={"kind": "target_breach"}, headers=race.headers)
    assert r.status_code == 201, r.text
    race.etag = r.headers["etag"]  # type: ignore[attr-defined]
    return r.json()["id"], f"/api/v1/kpis/{kpi}/alert-rules/{r.json()['id']}"


def _sop_draft(race: Race) -> int:
    """An SOP draft (the demo has none): a standalone revision of the first process, made once."""
    with race.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id FROM sop_versions WHERE state = 'draft' LIMIT 1")).first()
    if row is not None:
        return row.id
    process = _row("processes")(race)
    r = race.client.post(f"/api/v1/processes/{process}/sop", json={}, headers=race.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _sop_section(race: Race) -> tuple[int, str]:
    vid = _sop_draft(race)
    race.etag = race.client.get(f"/api/v1/sop-versions/{vid}", headers=race.headers).headers["etag"]  # type: ignore[attr-defined]
    return vid, f"/api/v1/sop-versions/{vid}/sections/forms"


def _sop_comment(race: Race) -> tuple[int, str]:
    vid = _sop_draft(race)
    r = race.client.post(f"/api/v1/sop-versions/{vid}/comments", json={"section": "purpose", "text": "race"},
                         headers=race.headers)
    assert r.status_code == 201, r.text
    race.etag = r.headers["etag"]  # type: ignore[attr-defined]
    return r.json()["id"], f"/api/v1/sop-versions/{vid}/comments/{r.json()['id']}"


def _open_pilot(race: Race) -> int:
    """An undecided pilot (the demo's is decided): its second round, planned once."""
    with race.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id FROM pilots WHERE decision IS NULL LIMIT 1")).first()
    if row is not None:
        return row.id
    first = race.one("SELECT id, initiative_id, sop_version_id, planned_start FROM pilots ORDER BY id LIMIT 1")
    with race.engine.begin() as conn:  # the demo rolled V1.1 out since: its initiative back in the pilot phase
        conn.execute(sa.text("UPDATE initiatives SET current_phase = 'pilot' WHERE id = :id"),
                     {"id": first.initiative_id})
    kpi = race.one("SELECT kpi_id FROM pilot_kpis WHERE pilot_id = :id LIMIT 1", id=first.id).kpi_id
    r = race.client.post(f"/api/v1/initiatives/{first.initiative_id}/pilots", headers=race.headers, json={
        "sop_version_id": first.sop_version_id, "scope": "race", "planned_start": first.planned_start.isoformat(),
        "kpis": [{"kpi_id": kpi}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _pilot(race: Race) -> tuple[int, str]:
    pid = _open_pilot(race)
    return pid, f"/api/v1/pilots/{pid}"


def _pilot_action(race: Race) -> tuple[int, str]:
    pid = _open_pilot(race)
    r = race.client.post(f"/api/v1/pilots/{pid}/retrospectives", headers=race.headers, json={
        "week": 1, "held_on": "2026-01-05", "actions": [{"text": "race"}]})
    assert r.status_code == 201, r.text
    action = r.json()["actions"][0]
    race.etag = f'"pilot-action-{action["id"]}-v{action["version"]}"'  # type: ignore[attr-defined]
    return action["id"], f"/api/v1/pilot-actions/{action['id']}"


def _with_etag(race: Race, table: str, entity: str, url: str) -> tuple[int, str]:
    """A record of the demo's rollout, with the ETag its version makes (these records have no GET of their own)."""
    row = race.one(f"SELECT id, version FROM {table} ORDER BY id LIMIT 1")  # noqa: S608
    race.etag = f'"{entity}-{row.id}-v{row.version}"'  # type: ignore[attr-defined]
    return row.id, url.format(id=row.id)


def _wave(race: Race) -> tuple[int, str]:
    return _with_etag(race, "rollout_waves", "rollout-wave", "/api/v1/rollout-waves/{id}")


def _training_session(race: Race) -> tuple[int, str]:
    return _with_etag(race, "training_sessions", "training-session", "/api/v1/training-sessions/{id}")


def _checklist_item(race: Race) -> tuple[int, str]:
    return _with_etag(race, "rollout_checklist", "checklist-item", "/api/v1/checklist-items/{id}")


CASES = {
    "process": Case("processes", _simple("processes", "/api/v1/processes/{id}"),
                    ({"name": "race one"}, {"name": "race two"})),
    "kpi": Case("kpis", _simple("kpis", "/api/v1/kpis/{id}"), ({"description": "one"}, {"description": "two"})),
    "alert rule": Case("kpi_alert_rules", _alert_rule, ({"grain": "day"}, {"grain": "month"}), etag_from="post"),
    "initiative": Case("initiatives", _simple("initiatives", "/api/v1/initiatives/{id}"),
                       ({"goal": "race one"}, {"goal": "race two"})),
    "team member": Case("initiative_members", _member, ({"project_role": "it"}, {"project_role": "compliance"})),
    "phase": Case("initiative_phases", _phase,
                  ({"planned_start": "2027-01-04", "planned_end": "2027-03-01"},
                   {"planned_start": "2027-02-01", "planned_end": "2027-03-15"})),
    "survey step": Case("survey_steps", _simple("survey_steps", "/api/v1/survey/steps/{id}"),
                        ({"description": "one"}, {"description": "two"})),
    "research record": Case("research_records", _simple("research_records", "/api/v1/research-records/{id}"),
                            ({"findings": "one"}, {"findings": "two"})),
    "problem": Case("issues", _simple("issues", "/api/v1/issues/{id}"),
                    ({"description": "one"}, {"description": "two"})),
    "cause": Case("issue_causes", _nested("issue_causes", "issue_id", "/api/v1/issues/{parent}/causes/{id}"),
                  ({"text": "race one"}, {"text": "race two"})),
    "why": Case("issue_whys", _nested("issue_whys", "issue_id", "/api/v1/issues/{parent}/whys/{id}"),
                ({"answer": "race one"}, {"answer": "race two"})),
    "countermeasure": Case("measures", _simple("measures", "/api/v1/measures/{id}"),
                           ({"description": "race one"}, {"description": "race two"})),
    "sop section": Case("sop_versions", _sop_section, ([{"name": "race one"}], [{"name": "race two"}]),
                        etag_from="post"),
    "sop comment": Case("sop_comments", _sop_comment, ({"text": "race one"}, {"text": "race two"}),
                        etag_from="post"),
    "pilot": Case("pilots", _pilot, ({"prediction": "race one"}, {"prediction": "race two"})),
    "pilot action": Case("pilot_actions", _pilot_action, ({"closed_week": 1}, {"closed_week": None}),
                         etag_from="post"),
    "rollout plan": Case("rollout_plans", _simple("rollout_plans", "/api/v1/rollout-plans/{id}"),
                         ({"note": "race one"}, {"note": "race two"})),
    "rollout wave": Case("rollout_waves", _wave, ({"name": "race one"}, {"name": "race two"}), etag_from="post"),
    "training session": Case("training_sessions", _training_session, ({"title": "race one"}, {"title": "race two"}),
                             etag_from="post"),
    "checklist item": Case("rollout_checklist", _checklist_item, ({"text": "race one"}, {"text": "race two"}),
                           etag_from="post"),
    "risk": Case("risks", _simple("risks", "/api/v1/risks/{id}"),
                 ({"description": "race one"}, {"description": "race two"})),
    "review": Case("reviews", _simple("reviews", "/api/v1/reviews/{id}", "status = 'planned'"),
                   ({"notes": "race one"}, {"notes": "race two"})),
}


def _waiting_for_locks(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'")).scalar_one()


def _last_audit(race: Race) -> int:
    return race.one("SELECT coalesce(max(id), 0) AS n FROM audit_records").n


def _updates_since(race: Race, after_id: int) -> list[tuple[str, int]]:
    """The records audited as updated since `after_id`: (entity type, id), once per audit record."""
    with race.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT entity_type, entity_id FROM audit_records WHERE id > :after AND action = 'update'"),
            {"after": after_id})]


def test_every_versioned_patch_is_covered(app) -> None:  # noqa: ANN001
    """A new PATCH endpoint with If-Match must join CASES (RACI roles and activities carry no version)."""
    versioned = {path for path, ops in app.openapi()["paths"].items() if "patch" in ops and "/raci/" not in path
                 and not path.startswith("/api/v1/users/")}
    assert len(versioned) == len(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_two_patches_with_the_same_if_match_one_wins(race: Race, name: str) -> None:
    case = CASES[name]
    record_id, url = case.target(race)
    if case.etag_from == "get":
        r = race.client.get(url, headers=race.headers)
        assert r.status_code == 200, r.text
        etag = r.headers["etag"]
    else:
        etag = race.etag  # type: ignore[attr-defined]
    version = race.one(f"SELECT version FROM {case.table} WHERE id = :id", id=record_id).version  # noqa: S608
    last_audit = _last_audit(race)
    statuses: list[int] = []

    def patch(body: dict[str, Any]) -> None:
        r = race.client.patch(url, json=body, headers={**race.headers, "If-Match": etag})
        statuses.append(r.status_code)

    with race.engine.connect() as holder:
        holder.execute(sa.text(f"SELECT 1 FROM {case.table} WHERE id = :id FOR UPDATE"), {"id": record_id})  # noqa: S608
        threads = [threading.Thread(target=patch, args=(body,)) for body in case.bodies]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while _waiting_for_locks(race.engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        holder.rollback()
    for t in threads:
        t.join(15)
    assert sorted(statuses) == [200, 412], statuses
    assert race.one(f"SELECT version FROM {case.table} WHERE id = :id", id=record_id).version == version + 1  # noqa: S608
    # The winner's update, audited once: every record it changed (the record, and what a listener moved with
    # it, e.g. a seeded risk's review date with its phase) has one update record, none a second one.
    updated = _updates_since(race, last_audit)
    assert updated and len(updated) == len(set(updated)), updated
