"""A built project keeps working when moved or copied, and never uses another project's lake.

The Chinook demo is built once with the real CLI; each test moves or copies that folder
the way users do (`mv`, `cp -r`, a symlink) and drives the copy with the CLI again.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import batchlake, query_json, tables_rows

pytestmark = [pytest.mark.integration]

TABLES = ("trusted.genres", "trusted.invoices", "refined.sales_by_month", "refined.sales_by_day")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo built once at its path, and a byte copy of it kept aside."""
    base = tmp_path_factory.mktemp("reloc")
    project = base / "original"
    batchlake("demo", "--invoices", "300", "--seed", "5", "--dir", str(project))
    shutil.copytree(project, base / "pristine", symlinks=True)
    return project, base / "pristine"


@pytest.fixture
def original(pristine: tuple[Path, Path]) -> Path:
    """The built project at the very path it was built at (restored for each test)."""
    project, kept = pristine
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(kept, project, symlinks=True)
    return project


def contents(project: Path) -> dict[str, list[str]]:
    """Each table's rows as sorted JSON (an order-free fingerprint), read as users do."""
    return tables_rows(project, list(TABLES))


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under a folder: relative path → (size, modification time in ns)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def stored_locations(project: Path) -> list[str]:
    """What the project's catalog and metadata database name: every stored file location."""
    catalog = sqlite3.connect(project / ".batchlake" / "catalog.sqlite")
    metadata = sqlite3.connect(project / ".batchlake" / "metadata.sqlite")
    try:
        tables = [r[0] for r in catalog.execute("SELECT metadata_location FROM iceberg_tables")]
        raw = [r[0] for r in metadata.execute("SELECT path FROM batches WHERE path IS NOT NULL")]
    finally:
        catalog.close()
        metadata.close()
    return tables + raw


def add_invoice(project: Path) -> None:
    """A new sale in the project's own store database (its data/chinook.sqlite)."""
    db = sqlite3.connect(project / "data" / "chinook.sqlite")
    db.execute(
        "INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, BillingCountry, Total) "
        "SELECT max(InvoiceId) + 1, 1, '2031-01-15 10:00:00', 'Portugal', 0.99 FROM Invoice"
    )
    db.execute(
        "INSERT INTO InvoiceLine (InvoiceLineId, InvoiceId, TrackId, UnitPrice, Quantity) "
        "SELECT (SELECT max(InvoiceLineId) + 1 FROM InvoiceLine), max(InvoiceId), 1, 0.99, 1 "
        "FROM Invoice"
    )
    db.commit()
    db.close()


def assert_healthy(project: Path) -> None:
    doctor = batchlake("doctor", "-p", str(project), check=False)
    assert doctor.returncode == 0, doctor.stdout
    assert "no problems found" in doctor.stdout


def assert_own(project: Path) -> None:
    """Every location the project stores is inside the project."""
    for location in stored_locations(project):
        assert location.removeprefix("file://").startswith(f"{project}/"), location


def test_a_moved_project_keeps_working(original: Path, tmp_path: Path) -> None:
    before = contents(original)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(original, moved)  # mv
    assert_healthy(moved)
    assert contents(moved) == before
    assert_own(moved)
    again = batchlake("run", "-p", str(moved))
    assert "failed" not in again.stderr.split("\nrun ", 1)[-1]
    add_invoice(moved)
    batchlake("run", "-p", str(moved))
    rows = query_json(moved, "SELECT count(*) AS n FROM trusted.invoices")
    assert rows == [{"n": 301}]
    assert_own(moved)


def test_a_copy_whose_original_is_gone_keeps_working(original: Path, tmp_path: Path) -> None:
    before = contents(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)  # cp -r: new modification times, same bytes
    shutil.rmtree(original)
    assert_healthy(copy)
    assert contents(copy) == before
    add_invoice(copy)
    batchlake("run", "-p", str(copy))
    assert query_json(copy, "SELECT count(*) AS n FROM trusted.invoices") == [{"n": 301}]
    # maintenance of a rebased project finds every file it references (none is an orphan)
    batchlake("maintain", "-p", str(copy), "--grace-hours", "0", "--no-compact")
    after = contents(copy)
    assert after["trusted.genres"] == before["trusted.genres"]
    assert len(after["trusted.invoices"]) == 301


def test_a_copy_reads_its_own_lake_and_never_touches_the_original(
    original: Path, tmp_path: Path
) -> None:
    before = contents(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    add_invoice(original)  # the original goes on living: new data, a new run
    batchlake("run", "-p", str(original))
    changed = contents(original)
    assert changed != before
    untouched = listing(original)

    assert contents(copy) == before  # its own tables, not the original's newer ones
    add_invoice(copy)
    add_invoice(copy)
    batchlake("run", "-p", str(copy))
    assert query_json(copy, "SELECT count(*) AS n FROM trusted.invoices") == [{"n": 302}]
    assert_healthy(copy)

    assert listing(original) == untouched  # not one file of the original written or removed
    assert contents(original) == changed
    assert_own(copy)


def test_time_travel_and_duckdb_iceberg_scan_after_a_move(original: Path, tmp_path: Path) -> None:
    from batchlake.engines import connection
    from batchlake.lake import Lake

    add_invoice(original)  # a second snapshot of the incremental and partitioned tables
    batchlake("run", "-p", str(original))
    names = ("trusted.invoices", "refined.sales_by_day")

    def history(project: Path) -> dict[str, list[tuple[int, int]]]:
        catalog = Lake.open(project).catalog
        found = {}
        for name in names:
            table = catalog.load(name)
            found[name] = [
                (s.snapshot_id, table.scan(snapshot_id=s.snapshot_id).to_arrow().num_rows)
                for s in table.snapshots()
            ]
        return found

    before = history(original)
    assert all(len(snapshots) >= 2 for snapshots in before.values())
    moved = tmp_path / "moved"
    shutil.move(original, moved)
    assert history(moved) == before  # same snapshot ids, same rows at each
    table = Lake.open(moved).catalog.load("refined.sales_by_day")
    assert table.metadata_location.startswith(f"file://{moved}/")
    con = connection.connect()
    try:
        location = connection.quote_literal(table.metadata_location)
        scan = f"SELECT count(*) FROM iceberg_scan({location})"
        assert con.execute(scan).fetchone() == (table.scan().to_arrow().num_rows,)
    finally:
        con.close()


def test_a_project_opened_through_a_symlink_is_not_rewritten(
    original: Path, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(original, target_is_directory=True)
    stored = stored_locations(original)
    assert_healthy(link)
    assert contents(link) == contents(original)
    batchlake("run", "-p", str(link))
    assert stored_locations(original)[: len(stored)] == stored  # nothing rebased


def test_a_catalog_in_another_live_project_is_refused(original: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    toml = (original / "batchlake.toml").read_text()
    shared = f'uri = "sqlite:///{original}/.batchlake/catalog.sqlite"'
    (other / "batchlake.toml").write_text(
        toml.replace('uri = "sqlite:///.batchlake/catalog.sqlite"', shared)
    )
    shutil.copytree(original / "models", other / "models")
    shutil.copytree(original / "python", other / "python")
    shutil.copytree(original / "data", other / "data")
    untouched = listing(original)
    for command in (["run"], ["query", "SELECT * FROM refined.sales_by_month"]):
        refused = batchlake(*command, "-p", str(other), check=False)
        assert refused.returncode == 2, refused.stderr
        message = refused.stderr
        assert f"{original}/lake/warehouse" in message  # where the tables are
        assert f"the project at {original}" in message  # whose they are
        assert f"{other}/lake/warehouse" in message  # where this project's lake is
        assert "[catalog] uri" in message  # the fix
    doctor = batchlake("doctor", "-p", str(other), check=False)
    assert doctor.returncode == 1 and "✗ catalog" in doctor.stdout
    assert listing(original) == untouched


def test_a_metadata_database_of_another_live_project_is_refused(
    original: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    toml = (original / "batchlake.toml").read_text()
    shared = f'url = "sqlite:///{original}/.batchlake/metadata.sqlite"'
    (other / "batchlake.toml").write_text(
        toml.replace('url = "sqlite:///.batchlake/metadata.sqlite"', shared)
    )
    for part in ("models", "python", "data"):
        shutil.copytree(original / part, other / part)
    untouched = listing(original)
    refused = batchlake("run", "-p", str(other), check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"{original}/lake/raw/chinook/" in refused.stderr
    assert f"the project at {original}" in refused.stderr
    assert f"{other}/lake/raw" in refused.stderr and "[metadata] url" in refused.stderr
    assert listing(original) == untouched


def test_a_copy_without_its_lake_is_refused_while_the_original_lives(
    original: Path, tmp_path: Path
) -> None:
    half = tmp_path / "half"
    half.mkdir()
    for part in ("batchlake.toml", "models", "python", "data", ".batchlake"):
        source = original / part
        if source.is_dir():
            shutil.copytree(source, half / part)
        else:
            shutil.copy2(source, half / part)
    untouched = listing(original)
    refused = batchlake("run", "-p", str(half), check=False)
    assert refused.returncode == 2
    assert f"the project at {original}" in refused.stderr
    assert "Copy the whole project folder" in refused.stderr
    assert listing(original) == untouched


def test_a_second_project_on_the_same_lake_folder_is_refused(
    original: Path, tmp_path: Path
) -> None:
    # A copy of a project whose lake is an absolute folder shares that folder: its own
    # catalog and metadata database must not write there while the original's exist.
    second = tmp_path / "second"
    second.mkdir()
    toml = (original / "batchlake.toml").read_text()
    (second / "batchlake.toml").write_text(
        toml.replace('root = "lake"', f'root = "{original}/lake"')
    )
    for part in ("models", "python", "data"):
        shutil.copytree(original / part, second / part)
    untouched = listing(original)
    for command in (["run"], ["query", "SELECT * FROM refined.sales_by_month"]):
        refused = batchlake(*command, "-p", str(second), check=False)
        assert refused.returncode == 2, refused.stderr
        assert f"{original}/lake" in refused.stderr and "is the lake of another" in refused.stderr
        assert f"the project at {original}" in refused.stderr
        assert "[storage] root" in refused.stderr
    assert listing(original) == untouched
    assert not (second / "lake").exists()
