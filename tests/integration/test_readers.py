"""Outside readers (docs/readers.md): the scripts `batchlake catalog --connect` prints run.

A small lake (the shop project: trusted.customers, trusted.orders, refined.revenue) is
built and then rebuilt with --full-refresh, so every table has two snapshots and its
data/ folder holds the files of both. The printed DuckDB, PyIceberg and Spark scripts
are run as they are, each in a fresh Python process that never imports batchlake, and
every table they read is compared with `batchlake.open(project).table(name)`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.support.cli import batchlake
from tests.support.opsproject import CUSTOMERS, make_project

pytestmark = [pytest.mark.integration]

TABLES = ["refined.revenue", "trusted.customers", "trusted.orders"]

# Run after the printed script, in its globals: read every table through the objects
# the script made (its DuckDB connection and views, its catalog, its Spark views).
READ_BACK = {
    "duckdb": "{n: con.execute(f'SELECT * FROM {n}').fetch_arrow_table() for n in names}",
    "pyiceberg": "{n: catalog.load_table(n).scan().to_arrow() for n in names}",
    "spark": "{n: spark.sql('SELECT * FROM ' + n.replace('.', '_')).toArrow() for n in names}",
}

RUNNER = """
import json, runpy, sys
script, names, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
found = runpy.run_path(script, run_name="__main__")
tables = eval(sys.argv[4], {**found, "names": names})
tables["__result__"] = found["result"]
rows = {n: [{k: str(v) for k, v in r.items()} for r in t.to_pylist()] for n, t in tables.items()}
rows["__batchlake_imported__"] = any(m.split(".")[0] == "batchlake" for m in sys.modules)
json.dump(rows, open(out, "w"))
"""


def _rows(table: Any) -> list[str]:
    """Rows as sorted JSON strings of their values' text (an order-free fingerprint)."""
    return sorted(json.dumps({k: str(v) for k, v in r.items()}) for r in table.to_pylist())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("readers") / "shop")
    lake = Lake.open(root)
    for full_refresh in (False, True):  # two snapshots of every table
        result = Runner(lake).run(full_refresh=full_refresh)
        assert result.ok, [(s.name, s.message) for s in result.steps if s.status != "success"]
    return root


def _run_snippet(project: Path, reader: str, tmp_path: Path, table: str) -> dict[str, Any]:
    printed = batchlake("catalog", table, "--connect", reader, "--project", str(project)).stdout
    script = tmp_path / f"read_with_{reader}.py"
    script.write_text(printed)
    out = tmp_path / "out.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(script),
            json.dumps(TABLES),
            str(out),
            READ_BACK[reader],
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # away from the repository and without PYTHONPATH
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=600,
    )
    assert done.returncode == 0, f"the printed {reader} script failed:\n{done.stderr[-3000:]}"
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def _check_every_table(project: Path, found: dict[str, Any], table: str) -> None:
    import batchlake

    lake = batchlake.open(project)
    assert found.pop("__batchlake_imported__") is False, "the script must not need batchlake"
    assert sorted(json.dumps(r) for r in found.pop("__result__")) == _rows(
        lake.table(table).to_arrow()
    )
    assert sorted(found) == TABLES
    for name in TABLES:
        expected = _rows(lake.table(name).to_arrow())
        assert expected, f"{name} is empty: the comparison would prove nothing"
        assert sorted(json.dumps(r) for r in found[name]) == expected, name


def test_printed_pyiceberg_script_reads_every_table(project: Path, tmp_path: Path) -> None:
    found = _run_snippet(project, "pyiceberg", tmp_path, "trusted.customers")
    _check_every_table(project, found, "trusted.customers")


def test_printed_duckdb_script_reads_every_table(project: Path, tmp_path: Path) -> None:
    found = _run_snippet(project, "duckdb", tmp_path, "refined.revenue")
    _check_every_table(project, found, "refined.revenue")


@pytest.mark.slow
def test_printed_spark_script_reads_every_table(project: Path, tmp_path: Path) -> None:
    from tests.conftest import require_java

    require_java()
    found = _run_snippet(project, "spark", tmp_path, "trusted.orders")
    _check_every_table(project, found, "trusted.orders")


def test_printed_script_names_this_project(project: Path) -> None:
    for reader in ("duckdb", "pyiceberg", "spark"):
        printed = batchlake("catalog", "--connect", reader, "--project", str(project)).stdout
        assert str(project / ".batchlake" / "catalog.sqlite") in printed, reader
        assert ", ".join(TABLES) in printed, reader
        assert "'batchlake'" in printed, reader
    spark = batchlake("catalog", "--connect", "spark", "--project", str(project)).stdout
    from importlib.metadata import version

    minor = ".".join(version("pyspark").split(".")[:2])
    assert f"iceberg-spark-runtime-{minor}_2.13" in spark  # the runtime of the installed Spark


def test_connect_to_an_unknown_table_names_the_fix(project: Path) -> None:
    done = batchlake(
        "catalog", "trusted.nope", "--connect", "duckdb", "--project", str(project), check=False
    )
    assert done.returncode != 0
    assert "trusted.nope is not in the catalog" in done.stderr
    assert "batchlake catalog" in done.stderr


def test_a_catalog_opened_under_another_name_sees_no_table(project: Path) -> None:
    """Why docs/readers.md insists on the name: a SQL catalog filters its rows by it."""
    from pyiceberg.catalog.sql import SqlCatalog

    props = {
        "uri": f"sqlite:///{project}/.batchlake/catalog.sqlite",
        "warehouse": f"file://{project}/lake/warehouse",
    }
    assert SqlCatalog("lake", **props).list_namespaces() == []
    named = SqlCatalog("batchlake", **props)
    assert sorted(".".join(t) for z in ("trusted", "refined") for t in named.list_tables(z)) == (
        sorted(TABLES)
    )


def test_data_folder_holds_old_snapshots_files(project: Path) -> None:
    """Globbing a table's data/ folder reads the files of every snapshot, not the table."""
    import batchlake
    from batchlake.engines import connection

    table = batchlake.open(project).table("trusted.customers").to_arrow()
    assert table.num_rows == len(CUSTOMERS)
    folder = project / "lake" / "warehouse" / "trusted" / "customers" / "data"
    con = connection.connect()
    try:
        glob = connection.quote_literal(f"{folder}/**/*.parquet")
        (globbed,) = con.execute(f"SELECT count(*) FROM read_parquet({glob})").fetchone() or (0,)
        folder_literal = connection.quote_literal(str(folder.parent))
        with pytest.raises(Exception, match="version-hint"):  # the folder is not a table
            con.execute(f"SELECT * FROM iceberg_scan({folder_literal})").fetchall()
    finally:
        con.close()
    assert globbed == 2 * len(CUSTOMERS)  # the rebuild's rows and the first build's
