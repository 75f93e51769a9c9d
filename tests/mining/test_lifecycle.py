"""Lifecycle values of real logs: the import keeps `complete` events by default (all events when the log has
none), or `all`, or the values asked for, and says what it read, kept and skipped; weekly volumes use the
business time zone, as the KPIs a log publishes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from app.mining.analysis import analyze
from app.mining.readers import EventLogError, Lifecycle, read_csv, read_log, read_xes
from app.mining.steps import weekly_case_stats
from tests.mining.test_eventlogs_api import member, process, upload  # noqa: F401 - fixtures

DATA = Path(__file__).parent / "logs"  # not data/: .gitignore ignores data/ folders
INCIDENTS = (DATA / "incidents.xes").read_bytes()  # BPI 2013-like: no complete events
MIXED = (DATA / "mixed-lifecycle.xes").read_bytes()  # BPI 2012-like: schedule, start, complete, none


def test_log_without_complete_events_keeps_all_by_default() -> None:
    frame, report, _ = read_log("xes", INCIDENTS)
    assert frame.height == 8 and frame["case_id"].n_unique() == 2
    assert (report.read, report.kept, report.skipped, report.lifecycle, report.requested) == (8, 8, {}, "all", None)
    assert report.values == {"In Progress": 3, "Closed": 2, "Awaiting Assignment": 1, "Resolved": 1,
                             "Wait - User": 1}
    assert read_xes(INCIDENTS).equals(frame)


def test_mixed_log_keeps_complete_by_default_and_counts_the_skipped() -> None:
    frame, report, _ = read_log("xes", MIXED)
    # COMPLETE (any case) and events without a lifecycle value (complete by the XES standard).
    assert frame["activity"].to_list() == ["A_SUBMITTED", "A_ACCEPTED", "W_Completeren aanvraag",
                                           "A_SUBMITTED", "W_Afhandelen leads"]
    assert frame["idx"].to_list() == [0, 1, 2, 3, 4]
    assert report.as_dict() == {
        "read": 9, "kept": 5, "skipped": {"SCHEDULE": 2, "START": 2}, "lifecycle": "complete", "requested": None,
        "values": {"COMPLETE": 4, "SCHEDULE": 2, "START": 2, "complete": 1}}
    everything, report, _ = read_log("xes", MIXED, lifecycle=Lifecycle.parse("ALL"))
    assert everything.height == 9 and report.skipped == {} and report.lifecycle == "all"
    chosen, report, _ = read_log("xes", MIXED, lifecycle=Lifecycle.parse(" start , complete,"))
    assert chosen.height == 7 and report.skipped == {"SCHEDULE": 2}
    assert report.lifecycle == report.requested == ["start", "complete"]


def test_chosen_lifecycle_with_no_events_names_the_values() -> None:
    with pytest.raises(EventLogError) as err:
        read_log("xes", INCIDENTS, lifecycle=Lifecycle.parse("complete"))
    (problem,) = err.value.problems
    assert problem["field"] == "lifecycle"
    assert problem["message"] == ("no events with lifecycle complete; the log's lifecycle values are: "
                                  "In Progress (3), Closed (2), Awaiting Assignment (1), Resolved (1), "
                                  "Wait - User (1)")
    kept, _, _ = read_log("xes", INCIDENTS, lifecycle=Lifecycle.parse("closed,resolved"))
    assert kept["activity"].to_list() == ["Completed"] * 3
    with pytest.raises(EventLogError, match="cannot be combined"):
        Lifecycle.parse("all,start")
    assert Lifecycle.parse("") == Lifecycle.parse(None) == Lifecycle()


def test_csv_lifecycle_column_and_row_numbers() -> None:
    text = ("case,activity,timestamp,lifecycle:transition\n"
            "c1,Review,2024-01-01T09:00:00Z,start\n"
            "c1,Review,2024-01-01T09:30:00Z,complete\n"
            "c1,Close,2024-01-01T10:00:00Z,\n"
            "c2,Review,not a time,start\n")
    frame, report, _ = read_log("csv", text.encode())
    # An empty value is `complete`, as an XES event without one.
    assert frame["activity"].to_list() == ["Review", "Close"] and report.skipped == {"start": 2}
    assert report.values == {"complete": 2, "start": 2}
    with pytest.raises(EventLogError) as err:  # the bad row is a start event: skipped, unless kept
        read_log("csv", text.encode(), lifecycle=Lifecycle.parse("all"))
    assert [(p["row"], p["field"]) for p in err.value.problems] == [(4, "timestamp")]
    with pytest.raises(EventLogError) as err:
        read_log("csv", text.replace("not a time", "2024-01-02").replace(
            "2024-01-01T09:30:00Z", "later").encode())
    assert [p["row"] for p in err.value.problems] == [2]  # the file's row number, not the kept row's
    plain = "case,activity,timestamp\nc1,a,2024-01-01T09:00:00Z\nc1,b,2024-01-01T10:00:00Z\n"
    frame, report, _ = read_log("csv", plain.encode(), lifecycle=Lifecycle.parse("complete"))
    assert frame.height == 2 and (report.lifecycle, report.values, report.requested) == ("all", {}, "complete")
    named = "Case,Activity,Time,Lifecycle\nc1,a,2024-01-01T09:00:00Z,Complete\nc1,a,2024-01-01T08:00:00Z,Start\n"
    assert read_csv(named.encode()).height == 1


def test_weekly_volumes_use_the_business_time_zone() -> None:
    # Sunday 2024-01-07 20:00 UTC is Monday 04:00 in Shanghai: the next ISO week there.
    ts = [datetime(2024, 1, 7, 18, tzinfo=UTC), datetime(2024, 1, 7, 20, tzinfo=UTC)]
    frame = pl.DataFrame({"case_id": ["c", "c"], "activity": ["a", "b"], "timestamp": ts, "idx": [0, 1]},
                         schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "idx": pl.UInt32})
    assert [w["week_start"] for w in analyze(frame)["weekly"]] == ["2024-01-01"]
    local = analyze(frame, tz="Asia/Shanghai")["weekly"]
    assert local == [{"week_start": "2024-01-08", "cases_started": 1, "cases_completed": 1}]
    assert [str(w["week"]) for w in weekly_case_stats(frame, "Asia/Shanghai")] == ["2024-01-08"]


# --- through the API and the pages ------------------------------------------------------------------------


def test_import_answer_reports_the_lifecycle(client, factory, member, process):  # noqa: F811
    headers = factory.bearer(member)
    r = upload(client, headers, process.id, INCIDENTS, filename="incidents.xes")
    assert r.status_code == 201, r.text
    counts = r.json()["lifecycle_counts"]
    assert (counts["read"], counts["kept"], counts["skipped"], counts["lifecycle"]) == (8, 8, {}, "all")
    assert counts["note"].startswith("The log has no `complete` events, so all 8 events were kept")
    assert client.get(r.headers["location"], headers=headers).json()["lifecycle_counts"] == counts

    r = upload(client, headers, process.id, MIXED, filename="mixed.xes")
    assert r.status_code == 201, r.text
    assert r.json()["events"] == 5
    counts = r.json()["lifecycle_counts"]
    assert {k: counts[k] for k in ("read", "kept", "skipped", "lifecycle")} == {
        "read": 9, "kept": 5, "skipped": {"SCHEDULE": 2, "START": 2}, "lifecycle": "complete"}
    assert "4 of 9 events were skipped" in counts["note"] and "lifecycle=all" in counts["note"]
    r = upload(client, headers, process.id, MIXED, filename="mixed.xes", lifecycle="all")
    assert r.json()["events"] == 9 and r.json()["lifecycle_counts"]["note"] is None

    refused = upload(client, headers, process.id, INCIDENTS, filename="incidents.xes", lifecycle="complete")
    assert refused.status_code == 422
    body = refused.json()
    assert "no events of the chosen lifecycle" in body["detail"] and "Awaiting Assignment (1)" in body["detail"]
    assert body["errors"][0]["field"] == "lifecycle" and body["errors"][0]["loc"] == ["body", "lifecycle"]
    bad = upload(client, headers, process.id, MIXED, filename="mixed.xes", lifecycle="all,start")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "lifecycle"


def test_pages_choose_and_show_the_lifecycle(client, factory, member, process):  # noqa: F811
    from tests.factories import PASSWORD
    from tests.helpers import csrf_tokens, page_login

    page_login(client, member.email, PASSWORD)
    listing = client.get("/event-logs")
    assert 'name="lifecycle"' in listing.text
    token = csrf_tokens(listing.text)[0]
    form = {"process_id": str(process.id), "csrf_token": token}
    r = client.post("/event-logs", data=form, files={"file": ("mixed.xes", MIXED, "application/xml")},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Events read: 9, imported: 5 (lifecycle: complete)" in page.text
    assert '<span class="code">SCHEDULE</span> 2' in page.text and "lifecycle option “all”" in page.text
    r = client.post("/event-logs", data=form, files={"file": ("i.xes", INCIDENTS, "application/xml")},
                    follow_redirects=False)
    assert "The log has no complete events" in client.get(r.headers["location"]).text
    refused = client.post("/event-logs", data={**form, "lifecycle": "complete"},
                          files={"file": ("i.xes", INCIDENTS, "application/xml")})
    assert refused.status_code == 422 and "the log&#39;s lifecycle values are: In Progress (3)" in refused.text
    assert 'value="complete"' in refused.text  # the option is kept in the form
