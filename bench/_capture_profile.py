"""Diagnostic: where a batchlake capture of ``bench_<rows>`` spends its time.

    python bench/_capture_profile.py --db pg --rows 5000000 [--repeat 2]
    python bench/_capture_profile.py --smoke [--db my]    # 2,000 rows: does it still run?

Runs batchlake's own source reader and Parquet writer in this process, in stages, each
timed (wall and CPU of the process, all threads):

* ``read``: open the source, ``read()`` the entity and drain the Arrow batches (the
  DuckDB scanner for PostgreSQL, ConnectorX + casts for MySQL);
* ``read + hash``: the same, feeding every batch to batchlake's content digest (the
  sha256 of the values it computes to recognise duplicate batches);
* ``read + write``: the same, writing the batches (with the two lineage columns) through
  a zstd ``ParquetWriter``, no hash;
* ``read + hash + write``: ``ingest_arrow.write_parquet`` itself, as ingest calls it;
* ``hash alone`` and ``write alone``: the same two steps over batches already in memory,
  with no reader running beside them;
* ``read + hash + write, writer thread``: a prototype (not batchlake's code) writing the
  Parquet in a second thread, so the write overlaps the reader;
* ``write alone`` variants: without the two lineage columns, and with 1M-row row groups
  instead of one row group per 100,000-row batch;
* ``fixed cost``: ``batchlake ingest`` of a 1,000-row table as a whole process (what
  every capture pays whatever its size), beside a bare ``import batchlake.cli``.

It calls ingest internals (``ValueDigest`` or the older ``update_digest``,
``write_parquet``), so it may need updating after a refactor of ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _capture_db, _capture_lake


def _batches(project: Path, db: str, rows: int) -> tuple[Any, Iterator[Any], Any]:
    """batchlake's source for `db`, and the capture of the table (a fresh read)."""
    from batchlake.capture import EntityState, open_source
    from batchlake.config import load_project

    source = open_source(load_project(project), db)
    capture = source.read(_capture_db.table_name(rows), EntityState(None, {}))
    return source, iter(capture.batches), capture


def _digest(schema: Any) -> tuple[Callable[[Any], None], Callable[[], str]]:
    """batchlake's content digest as (feed a batch, hex digest), whichever API it has."""
    from batchlake import ingest_arrow

    if hasattr(ingest_arrow, "ValueDigest"):  # per-column running hashes (since 20d5ced)
        digest = ingest_arrow.ValueDigest(schema)
        return digest.update, digest.hexdigest
    plain = hashlib.sha256(schema.serialize().to_pybytes())
    older = getattr(ingest_arrow, "update_digest")  # noqa: B009 (absent since 20d5ced)
    return (lambda batch: older(plain, batch)), plain.hexdigest


def _timed(work: Callable[[], int]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    rows = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"seconds": wall, "cpu_seconds": cpu, "rows": rows, "rows_per_second": rows / wall}


def _writer(out: Path, schema: Any) -> tuple[Any, Any, Callable[[Any], Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from batchlake.capture.raw_writer import BATCH_ID_COLUMN, LOADED_AT_COLUMN

    file_schema = pa.schema(
        [
            *schema,
            pa.field(BATCH_ID_COLUMN, pa.string(), nullable=False),
            pa.field(LOADED_AT_COLUMN, pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )
    batch_id = pa.scalar("profile", pa.string())
    loaded = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))

    def widen(batch: Any) -> Any:
        extra = [pa.repeat(batch_id, batch.num_rows), pa.repeat(loaded, batch.num_rows)]
        return pa.RecordBatch.from_arrays([*batch.columns, *extra], schema=file_schema)

    return pq.ParquetWriter(out, file_schema, compression="zstd"), file_schema, widen


def profile(project: Path, db: str, rows: int, out_dir: Path) -> dict[str, dict[str, float]]:
    """Every stage once; returns their timings."""
    from batchlake.capture.raw_writer import write_parquet

    stages: dict[str, dict[str, float]] = {}

    def read_only() -> int:
        source, batches, _ = _batches(project, db, rows)
        count = sum(b.num_rows for b in batches)
        source.close()
        return count

    def read_hash() -> int:
        source, batches, capture = _batches(project, db, rows)
        feed, _ = _digest(capture.schema)
        count = 0
        for batch in batches:
            feed(batch)
            count += batch.num_rows
        source.close()
        return count

    def read_write() -> int:
        source, batches, capture = _batches(project, db, rows)
        writer, _, widen = _writer(out_dir / "read_write.parquet", capture.schema)
        count = 0
        for batch in batches:
            writer.write_batch(widen(batch))
            count += batch.num_rows
        writer.close()
        source.close()
        return count

    def batchlake_write() -> int:
        import pyarrow.fs as pafs

        source, _, capture = _batches(project, db, rows)
        storage = SimpleNamespace(filesystem=pafs.LocalFileSystem())
        path = str(out_dir / "write_parquet.parquet")
        now = datetime.now(UTC)
        count, _, _ = write_parquet(capture, storage, path, "profile", now, None)  # type: ignore[arg-type]
        source.close()
        return count

    def threaded_write() -> int:
        """A prototype, not batchlake: the Parquet write in a thread beside the reader."""
        import queue
        import threading

        source, batches, capture = _batches(project, db, rows)
        writer, _, widen = _writer(out_dir / "threaded.parquet", capture.schema)
        pending: queue.Queue[Any] = queue.Queue(maxsize=4)

        def drain() -> None:
            while (batch := pending.get()) is not None:
                writer.write_batch(batch)

        thread = threading.Thread(target=drain)
        thread.start()
        feed, _ = _digest(capture.schema)
        count = 0
        for batch in batches:
            feed(batch)
            pending.put(widen(batch))
            count += batch.num_rows
        pending.put(None)
        thread.join()
        writer.close()
        source.close()
        return count

    stages["read"] = _timed(read_only)
    stages["read + hash"] = _timed(read_hash)
    stages["read + write"] = _timed(read_write)
    stages["read + hash + write (write_parquet)"] = _timed(batchlake_write)
    stages["read + hash + write, writer thread (prototype)"] = _timed(threaded_write)

    source, batches, capture = _batches(project, db, rows)
    in_memory = list(batches)
    source.close()

    def hash_alone() -> int:
        feed, _ = _digest(capture.schema)
        for batch in in_memory:
            feed(batch)
        return sum(b.num_rows for b in in_memory)

    def write_alone() -> int:
        writer, _, widen = _writer(out_dir / "write_alone.parquet", capture.schema)
        for batch in in_memory:
            writer.write_batch(widen(batch))
        writer.close()
        return sum(b.num_rows for b in in_memory)

    def write_plain() -> int:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(out_dir / "plain.parquet", capture.schema, compression="zstd") as w:
            for batch in in_memory:
                w.write_batch(batch)
        return sum(b.num_rows for b in in_memory)

    def write_big_groups() -> int:
        import pyarrow as pa

        writer, file_schema, widen = _writer(out_dir / "groups.parquet", capture.schema)
        table = pa.Table.from_batches([widen(b) for b in in_memory], schema=file_schema)
        writer.write_table(table, row_group_size=1_000_000)
        writer.close()
        return table.num_rows

    stages["hash alone (batches in memory)"] = _timed(hash_alone)
    stages["write alone (batches in memory)"] = _timed(write_alone)
    stages["write alone, without the 2 lineage columns"] = _timed(write_plain)
    stages["write alone, 1M-row row groups"] = _timed(write_big_groups)
    stages["batches"] = {"count": len(in_memory), "rows_first": in_memory[0].num_rows}
    return stages


def fixed_cost_seconds(db: str, workdir: Path) -> dict[str, float]:
    """Wall seconds of ``batchlake ingest`` capturing a 1,000-row table (best of 3).

    With almost no rows, this is what every capture pays whatever its size: Python start,
    imports, project and metadata, connecting, discovery, run records. Each try is on a
    fresh project, so each is a real first capture.
    """
    from bench import _lake

    _capture_db.ensure_table(db, 1_000, print)
    best = float("inf")
    for attempt in range(3):
        project = _capture_lake.fresh_project(workdir / f"fixed-{attempt}", 1_000, [db])
        argv = [*_lake.BATCHLAKE, "ingest", f"{db}.{_capture_db.table_name(1_000)}", "-p"]
        started = time.perf_counter()
        subprocess.run(
            [*argv, str(project)], check=True, capture_output=True, env=_lake.child_env()
        )
        best = min(best, time.perf_counter() - started)
    imports = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import batchlake.cli"], check=True)
        imports = min(imports, time.perf_counter() - started)
    return {"ingest_1000_rows": best, "python_start_import_cli": imports}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("pg", "my"), default="pg")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="JSON file for the timings")
    parser.add_argument("--smoke", action="store_true", help="2,000 rows: a check, not figures")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.repeat = 2_000, 1
    _capture_db.ensure_databases()
    _capture_db.ensure_table(args.db, args.rows, print)
    results: dict[str, Any] = {"db": args.db, "rows": args.rows, "repeats": []}
    with tempfile.TemporaryDirectory(prefix="capture-profile-") as tmp:
        project = _capture_lake.fresh_project(Path(tmp) / "project", args.rows, [args.db])
        for _ in range(args.repeat):
            results["repeats"].append(profile(project, args.db, args.rows, Path(tmp)))
        results["fixed"] = fixed_cost_seconds(args.db, Path(tmp))
    print(f"median of {args.repeat} repeat(s); CPU is this process's (not the server's)")
    for name, figures in results["repeats"][0].items():
        if "seconds" not in figures:
            continue
        wall, cpu = (
            statistics.median(r[name][key] for r in results["repeats"])
            for key in ("seconds", "cpu_seconds")
        )
        rate = figures["rows"] / wall / 1e6
        print(f"{name:48s} {wall:7.2f} s  CPU {cpu:7.2f} s  {rate:5.2f} M rows/s")
    fixed = results["fixed"]
    for label, key in (
        ("batchlake ingest of a 1,000-row table (process)", "ingest_1000_rows"),
        ("python start + import batchlake.cli", "python_start_import_cli"),
    ):
        print(f"{label:48s} {fixed[key]:7.2f} s")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
