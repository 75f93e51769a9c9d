"""PostgreSQL's read-only `bi` views: the same figures as the API, readable by a role without table rights."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.users.models import Role
from tests.metrics.helpers import add, iso_week_start, make_kpi, stats, utc


@pytest.fixture
def pg(backend):  # noqa: ANN001, ANN201
    if backend != "postgresql":
        pytest.skip("the bi views exist on PostgreSQL only")


def test_weekly_series_view_matches_independent_stats(pg, session, factory):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin, aggregation="p95", target=8, baseline=30)
    rng = random.Random(11)
    points = [(utc(2025, 1, 1) + timedelta(minutes=rng.randrange(60 * 24 * 40)), rng.uniform(1, 50))
              for _ in range(300)] + [(utc(2025, 1, 5, 15, 59, 59), 1.0), (utc(2025, 1, 5, 16), 2.0)]
    add(session, admin, kpi, points)
    rows = session.execute(sa.text(
        "SELECT period_start, count, mean, sum, min, max, p50, p95, value, target, baseline "
        "FROM bi.weekly_series WHERE kpi = :kpi ORDER BY period_start"), {"kpi": kpi.code}).all()
    groups = defaultdict(list)
    for ts, v in points:
        groups[iso_week_start(ts)].append(v)
    assert [r.period_start for r in rows] == sorted(groups)
    for r in rows:
        want = stats(groups[r.period_start])
        got = {k: getattr(r, k) for k in want}
        assert got == pytest.approx(want, rel=1e-9)
        assert r.value == pytest.approx(want["p95"]) and (r.target, r.baseline) == (8, 30)
    obs = session.execute(sa.text("SELECT count(*) FROM bi.observations WHERE kpi = :kpi"), {"kpi": kpi.code})
    assert obs.scalar_one() == len(points)
    k = session.execute(sa.text("SELECT kpi, aggregation, owner FROM bi.kpis WHERE kpi_id = :id"), {"id": kpi.id}).one()
    assert (k.kpi, k.aggregation, k.owner) == (kpi.code, "p95", admin.display_name)


def test_read_only_role_sees_views_not_tables(pg, session, connection, factory):
    admin = factory.user(Role.admin)
    kpi = make_kpi(session, admin)
    add(session, admin, kpi, [(utc(2025, 2, 3), 5.0)])
    session.flush()
    # As the README shows; the test's transaction rolls the role back.
    connection.execute(sa.text("CREATE ROLE procopt_bi_test NOLOGIN"))
    connection.execute(sa.text("GRANT USAGE ON SCHEMA bi TO procopt_bi_test"))
    connection.execute(sa.text("GRANT SELECT ON ALL TABLES IN SCHEMA bi TO procopt_bi_test"))
    connection.execute(sa.text("SET LOCAL ROLE procopt_bi_test"))
    try:
        n = connection.execute(sa.text("SELECT count(*) FROM bi.monthly_series WHERE kpi = :k"), {"k": kpi.code})
        assert n.scalar_one() == 1
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), connection.begin_nested():
            connection.execute(sa.text("SELECT count(*) FROM observations"))
    finally:
        connection.execute(sa.text("RESET ROLE"))
