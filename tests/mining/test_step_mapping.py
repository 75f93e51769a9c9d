"""Event logs on an initiative: activities mapped to survey steps, measured minutes beside surveyed ones."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.mining.models import StepLink
from app.mining.steps import activity_durations
from tests.initiatives.factories import InitiativeFactory, add_steps
from tests.mining.test_eventlogs_api import SMALL_CSV, upload


@pytest.fixture
def team(session, factory):
    return InitiativeFactory(session, factory).team()


@pytest.fixture
def steps(session, team):
    specs = [{"name": "User fills in information", "kind": "input", "minutes": "5"},
             {"name": "Manual review", "kind": "activity", "minutes": "30", "waiting_minutes": "10"},
             {"name": "System activation", "kind": "activity", "minutes": "2"}]
    made = add_steps(session, team.initiative, team.leader, specs)
    session.flush()
    return made


def test_activity_durations_without_and_with_start_times():
    import polars as pl

    ts = pl.Series(["2026-01-01T08:00:00Z", "2026-01-01T08:10:00Z", "2026-01-01T08:40:00Z",
                    "2026-01-01T09:00:00Z", "2026-01-01T09:20:00Z"]).str.to_datetime(time_zone="UTC")
    frame = pl.DataFrame({"case_id": ["a", "a", "a", "b", "b"], "activity": ["X", "Y", "Y", "X", "Y"],
                          "timestamp": ts, "idx": [0, 1, 2, 3, 4]})
    got = activity_durations(frame)
    # X starts each case: no predecessor, no duration. Y: 10 min, 30 min (after Y), 20 min.
    assert got["X"]["occurrences"] == 2 and got["X"]["measured"] == 0 and got["X"]["mean_s"] is None
    assert got["Y"]["measured"] == 3
    assert got["Y"]["mean_s"] == (600 + 1800 + 1200) / 3 and got["Y"]["median_s"] == 1200
    starts = frame.with_columns(start_timestamp=pl.col("timestamp") - pl.duration(minutes=4))
    with_start = activity_durations(starts)
    assert with_start["X"]["mean_s"] == 240 and with_start["Y"]["median_s"] == 240


def test_map_and_compare(client, factory, team, steps, session):
    process_id = team.initiative.process_id
    r = upload(client, factory.bearer(team.member), process_id, SMALL_CSV.encode(),
               initiative_id=team.initiative.id)
    assert r.status_code == 201, r.text
    log_id = r.json()["id"]
    assert r.json()["initiative_id"] == team.initiative.id

    body = {"links": [{"activity": "Review", "step_id": steps[1].id},
                      {"activity": "Activate", "step_id": steps[2].id}]}
    r = client.put(f"/api/v1/event-logs/{log_id}/steps", json=body, headers=factory.bearer(team.it))
    assert r.status_code == 200, r.text
    rows = {s["step_id"]: s for s in r.json()["steps"]}
    review = rows[steps[1].id]
    assert review["activities"] == ["Review"] and review["surveyed_minutes"] == 30
    # Review after Register: 30 min (c1), 120 min (c2); after Review: 60 min (c2).
    assert review["measured_occurrences"] == 3
    assert review["measured_mean_minutes"] == pytest.approx((30 + 120 + 60) / 3)
    assert review["measured_median_minutes"] == pytest.approx(60)
    assert rows[steps[0].id]["measured_mean_minutes"] is None

    # Unmapping one activity keeps the other.
    r = client.put(f"/api/v1/event-logs/{log_id}/steps", json={"links": [{"activity": "Review", "step_id": None}]},
                   headers=factory.bearer(team.leader))
    assert r.status_code == 200
    mapped = dict(session.exec(select(StepLink.activity, StepLink.step_id).where(StepLink.log_id == log_id)).all())
    assert mapped == {"Activate": steps[2].id}


def test_mapping_is_refused_for_outsiders_and_bad_input(client, factory, team, steps, session):
    log_id = upload(client, factory.bearer(team.member), team.initiative.process_id, SMALL_CSV.encode(),
                    initiative_id=team.initiative.id).json()["id"]
    body = {"links": [{"activity": "Review", "step_id": steps[1].id}]}
    for user in (team.outsider, team.other_lead, team.viewer):
        assert client.put(f"/api/v1/event-logs/{log_id}/steps", json=body,
                          headers=factory.bearer(user)).status_code == 403
    assert client.get(f"/api/v1/event-logs/{log_id}/steps", headers=factory.bearer(team.viewer)).status_code == 200
    other_step = add_steps(session, team.other, team.other_lead, [{"name": "x", "minutes": "1"}])[0]
    session.flush()
    bad = {"links": [{"activity": "Nope", "step_id": steps[0].id}, {"activity": "Review", "step_id": other_step.id}]}
    r = client.put(f"/api/v1/event-logs/{log_id}/steps", json=bad, headers=factory.bearer(team.leader))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"activity", "step_id"}
    assert session.exec(select(StepLink).where(StepLink.log_id == log_id)).all() == []


def test_import_onto_an_initiative_needs_the_team_and_the_same_process(client, factory, team):
    outsider_upload = upload(client, factory.bearer(team.outsider), team.initiative.process_id,
                             SMALL_CSV.encode(), initiative_id=team.initiative.id)
    assert outsider_upload.status_code == 403
    other_process = factory.process(owner=team.leader)
    wrong = upload(client, factory.bearer(team.leader), other_process.id, SMALL_CSV.encode(),
                   initiative_id=team.initiative.id)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "initiative_id"
    plain = upload(client, factory.bearer(team.leader), team.initiative.process_id, SMALL_CSV.encode())
    r = client.get(f"/api/v1/event-logs/{plain.json()['id']}/steps", headers=factory.bearer(team.leader))
    assert r.status_code == 422


def test_mapping_page(client, factory, team, steps):
    from tests.factories import PASSWORD
    from tests.helpers import csrf_tokens, page_login

    log_id = upload(client, factory.bearer(team.member), team.initiative.process_id, SMALL_CSV.encode(),
                    initiative_id=team.initiative.id).json()["id"]
    page_login(client, team.member.email, PASSWORD)
    page = client.get(f"/event-logs/{log_id}")
    assert page.status_code == 200 and 'id="steps"' in page.text and "Manual review" in page.text
    token = csrf_tokens(page.text)[0]
    r = client.post(f"/event-logs/{log_id}/steps", data={"activity": "Review", "step_id": str(steps[1].id),
                    "csrf_token": token}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    assert 'selected>2. Manual review' in r.text
