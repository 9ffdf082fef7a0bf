"""`batchlake test`: models' unit tests (`<name>.tests.toml`), their diffs and their errors."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from batchlake.demo.scaffold import create_project
from batchlake.errors import ConfigError
from batchlake.transform.unit_tests import run_unit_tests


@pytest.fixture
def chinook(tmp_path: Path) -> Path:
    root = tmp_path / "chinook"
    create_project(root, example="chinook")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _write(root: Path, model: str, sql: str, tests: str) -> None:
    zone, name = model.split(".")
    (root / "models" / zone / f"{name}.sql").write_text(sql)
    (root / "models" / zone / f"{name}.tests.toml").write_text(tests)


def test_the_chinook_example_ships_unit_tests_that_pass(chinook: Path) -> None:
    declared = sum(
        len(tomllib.loads(p.read_text())["test"]) for p in chinook.glob("models/*/*.tests.toml")
    )
    outcomes = run_unit_tests(chinook)
    assert declared >= 3 and len(outcomes) == declared
    assert [o.error for o in outcomes if not o.passed] == []
    assert {o.model for o in outcomes} >= {"trusted.invoices", "refined.sales_by_day"}
    assert all(o.seconds < 5 for o in outcomes)


def test_a_wrong_expectation_fails_with_the_missing_and_unexpected_rows(chinook: Path) -> None:
    _edit(
        chinook / "models/refined/sales_by_day.tests.toml",
        'total_amount = "3.96"',
        'total_amount = "3.95"',
    )
    outcomes = run_unit_tests(chinook, select=["refined.sales_by_day"])
    failed = [o for o in outcomes if not o.passed]
    assert len(outcomes) == 2 and len(failed) == 1
    (outcome,) = failed
    assert outcome.error is None
    at = outcome.columns.index("total_amount")
    assert [row[at] for row in outcome.missing] == [Decimal("3.95")]
    assert [row[at] for row in outcome.unexpected] == [Decimal("3.96")]
    report = outcome.report()
    assert "1 expected row(s) missing (-), 1 unexpected row(s) in the result (+)" in report
    lines = report.splitlines()
    assert lines[1].split()[:3] == ["sale_date", "tracks_sold", "invoices"]
    assert lines[2].startswith("  -") and "3.95" in lines[2] and "2024-01-05" in lines[2]
    assert lines[3].startswith("  +") and "3.96" in lines[3]


def test_a_model_bug_is_caught_by_its_test(chinook: Path) -> None:
    """Counting invoice lines instead of invoices: the test shows the wrong count."""
    sql = chinook / "models/refined/sales_by_day.sql"
    _edit(sql, "customer_id\n),", "customer_id, quantity\n),")
    failed = [o for o in run_unit_tests(chinook, select=["refined.*"]) if not o.passed]
    assert {o.model for o in failed} == {"refined.sales_by_day"}
    first = next(o for o in failed if o.name.startswith("lines are summed"))
    at = first.columns.index("invoices")
    assert [row[at] for row in first.unexpected] == [3]  # invoice 1's two lines: 3 "invoices"
    assert [row[at] for row in first.missing] == [2]


def test_rows_compare_as_multisets_and_floats_to_six_decimals(tmp_path: Path) -> None:
    root = tmp_path / "p"
    create_project(root)
    _write(
        root,
        "refined.pairs",
        "SELECT 0.1::DOUBLE + 0.2::DOUBLE AS x FROM range(2)",
        '[[test]]\nname = "one row expected, two produced"\n[test.expect]\nrows = [{ x = 0.3 }]\n',
    )
    (outcome,) = run_unit_tests(root)
    assert outcome.missing == [] and outcome.unexpected == [(0.3,)]
    _edit(
        root / "models/refined/pairs.tests.toml",
        "rows = [{ x = 0.3 }]",
        "rows = [{ x = 0.3 }, { x = 0.3 }]",
    )
    (outcome,) = run_unit_tests(root)
    assert outcome.passed


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '[test.given."trusted.sales"]\nrows = [\n  { invoice_id = 1,',
            '[test.given."trusted.sales"]\nrows = [\n  { invoice_nr = 1,',
            "given trusted.sales: no column invoice_nr in trusted.sales "
            "(its columns: invoice_line_id, invoice_id",
        ),
        (
            '[test.given."trusted.sales"]',
            '[test.given."trusted.invoices"]',
            "given trusted.invoices, which refined.sales_by_day does not read "
            "(it reads trusted.sales)",
        ),
        (
            "{ sale_date = 2024-01-05, tracks_sold",
            "{ sale_day = 2024-01-05, tracks_sold",
            "expect: no column sale_day in the result of refined.sales_by_day "
            "(its columns: sale_date,",
        ),
        (
            "quantity = 2,",
            'quantity = "two",',
            "given trusted.sales row 1: Conversion Error: Could not convert string 'two' to INT32",
        ),
    ],
)
def test_a_test_that_cannot_run_says_what_to_change(
    chinook: Path, old: str, new: str, expected: str
) -> None:
    _edit(chinook / "models/refined/sales_by_day.tests.toml", old, new)
    outcome = run_unit_tests(chinook, select=["refined.sales_by_day"])[0]
    assert not outcome.passed
    assert outcome.error is not None and expected in outcome.error, outcome.error
    assert expected in outcome.report()


def test_tests_of_a_missing_or_broken_model_fail_with_the_reason(chinook: Path) -> None:
    (chinook / "models/refined/sales_by_dya.tests.toml").write_text(
        '[[test]]\nname = "x"\n[test.expect]\nrows = []\n'
    )
    _edit(chinook / "models/trusted/invoices.sql", "CAST(total AS", "CAST(totl AS")
    found = {o.model: o.error for o in run_unit_tests(chinook) if not o.passed}
    assert found["refined.sales_by_dya"] == "there is no such SQL model"
    assert '"totl" not found' in (found["trusted.invoices"] or "")
    # downstream of it: trusted.sales is not compiled, so the test cannot type its rows
    assert "its input trusted.sales does not compile" in (found["refined.sales_by_day"] or "")


def test_an_input_without_declared_columns_is_typed_from_its_values(tmp_path: Path) -> None:
    root = tmp_path / "p"
    create_project(root)
    _write(
        root,
        "refined.late",
        "SELECT id, due + INTERVAL 1 DAY AS due FROM raw.crm.tasks WHERE done = false",
        "[[test]]\nname = 'x'\n[test.given.\"raw.crm.tasks\"]\n"
        "rows = [{ id = 1, due = 2024-01-01, done = false },\n"
        "  { id = 2, due = 2024-01-02, done = true }]\n"
        "[test.expect]\nrows = [{ id = 1, due = 2024-01-02T00:00:00 }]\n",
    )
    (outcome,) = run_unit_tests(root)
    assert outcome.passed, outcome.report()


def test_a_malformed_tests_file_names_the_file_and_key(chinook: Path) -> None:
    (chinook / "models/refined/sales_by_month.tests.toml").write_text(
        '[[test]]\nname = "x"\n[test.expect]\nrows = []\ncsv = "a"\n'
    )
    with pytest.raises(
        ConfigError, match=r"sales_by_month.tests.toml: test #1 'expect'.*either rows"
    ):
        run_unit_tests(chinook)
