"""Feedback counts per ISO week and category as KPI observations (`<PROCESS>-FB-<CATEGORY>`, source
`feedback:<process_id>`): published by named actions, the triagers' call and the daily command, never by an
anonymous post (a batch keeps who sent it and when); the values are the feedback rows per week and category."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from app.core.audit import AuditRecord
from app.core.calendar import today
from app.core.config import get_settings
from app.feedback import kpis
from app.feedback.models import Feedback
from app.metrics.models import Kpi, KpiPeriodCache, Observation, ObservationBatch
from app.metrics.series import local_date
from app.processes.models import Process
from tests.factories import Factory

API = "/api/v1"


def _post(client, user, process_id: int, category: str = "efficiency", *, anonymous: bool = False) -> int:  # noqa: ANN001
    r = client.post(f"{API}/feedback{'/anonymous' if anonymous else ''}", headers=Factory.bearer(user),
                    json={"process_id": process_id, "category": category, "text": "审批节点太多"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(sa.func.count()).select_from(model)).one()


def _published(session, process_id: int) -> dict[str, dict]:  # noqa: ANN001
    """code -> {week's Monday: value} of what the source holds."""
    out: dict[str, dict] = {}
    for code, ts, value in session.exec(select(Kpi.code, Observation.ts, Observation.value)
                                        .join(Kpi, Kpi.id == Observation.kpi_id)
                                        .where(Observation.source == kpis.source(process_id))):
        out.setdefault(code, {})[local_date(ts, get_settings().business_timezone)] = value
    return out


def _publish(client, user, process_id: int) -> dict:  # noqa: ANN001
    r = client.post(f"{API}/processes/{process_id}/feedback/kpis", headers=Factory.bearer(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_anonymous_post_writes_no_observation_batch_or_audit_record(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    code = session.get(Process, pid).code
    _post(client, team.member, pid)  # named, by a triager: publishes (creates the KPI)
    assert _published(session, pid) == {f"{code}-FB-EFFICIENCY": {kpis.monday(today()): 1.0}}
    tables = (Kpi, Observation, ObservationBatch, AuditRecord, KpiPeriodCache)
    before = {m.__tablename__: _count(session, m) for m in tables}
    batches = set(session.exec(select(ObservationBatch.id)))
    for category in ("efficiency", "risk"):  # a new category too: no KPI made for it
        _post(client, team.outsider, pid, category, anonymous=True)
    assert {m.__tablename__: _count(session, m) for m in tables} == before
    assert set(session.exec(select(ObservationBatch.id))) == batches
    assert _published(session, pid) == {f"{code}-FB-EFFICIENCY": {kpis.monday(today()): 1.0}}

    # The next named action publishes the counts with the anonymous posts in them, as its actor.
    fid = session.exec(select(Feedback.id).where(Feedback.anonymous).order_by(Feedback.id)).first()
    r = client.post(f"{API}/feedback/{fid}/replies", json={"text": "收到"}, headers=Factory.bearer(team.leader))
    assert r.status_code == 201
    week = kpis.monday(today())
    assert _published(session, pid) == {f"{code}-FB-EFFICIENCY": {week: 2.0}, f"{code}-FB-RISK": {week: 1.0}}
    newest = session.exec(select(ObservationBatch).order_by(ObservationBatch.id.desc())).first()
    assert newest.created_by_id == team.leader.id and newest.source == f"feedback:{pid}"
    assert newest.origin == "feedback"


def test_the_counts_are_the_feedback_rows_per_week_and_category(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    code = session.get(Process, pid).code
    posts = [("efficiency", False, 0), ("efficiency", True, 0), ("risk", True, 1), ("quality", False, 6),
             ("efficiency", True, 6), ("efficiency", False, 7), ("suggestion", True, 20), ("risk", False, 31)]
    for category, anonymous, days_ago in posts:
        fid = _post(client, team.outsider, pid, category, anonymous=anonymous)
        fb = session.get(Feedback, fid)
        fb.received_on = today() - timedelta(days=days_ago)
        session.add(fb)
    _post(client, team.outsider, team.other.process_id, "risk")  # another process: not counted here
    session.flush()
    done = _publish(client, team.leader, pid)
    rows = session.exec(select(Feedback.category, Feedback.received_on).where(Feedback.process_id == pid)).all()
    expected = Counter((c.value, kpis.monday(d)) for c, d in rows)
    first = kpis.monday(min(d for _, d in rows))
    weeks = [first + timedelta(weeks=i) for i in range((kpis.monday(today()) - first).days // 7 + 1)]
    categories = sorted({c for c, _ in expected})
    assert done["kpis"] == sorted(f"{code}-FB-{c.upper()}" for c in categories)
    assert done["weeks"] == len(weeks) and done["observations"] == len(weeks) * len(categories)
    assert len(done["batches"]) == 1
    assert _published(session, pid) == {f"{code}-FB-{c.upper()}": {w: float(expected[(c, w)]) for w in weeks}
                                        for c in categories}
    assert sum(v for s in _published(session, pid).values() for v in s.values()) == len(posts)

    # Monitoring reads them: the weekly series of the metrics API sums each week's value.
    r = client.get(f"{API}/metrics/series", params={"kpi": f"{code}-FB-EFFICIENCY", "grain": "week",
                                                     "from": weeks[0].isoformat()},
                   headers=Factory.bearer(team.viewer))
    assert r.status_code == 200, r.text
    points = {p["period_start"]: p["value"] for p in r.json()["items"]}
    assert points == {w.isoformat(): float(expected[("efficiency", w)]) for w in weeks}
    kpi = session.exec(select(Kpi).where(Kpi.code == f"{code}-FB-EFFICIENCY")).one()
    assert (kpi.unit, kpi.aggregation.value, kpi.direction.value, kpi.process_id) == ("count", "sum",
                                                                                     "lower_is_better", pid)
    assert kpi.owner_id == team.leader.id  # the process's owner (a lead published)

    # The same counts again: nothing written. One more feedback: replaced whole, not added to.
    assert _publish(client, team.leader, pid)["batches"] == []
    _post(client, team.outsider, pid, "quality", anonymous=True)
    assert len(_publish(client, team.member, pid)["batches"]) == 1
    published = _published(session, pid)
    assert published[f"{code}-FB-QUALITY"][kpis.monday(today())] == expected[("quality", kpis.monday(today()))] + 1
    assert sum(len(s) for s in published.values()) == len(weeks) * len(categories)
    assert _count(session, Observation) == len(weeks) * len(categories) + 1  # the other process's one


def test_who_publishes_and_who_does_not(client, session, team, factory):  # noqa: ANN001
    pid = team.initiative.process_id
    _post(client, team.outsider, pid)  # named, by someone who does not triage: no KPI is made
    assert _count(session, Kpi) == 0 and _count(session, ObservationBatch) == 0
    url = f"{API}/processes/{pid}/feedback/kpis"
    for user in (team.outsider, team.viewer, team.other_lead):
        r = client.post(url, headers=Factory.bearer(user))
        assert r.status_code == 403, (user.email, r.text)
    token = factory.service_token(["read"])
    assert client.post(url, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert client.post(url).status_code == 401
    assert client.post(f"{API}/processes/999999/feedback/kpis", headers=Factory.bearer(team.admin)).status_code == 404
    assert _count(session, Kpi) == 0
    assert _publish(client, team.admin, pid)["observations"] == 1
    # Once the KPIs exist, a sender's named post publishes them (their counts, no new KPI).
    _post(client, team.outsider, pid, "collaboration")
    _post(client, team.outsider, pid)
    code = session.get(Process, pid).code
    assert _published(session, pid) == {f"{code}-FB-EFFICIENCY": {kpis.monday(today()): 2.0}}
    assert _count(session, Kpi) == 1
    # A viewer's named post is kept, and publishes nothing (viewers record no observations).
    _post(client, team.viewer, pid)
    assert _published(session, pid) == {f"{code}-FB-EFFICIENCY": {kpis.monday(today()): 2.0}}


def test_a_kpi_code_taken_by_another_process_refuses_the_call_not_the_feedback(client, session, team, factory):  # noqa: ANN001
    pid = team.initiative.process_id
    code = session.get(Process, pid).code
    r = client.post(f"{API}/kpis", headers=Factory.bearer(team.admin), json={
        "code": f"{code}-FB-RISK", "name_en": "x", "name_zh": "x", "unit": "count", "direction": "lower_is_better",
        "process_id": team.other.process_id})
    assert r.status_code == 201, r.text
    fid = _post(client, team.leader, pid, "risk")  # named, by a triager: the side publication fails quietly
    assert session.get(Feedback, fid) is not None and _count(session, Observation) == 0
    r = client.post(f"{API}/processes/{pid}/feedback/kpis", headers=Factory.bearer(team.leader))
    assert r.status_code == 409 and r.json()["detail"] == f"The KPI {code}-FB-RISK belongs to another process."
