"""Helpers of the metrics tests: KPIs made through the service, observations through the ingest service,
and reference statistics computed here independently (plain Python, no polars)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.metrics.ingest import Row, ingest
from app.metrics.models import Kpi
from app.metrics.schemas import KpiCreate, ObservationIn
from app.metrics.service import create_kpi
from app.users.models import User

_seq = itertools.count(1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_kpi(session: Session, owner: User, **fields: Any) -> Kpi:
    n = next(_seq)
    data = {"code": f"K-{n:04d}", "name_en": f"KPI {n}", "name_zh": f"指标 {n}", "unit": "min",
            "direction": "lower_is_better", "aggregation": "mean"}
    data.update(fields)
    return create_kpi(session, KpiCreate(**data), owner)


def add(session: Session, actor: User, kpi: Kpi | str, points: Iterable[tuple[datetime, float]],
        labels: dict[str, str] | None = None) -> int:
    code = kpi if isinstance(kpi, str) else kpi.code
    rows = [Row(ObservationIn(kpi=code, ts=ts, value=float(v), labels=labels), row=i + 1)
            for i, (ts, v) in enumerate(points)]
    result = ingest(session, rows, actor, origin="api")
    session.flush()
    return result.batch_id


def percentile_cont(values: Sequence[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def stats(values: Sequence[float]) -> dict[str, float]:
    return {"count": len(values), "mean": math.fsum(values) / len(values), "sum": math.fsum(values),
            "min": min(values), "max": max(values), "p50": percentile_cont(values, 0.5),
            "p95": percentile_cont(values, 0.95)}


def iso_week_start(ts: datetime, tz: ZoneInfo = SHANGHAI) -> date:
    local = ts.astimezone(tz).date()
    return local - timedelta(days=local.isoweekday() - 1)


def month_start(ts: datetime, tz: ZoneInfo = SHANGHAI) -> date:
    return ts.astimezone(tz).date().replace(day=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bearer_token(factory: Any, scopes: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.service_token(scopes)}"}
