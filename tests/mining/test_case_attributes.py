"""Case attributes and roles read with an event log (for the control points' rules): XES trace attributes and
event attributes with one value per case; CSV/Parquet `case:` columns and columns with one value per case."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from app.mining import readers

LOGS = Path(__file__).resolve().parents[3] / "shared" / "eventlogs"


def _cases(kind: str, data: bytes | Path) -> pl.DataFrame:
    return readers.read_log(kind, data)[2]


def test_csv_takes_case_columns_and_columns_with_one_value_per_case():
    log = (b"case,activity,timestamp,amount,case:channel,note,channel,blank_then_value,\n"
           b"1,a,2026-01-01T00:00:00Z,10,web,first,x,,0\n"
           b"1,b,2026-01-01T01:00:00Z,10,web,second,y,v1,1\n"
           b"2,a,2026-01-02T00:00:00Z,,shop,,y, ,2\n"
           b"2,b,2026-01-02T01:00:00Z,25.5,shop,,y,v2,3\n")
    cases = _cases("csv", log)
    # `note` varies within case 1 and the unnamed index column varies: not case attributes; the `case:` column
    # wins over the plain column of its name; blank cells are no value.
    assert cases.columns == ["case_id", "amount", "channel", "blank_then_value"]
    assert cases.sort("case_id").rows() == [("1", "10", "web", "v1"), ("2", "25.5", "shop", "v2")]


def test_a_case_column_is_taken_even_where_it_varies_first_value_in_file_order():
    log = (b"case:concept:name,concept:name,time:timestamp,case:amount\n"
           b"1,a,2026-01-01T01:00:00Z,\n1,b,2026-01-01T00:00:00Z,7\n1,c,2026-01-01T02:00:00Z,8\n")
    assert _cases("csv", log).rows() == [("1", "7")]


def test_xes_trace_attributes_and_constant_event_attributes_and_roles():
    xes = b"""<?xml version="1.0"?><log xmlns="http://www.xes-standard.org/">
<trace><string key="concept:name" value="A"/><float key="amount" value="12.5"/><boolean key="urgent" value="true"/>
<event><string key="concept:name" value="x"/><date key="time:timestamp" value="2026-01-01T00:00:00Z"/>
<string key="org:role" value="clerk"/><string key="product" value="p1"/><string key="step" value="1"/></event>
<event><string key="concept:name" value="y"/><date key="time:timestamp" value="2026-01-01T01:00:00Z"/>
<string key="product" value="p1"/><string key="step" value="2"/><string key="amount" value="99"/></event>
</trace>
<trace><string key="concept:name" value="B"/>
<event><string key="concept:name" value="x"/><date key="time:timestamp" value="2026-01-02T00:00:00Z"/></event>
</trace></log>"""
    events, _, cases = readers.read_log("xes", xes)
    assert events["role"].to_list() == ["clerk", None, None]
    # The trace's `amount` wins over the events'; `step` varies within a case; `product` has one value.
    assert cases.columns == ["case_id", "amount", "urgent", "product"]
    assert cases.sort("case_id").rows() == [("A", "12.5", "true", "p1"), ("B", None, None, None)]


def test_parquet_columns_are_read_as_text():
    frame = pl.DataFrame({"case_id": ["1", "1"], "activity": ["a", "b"],
                          "timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"], "amount": [3.5, 3.5],
                          "role": ["clerk", "head"]})
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    events, _, cases = readers.read_log("parquet", buffer.getvalue())
    assert events["role"].to_list() == ["clerk", "head"]
    assert cases.rows() == [("1", "3.5")]


def test_the_real_logs_attributes():
    receipt = _cases("csv", LOGS / "receipt.csv")
    assert receipt.height == 1434
    assert receipt.columns == ["case_id", "channel", "deadline", "department", "enddate", "enddate_planned",
                               "group", "responsible", "startdate"]
    assert _cases("csv", LOGS / "running-example.csv").columns == ["case_id", "creator"]
    helpdesk = _cases("xes", LOGS / "helpdesk.xes.gz")
    assert helpdesk.height == 4580 and "seriousness" in helpdesk.columns and "service_level" not in helpdesk.columns
