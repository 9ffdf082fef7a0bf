"""The Chinook example end to end through the CLI: demo, rerun, change, query, catalog."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import batchlake, query_json, tables_rows
from tests.support.oracle.chinook import REFINED_TABLES

REFINED = REFINED_TABLES
TRUSTED = [
    "artists",
    "albums",
    "tracks",
    "genres",
    "media_types",
    "customers",
    "employees",
    "invoices",
    "invoice_lines",
    "customer_employee_history",
    "playlists",
    "playlist_tracks",
    "sales",
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("demo") / "lake"
    result = batchlake("demo", "--dir", str(project), "--invoices", "800", "--seed", "5")
    assert "Try next" in result.stderr
    return project


def snapshots(project: Path) -> dict[str, str]:
    listing = json.loads(batchlake("catalog", "-p", str(project), "--format", "json").stdout)
    return {f"{t['zone']}.{t['table']}": t["snapshot"] for t in listing}


def test_demo_builds_every_table(lake: Path) -> None:
    listing = json.loads(batchlake("catalog", "-p", str(lake), "--format", "json").stdout)
    names = {f"{t['zone']}.{t['table']}" for t in listing}
    assert {f"refined.{n}" for n in REFINED} <= names
    assert {f"trusted.{n}" for n in TRUSTED} <= names
    assert {"raw.chinook.invoice_line", "raw.chinook.employee"} <= names
    by_name = {f"{t['zone']}.{t['table']}": t for t in listing}
    assert by_name["refined.best_month_per_year"]["built_from"] == "refined.sales_by_month"
    assert "trusted.sales" in by_name["refined.sales_by_day"]["built_from"]
    # Row counts in the catalog agree with the source database.
    db = sqlite3.connect(lake / "data" / "chinook.sqlite")
    lines = db.execute("SELECT count(*) FROM InvoiceLine").fetchone()[0]
    assert by_name["trusted.invoice_lines"]["rows"] == lines
    assert by_name["raw.chinook.invoice_line"]["rows"] == lines


def test_trusted_types_and_names(lake: Path) -> None:
    described = json.loads(
        batchlake("catalog", "trusted.invoice_lines", "-p", str(lake), "--format", "json").stdout
    )
    types = {c["name"]: c["type"] for c in described["columns"]}
    assert types == {
        "invoice_line_id": "int",
        "invoice_id": "int",
        "track_id": "int",
        "unit_price": "decimal(10, 2)",
        "quantity": "int",
    }
    invoices = json.loads(
        batchlake("catalog", "trusted.invoices", "-p", str(lake), "--format", "json").stdout
    )
    types = {c["name"]: c["type"] for c in invoices["columns"]}
    assert types["invoice_date"] == "timestamp" and types["total"] == "decimal(10, 2)"
    assert described["snapshots"] and described["built_from"] == "raw.chinook.invoice_line"


def test_rerun_is_idempotent(lake: Path) -> None:
    before = tables_rows(lake, [f"refined.{n}" for n in REFINED])
    snaps = snapshots(lake)
    result = batchlake("run", "-p", str(lake))
    assert "duplicate" in result.stderr
    assert snapshots(lake) == snaps  # no table got a new snapshot or a new raw batch
    after = tables_rows(lake, list(before))
    assert after == before
    counted = query_json(
        lake,
        "SELECT count(*) AS n, count(DISTINCT invoice_line_id) AS d FROM trusted.invoice_lines",
    )
    assert counted[0]["n"] == counted[0]["d"]


def test_changed_source_updates_only_what_depends_on_it(lake: Path) -> None:
    snaps = snapshots(lake)
    db = sqlite3.connect(lake / "data" / "chinook.sqlite")
    db.execute("UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId = 1")
    db.commit()
    db.close()
    batchlake("run", "-p", str(lake))
    after = snapshots(lake)
    changed = {name for name in after if after[name] != snaps.get(name)}
    assert "raw.chinook.artist" in changed and "trusted.artists" in changed
    assert "raw.chinook.invoice" not in changed and "trusted.invoices" not in changed
    assert "trusted.customers" not in changed and "refined.sales_by_weekday" not in changed
    # Latest batch wins: one row per artist, with the new name.
    rows = query_json(lake, "SELECT name FROM trusted.artists WHERE artist_id = 1")
    assert len(rows) == 1 and rows[0]["name"].endswith("(remastered)")
    raw = query_json(lake, "SELECT count(DISTINCT _batch_id) AS batches FROM raw.chinook.artist")
    assert raw[0]["batches"] == 2


def test_query_formats_keep_stdout_clean(lake: Path) -> None:
    sql = "SELECT month, total_amount FROM refined.sales_by_month ORDER BY month LIMIT 3"
    out = batchlake("query", "-p", str(lake), "--format", "csv", sql).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["month", "total_amount"] and len(rows) == 4
    assert all(len(r[1].split(".")[1]) == 2 for r in rows[1:])  # exact 2-decimal money
    as_json = query_json(lake, sql)
    assert [r["month"] for r in as_json] == [r[0] for r in rows[1:]]
    table = batchlake("query", "-p", str(lake), sql)
    assert "total_amount" in table.stdout and "row(s)" in table.stderr


def test_errors_are_one_line_and_name_the_fix(lake: Path, tmp_path: Path) -> None:
    bad = batchlake("query", "-p", str(lake), "SELECT * FROM refined.nope", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "refined.nope" in bad.stderr
    missing = batchlake("run", "-p", str(tmp_path), check=False)
    assert missing.returncode == 2 and "batchlake init" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = batchlake("ingest", "nosuch", "-p", str(lake), check=False)
    assert unknown.returncode == 2 and "add a [sources.nosuch] section" in unknown.stderr
    debug = batchlake("--debug", "run", "-p", str(tmp_path), check=False)
    assert "Traceback" in debug.stderr


def test_runs_history(lake: Path) -> None:
    runs = json.loads(batchlake("runs", "-p", str(lake), "--format", "json").stdout)
    assert runs and all(r["status"] == "success" for r in runs)
    steps = json.loads(
        batchlake("runs", runs[-1]["run_id"], "-p", str(lake), "--format", "json").stdout
    )
    kinds = {s["kind"] for s in steps}
    assert kinds == {"ingest", "model"}
    assert all(s["seconds"] is not None for s in steps)


def test_select_runs_only_chosen_steps(lake: Path) -> None:
    result = batchlake(
        "run", "-p", str(lake), "--select", "refined.sales_by_quarter", "--full-refresh"
    )
    assert "refined.sales_by_quarter" in result.stderr
    assert "trusted.sales " not in result.stderr and "raw.chinook" not in result.stderr


def test_every_command_has_help() -> None:
    for command in ("init", "demo", "run", "ingest", "query", "catalog", "runs"):
        out = batchlake(command, "--help").stdout
        assert "--project" in out or command == "init"


def test_failed_run_exits_non_zero(lake: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    batchlake("init", "--example", "chinook", str(broken))
    (broken / "models" / "refined" / "bad.sql").write_text(
        "SELECT no_such_column FROM trusted.sales"
    )
    result = batchlake(
        "run",
        "-p",
        str(broken),
        check=False,
        env={"CHINOOK_URL": f"sqlite:///{lake}/data/chinook.sqlite"},
    )
    assert result.returncode == 1
    assert "refined.bad" in result.stderr and "no_such_column" in result.stderr
    assert "refined.sales_by_day" in result.stderr  # independent models still ran
