"""Event-log import, storage, analysis and deletion through the API (and the pages)."""

from __future__ import annotations

import gzip
import io
import json
import math

import polars as pl
import pytest
from sqlmodel import select

from app.core.config import get_settings
from app.mining.models import EventLog, EventLogData
from app.users.models import Role

SMALL_CSV = (
    "case,activity,timestamp,resource\n"
    "c1,Register,2026-03-02T09:00:00+08:00,ann\n"
    "c1,Review,2026-03-02T09:30:00+08:00,bob\n"
    "c1,Activate,2026-03-02T10:00:00+08:00,\n"
    "c2,Register,2026-03-03T09:00:00+08:00,ann\n"
    "c2,Review,2026-03-03T11:00:00+08:00,bob\n"
    "c2,Review,2026-03-03T12:00:00+08:00,bob\n"
    "c2,Activate,2026-03-03T12:30:00+08:00,\n"
)


def upload(client, headers, process_id, content: bytes, filename="log.csv", **fields):
    data = {"process_id": str(process_id), **{k: str(v) for k, v in fields.items()}}
    return client.post("/api/v1/event-logs", headers=headers, data=data,
                       files={"file": (filename, content, "application/octet-stream")})


@pytest.fixture
def member(factory):
    return factory.user(Role.member)


@pytest.fixture
def process(factory, member):
    return factory.process(owner=member)


def test_import_small_csv_and_analyse(client, factory, member, process, session):
    r = upload(client, factory.bearer(member), process.id, SMALL_CSV.encode())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["events"], body["cases"], body["activities"]) == (7, 2, 3)
    assert body["first_event"].startswith("2026-03-02T01:00:00")
    assert r.headers["location"] == f"/api/v1/event-logs/{body['id']}"

    a = client.get(f"/api/v1/event-logs/{body['id']}/analysis", headers=factory.bearer(member)).json()
    assert a["start_activities"] == {"Register": 2} and a["end_activities"] == {"Activate": 2}
    assert a["rework_cases_per_activity"] == {"Review": 1}
    assert a["variants"] == 2
    durations = sorted([3600.0, 3.5 * 3600])
    assert a["case_duration_s"]["min"] == durations[0] and a["case_duration_s"]["max"] == durations[1]
    follows = {(d["from"], d["to"]): d for d in a["directly_follows"]}
    assert follows[("Register", "Review")]["count"] == 2
    assert follows[("Register", "Review")]["mean_s"] == (1800 + 7200) / 2
    assert follows[("Review", "Review")]["count"] == 1

    filtered = client.get(f"/api/v1/event-logs/{body['id']}/analysis", params={"activity": "Activate",
                          "from": "2026-03-03T00:00:00Z"}, headers=factory.bearer(member)).json()
    assert filtered["cases"] == 1 and filtered["events"] == 4


def test_bad_rows_are_reported_and_nothing_is_stored(client, factory, member, process, session):
    bad = SMALL_CSV + ",Review,2026-03-04T09:00:00+08:00,x\nc3,Review,not a time,x\n"
    before = len(session.exec(select(EventLog)).all())
    r = upload(client, factory.bearer(member), process.id, bad.encode())
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    rows = sorted(e["row"] for e in r.json()["errors"])
    assert rows == [8, 9]  # 1-based data rows: the empty case id and the unparseable time
    assert len(session.exec(select(EventLog)).all()) == before
    assert session.exec(select(EventLogData)).all() == []


def test_column_mapping_delimiter_and_timezone(client, factory, member, process):
    text = "Ticket;Step;When\nT1;Open;2026-03-29 01:30:00\nT1;Close;2026-03-29 03:30:00\n"
    r = upload(client, factory.bearer(member), process.id, text.encode(), case_column="Ticket",
               activity_column="Step", timestamp_column="When", timezone="Europe/Berlin")
    assert r.status_code == 201, r.text
    a = client.get(f"/api/v1/event-logs/{r.json()['id']}/analysis", headers=factory.bearer(member)).json()
    # 01:30 CET (+01:00) to 03:30 CEST (+02:00) on the night clocks go forward: one hour, not two.
    assert a["case_duration_s"]["max"] == 3600.0
    partial = upload(client, factory.bearer(member), process.id, text.encode(), case_column="Ticket")
    assert partial.status_code == 422
    assert {e["field"] for e in partial.json()["errors"]} == {"activity_column", "timestamp_column"}


def test_xes_gz_and_parquet(client, factory, member, process):
    xes = (
        '<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">'
        '<trace><string key="concept:name" value="A1"/>'
        '<event><string key="concept:name" value="Start"/><date key="time:timestamp" value="2026-01-05T08:00:00.000+00:00"/></event>'
        '<event><string key="concept:name" value="End"/><date key="time:timestamp" value="2026-01-05T08:10:00.000+00:00"/></event>'
        '</trace></log>'
    )
    r = upload(client, factory.bearer(member), process.id, gzip.compress(xes.encode()), filename="t.xes.gz")
    assert r.status_code == 201, r.text
    assert (r.json()["source_format"], r.json()["events"], r.json()["cases"]) == ("xes", 2, 1)

    frame = pl.DataFrame({"case:concept:name": ["x", "x"], "concept:name": ["a", "b"],
                          "time:timestamp": ["2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z"]})
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = upload(client, factory.bearer(member), process.id, buf.getvalue(), filename="t.parquet")
    assert r.status_code == 201, r.text
    assert r.json()["source_format"] == "parquet"


def test_size_limit_gives_413(client, factory, member, process, monkeypatch):
    monkeypatch.setattr(get_settings(), "eventlog_max_bytes", 2048)
    r = upload(client, factory.bearer(member), process.id, b"case,activity,timestamp\n" + b"x" * 5000)
    assert r.status_code == 413
    assert r.json()["status"] == 413


def test_delete_removes_data_and_authorization(client, factory, member, process, session):
    log_id = upload(client, factory.bearer(member), process.id, SMALL_CSV.encode()).json()["id"]
    other = factory.user(Role.member)
    viewer = factory.user(Role.viewer)
    assert client.get(f"/api/v1/event-logs/{log_id}", headers=factory.bearer(viewer)).status_code == 200
    assert upload(client, factory.bearer(viewer), process.id, SMALL_CSV.encode()).status_code == 403
    assert client.delete(f"/api/v1/event-logs/{log_id}", headers=factory.bearer(other)).status_code == 403
    assert client.delete(f"/api/v1/event-logs/{log_id}", headers=factory.bearer(viewer)).status_code == 403
    assert client.get("/api/v1/event-logs").status_code == 401
    read_token = factory.service_token(["read"])
    auth = {"Authorization": f"Bearer {read_token}"}
    assert client.get(f"/api/v1/event-logs/{log_id}/analysis", headers=auth).status_code == 200
    assert client.delete(f"/api/v1/event-logs/{log_id}", headers=auth).status_code == 403
    assert client.delete(f"/api/v1/event-logs/{log_id}", headers=factory.bearer(member)).status_code == 204
    assert client.get(f"/api/v1/event-logs/{log_id}", headers=factory.bearer(member)).status_code == 404
    assert session.exec(select(EventLogData).where(EventLogData.log_id == log_id)).first() is None


def test_unknown_process_is_422(client, factory, member):
    r = upload(client, factory.bearer(member), 999999, SMALL_CSV.encode())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "process_id"


def test_list_filters_by_process_and_pages(client, factory, member, process):
    other_process = factory.process(owner=member)
    ids = [upload(client, factory.bearer(member), process.id, SMALL_CSV.encode()).json()["id"] for _ in range(3)]
    upload(client, factory.bearer(member), other_process.id, SMALL_CSV.encode())
    page = client.get("/api/v1/event-logs", params={"process_id": process.id, "limit": 2},
                      headers=factory.bearer(member)).json()
    assert [i["id"] for i in page["items"]] == sorted(ids, reverse=True)[:2]
    rest = client.get("/api/v1/event-logs", params={"process_id": process.id, "limit": 2,
                      "cursor": page["next_cursor"]}, headers=factory.bearer(member)).json()
    assert [i["id"] for i in rest["items"]] == sorted(ids, reverse=True)[2:]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("name,filename", [("running-example", "running-example.csv"),
                                           ("receipt", "receipt.csv"), ("helpdesk", "helpdesk.xes.gz")])
def test_real_logs_match_reference_through_the_api(client, factory, member, process, shared_dir, name, filename):
    expected = json.loads((shared_dir / "eventlogs" / "expected" / f"{name}.json").read_text())
    r = upload(client, factory.bearer(member), process.id, (shared_dir / "eventlogs" / filename).read_bytes(),
               filename=filename)
    assert r.status_code == 201, r.text[:500]
    got = client.get(f"/api/v1/event-logs/{r.json()['id']}/analysis", headers=factory.bearer(member)).json()
    for key in ("events", "cases", "activities", "start_activities", "end_activities",
                "rework_cases_per_activity", "variants"):
        assert got[key] == expected[key], key
    ref = {(d["from"], d["to"]): d for d in expected["directly_follows"]}
    mine = {(d["from"], d["to"]): d for d in got["directly_follows"]}
    assert mine.keys() == ref.keys()
    for pair, d in ref.items():
        assert mine[pair]["count"] == d["count"]
        for k in ("mean_s", "median_s"):
            assert math.isclose(mine[pair][k], d[k], rel_tol=1e-9, abs_tol=1e-9), (pair, k)
    for k, v in expected["case_duration_s"].items():
        assert math.isclose(got["case_duration_s"][k], v, rel_tol=1e-9), k


def test_pages_upload_analyse_filter_and_delete(client, factory, member, process):
    from tests.factories import PASSWORD
    from tests.helpers import csrf_tokens, page_login

    page_login(client, member.email, PASSWORD)
    listing = client.get("/event-logs")
    assert listing.status_code == 200 and "Import an event log" in listing.text
    token = csrf_tokens(listing.text)[0]
    files = {"file": ("bad.csv", (SMALL_CSV + "c9,Review,soon\n").encode(), "text/csv")}
    bad = client.post("/event-logs", data={"process_id": str(process.id), "csrf_token": token}, files=files)
    assert bad.status_code == 422 and "Row 8" in bad.text
    files = {"file": ("good.csv", SMALL_CSV.encode(), "text/csv")}
    good = client.post("/event-logs", data={"process_id": str(process.id), "csrf_token": token}, files=files,
                       follow_redirects=False)
    assert good.status_code == 303
    detail_url = good.headers["location"]
    page = client.get(detail_url)
    assert page.status_code == 200
    assert page.text.count('class="node-name"') == 3 and "<svg" in page.text
    fragment = client.get(detail_url, params={"from": "2026-03-03", "to": "", "activity": "Activate",
                                              "detail": "100", "metric": "time"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert '<span class="kpi-value">1</span><span class="kpi-label">Cases' in fragment.text
    assert client.get(detail_url, params={"from": "03/03/2026"}).status_code == 422
    published = client.post(detail_url + "/publish-kpis", data={"csrf_token": token}, follow_redirects=False)
    assert published.status_code == 303 and published.headers["location"] == f"/metrics?process={process.id}"
    assert f"{process.code}-CT50" in client.get(published.headers["location"]).text
    deleted = client.post(detail_url + "/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303
    assert client.get(detail_url).status_code == 404


def test_publish_weekly_kpis(client, factory, member, process, session):
    from app.metrics.models import Kpi, Observation

    log_id = upload(client, factory.bearer(member), process.id, SMALL_CSV.encode()).json()["id"]
    r = client.post(f"/api/v1/event-logs/{log_id}/publish-kpis", headers=factory.bearer(member))
    assert r.status_code == 200, r.text
    codes = r.json()["kpis"]
    assert codes == [f"{process.code}-{s}" for s in ("CT50", "CT95", "RWK", "VOL")]
    # Both cases complete in the ISO week of Monday 2026-03-02 (Asia/Shanghai): 1 h and 3.5 h, one with rework.
    assert r.json()["weeks"] == 1 and r.json()["observations"] == 4
    kpis = {k.code: k for k in session.exec(select(Kpi).where(Kpi.process_id == process.id))}
    values = {kpis_code: session.exec(select(Observation.value).where(Observation.kpi_id == kpis[kpis_code].id)).all()
              for kpis_code in codes}
    assert values[codes[0]] == [pytest.approx((1 + 3.5) / 2)]
    assert values[codes[1]] == [pytest.approx(1 + 0.95 * 2.5)]
    assert values[codes[2]] == [0.5] and values[codes[3]] == [2.0]
    series = client.get("/api/v1/metrics/series", params={"kpi": codes[3], "grain": "week"},
                        headers=factory.bearer(member)).json()
    assert [(i["period_start"], i["value"]) for i in series["items"]] == [("2026-03-02", 2.0)]
    # Publishing again replaces, never duplicates.
    again = client.post(f"/api/v1/event-logs/{log_id}/publish-kpis", headers=factory.bearer(member))
    assert again.status_code == 200
    assert len(session.exec(select(Observation).where(Observation.kpi_id == kpis[codes[3]].id)).all()) == 1
    viewer = factory.user(Role.viewer)
    assert client.post(f"/api/v1/event-logs/{log_id}/publish-kpis", headers=factory.bearer(viewer)).status_code == 403
    token = {"Authorization": f"Bearer {factory.service_token(['read', 'write'])}"}
    assert client.post(f"/api/v1/event-logs/{log_id}/publish-kpis", headers=token).status_code == 403
