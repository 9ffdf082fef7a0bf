"""The batchlake side of the capture benchmark: projects, measured ingests, verification.

batchlake is driven through its command line in child processes, as a user runs it
(``python -m batchlake ingest pg.bench_<n> -p DIR``); the run record it keeps gives the
capture step's own seconds, and the raw Parquet it wrote is checked against checksums the
database server computed.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import _lake
from bench._capture_db import MY_URL, PG_URL, table_name
from bench._measure import Measurement

SOURCE_URLS = {"pg": PG_URL, "my": MY_URL}
Measure = Callable[[str, list[str], Path, dict[str, str] | None], Measurement]


def fresh_project(folder: Path, rows: int, databases: list[str]) -> Path:
    """A new lake project with one source per database (pg, my), each capturing ``bench_<rows>``.

    ``primary_key = ["id"]`` is declared as a user keeping the latest row per key would;
    for MySQL it also lets batchlake split the ConnectorX read into 2 partitions.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    table = table_name(rows)
    sources = "".join(
        textwrap.dedent(
            f"""
            [sources.{db}]
            type = "sql"
            url = "{url}"
            tables = ["{table}"]

            [sources.{db}.entities.{table}]
            primary_key = ["id"]
            """
        )
        for db, url in SOURCE_URLS.items()
        if db in databases
    )
    (folder / "batchlake.toml").write_text('name = "capture_bench"\n' + sources)
    return folder


def _costs(m: Measurement) -> dict[str, Any]:
    from bench.core_pipeline import _cost

    return {"wall_seconds": m.wall_seconds, **_cost(m)}


def measured_ingest(
    measure: Measure, label: str, project: Path, db: str, rows: int, logs: Path
) -> dict[str, Any]:
    """``batchlake ingest <db>.bench_<rows>`` as a measured child, plus its run record."""
    entity = f"{db}.{table_name(rows)}"
    argv = [*_lake.BATCHLAKE, "ingest", entity, "-p", str(project)]
    m = measure(label, argv, logs, _lake.child_env())
    record = _lake.last_run(project)
    step = next(s for s in record.steps if s["step"] == f"raw.{entity}")
    return {
        **_costs(m),
        "run_id": record.run_id,
        "run_recorded_seconds": record.seconds,
        "step_seconds": float(step["seconds"] or 0.0),
        "step_status": step["status"],
        "rows": int(step["rows"] or 0),
        "output_bytes": int(step["bytes"] or 0),
    }


def capture(
    measure: Measure, project: Path, db: str, rows: int, logs: Path, recapture: bool
) -> dict[str, Any]:
    """A real first capture on the fresh project; optionally the same capture again.

    The second capture reads and hashes everything again and should find the identical
    earlier batch, recording a duplicate without keeping the file: what a scheduled
    capture of an unchanged table costs. Its recorded status is reported as found (a
    status other than ``duplicate`` is a finding, not a benchmark failure).
    """
    first = measured_ingest(measure, f"batchlake-{db}", project, db, rows, logs)
    if first["step_status"] != "success":
        raise RuntimeError(f"first capture of {db} ended {first['step_status']}, not success")
    result = {"batchlake": first}
    if recapture:
        again = measured_ingest(measure, f"batchlake-{db}-again", project, db, rows, logs)
        result["batchlake_recapture"] = again
    return result


def raw_files(project: Path, db: str, rows: int, run_id: str) -> list[str]:
    """The Parquet files of the ``written`` batches the run `run_id` recorded for the entity."""
    from batchlake.lake import Lake

    lake = Lake.open(project)
    batches = lake.metadata.batches(db, table_name(rows))
    return [
        b.path.split("://", 1)[-1]
        for b in batches
        if b.status == "written" and b.path and b.run_id == run_id
    ]


def verify(
    project: Path, db: str, rows: int, run_id: str, server: dict[str, Any]
) -> dict[str, Any]:
    """Compare the first capture's raw Parquet with the server's checksums, exactly.

    Only the batch written by run `run_id` is read. Checked: the row count, the sum of
    ``amount`` as an exact Decimal (Arrow sums decimal128 without rounding) and the
    number of true ``active`` values; the column types are recorded.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = raw_files(project, db, rows, run_id)
    table = pa.concat_tables(pq.read_table(f, columns=["amount", "active"]) for f in files)
    active = table["active"]
    if not pa.types.is_boolean(active.type):
        active = pc.not_equal(active, 0)
    total = pc.sum(table["amount"]).as_py()
    found = {
        "rows": table.num_rows,
        "amount_sum": str(total if total is not None else Decimal(0)),
        "active_true": int(pc.sum(active.cast(pa.int64())).as_py() or 0),
    }
    schema = pq.read_schema(files[0]) if files else pa.schema([])
    checks = {
        "rows": found["rows"] == server["rows"],
        "amount_sum": Decimal(found["amount_sum"]) == Decimal(server["amount_sum"]),
        "active_true": found["active_true"] == server["active_true"],
    }
    return {
        "files": len(files),
        "server": server,
        "parquet": found,
        "equal": all(checks.values()),
        "checks": checks,
        "types": {f.name: str(f.type) for f in schema},
    }
