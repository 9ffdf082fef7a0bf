"""Azure Blob Storage on Azurite: which client, what a delete costs, DuckDB's reads, Chinook.

    PYTHONPATH=src:. python bench/azure_storage.py [--mb 200] [--invoices 120] [--output F]

`--smoke` runs 2 MB without the Chinook runs (CI runs it so the script cannot rot; no
timing is judged there).

Starts Azurite (tests/support/azurite.py installs it from npm when absent) and measures:
pyarrow's AzureFileSystem against adlfs (when installed) writing and reading a blob and a
Parquet file, listing and deleting; batchlake's filesystem (deletes through the Azure SDK);
DuckDB's azure extension reading a Parquet file against pyarrow → Arrow → DuckDB; and the
Chinook pipeline on local disk and on Azurite. Results: docs/scale-out.md, "Azure".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.azurite

CONTAINER = "bench"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return round(time.perf_counter() - start, 3)


def filesystem_round(fs: Any, name: str, mb: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow.fs import FileSelector

    payload = os.urandom(mb * 1024 * 1024)
    rows = mb * 1024 * 1024 // 16
    table = pa.table({"a": np.arange(rows), "b": np.random.default_rng(1).random(rows)})
    base = f"{CONTAINER}/{name}"

    def write() -> None:
        with fs.open_output_stream(f"{base}/blob.bin") as out:
            out.write(payload)

    def read() -> None:
        with fs.open_input_stream(f"{base}/blob.bin") as src:
            assert src.read() == payload

    deletes = []
    for i in range(5):  # a raw batch's move ends in one such delete
        with fs.open_output_stream(f"{base}/small/{i}.bin") as out:
            out.write(b"x")
    for i in range(5):
        deletes.append(timed(lambda i=i: fs.delete_file(f"{base}/small/{i}.bin")))
    return {
        "delete_5_small_s": deletes,
        "write_blob_s": timed(write),
        "read_blob_s": timed(read),
        "write_parquet_s": timed(lambda: pq.write_table(table, f"{base}/t.parquet", filesystem=fs)),
        "read_parquet_s": timed(lambda: pq.read_table(f"{base}/t.parquet", filesystem=fs)),
        "list_s": timed(lambda: fs.get_file_info(FileSelector(base, recursive=True))),
    }


def duckdb_reads(options: Any, fs: Any) -> dict[str, float]:
    import pyarrow.parquet as pq

    from batchlake.engines import connection

    path = f"{CONTAINER}/pyarrow/t.parquet"
    con = connection.connect()
    connection.create_azure_secret(con, options)
    scan = f"read_parquet('az://{path}')"

    def via_arrow(columns: list[str] | None, sql: str) -> None:
        arrow = pq.read_table(path, filesystem=fs, columns=columns)  # noqa: F841 (DuckDB scans it)
        con.execute(sql).fetchall()

    return {
        "duckdb_az_all_columns_s": timed(
            lambda: con.execute(f"SELECT count(*), sum(a), sum(b) FROM {scan}").fetchall()
        ),
        "duckdb_az_one_column_s": timed(
            lambda: con.execute(f"SELECT sum(b) FROM {scan}").fetchall()
        ),
        "arrow_then_duckdb_all_columns_s": timed(
            lambda: via_arrow(None, "SELECT count(*), sum(a), sum(b) FROM arrow")
        ),
        "arrow_then_duckdb_one_column_s": timed(
            lambda: via_arrow(["b"], "SELECT sum(b) FROM arrow")
        ),
    }


def chinook(base: Path, storage: str | None, invoices: int) -> float:
    from tests.support.scale_helpers import chinook_project, generated_source

    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    source = generated_source(base, invoices=invoices, seed=7)
    project = chinook_project(base / ("azure" if storage else "local"), source, storage=storage)
    start = time.perf_counter()
    assert Runner(Lake.open(project)).run().ok
    return round(time.perf_counter() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=120)
    parser.add_argument("--no-chinook", action="store_true", help="skip the pipeline runs")
    parser.add_argument("--output", help="also write the results as JSON to this file")
    parser.add_argument("--workdir", help="unused; accepted like the other benchmarks")
    parser.add_argument("--smoke", action="store_true", help="2 MB, no Chinook runs (CI)")
    args = parser.parse_args()
    if args.smoke:  # the Chinook runs are tests/integration/test_azure_storage.py's
        args.mb, args.no_chinook = 2, True

    from tests.support.azurite import CONNECTION_VAR, azure_storage_block, azurite_server

    from batchlake.storage.azure import AzureOptions

    results: dict[str, Any] = {"mb": args.mb, "invoices": args.invoices}
    with tempfile.TemporaryDirectory() as tmp, azurite_server(Path(tmp) / "azurite") as server:
        os.environ[CONNECTION_VAR] = server.connection_string
        server.create_container(CONTAINER)
        options = AzureOptions(connection_string_env=CONNECTION_VAR)
        native = options.native_filesystem()
        results["pyarrow"] = filesystem_round(native, "pyarrow", args.mb)
        results["batchlake"] = filesystem_round(options.pyarrow_filesystem(), "batchlake", args.mb)
        try:
            import adlfs
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            wrapped = PyFileSystem(
                FSSpecHandler(adlfs.AzureBlobFileSystem(**options.fsspec_options()))
            )
            results["adlfs"] = filesystem_round(wrapped, "adlfs", args.mb)
        except ImportError:
            results["adlfs"] = "not installed (pip install adlfs)"
        results["reads"] = duckdb_reads(options, native)
        if not args.no_chinook:
            server.create_container("lake")
            results["chinook_local_s"] = chinook(Path(tmp) / "c", None, args.invoices)
            block = azure_storage_block("abfs://lake/chinook")
            results["chinook_azure_s"] = chinook(Path(tmp) / "c", block, args.invoices)
    report(results)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2), encoding="utf-8")


def report(results: dict[str, Any]) -> None:
    """The measurements as a table: one row per client, one column per operation."""
    clients = [c for c in ("pyarrow", "batchlake", "adlfs") if isinstance(results.get(c), dict)]
    operations = list(results[clients[0]]) if clients else []
    print("| client | " + " | ".join(operations) + " |")
    print("|---" * (len(operations) + 1) + "|")
    for client in clients:
        cells = [results[client][op] for op in operations]
        print(f"| {client} | " + " | ".join(str(c) for c in cells) + " |")
    print()
    print("| other | seconds |")
    print("|---|---|")
    for name, value in {**results.get("reads", {}), **results}.items():
        if name.endswith("_s") and not isinstance(value, dict):
            print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
