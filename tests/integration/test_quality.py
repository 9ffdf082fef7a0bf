"""Quality gates: every kind of check, blocking commits, warnings, quarantine, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchlake.errors import ConfigError, ModelError
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from batchlake.transform.quality import load_checks
from tests.support.cli import batchlake, query_json
from tests.support.opsproject import CUSTOMERS, execute, make_project

ALL_KINDS = """
[[check]]
kind = "not_null"
columns = ["customer_id", "email"]

[[check]]
kind = "unique"
columns = ["customer_id"]

[[check]]
kind = "accepted_values"
column = "tier"
values = ["gold", "silver", "bronze"]

[[check]]
kind = "row_count"
min = 1
max = 1000

[[check]]
kind = "freshness"
column = "joined"
max_age = "100000d"

[[check]]
kind = "expression"
name = "email_has_at"
expression = "email LIKE '%@%'"

[[check]]
kind = "sql"
name = "no_test_accounts"
sql = "SELECT * FROM trusted.customers WHERE email LIKE 'test%'"
"""

ORDERS_CHECKS = """
[[check]]
kind = "relationships"
column = "customer_id"
to = "trusted.customers"
"""


def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "lake")
    (root / "models" / "trusted" / "customers.checks.toml").write_text(ALL_KINDS)
    (root / "models" / "trusted" / "orders.checks.toml").write_text(ORDERS_CHECKS)
    return root


def by_check(lake: Lake, table: str, run_id: str) -> dict[str, dict[str, object]]:
    return {r["check"]: r for r in lake.metadata.quality_results(table, run_id)}


def test_every_kind_passes_on_good_data_and_is_stored(tmp_path: Path) -> None:
    root = project(tmp_path)
    lake = Lake.open(root)
    result = Runner(lake).run()
    assert result.ok, [(s.name, s.message) for s in result.steps]
    results = by_check(lake, "trusted.customers", result.run_id)
    assert set(results) == {
        "not_null(customer_id,email)",
        "unique(customer_id)",
        "accepted_values(tier)",
        "row_count",
        "freshness(joined)",
        "email_has_at",
        "no_test_accounts",
    }
    assert all(r["status"] == "pass" and r["failing_rows"] == 0 for r in results.values())
    orders = by_check(lake, "trusted.orders", result.run_id)
    assert orders["relationships(customer_id)"]["status"] == "pass"
    row = lake.metadata.quality_results(run_id=result.run_id)[0]
    assert set(row) == {
        "table",
        "check",
        "severity",
        "status",
        "failing_rows",
        "message",
        "run_id",
        "checked_at",
    }


def test_a_failing_error_check_keeps_the_previous_snapshot_and_skips_downstream(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    (root / "models" / "trusted" / "orders.checks.toml").unlink()  # orders: independent
    lake = Lake.open(root)
    assert Runner(lake).run().ok
    before = lake.catalog.info("trusted.customers").snapshot_id
    revenue_before = lake.catalog.info("refined.revenue").snapshot_id
    # Two more rows with id 2: three rows share the key; one has no email.
    execute(root / "shop.sqlite", "INSERT INTO customers VALUES (2, NULL, 'gold', '2024-06-01')")
    execute(
        root / "shop.sqlite", "INSERT INTO customers VALUES (2, 'z@x.io', 'gold', '2024-06-01')"
    )
    result = Runner(lake).run()
    assert not result.ok
    status = {s.name: s.status for s in result.steps}
    assert status["trusted.customers"] == "failed"
    assert status["refined.revenue"] == "upstream_failed"
    assert status["trusted.orders"] in ("success", "unchanged")  # independent: carries on
    assert lake.catalog.info("trusted.customers").snapshot_id == before
    assert lake.catalog.info("refined.revenue").snapshot_id == revenue_before
    results = by_check(lake, "trusted.customers", result.run_id)
    assert results["unique(customer_id)"]["status"] == "fail"
    assert results["unique(customer_id)"]["failing_rows"] == 3
    assert results["not_null(customer_id,email)"]["failing_rows"] == 1
    assert results["email_has_at"]["failing_rows"] == 1  # NULL email is not a good row
    assert results["accepted_values(tier)"]["status"] == "pass"
    message = next(s.message for s in result.steps if s.name == "trusted.customers")
    assert message and "quality gate failed" in message and "unique(customer_id)" in message
    rows = query_json(root, "SELECT count(*) AS n FROM trusted.customers")
    assert rows == [{"n": len(CUSTOMERS)}]


def test_warn_severity_commits_and_records_a_warning(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    (root / "models" / "trusted" / "customers.checks.toml").write_text(
        '[[check]]\nkind = "accepted_values"\ncolumn = "tier"\nvalues = ["gold"]\n'
        'severity = "warn"\n'
    )
    lake = Lake.open(root)
    result = Runner(lake).run()
    assert result.ok
    (row,) = lake.metadata.quality_results("trusted.customers")
    assert row["status"] == "warn"
    assert row["failing_rows"] == sum(1 for c in CUSTOMERS if c[2] != "gold")


def test_quarantine_moves_failing_rows_with_their_reason(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    (root / "models" / "trusted" / "customers.checks.toml").write_text(
        '[[check]]\nkind = "accepted_values"\ncolumn = "tier"\nvalues = ["gold", "silver"]\n'
        "quarantine = true\n\n"
        '[[check]]\nkind = "unique"\ncolumns = ["customer_id"]\n'
    )
    lake = Lake.open(root)
    result = Runner(lake).run()
    assert result.ok, [(s.name, s.message) for s in result.steps]
    kept = query_json(root, "SELECT customer_id FROM trusted.customers ORDER BY 1")
    assert [r["customer_id"] for r in kept] == [c[0] for c in CUSTOMERS if c[2] != "bronze"]
    moved = query_json(
        root, "SELECT customer_id, _reason, _run_id FROM trusted._quarantine_customers"
    )
    assert moved == [
        {"customer_id": c[0], "_reason": "accepted_values(tier)", "_run_id": result.run_id}
        for c in CUSTOMERS
        if c[2] == "bronze"
    ]
    statuses = {
        r["check"]: r["status"] for r in lake.metadata.quality_results(run_id=result.run_id)
    }
    assert statuses == {"accepted_values(tier)": "quarantined", "unique(customer_id)": "pass"}
    listed = batchlake("quality", "trusted.customers", "-p", str(root), "-f", "json").stdout
    assert '"quarantined"' in listed and "accepted_values(tier)" in listed


def test_bad_check_files_name_the_problem(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    path = root / "models" / "trusted" / "customers.checks.toml"
    path.write_text('[[check]]\nkind = "unique"\n')
    with pytest.raises(ConfigError, match=r"customers\.checks\.toml: check #1.*needs columns"):
        load_checks(root / "models", "trusted.customers")
    path.write_text('[[check]]\nkind = "row_count"\nmin = 1\nquarantine = true\n')
    with pytest.raises(ConfigError, match="quarantine works for row-level checks"):
        load_checks(root / "models", "trusted.customers")
    path.write_text('[[check]]\nkind = "sql"\nsql = "SELECT * FROM nowhere"\n')
    result = Runner(Lake.open(root)).run()
    step = next(s for s in result.steps if s.name == "trusted.customers")
    assert step.status == "failed" and "could not run" in (step.message or "")


def test_relationships_checks_that_form_a_cycle_are_named(tmp_path: Path) -> None:
    root = project(tmp_path)  # orders checks customers
    (root / "models" / "trusted" / "customers.checks.toml").write_text(
        '[[check]]\nkind = "relationships"\ncolumn = "customer_id"\nto = "trusted.orders"\n'
    )
    with pytest.raises(ModelError, match="relationships checks and models form a cycle"):
        Runner(Lake.open(root)).run()
