"""Kind, partition spec and watermark of a table, and rows inserted/updated/deleted per
step, as `batchlake catalog TABLE`, `batchlake runs RUN_ID`, the REST API and the
dashboard show them — checked against the table's own Iceberg metadata and the
metadata database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from batchlake.serve import create_app
from batchlake.serve.deps import COOKIE
from tests.partitioned_lake import build, event_rows
from tests.support.cli import batchlake
from tests.support.serve_support import ENV_KEYS, READER, auth


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake after a first build and an incremental run (10 new events, 3 changed)."""
    base = tmp_path_factory.mktemp("layout")
    root = build(base)
    con = sqlite3.connect(base / "shop.sqlite")
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", event_rows(601, 10))
    con.execute("UPDATE events SET amount = '1.00' WHERE id IN (1, 2, 3)")
    con.commit()
    con.close()
    result = Runner(Lake.open(root)).run()
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status == "failed"]
    return root


def last_batch(root: Path) -> str:
    return Lake.open(root).metadata.batches("shop", "events")[-1].batch_id


def snapshot_of(root: Path, table: str) -> str:
    snapshot = Lake.open(root).catalog.load(table).current_snapshot()
    assert snapshot is not None
    return str(snapshot.snapshot_id)


def last_run_steps(root: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    lake = Lake.open(root)
    run_id = lake.metadata.runs(1)[0]["run_id"]
    return run_id, {s["step"]: s for s in lake.metadata.steps(run_id)}


# -- batchlake catalog TABLE, batchlake runs RUN_ID ----------------------------------------------


def test_catalog_table_shows_kind_partition_spec_and_watermark(root: Path) -> None:
    shown = batchlake("catalog", "-p", str(root), "trusted.events").stdout
    assert "│ kind         │ incremental_by_key" in shown
    assert "│ partition_by │ month(day)" in shown
    watermark = shown[shown.index("watermark") : shown.index("columns")]
    assert "raw.shop.events" in watermark and "raw_batch" in watermark
    assert last_batch(root) in watermark

    described = json.loads(
        batchlake("catalog", "-p", str(root), "refined.daily", "--format", "json").stdout
    )
    assert described["kind"] == "incremental_by_time"
    assert described["partition_by"] == ["month(day)"]
    assert described["watermark"] == [
        {
            "input": "trusted.events",
            "type": "snapshot",
            "consumed": snapshot_of(root, "trusted.events"),
        }
    ]
    full = json.loads(
        batchlake("catalog", "-p", str(root), "trusted.kinds", "--format", "json").stdout
    )
    assert (full["kind"], full["partition_by"], full["watermark"]) == ("full", [], [])
    plain = batchlake("catalog", "-p", str(root), "trusted.kinds").stdout
    assert "│ partition_by │ unpartitioned" in plain
    assert "watermark" not in plain


def test_runs_shows_rows_inserted_updated_deleted(root: Path) -> None:
    run_id, steps = last_run_steps(root)
    recorded = steps["trusted.events"]
    assert recorded["rows_inserted"] == 10
    shown = json.loads(batchlake("runs", "-p", str(root), run_id, "--format", "json").stdout)
    events = next(s for s in shown if s["step"] == "trusted.events")
    assert (events["inserted"], events["updated"], events["deleted"]) == (
        recorded["rows_inserted"],
        recorded["rows_updated"],
        recorded["rows_deleted"],
    )


# -- the REST API and the dashboard ---------------------------------------------------------------


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    app = create_app(root, ServeSettings(), env_keys=ENV_KEYS)
    client = TestClient(app, headers=auth(READER), client=("127.0.0.1", 50000))
    client.cookies.set(COOKIE, READER)
    return client


def test_api_table_detail_has_kind_partition_spec_and_watermark(
    root: Path, client: TestClient
) -> None:
    events = client.get("/api/v1/tables/trusted/events").json()
    assert events["kind"] == "incremental_by_key"
    assert events["partition_by"] == ["month(day)"]
    assert events["watermark"] == [
        {"input": "raw.shop.events", "type": "raw_batch", "consumed": last_batch(root)}
    ]
    daily = client.get("/api/v1/tables/refined/daily").json()
    assert daily["watermark"] == [
        {
            "input": "trusted.events",
            "type": "snapshot",
            "consumed": snapshot_of(root, "trusted.events"),
        }
    ]
    kinds = client.get("/api/v1/tables/trusted/kinds").json()
    assert (kinds["kind"], kinds["partition_by"], kinds["watermark"]) == ("full", [], [])
    by_kind = client.get("/api/v1/tables/trusted/by_kind").json()
    assert by_kind["partition_by"] == ["kind", "truncate(6, note)"]  # identity: the column
    raw = client.get("/api/v1/tables/raw/shop.events").json()
    assert (raw["kind"], raw["partition_by"], raw["watermark"]) == (None, [], [])


def test_api_run_detail_has_rows_inserted_updated_deleted(root: Path, client: TestClient) -> None:
    run_id, steps = last_run_steps(root)
    shown = {s["step"]: s for s in client.get(f"/api/v1/runs/{run_id}").json()["steps"]}
    for name in ("trusted.events", "refined.daily", "raw.shop.events"):
        for key in ("rows_inserted", "rows_updated", "rows_deleted"):
            assert shown[name][key] == steps[name][key], (name, key)
    assert shown["trusted.events"]["rows_inserted"] == 10


def test_dashboard_table_page_shows_kind_partition_spec_and_watermark(
    root: Path, client: TestClient
) -> None:
    page = client.get("/tables/refined/daily").text
    assert '<strong id="kind">incremental_by_time</strong>' in page
    assert '<strong id="partition-by">month(day)</strong>' in page
    watermark = page[
        page.index('id="watermark"') : page.index("</table>", page.index('id="watermark"'))
    ]
    assert '<a href="/tables/trusted/events">trusted.events</a>' in watermark
    assert f"<td>{snapshot_of(root, 'trusted.events')}</td><td>snapshot</td>" in watermark
    events = client.get("/tables/trusted/events").text
    assert f"<td>{last_batch(root)}</td><td>raw batch</td>" in events
    kinds = client.get("/tables/trusted/kinds").text
    assert '<strong id="kind">full</strong>' in kinds
    assert '<strong id="partition-by">unpartitioned</strong>' in kinds
    assert 'id="watermark"' not in kinds
    assert 'id="layout"' not in client.get("/tables/raw/shop.events").text


def test_dashboard_run_page_shows_rows_inserted_updated_deleted(
    root: Path, client: TestClient
) -> None:
    run_id, steps = last_run_steps(root)
    page = client.get(f"/runs/{run_id}").text
    assert (
        '<th class="num">inserted</th><th class="num">updated</th><th class="num">deleted</th>'
        in page
    )
    events = steps["trusted.events"]
    row = page[page.index("<td>trusted.events</td>") :].split("</tr>")[0]
    counts = "".join(
        f'<td class="num">{events[k]}</td>'
        for k in ("rows_inserted", "rows_updated", "rows_deleted")
    )
    assert counts in row
