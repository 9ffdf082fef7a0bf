"""The Chinook pipeline's tables, compared with an independent oracle.

The pipeline (SQL models run by batchlake) is driven through the CLI (its commands
invoked in this process: the same code, without an interpreter start per command) on
three sources: a generated demo database, the real Chinook sample (when it is present)
and an "edge" copy of the generated database edited to hold the cases the specification
spells out but the clean data never shows (tracks without album or genre, customers
without a rep, reps without a manager, a month and a weekday without sales, prices with
no exact binary float, artist names differing only in case, deeper manager chains). A
fourth source adds invoices without lines to the generated database. Every refined
table, and trusted.customer_employee_history, is read back with
``batchlake query --format json`` and compared, as a multiset of rows and with its exact
column order, against tests/support/oracle/chinook.py, which recomputes the same tables
in plain Python straight from the SQLite source.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import dataset
from tests.support.oracle.chinook import (
    COLUMNS,
    REFINED_TABLES,
    TRUSTED_TABLES,
    customer_employee_history,
    refined_tables,
)
from tests.support.oracle.compare import assert_same_rows, normalise

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO_INVOICES = 1500
DEMO_SEED = 11

ALL_TABLES = REFINED_TABLES + TRUSTED_TABLES
DECIMAL_TABLES = tuple(t for t in ALL_TABLES if any(kind == "dec" for _, kind in COLUMNS[t]))


def _zone(table: str) -> str:
    return "trusted" if table in TRUSTED_TABLES else "refined"


def _cli(*args: str, env: dict[str, str | None] | None = None) -> str:
    """Run `batchlake ARGS` in this process (the same command code as the installed CLI,
    without a new interpreter's imports per call); fail the test with its output when it
    fails."""
    from typer.testing import CliRunner

    from batchlake.cli import app

    result = CliRunner().invoke(app, list(args), env=env)
    if result.exit_code != 0:
        pytest.fail(
            f"command failed with exit code {result.exit_code}: batchlake {' '.join(args)}\n"
            f"--- stdout ---\n{result.stdout[-5000:]}\n--- stderr ---\n{result.stderr[-5000:]}"
            + (f"\n--- exception ---\n{result.exception!r}" if result.exception else ""),
            pytrace=False,
        )
    return result.stdout


def _env(**extra: str) -> dict[str, str | None]:
    """CHINOOK_URL unset unless given: each lake reads only the source it is given."""
    return {"CHINOOK_URL": None, **extra}


@dataclass
class Lake:
    """A Chinook lake project built by the pipeline, with the source it was built from."""

    name: str
    project: Path
    source: Path
    _tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _expected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def query(self, sql: str) -> list[dict[str, Any]]:
        out = _cli("query", "--project", str(self.project), "--format", "json", sql, env=_env())
        try:
            rows = json.loads(out)
        except json.JSONDecodeError as exc:
            pytest.fail(f"`batchlake query` did not print JSON ({exc}):\n{out[:2000]}")
        assert isinstance(rows, list), f"expected a JSON array, got {type(rows).__name__}"
        return rows

    def table(self, name: str) -> list[dict[str, Any]]:
        """The pipeline's rows of a table (queried once)."""
        if name not in self._tables:
            self._tables[name] = self.query(f"SELECT * FROM {_zone(name)}.{name}")
        return self._tables[name]

    def expected(self, name: str) -> list[dict[str, Any]]:
        """The oracle's rows of a table (computed once)."""
        if not self._expected:
            self._expected.update(refined_tables(self.source))
            self._expected["customer_employee_history"] = customer_employee_history(self.source)
        return self._expected[name]


@pytest.fixture(scope="module")
def generated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    project = tmp_path_factory.mktemp("chinook-demo") / "lake"
    _cli(
        "demo",
        "--dir",
        str(project),
        "--invoices",
        str(DEMO_INVOICES),
        "--seed",
        str(DEMO_SEED),
        env=_env(),
    )
    source = project / "data" / "chinook.sqlite"
    assert source.is_file(), f"`batchlake demo` did not write its source database at {source}"
    return Lake("generated", project, source)


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    real = dataset("chinook/chinook.sqlite")
    # A private copy, so neither side can touch the shared dataset.
    source = tmp_path_factory.mktemp("chinook-real") / "chinook.sqlite"
    shutil.copyfile(real, source)
    return _lake_from("real", source)


def _make_edge_source(clean: Path, edge: Path) -> None:
    """A copy of clean with the specification's corner cases written into it."""
    shutil.copyfile(clean, edge)
    conn = sqlite3.connect(edge)
    try:
        months = [
            m
            for (m,) in conn.execute(
                "SELECT DISTINCT substr(InvoiceDate, 1, 7) FROM Invoice ORDER BY 1"
            )
        ]
        quiet_month = months[len(months) // 2]  # a month without sales: growth_pct is NULL after it
        conn.executescript(
            f"""
            -- no sales on Sundays (strftime %w: 0 = Sunday) nor in {quiet_month}
            DELETE FROM InvoiceLine WHERE InvoiceId IN (
                SELECT InvoiceId FROM Invoice
                WHERE strftime('%w', InvoiceDate) = '0'
                   OR substr(InvoiceDate, 1, 7) = '{quiet_month}');
            DELETE FROM Invoice
                WHERE strftime('%w', InvoiceDate) = '0'
                   OR substr(InvoiceDate, 1, 7) = '{quiet_month}';
            -- the best sellers lose their album (so their artist), some tracks their genre
            UPDATE Track SET AlbumId = NULL WHERE TrackId IN (
                SELECT TrackId FROM InvoiceLine GROUP BY TrackId
                ORDER BY count(*) DESC, TrackId LIMIT 40);
            UPDATE Track SET GenreId = NULL WHERE TrackId % 7 = 0;
            -- names equal but for case, and two artists with the same name
            UPDATE Artist SET Name = lower(Name) WHERE ArtistId % 2 = 1;
            UPDATE Artist SET Name = 'Twin' WHERE ArtistId IN (1, 2);
            -- prices with no exact binary representation
            UPDATE InvoiceLine SET UnitPrice = 0.29 WHERE InvoiceLineId % 13 = 0;
            UPDATE InvoiceLine SET UnitPrice = 1.15 WHERE InvoiceLineId % 17 = 0;
            UPDATE InvoiceLine SET UnitPrice = 0.57, Quantity = 3 WHERE InvoiceLineId % 19 = 0;
            UPDATE Invoice SET Total = coalesce((
                SELECT round(sum(UnitPrice * Quantity), 2) FROM InvoiceLine l
                WHERE l.InvoiceId = Invoice.InvoiceId), 0);
            -- customers without a rep, reps without a manager, a three-level chain
            UPDATE Customer SET SupportRepId = NULL WHERE CustomerId % 10 = 0;
            UPDATE Customer SET SupportRepId = 1 WHERE CustomerId % 10 = 1;
            UPDATE Employee SET ReportsTo = 6 WHERE EmployeeId = 2;
            """
        )
        conn.commit()
    finally:
        conn.close()


def _make_lineless_source(clean: Path, path: Path) -> None:
    """A copy of clean plus two invoices without lines: on a day with sales and on a new day."""
    shutil.copyfile(clean, path)
    conn = sqlite3.connect(path)
    try:
        next_id = conn.execute("SELECT max(InvoiceId) + 1 FROM Invoice").fetchone()[0]
        days = {
            d for (d,) in conn.execute("SELECT DISTINCT substr(InvoiceDate, 1, 10) FROM Invoice")
        }
        last_month = max(days)[:7]
        new_day = next(day for n in range(1, 29) if (day := f"{last_month}-{n:02d}") not in days)
        conn.executemany(
            "INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, Total) VALUES (?, 3, ?, 0)",
            [(next_id, f"{min(days)} 12:00:00"), (next_id + 1, f"{new_day} 08:30:00")],
        )
        conn.commit()
    finally:
        conn.close()


def _lake_from(name: str, source: Path) -> Lake:
    """Scaffold the Chinook example next to source and run it on that database."""
    project = source.parent / "lake"
    _cli("init", "--example", "chinook", str(project), env=_env())
    _cli("run", "--project", str(project), env=_env(CHINOOK_URL=f"sqlite:///{source}"))
    return Lake(name, project, source)


@pytest.fixture(scope="module")
def edge_lake(tmp_path_factory: pytest.TempPathFactory, generated_lake: Lake) -> Lake:
    source = tmp_path_factory.mktemp("chinook-edge") / "chinook.sqlite"
    _make_edge_source(generated_lake.source, source)
    return _lake_from("edge", source)


@pytest.fixture(scope="module")
def lineless_lake(tmp_path_factory: pytest.TempPathFactory, generated_lake: Lake) -> Lake:
    source = tmp_path_factory.mktemp("chinook-lineless") / "chinook.sqlite"
    _make_lineless_source(generated_lake.source, source)
    return _lake_from("lineless", source)


def _grow(path: Path, round_: int) -> None:
    """One day of the store: new invoices (one of them late), changed lines, moved dates."""
    conn = sqlite3.connect(path)
    try:
        if round_ == 1:
            next_invoice, next_line = conn.execute(
                "SELECT (SELECT max(InvoiceId) FROM Invoice), (SELECT max(InvoiceLineId) "
                "FROM InvoiceLine)"
            ).fetchone()
            last = conn.execute("SELECT max(InvoiceDate) FROM Invoice").fetchone()[0]
            first = conn.execute("SELECT min(InvoiceDate) FROM Invoice").fetchone()[0]
            for n, (invoice_id,) in enumerate(
                conn.execute("SELECT InvoiceId FROM Invoice ORDER BY InvoiceId LIMIT 40").fetchall()
            ):
                new_id = next_invoice + n + 1
                day = first if n == 0 else last  # the first is late: an old day gets a sale
                conn.execute(
                    "INSERT INTO Invoice SELECT ?, CustomerId, ?, BillingAddress, BillingCity, "
                    "BillingState, BillingCountry, BillingPostalCode, Total FROM Invoice "
                    "WHERE InvoiceId = ?",
                    (new_id, day, invoice_id),
                )
                for track, price, quantity in conn.execute(
                    "SELECT TrackId, UnitPrice, Quantity FROM InvoiceLine WHERE InvoiceId = ?",
                    (invoice_id,),
                ).fetchall():
                    next_line += 1
                    conn.execute(
                        "INSERT INTO InvoiceLine VALUES (?, ?, ?, ?, ?)",
                        (next_line, new_id, track, price, quantity),
                    )
        else:
            conn.executescript(
                """
                UPDATE InvoiceLine SET Quantity = Quantity + 1 WHERE InvoiceLineId % 97 = 0;
                UPDATE Invoice SET InvoiceDate = datetime(InvoiceDate, '-40 days')
                    WHERE InvoiceId % 211 = 0;
                UPDATE Invoice SET Total = coalesce((
                    SELECT round(sum(UnitPrice * Quantity), 2) FROM InvoiceLine l
                    WHERE l.InvoiceId = Invoice.InvoiceId), 0);
                """
            )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def evolved_lake(tmp_path_factory: pytest.TempPathFactory, generated_lake: Lake) -> Lake:
    """A lake built, then grown and changed over runs: its incremental models (trusted
    invoices, invoice lines and sales by key, sales_by_day by month) must still equal the
    oracle computed from the final store."""
    source = tmp_path_factory.mktemp("chinook-evolved") / "chinook.sqlite"
    shutil.copyfile(generated_lake.source, source)
    lake = _lake_from("evolved", source)
    for round_ in (1, 2):
        _grow(source, round_)
        _cli("run", "--project", str(lake.project), env=_env(CHINOOK_URL=f"sqlite:///{source}"))
    runs = json.loads(_cli("runs", "--project", str(lake.project), "--format", "json"))
    steps = json.loads(
        _cli("runs", runs[0]["run_id"], "--project", str(lake.project), "--format", "json")
    )
    messages = {s["step"]: s["message"] or "" for s in steps}
    assert messages["trusted.invoice_lines"].startswith("incremental"), messages
    assert messages["refined.sales_by_day"].startswith("incremental"), messages
    assert messages["refined.customer_features"].startswith("incremental"), messages
    return lake


@pytest.fixture(scope="module", params=["generated", "real", "edge", "evolved"])
def lake(request: pytest.FixtureRequest) -> Lake:
    return request.getfixturevalue(f"{request.param}_lake")


# --------------------------------------------------------------------------- normalising


def _is_cents(value: Any) -> bool:
    """A JSON string holding a decimal number with exactly two fractional digits."""
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).as_tuple().exponent == -2
    except InvalidOperation:
        return False


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("table", ALL_TABLES)
def test_columns_match_the_spec(lake: Lake, table: str) -> None:
    rows = lake.table(table)
    assert rows, f"{_zone(table)}.{table} is empty on the {lake.name} data"
    expected = [column for column, _ in COLUMNS[table]]
    columns = list(rows[0])
    assert set(columns) == set(expected), (
        f"{table}: missing {sorted(set(expected) - set(columns))}, "
        f"unexpected {sorted(set(columns) - set(expected))}"
    )
    assert columns == expected, f"{table}: column order differs"


@pytest.mark.parametrize("table", ALL_TABLES)
def test_rows_match_the_oracle(lake: Lake, table: str) -> None:
    expected = lake.expected(table)
    assert expected, f"the oracle computed no rows for {table} on the {lake.name} data"
    assert_same_rows(table, normalise(table, expected), normalise(table, lake.table(table)))


@pytest.mark.parametrize("table", DECIMAL_TABLES)
def test_decimals_are_exact_strings(lake: Lake, table: str) -> None:
    """Money and ratios leave the CLI as JSON strings with exactly two decimals."""
    decimal_columns = [column for column, kind in COLUMNS[table] if kind == "dec"]
    bad = [
        (column, row[column])
        for row in lake.table(table)
        for column in decimal_columns
        if row.get(column) is not None and not _is_cents(row[column])
    ]
    assert not bad, f"{table}: decimals not given as 'N.NN' strings, e.g. {bad[:5]}"


def test_invoices_without_lines_still_count(lineless_lake: Lake) -> None:
    """An invoice without lines is an invoice: counted, with no tracks and 0.00."""
    failures = []
    for table in ALL_TABLES:
        expected = normalise(table, lineless_lake.expected(table))
        got = normalise(table, lineless_lake.table(table))
        try:
            assert_same_rows(table, expected, got)
        except pytest.fail.Exception as exc:
            failures.append(str(exc))
    assert not failures, "\n\n".join(failures)
