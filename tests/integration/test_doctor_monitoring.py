"""`batchlake doctor` finds each problem with its fix; metrics agree with the history."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from batchlake.lake import Lake
from batchlake.ops.monitoring import LakeCollector
from batchlake.run.runner import Runner
from tests.support.cli import batchlake
from tests.support.opsproject import make_project


def test_doctor_passes_a_healthy_project(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    out = batchlake("doctor", "-p", str(root))
    assert "no problems found" in out.stdout
    for title in ("configuration", "metadata database", "storage", "catalog", "sources"):
        assert f"✓ {title}" in out.stdout


def test_doctor_names_every_problem_and_its_fix(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    (root / "blocked").write_text("a file where the lake folder should be")
    toml = (root / "batchlake.toml").read_text()
    (root / "batchlake.toml").write_text(
        toml.replace('name = "shop"', 'name = "shop"\n\n[storage]\nroot = "blocked/lake"')
        + '\n[sources.crm]\ntype = "sql"\nurl = "postgresql://postgres@127.0.0.1:1/ops_none"\n'
    )
    (root / "models" / "refined" / "bad.sql").write_text("SELECT * FROM trusted.nowhere")
    out = batchlake("doctor", "-p", str(root), check=False)
    assert out.returncode == 1
    text = out.stdout
    assert "✗ storage: cannot write under" in text and "fix storage.root" in text
    assert "✗ source crm: source 'crm': cannot connect" in text
    assert "check sources.crm in batchlake.toml" in text
    assert "✗ models: bad.sql reads 'trusted.nowhere'" in text
    assert "✗ catalog: NotADirectoryError" in text  # its warehouse is under the storage root
    assert "✓ source" not in text and "4 problem(s)" in text
    (root / "batchlake.toml").write_text("name = 'Bad Name'\n")
    out = batchlake("doctor", "-p", str(root), check=False)
    assert out.returncode == 1 and "✗ configuration" in out.stdout and "'name'" in out.stdout


def test_metrics_agree_with_an_independent_reading_of_the_history(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    (root / "models" / "refined" / "broken.sql").write_text("SELECT nope FROM trusted.orders")
    lake = Lake.open(root)
    Runner(lake).run()
    Runner(lake).run(["raw.shop.*"])
    registry = CollectorRegistry()
    registry.register(LakeCollector(lake))
    from prometheus_client import generate_latest

    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    db = sqlite3.connect(root / ".batchlake" / "metadata.sqlite")
    expected_runs = dict(db.execute("SELECT status, count(*) FROM runs GROUP BY status"))
    runs = {s.labels["status"]: s.value for s in families["batchlake_runs"].samples}
    assert runs == expected_runs == {"failed": 1, "success": 1}
    rows = {s.labels["table"]: s.value for s in families["batchlake_table_rows"].samples}
    shop = sqlite3.connect(root / "shop.sqlite")
    (customers,) = shop.execute("SELECT count(*) FROM customers").fetchone()
    assert rows["trusted.customers"] == customers
    durations = {s.labels["step"]: s for s in families["batchlake_step_duration_seconds"].samples}
    assert durations["refined.broken"].labels["status"] == "failed"
    assert durations["raw.shop.orders"].labels["status"] == "duplicate"  # the latest run's
    refreshed = {
        s.labels["table"]
        for s in families["batchlake_table_last_refresh_timestamp_seconds"].samples
    }
    assert "refined.revenue" in refreshed and "refined.broken" not in refreshed
