"""Runs over the API: start (operator), one at a time (409), watch to the end, history
checked against the metadata database, and time travel across the new snapshot."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.lake import Lake
from batchlake.run.runner import RUN_LOCK
from batchlake.serve import create_app
from tests.support.serve_support import (
    ENV_KEYS,
    OPERATOR,
    READER,
    auth,
    build_lake,
    iceberg_arrow,
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("serve_runs"), invoices=400)


@pytest.fixture(scope="module")
def client(lake: Path) -> TestClient:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    return TestClient(app, raise_server_exceptions=False, headers=auth(READER))


def wait_for(client: TestClient, run_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/runs/{run_id}")
        if response.status_code == 200 and response.json()["status"] not in ("starting", "running"):
            return response.json()
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def until_new_snapshot(
    client: TestClient, params: dict[str, Any], old: str, timeout: float = 10
) -> dict[str, Any]:
    """Rows once the server serves a snapshot other than `old` (versions are re-planned
    every second, in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        page: dict[str, Any] = client.get(
            "/api/v1/tables/refined/sales_by_day/rows", params=params
        ).json()
        if page["snapshot"] != old or time.monotonic() > deadline:
            assert page["snapshot"] != old, "the new snapshot was never served"
            return page
        time.sleep(0.2)


def add_sale(lake: Path) -> str:
    """A new invoice with one line on a date the store never sold on; returns the date."""
    db = sqlite3.connect(lake / "data" / "chinook.sqlite")
    invoice = db.execute("SELECT max(InvoiceId) + 1 FROM Invoice").fetchone()[0]
    line = db.execute("SELECT max(InvoiceLineId) + 1 FROM InvoiceLine").fetchone()[0]
    db.execute(
        "INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, Total) "
        "VALUES (?, 1, '2030-06-15 10:00:00', 0.99)",
        (invoice,),
    )
    db.execute("INSERT INTO InvoiceLine VALUES (?, ?, 1, 0.99, 1)", (line, invoice))
    db.commit()
    return "2030-06-15"


def test_history_lists_the_demo_run_with_its_steps(client: TestClient, lake: Path) -> None:
    runs = client.get("/api/v1/runs").json()
    meta = sqlite3.connect(lake / ".batchlake" / "metadata.sqlite")
    expected = [r[0] for r in meta.execute("SELECT run_id FROM runs ORDER BY started_at DESC")]
    assert [r["run_id"] for r in runs] == expected
    detail = client.get(f"/api/v1/runs/{expected[0]}").json()
    steps = meta.execute(
        "SELECT step, status, rows_out FROM step_runs WHERE run_id = ? ORDER BY id",
        (expected[0],),
    ).fetchall()
    assert [(s["step"], s["status"], s["rows"]) for s in detail["steps"]] == steps
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in detail["steps"])
    prefix = client.get(f"/api/v1/runs/{expected[0][:15]}")
    assert prefix.status_code == 200 and prefix.json()["run_id"] == expected[0]


def test_start_run_needs_an_operator(client: TestClient) -> None:
    assert client.post("/api/v1/runs", json={}).status_code == 403
    assert client.post("/api/v1/runs", json={}, headers={"Authorization": ""}).status_code == 401


def test_a_run_in_progress_elsewhere_answers_409(client: TestClient, lake: Path) -> None:
    other = Lake.open(lake)
    assert other.metadata.acquire_lock(RUN_LOCK, "cli-run-123", timedelta(seconds=60)) is None
    try:
        response = client.post("/api/v1/runs", json={}, headers=auth(OPERATOR))
        assert response.status_code == 409
        assert "cli-run-123" in response.json()["error"]
    finally:
        other.metadata.release_lock(RUN_LOCK, "cli-run-123")


def test_run_started_over_the_api_changes_the_tables_and_keeps_time_travel(
    client: TestClient, lake: Path
) -> None:
    before = client.get("/api/v1/tables/refined/sales_by_day").json()
    old_snapshot = before["snapshot"]
    day = add_sale(lake)
    response = client.post("/api/v1/runs", json={}, headers=auth(OPERATOR))
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    second = client.post("/api/v1/runs", json={}, headers=auth(OPERATOR))
    if second.status_code == 202:  # the first had already finished: let this one end too
        wait_for(client, second.json()["run_id"])
    else:
        assert second.status_code == 409
    done = wait_for(client, run_id)
    assert done["status"] == "success", done
    assert done["command"] == "serve"
    steps = {s["step"]: s for s in done["steps"]}
    assert steps["raw.chinook.invoice"]["status"] == "success"
    assert steps["refined.sales_by_day"]["status"] == "success"

    time.sleep(1.1)  # the planned version is trusted for one second
    now = client.get("/api/v1/tables/refined/sales_by_day/rows", params={"sale_date": day}).json()
    assert now["total"] == 1 and now["snapshot"] != old_snapshot
    old = client.get(
        "/api/v1/tables/refined/sales_by_day/rows",
        params={"sale_date": day, "as_of": old_snapshot},
    ).json()
    assert old["total"] == 0 and old["snapshot"] == old_snapshot
    # The old snapshot, read whole, equals PyIceberg's own read of it.
    whole = client.get(
        "/api/v1/tables/refined/sales_by_day/rows",
        params={"as_of": old_snapshot, "limit": 10000},
    ).json()
    assert whole["total"] == iceberg_arrow(lake, "refined.sales_by_day", int(old_snapshot)).num_rows
    # By timestamp: the snapshot current when the old one was committed.
    committed = next(
        s["committed_at"]
        for s in client.get("/api/v1/tables/refined/sales_by_day").json()["snapshots"]
        if s["snapshot_id"] == old_snapshot
    )
    by_time = client.get(
        "/api/v1/tables/refined/sales_by_day/rows", params={"as_of": committed, "limit": 1}
    )
    assert by_time.json()["snapshot"] == old_snapshot
    metrics = client.get("/metrics").text
    assert 'batchlake_runs_total{status="success"}' in metrics


def test_a_cursor_made_before_a_change_keeps_its_snapshot(client: TestClient, lake: Path) -> None:
    url = "/api/v1/tables/refined/sales_by_day/rows"
    first = client.get(url, params={"limit": 50, "order_by": "sale_date"}).json()
    snapshot = first["snapshot"]
    add_sale_again = sqlite3.connect(lake / "data" / "chinook.sqlite")
    add_sale_again.execute("UPDATE InvoiceLine SET Quantity = Quantity + 1 WHERE InvoiceLineId = 1")
    add_sale_again.commit()
    run_id = client.post("/api/v1/runs", json={}, headers=auth(OPERATOR)).json()["run_id"]
    assert wait_for(client, run_id)["status"] == "success"
    until_new_snapshot(client, {"limit": 1}, snapshot)
    second = client.get(
        url, params={"limit": 50, "order_by": "sale_date", "cursor": first["next_cursor"]}
    ).json()
    assert second["snapshot"] == snapshot and second["offset"] == 50
    expected = iceberg_arrow(lake, "refined.sales_by_day", int(snapshot)).sort_by("sale_date")
    assert [r[0] for r in second["rows"]] == [
        d.isoformat() for d in expected.column("sale_date").to_pylist()[50:100]
    ]
