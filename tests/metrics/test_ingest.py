"""Ingestion: all-or-nothing batches with row errors, idempotency keys, CSV upload, scopes, audit."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from app.core.audit import AuditRecord
from app.metrics.models import IdempotencyKey, Observation, ObservationBatch
from app.users.models import Role
from tests.metrics.helpers import bearer_token, make_kpi


def _count(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Observation)).scalar_one()


def _setup(factory, session, **fields):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, **fields)
    session.flush()
    return admin, kpi


def test_batch_stored_whole_and_audited_once(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = bearer_token(factory, ["metrics:write"])
    rows = [{"kpi": kpi.code.lower(), "ts": f"2025-03-03T09:{i:02d}:00+08:00", "value": i, "labels": {"team": "A"}}
            for i in range(50)]
    r = client.post("/api/v1/observations", json={"source": "crm", "observations": rows}, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["accepted"] == 50 and body["kpis"] == [kpi.code]
    assert body["min_ts"].startswith("2025-03-03T01:00:00") and body["max_ts"].startswith("2025-03-03T01:49:00")
    assert _count(session) == 50
    obs = session.exec(select(Observation).order_by(Observation.id)).first()
    assert obs.labels == {"team": "A"} and obs.source == "crm" and obs.ts.utcoffset().total_seconds() == 0
    audits = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "observation_batch")).all()
    assert len(audits) == 1 and audits[0].after["rows"] == 50
    batch = session.get(ObservationBatch, body["batch_id"])
    assert batch.row_count == 50 and batch.origin == "api" and batch.token_id is not None


def test_bad_rows_refuse_the_batch_with_row_numbers(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = bearer_token(factory, ["metrics:write"])
    rows = [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00+08:00", "value": 1} for _ in range(10)]
    rows[2]["ts"] = "2025-03-03T09:00:00"  # no offset
    rows[5]["value"] = "12"  # a string is not a number
    rows[7]["extra"] = 1
    r = client.post("/api/v1/observations", json={"observations": rows}, headers=headers)
    assert r.status_code == 422
    body = r.json()
    assert {e["row"] for e in body["errors"]} == {3, 6, 8}
    assert {(e["row"], e["field"]) for e in body["errors"]} >= {(3, "ts"), (6, "value"), (8, "extra")}
    assert "nothing was stored" in body["detail"]
    assert _count(session) == 0

    rows = [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00+08:00", "value": 1},
            {"kpi": "NOPE-1", "ts": "2025-03-03T09:00:00+08:00", "value": 1}]
    r = client.post("/api/v1/observations", json={"observations": rows}, headers=headers)
    assert r.status_code == 422
    assert [(e["row"], e["field"], e["type"]) for e in r.json()["errors"]] == [(2, "kpi", "unknown_kpi")]
    assert _count(session) == 0


def test_rate_values_and_limits(client, factory, session):
    _, kpi = _setup(factory, session, aggregation="rate", unit="%")
    headers = bearer_token(factory, ["metrics:write"])
    rows = [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00Z", "value": v} for v in (0, 1, 2)]
    r = client.post("/api/v1/observations", json={"observations": rows}, headers=headers)
    assert r.status_code == 422 and [e["row"] for e in r.json()["errors"]] == [3]
    rows = [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00Z", "value": 1}] * 10_001
    r = client.post("/api/v1/observations", json={"observations": rows}, headers=headers)
    assert r.status_code == 413
    r = client.post("/api/v1/observations", json={"observations": rows[:10_000]}, headers=headers)
    assert r.status_code == 201 and r.json()["accepted"] == 10_000
    r = client.post("/api/v1/observations", json={"observations": []}, headers=headers)
    assert r.status_code == 422


def test_idempotency_key(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = {**bearer_token(factory, ["metrics:write"]), "Idempotency-Key": "batch-0001"}
    payload = {"observations": [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00Z", "value": 5}]}
    first = client.post("/api/v1/observations", json=payload, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/observations", json=payload, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(session) == 1
    other = {"observations": [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00Z", "value": 6}]}
    r = client.post("/api/v1/observations", json=other, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "idempotency_key_reused"
    assert _count(session) == 1
    # Keys belong to their caller: another token may use the same key for its own batch.
    r = client.post("/api/v1/observations", json=other,
                    headers={**bearer_token(factory, ["metrics:write"]), "Idempotency-Key": "batch-0001"})
    assert r.status_code == 201 and _count(session) == 2
    assert session.exec(select(sa.func.count()).select_from(IdempotencyKey)).one() == 2
    # A refused batch stores no answer: the same key works once the rows are fixed.
    bad = {"observations": [{"kpi": "NOPE", "ts": "2025-03-03T09:00:00Z", "value": 6}]}
    headers2 = {**headers, "Idempotency-Key": "batch-0002"}
    assert client.post("/api/v1/observations", json=bad, headers=headers2).status_code == 422
    assert client.post("/api/v1/observations", json=other, headers=headers2).status_code == 201


def test_scopes_and_roles(client, factory, session):
    _, kpi = _setup(factory, session)
    payload = {"observations": [{"kpi": kpi.code, "ts": "2025-03-03T09:00:00Z", "value": 5}]}
    for scopes in (["metrics:read"], ["read", "write"]):
        r = client.post("/api/v1/observations", json=payload, headers=bearer_token(factory, scopes))
        assert r.status_code == 403, scopes
    r = client.post("/api/v1/observations", json=payload, headers=factory.bearer(factory.user(Role.viewer)))
    assert r.status_code == 403
    r = client.post("/api/v1/observations", json=payload, headers=factory.bearer(factory.user(Role.member)))
    assert r.status_code == 201
    assert client.post("/api/v1/observations", json=payload).status_code == 401


CSV = ("\ufeffkpi,ts,value,team,source\r\n"
       "{code},2025-03-03T09:30:00+08:00,8.5,A,crm\r\n"
       "{code},2025-03-03 09:31,7,B,\r\n")


def test_csv_upload_preview_and_store(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = {**bearer_token(factory, ["metrics:write"]), "Content-Type": "text/csv"}
    data = CSV.format(code=kpi.code).encode()
    r = client.post("/api/v1/observations/csv?dry_run=true", content=data, headers=headers)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["rows"] == 2 and preview["labels"] == ["team"] and preview["error_count"] == 0
    # A time without an offset is read in the business time zone (Asia/Shanghai).
    assert preview["sample"][1]["ts"] == "2025-03-03T09:31:00+08:00"
    assert _count(session) == 0
    r = client.post("/api/v1/observations/csv?source=upload", content=data, headers=headers)
    assert r.status_code == 201 and r.json()["accepted"] == 2
    rows = session.exec(select(Observation).order_by(Observation.id)).all()
    assert [(o.value, o.labels, o.source) for o in rows] == [(8.5, {"team": "A"}, "crm"), (7.0, {"team": "B"}, "upload")]


def test_csv_errors_have_line_numbers_and_store_nothing(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = {**bearer_token(factory, ["metrics:write"]), "Content-Type": "text/csv"}
    data = (f"kpi,ts,value\n{kpi.code},2025-03-03T09:30:00Z,1\n{kpi.code},yesterday,2\n"
            f"\n{kpi.code},2025-03-03T09:30:00Z,abc\nNOPE,2025-03-03T09:30:00Z,1\n").encode()
    r = client.post("/api/v1/observations/csv", content=data, headers=headers)
    assert r.status_code == 422
    errs = [(e["row"], e["line"], e["field"]) for e in r.json()["errors"]]
    assert errs == [(2, 3, "ts"), (3, 5, "value"), (4, 6, "kpi")]
    assert _count(session) == 0
    r = client.post("/api/v1/observations/csv", content=b"when,value\n1,2\n", headers=headers)
    assert r.status_code == 422 and "kpi" in r.json()["detail"]
    r = client.post("/api/v1/observations/csv", content=b"kpi,ts,value\n", headers=headers)
    assert r.status_code == 422
    r = client.post("/api/v1/observations/csv", content="kpi,ts,value\n\xff".encode("latin-1"), headers=headers)
    assert r.status_code == 422


def test_csv_semicolons_and_decimal_commas(client, factory, session):
    _, kpi = _setup(factory, session)
    headers = {**bearer_token(factory, ["metrics:write"]), "Content-Type": "text/csv"}
    data = f"kpi;ts;value\n{kpi.code};2025-03-03T09:30:00Z;12,5\n".encode()
    r = client.post("/api/v1/observations/csv", content=data, headers=headers)
    assert r.status_code == 201
    assert session.exec(select(Observation.value)).one() == 12.5


def test_times_outside_plausible_years_are_refused(client, factory, session):
    """Year 9999 made the series cache's day arithmetic overflow (a 500); 0001 with an offset too."""
    _, kpi = _setup(factory, session)
    headers = bearer_token(factory, ["metrics:write"])
    for ts in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z"):
        r = client.post("/api/v1/observations", json={"observations": [{"kpi": kpi.code, "ts": ts, "value": 1}]},
                        headers=headers)
        assert r.status_code == 422, (ts, r.text)
        assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "ts")], ts
    data = f"kpi,ts,value\n{kpi.code},9999-12-31T23:00:00Z,1\n".encode()
    r = client.post("/api/v1/observations/csv", content=data, headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 422 and [(e["line"], e["field"]) for e in r.json()["errors"]] == [(2, "ts")]
    assert _count(session) == 0
    for ts in ("1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z"):
        r = client.post("/api/v1/observations", json={"observations": [{"kpi": kpi.code, "ts": ts, "value": 1}]},
                        headers=headers)
        assert r.status_code == 201, (ts, r.text)
