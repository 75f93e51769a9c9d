"""Demo KPIs of YH-LC01 (user registration and activation) with nine months of observations that tell the
method's story: about 30 minutes per activation, a two-week pilot on team A, the rollout, then about 8 minutes
(-73 %); errors 5 % -> 1 %; satisfaction 3.2 -> about 4.6; and last week an SMS channel incident that slows
activations down again and raises a "worsening" alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from app.core.config import get_settings
from app.initiatives.models import Initiative
from app.metrics.ingest import Row, ingest
from app.metrics.models import AlertRuleKind, Grain, Kpi
from app.metrics.schemas import AlertRuleCreate, KpiCreate, ObservationIn
from app.metrics.service import create_kpi, create_rule
from app.processes.models import Process
from app.users.models import User

DAYS = 270
PILOT_START, ROLLOUT_START, ROLLED_OUT = 120, 134, 148
INCIDENT_DAYS = 5  # the last days: SMS codes not received

KPIS = [
    {"code": "YH-LC01-ACT", "name_en": "Average activation time", "name_zh": "平均激活时长", "unit": "min",
     "direction": "lower_is_better", "aggregation": "mean", "target": 8, "baseline": 30,
     "description": "Minutes from the registration form to the activated account, per user (CRM timestamps)."},
    {"code": "YH-LC01-ERR", "name_en": "Activation error rate", "name_zh": "激活差错率", "unit": "%",
     "direction": "lower_is_better", "aggregation": "rate", "target": 0.01, "baseline": 0.05,
     "description": "1 when an activation had to be redone (wrong data, manual correction), else 0."},
    {"code": "YH-LC01-SAT", "name_en": "User satisfaction", "name_zh": "用户满意度", "unit": "/5",
     "direction": "higher_is_better", "aggregation": "mean", "target": 4.5, "baseline": 3.2,
     "description": "Post-activation survey score from 1 (very dissatisfied) to 5 (very satisfied)."},
]


def _minutes(day: int, team: str, rng: random.Random) -> float:
    if day < PILOT_START or (day < ROLLOUT_START and team == "B"):
        mean = 30.0
    elif day < ROLLOUT_START:
        mean = 8.0  # the pilot team works with the automatic check of the 3 systems (Table 3: 30 -> 8 min)
    elif day < ROLLED_OUT:  # the pilot team keeps its pace; the others learn
        mean = 8.0 if team == "A" else 8.0 + 12.0 * (ROLLED_OUT - day) / (ROLLED_OUT - ROLLOUT_START)
    else:
        mean = 7.8
    if day >= DAYS - INCIDENT_DAYS:
        mean = 10.5
    return round(max(2.0, rng.gauss(mean, mean * 0.22)), 1)


def _error(day: int, rng: random.Random) -> float:
    p = 0.05 if day < PILOT_START else (0.02 if day < ROLLED_OUT else 0.008)
    return 1.0 if rng.random() < p else 0.0


def _score(day: int, rng: random.Random) -> float:
    mean = 3.2 if day < PILOT_START else (3.8 if day < ROLLED_OUT else 4.9)
    return float(min(5, max(1, round(rng.gauss(mean, 0.6)))))


def load_metrics(session: Session) -> None:
    """Load the demo KPIs of YH-LC01 and their observations (the processes and users must exist); they are
    the KPIs of YH-LC01's initiative when it exists (loaded first), so its pages link to them."""
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).first()
    lead = session.exec(select(User).where(User.email_norm == "lead@example.com")).first()
    if process is None or lead is None:
        return
    initiative = session.exec(select(Initiative).where(Initiative.process_id == process.id)).first()
    initiative_id = initiative.id if initiative is not None else None
    kpis: dict[str, Kpi] = {spec["code"]: create_kpi(
        session, KpiCreate(**spec, process_id=process.id, initiative_id=initiative_id), lead) for spec in KPIS}
    tz = ZoneInfo(get_settings().business_timezone)
    today = datetime.now(UTC).astimezone(tz).date()
    rng = random.Random(2026)
    act: list[Row] = []
    err: list[Row] = []
    sat: list[Row] = []
    for day in range(DAYS):
        date = today - timedelta(days=DAYS - 1 - day)
        opening = datetime.combine(date, time(9), tzinfo=tz)
        for _ in range(rng.randint(20, 30) if date.weekday() < 5 else rng.randint(5, 10)):
            ts = opening + timedelta(minutes=rng.randrange(9 * 60))
            if ts > datetime.now(UTC):
                continue
            team = rng.choice("AB")
            labels = {"team": team, "channel": rng.choice(("app", "web", "app"))}
            act.append(Row(ObservationIn(kpi="YH-LC01-ACT", ts=ts, value=_minutes(day, team, rng), labels=labels),
                           row=len(act) + 1))
            err.append(Row(ObservationIn(kpi="YH-LC01-ERR", ts=ts, value=_error(day, rng), labels=labels),
                           row=len(err) + 1))
            if rng.random() < 0.3:
                sat.append(Row(ObservationIn(kpi="YH-LC01-SAT", ts=ts + timedelta(hours=1),
                                             value=_score(day, rng), labels=labels), row=len(sat) + 1))
    for rows, source in ((act, "crm"), (err, "crm"), (sat, "survey")):
        for i in range(0, len(rows), 10_000):
            ingest(session, rows[i:i + 10_000], lead, origin="demo", source=source)
    create_rule(session, kpis["YH-LC01-ACT"].id, AlertRuleCreate(kind=AlertRuleKind.worsening, grain=Grain.week,
                                                                  percent=20, periods=4), lead)
    create_rule(session, kpis["YH-LC01-ERR"].id, AlertRuleCreate(kind=AlertRuleKind.target_breach,
                                                                  grain=Grain.month), lead)
    create_rule(session, kpis["YH-LC01-SAT"].id, AlertRuleCreate(kind=AlertRuleKind.target_breach,
                                                                  grain=Grain.month), lead)
