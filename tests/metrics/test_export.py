"""Raw observations for BI tools: JSON keyset pages, CSV and Parquet streams, formula neutralisation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import polars as pl

from app.users.models import Role
from tests.metrics.helpers import add, bearer_token, make_kpi, utc

URL = "/api/v1/metrics/observations"


def _data(factory, session):
    admin = factory.user(Role.admin)
    a, b = make_kpi(session, admin, code="EXP-A"), make_kpi(session, admin, code="EXP-B")
    add(session, admin, a, [(utc(2025, 1, 1) + timedelta(hours=i), float(i)) for i in range(25)],
        labels={"team": "=cmd|' /C calc'!A0"})
    add(session, admin, b, [(utc(2025, 1, 1) + timedelta(hours=i), -float(i)) for i in range(10)])
    session.flush()
    return a, b


def test_json_pages_with_cursor_and_link(client, factory, session):
    a, b = _data(factory, session)
    headers = bearer_token(factory, ["metrics:read"])
    seen, params = [], {"kpi": f"{a.code},{b.code}", "limit": 7}
    while True:
        r = client.get(URL, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["items"]
        if not body["next_cursor"]:
            assert "Link" not in r.headers
            break
        assert 'rel="next"' in r.headers["Link"]
        params = {**params, "cursor": body["next_cursor"]}
    assert len(seen) == 35 and len({o["id"] for o in seen}) == 35
    assert [o["kpi"] for o in seen] == ["EXP-A"] * 25 + ["EXP-B"] * 10
    assert seen[0] == {"id": seen[0]["id"], "kpi": "EXP-A", "ts": "2025-01-01T00:00:00Z", "value": 0.0,
                       "labels": {"team": "=cmd|' /C calc'!A0"}, "source": None}
    r = client.get(URL, params={"kpi": a.code, "from": "2025-01-01T08:00:00+08:00", "to": "2025-01-01T03:00:00Z"},
                   headers=headers)
    assert [o["value"] for o in r.json()["items"]] == [0.0, 1.0, 2.0]
    # Dates are local (Asia/Shanghai) midnights: 2025-01-02 starts at 2025-01-01T16:00Z.
    r = client.get(URL, params={"kpi": a.code, "to": "2025-01-02"}, headers=headers)
    assert len(r.json()["items"]) == 16
    assert client.get(URL, params={"cursor": "garbage"}, headers=headers).status_code == 422


def test_csv_export_streams_neutralised_cells(client, factory, session):
    a, b = _data(factory, session)
    r = client.get(URL, params={"format": "csv"}, headers=bearer_token(factory, ["read"]))
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    assert rows[0] == ["id", "kpi", "ts", "value", "source", "labels"]
    assert len(rows) == 36
    first = rows[1]
    assert first[1:4] == ["EXP-A", "2025-01-01T00:00:00Z", "0.0"]
    assert first[5].startswith("'{") or first[5].startswith("{")  # JSON text starts with {, safe as it is
    assert rows[-1][3] == "-9.0"  # numbers are never altered
    # A cursor continues where a JSON page stopped.
    page = client.get(URL, params={"limit": 30}, headers=bearer_token(factory, ["read"])).json()
    r = client.get(URL, params={"format": "csv", "cursor": page["next_cursor"]}, headers=bearer_token(factory, ["read"]))
    assert len(r.text.splitlines()) == 1 + 5


def test_csv_neutralises_formula_sources(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin)
    headers = bearer_token(factory, ["metrics:write"])
    payload = {"observations": [{"kpi": kpi.code, "ts": "2025-01-01T00:00:00Z", "value": 1, "source": s}
                                for s in ("=1+2", "+1", "-1", "@SUM(A1)", "plain")]}
    assert client.post("/api/v1/observations", json=payload, headers=headers).status_code == 201
    r = client.get(URL, params={"format": "csv", "kpi": kpi.code}, headers=bearer_token(factory, ["metrics:read"]))
    sources = [row[4] for row in list(csv.reader(io.StringIO(r.text)))[1:]]
    assert sources == ["'=1+2", "'+1", "'-1", "'@SUM(A1)", "plain"]


def test_parquet_export(client, factory, session):
    _data(factory, session)
    r = client.get(URL, params={"format": "parquet", "kpi": "EXP-B"}, headers=bearer_token(factory, ["metrics:read"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(r.content))
    assert frame.columns == ["id", "kpi", "ts", "value", "source", "labels"]
    assert frame.height == 10 and frame["value"].sum() == -45
    assert str(frame.schema["ts"]) == "Datetime(time_unit='us', time_zone='UTC')"
    r = client.get(URL, params={"format": "parquet", "kpi": "EXP-B", "from": "2030-01-01"},
                   headers=bearer_token(factory, ["metrics:read"]))
    assert pl.read_parquet(io.BytesIO(r.content)).height == 0


def test_export_authorization(client, factory, session):
    _data(factory, session)
    assert client.get(URL).status_code == 401
    for scopes in (["metrics:write"], ["write"]):
        assert client.get(URL, params={"format": "csv"}, headers=bearer_token(factory, scopes)).status_code == 403
    viewer = factory.user(Role.viewer)
    assert client.get(URL, params={"format": "csv"}, headers=factory.bearer(viewer)).status_code == 200
