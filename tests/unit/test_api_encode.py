"""Arrow → JSON/CSV/Parquet bodies, and the SVG drawings of the dashboard."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from batchlake.serve import encode, svg

TABLE = pa.table(
    {
        "d": pa.array([Decimal("1.10"), None], pa.decimal128(10, 2)),
        "day": pa.array([date(2024, 2, 29), None]),
        "ts": pa.array([datetime(2024, 1, 1, 12, 30), None], pa.timestamp("us")),
        "f": pa.array([float("nan"), 2.5]),
        "dur": pa.array([timedelta(seconds=90), None], pa.duration("s")),
        "tags": pa.array([["a", "b"], []], pa.list_(pa.string())),
        "blob": pa.array([b"\x00\x01", None], pa.binary()),
        "s": ['x,"y"', None],
    }
)


def test_json_stream_is_valid_json_with_exact_types() -> None:
    body = b"".join(encode.json_stream({"a": 1}, TABLE.to_batches(max_chunksize=1), {"n": 2}))
    data = json.loads(body)
    assert data["a"] == 1 and data["n"] == 2
    assert data["rows"] == [
        ["1.10", "2024-02-29", "2024-01-01T12:30:00", None, 90.0, ["a", "b"], "AAE=", 'x,"y"'],
        [None, None, None, 2.5, None, [], None, None],
    ]
    assert json.loads(b"".join(encode.json_stream({}, [], {}))) == {"rows": []}


def test_csv_stream_quotes_and_flattens_nested_values() -> None:
    text = b"".join(encode.csv_stream(TABLE.schema, TABLE.to_batches())).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["d"] == "1.10" and rows[0]["s"] == 'x,"y"'
    assert json.loads(rows[0]["tags"]) == ["a", "b"]
    assert rows[1]["d"] == "" and len(rows) == 2
    empty = b"".join(encode.csv_stream(TABLE.schema, [])).decode()
    assert empty.splitlines()[0].startswith('"d","day"')


def test_parquet_stream_round_trips() -> None:
    big = pa.table({"n": list(range(300_000)), "t": [str(i) for i in range(300_000)]})
    body = b"".join(encode.parquet_stream(big.schema, big.to_batches(max_chunksize=50_000)))
    assert pq.read_table(io.BytesIO(body)).equals(big)


def test_charts_are_well_formed_and_escape_labels() -> None:
    line = svg.line_chart(["2024-01-01", "2024-01-02", "<x>"], [1.0, 3.5, 2.0], "sales")
    bars = svg.bar_chart(["A & B", "<script>"], [10, 0], "top")
    graph = svg.lineage(["trusted.sales", "source x"], "refined.sales_by_day", [])
    for drawing in (line, bars, graph, svg.bar_chart([], [], "none")):
        ET.fromstring(drawing)  # parses as XML
    assert "<script>" not in bars and "&lt;script&gt;" in bars
    root = ET.fromstring(bars)
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 2
    points = ET.fromstring(line).find("{http://www.w3.org/2000/svg}polyline")
    assert points is not None and len(points.get("points", "").split()) == 3
    links = ET.fromstring(graph).findall("{http://www.w3.org/2000/svg}a")
    assert [a.get("href") for a in links] == [
        "/tables/trusted/sales",
        "/tables/refined/sales_by_day",
    ]
