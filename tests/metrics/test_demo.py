"""The demo data tells the method's story: YH-LC01 activation time 30 -> 8 minutes (-73 %)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from app.core.db import utcnow
from app.demo import load
from app.metrics.demo import DAYS, INCIDENT_DAYS, ROLLED_OUT
from app.metrics.models import Kpi, KpiAlertRule
from app.metrics.series import compare


def test_demo_kpis_show_the_improvement(session):
    load(session)
    session.flush()
    kpis = {k.code: k for k in session.exec(select(Kpi))}
    assert set(kpis) >= {"YH-LC01-ACT", "YH-LC01-ERR", "YH-LC01-SAT"}
    assert all(k.process_id is not None for k in kpis.values())
    now = utcnow()
    before = (now - timedelta(days=DAYS), now - timedelta(days=DAYS - 90))
    after = (now - timedelta(days=DAYS - ROLLED_OUT - 30), now - timedelta(days=INCIDENT_DAYS + 1))
    act = compare(session, kpis["YH-LC01-ACT"], before=before, after=after)
    assert act["before"] == pytest.approx(30, abs=1.5) and act["after"] == pytest.approx(8, abs=0.7)
    assert round(act["diff_rate"] * 100) in range(-77, -70) and act["met_target"] in (True, False)
    err = compare(session, kpis["YH-LC01-ERR"], before=before, after=after)
    assert err["before"] == pytest.approx(0.05, abs=0.015) and err["after"] < 0.02
    sat = compare(session, kpis["YH-LC01-SAT"], before=before, after=after)
    assert sat["before"] < 3.6 and sat["after"] > 4.3 and sat["improved"]
    assert len(session.exec(select(KpiAlertRule)).all()) == 3
