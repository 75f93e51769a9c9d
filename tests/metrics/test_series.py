"""Series through the API checked against statistics computed here independently, on both backends:
time zone and ISO week boundaries, months and quarters, DST, label breakdowns, the cache and late data."""

from __future__ import annotations

import io
import random
from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.metrics.models import Grain, KpiPeriodCache
from app.metrics.series import SeriesQuery, series_frame
from app.users.models import Role
from tests.metrics.helpers import (
    SHANGHAI,
    add,
    bearer_token,
    iso_week_start,
    make_kpi,
    month_start,
    stats,
    utc,
)

READ = ["metrics:read"]


def _series(client, headers, **params):
    r = client.get("/api/v1/metrics/series", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _expected(points, bucket):
    groups = defaultdict(list)
    for ts, v in points:
        groups[bucket(ts)].append(v)
    return {k: stats(v) for k, v in sorted(groups.items())}


def _check(items, expected, value_of="mean"):
    assert [date.fromisoformat(i["period_start"]) for i in items] == list(expected)
    for item in items:
        want = expected[date.fromisoformat(item["period_start"])]
        for key, value in want.items():
            assert item[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (item["period_start"], key)
        assert item["value"] == pytest.approx(want[value_of])


def test_weekly_series_matches_independent_computation(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, target=8, baseline=30)
    rng = random.Random(7)
    points = [(utc(2025, 1, 1) + timedelta(minutes=rng.randrange(60 * 24 * 60)), round(rng.uniform(1, 40), 3))
              for _ in range(800)]
    # ISO week boundary in Shanghai: Sunday 23:59:59 local vs Monday 00:00 local (UTC+8).
    points += [(utc(2025, 1, 5, 15, 59, 59), 100.0), (utc(2025, 1, 5, 16, 0, 0), 200.0)]
    add(session, admin, kpi, points)
    items = _series(client, bearer_token(factory, READ), kpi=kpi.code, grain="week", **{"from": "2024-12-30",
                                                                                        "to": "2025-03-10"})
    expected = _expected(points, iso_week_start)
    _check(items, expected)
    assert date(2024, 12, 30) in expected and 100.0 in [p[1] for p in points if iso_week_start(p[0]) == date(2024, 12, 30)]
    assert all(i["target"] == 8 and i["baseline"] == 30 and i["kpi"] == kpi.code for i in items)
    assert all(date.fromisoformat(i["period_end"]) - date.fromisoformat(i["period_start"]) == timedelta(days=7)
               for i in items)


@pytest.mark.parametrize("aggregation", ["sum", "p50", "p95"])
def test_monthly_and_quarterly_with_default_aggregation(client, factory, session, aggregation):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, aggregation=aggregation)
    rng = random.Random(aggregation)
    points = [(utc(2025, 1, 1) + timedelta(hours=rng.randrange(24 * 200)), rng.randint(1, 9)) for _ in range(300)]
    # 2025-03-31 16:00 UTC is 1 April 00:00 in Shanghai: April and the second quarter.
    points += [(utc(2025, 3, 31, 15, 59), 1000.0), (utc(2025, 3, 31, 16, 0), 2000.0)]
    add(session, admin, kpi, points)
    headers = bearer_token(factory, ["read"])
    month = _series(client, headers, kpi=kpi.code, grain="month", **{"from": "2025-01-01", "to": "2026-01-01"})
    _check(month, _expected(points, month_start), aggregation)

    def quarter(ts):
        d = month_start(ts)
        return d.replace(month=(d.month - 1) // 3 * 3 + 1)

    q = _series(client, headers, kpi=kpi.code, grain="quarter", **{"from": "2025-01-01", "to": "2026-01-01"})
    _check(q, _expected(points, quarter), aggregation)


def test_time_zones_and_daylight_saving(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin)
    # Paris leaves winter time on 2025-03-30 at 01:00 UTC: that local day has 23 hours.
    points = [(utc(2025, 3, 29, 22, 59), 1.0), (utc(2025, 3, 29, 23, 0), 2.0), (utc(2025, 3, 30, 21, 59), 3.0),
              (utc(2025, 3, 30, 22, 0), 4.0), (utc(2025, 3, 30, 0, 30), 5.0)]
    add(session, admin, kpi, points)
    headers = bearer_token(factory, READ)
    paris = ZoneInfo("Europe/Paris")
    items = _series(client, headers, kpi=kpi.code, grain="day", tz="Europe/Paris",
                    **{"from": "2025-03-29", "to": "2025-04-01"})
    _check(items, _expected(points, lambda ts: ts.astimezone(paris).date()))
    items = _series(client, headers, kpi=kpi.code, grain="day", **{"from": "2025-03-29", "to": "2025-04-01"})
    _check(items, _expected(points, lambda ts: ts.astimezone(SHANGHAI).date()))
    r = client.get("/api/v1/metrics/series", params={"kpi": kpi.code, "tz": "Mars/Base"}, headers=headers)
    assert r.status_code == 422


def test_label_breakdown(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin)
    a = [(utc(2025, 2, 3, 2, i), float(i)) for i in range(10)]
    b = [(utc(2025, 2, 3, 3, i), float(i * 2)) for i in range(5)]
    add(session, admin, kpi, a, labels={"team": "A"})
    add(session, admin, kpi, b, labels={"team": "B"})
    add(session, admin, kpi, [(utc(2025, 2, 3, 4), 99.0)])
    items = _series(client, bearer_token(factory, READ), kpi=kpi.code, grain="week", by="team",
                    **{"from": "2025-02-01", "to": "2025-03-01"})
    got = {i["team"]: i for i in items}
    assert set(got) == {"A", "B", None}
    for team, pts in (("A", a), ("B", b), (None, [(None, 99.0)])):
        want = stats([v for _, v in pts])
        assert {k: got[team][k] for k in want} == pytest.approx(want)


def test_cache_holds_closed_periods_and_late_data_refreshes_them(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin)
    add(session, admin, kpi, [(utc(2025, 1, 7), 10.0), (utc(2025, 1, 14), 20.0)])
    headers = bearer_token(factory, READ)
    params = {"kpi": kpi.code, "grain": "week", "from": "2025-01-06", "to": "2025-01-27"}
    first = _series(client, headers, **params)
    assert [(i["period_start"], i["mean"]) for i in first] == [("2025-01-06", 10.0), ("2025-01-13", 20.0)]
    cached = session.exec(select(KpiPeriodCache).where(KpiPeriodCache.kpi_id == kpi.id,
                                                       KpiPeriodCache.grain == Grain.week)).all()
    assert sorted((c.period_start, c.count) for c in cached) == [
        (date(2025, 1, 6), 1), (date(2025, 1, 13), 1), (date(2025, 1, 20), 0)]
    assert _series(client, headers, **params) == first

    # Late data for the week of 13 January, and a first value in the empty week of 20 January.
    r = client.post("/api/v1/observations", headers=bearer_token(factory, ["metrics:write"]), json={
        "observations": [{"kpi": kpi.code, "ts": "2025-01-15T12:00:00+08:00", "value": 40},
                         {"kpi": kpi.code, "ts": "2025-01-20T00:00:00+08:00", "value": 7}]})
    assert r.status_code == 201
    left = session.exec(select(KpiPeriodCache.period_start).where(KpiPeriodCache.kpi_id == kpi.id,
                                                                  KpiPeriodCache.grain == Grain.week)).all()
    assert date(2025, 1, 13) not in left and date(2025, 1, 20) not in left and date(2025, 1, 6) in left
    after = _series(client, headers, **params)
    assert [(i["period_start"], i["mean"], i["count"]) for i in after] == [
        ("2025-01-06", 10.0, 1), ("2025-01-13", 30.0, 2), ("2025-01-20", 7.0, 1)]


def test_cached_equals_computed_for_many_kpis(session, factory):
    admin = factory.user(Role.admin)
    kpis = [make_kpi(session, admin) for _ in range(3)]
    rng = random.Random(3)
    for kpi in kpis:
        add(session, admin, kpi, [(utc(2024, 11, 1) + timedelta(hours=rng.randrange(24 * 120)), rng.random())
                                  for _ in range(200)])
    q = SeriesQuery(Grain.week, date(2024, 11, 1), date(2025, 3, 1), "Asia/Shanghai")
    ids = [k.id for k in kpis]
    plain = series_frame(session, ids, q, use_cache=False)
    cold = series_frame(session, ids, q)
    # Warm the cache for one KPI only, then ask for all three.
    session.execute(sa.delete(KpiPeriodCache).where(KpiPeriodCache.kpi_id != ids[0]))
    mixed = series_frame(session, ids, q)
    warm = series_frame(session, ids, q)
    for frame in (cold, mixed, warm):
        assert frame.select(plain.columns).equals(plain), frame


def test_series_formats_and_errors(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, code="FMT-1")
    add(session, admin, kpi, [(utc(2025, 1, 7), 10.0), (utc(2025, 1, 8), 20.0)])
    headers = bearer_token(factory, READ)
    params = {"kpi": kpi.code, "grain": "week", "from": "2025-01-01", "to": "2025-02-01"}
    r = client.get("/api/v1/metrics/series", params={**params, "format": "csv"}, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    lines = r.text.splitlines()
    assert lines[0] == "kpi,kpi_id,grain,period_start,period_end,count,mean,sum,min,max,p50,p95,value,target,baseline"
    assert lines[1].startswith(f"FMT-1,{kpi.id},week,2025-01-06,2025-01-13,2,15.0,30.0,10.0,20.0,15.0,19.5,15.0")
    r = client.get("/api/v1/metrics/series", params={**params, "format": "parquet"}, headers=headers)
    assert r.status_code == 200
    frame = pl.read_parquet(io.BytesIO(r.content))
    assert frame.height == 1 and frame["p95"][0] == pytest.approx(19.5)
    for bad in ({"kpi": "NOPE"}, {"kpi": kpi.code, "grain": "year"}, {"kpi": kpi.code, "from": "soon"},
                {"kpi": kpi.code, "from": "2025-02-01", "to": "2025-01-01"}, {}, {"kpi": kpi.code, "by": "mean"}):
        r = client.get("/api/v1/metrics/series", params=bad, headers=headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    for scopes in (["metrics:write"], ["write"]):
        r = client.get("/api/v1/metrics/series", params=params, headers=bearer_token(factory, scopes))
        assert r.status_code == 403


def test_compare_before_after(client, factory, session):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, target=8, baseline=30)
    before = [(utc(2025, 1, 10) + timedelta(hours=i), v) for i, v in enumerate([28, 30, 32, 30])]
    after = [(utc(2025, 4, 10) + timedelta(hours=i), v) for i, v in enumerate([7, 8, 9, 8])]
    add(session, admin, kpi, before + after)
    headers = bearer_token(factory, READ)
    r = client.get(f"/api/v1/kpis/{kpi.id}/compare", headers=headers, params={
        "before_from": "2025-01-01", "before_to": "2025-02-01", "after_from": "2025-04-01", "after_to": "2025-05-01"})
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["before"], c["after"], c["diff"]) == (30, 8, -22)
    assert c["diff_rate"] == pytest.approx(-22 / 30) and round(c["diff_rate"] * 100) == -73
    assert c["improved"] is True and c["met_target"] is True and (c["before_count"], c["after_count"]) == (4, 4)
    r = client.get(f"/api/v1/kpis/{kpi.id}/compare", headers=headers,
                   params={"after_from": "2025-04-01", "after_to": "2025-05-01"})
    assert r.json()["before"] == 30 and r.json()["before_count"] is None  # the KPI's baseline
    r = client.get(f"/api/v1/kpis/{kpi.id}/compare", headers=headers,
                   params={"after_from": "2025-06-01", "after_to": "2025-07-01"})
    assert r.status_code == 422
