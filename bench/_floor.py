"""The floor: a zone's model SQL in one plain DuckDB connection, nothing else.

Run as a child process by ``core_pipeline.py``::

    python bench/_floor.py SPEC.json RESULT.json

SPEC names the zone (``trusted`` or ``refined``), the folder of its ``*.sql`` models, an
output folder and the input tables' Parquet files: ``{"trusted.sales": [...]}`` as the
Iceberg catalog lists them, or ``{"raw.chinook.invoice": [...]}`` as capture wrote them.
Each input becomes a view over ``read_parquet([...])`` under its qualified name; each
model is written with ``COPY (...) TO`` and, in dependency order, exposed as the view
``<zone>.<name>`` over the file just written for the models that read it (as batchlake
does, through Parquet). No catalog, no metadata, no casts, no content hash, no checks:
the cost of the SQL alone. Only the standard library and duckdb are imported, so the
timing and memory are DuckDB's own. CPU seconds (``time.process_time``: all threads of
the process) are recorded beside wall seconds.
"""

from __future__ import annotations

import json
import re
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files_sql(files: list[str]) -> str:
    return "[" + ", ".join(_literal(f) for f in files) + "]"


def _order(models: dict[str, str], zone: str) -> list[str]:
    """Model names so that every model comes after the models of its zone it reads."""
    ref = re.compile(rf"\b{zone}\.([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
    graph = {
        name: {r for r in ref.findall(sql) if r in models and r != name}
        for name, sql in models.items()
    }
    return list(TopologicalSorter(graph).static_order())


def _schemas(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Create the schemas (and, for three-part names, the catalogs) the views need."""
    made: set[str] = set()
    for name in names:
        parts = name.split(".")[:-1]
        if len(parts) == 2 and parts[0] not in made:  # raw.chinook.x: a catalog "raw"
            con.execute(f"ATTACH ':memory:' AS {parts[0]}")
            made.add(parts[0])
        schema = ".".join(parts)
        if schema not in made:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            made.add(schema)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Build every model of the zone from the input files; return seconds and rows per model."""
    zone = spec.get("zone", "refined")
    models_dir = Path(spec["models_dir"])
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    models = {p.stem: p.read_text() for p in sorted(models_dir.glob("*.sql"))}

    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    if spec.get("threads"):
        con.execute(f"SET threads = {int(spec['threads'])}")
    inputs: dict[str, list[str]] = spec["inputs"]
    _schemas(con, [*inputs, f"{zone}.x"])
    for name, files in inputs.items():
        scan = f"read_parquet({_files_sql(files)})"
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {scan}")
    setup = time.perf_counter() - started

    per_model: dict[str, dict[str, float | int]] = {}
    for name in _order(models, zone):
        sql = models[name].strip().rstrip(";")
        target = out_dir / f"{name}.parquet"
        clock, cpu = time.perf_counter(), time.process_time()
        row = con.execute(f"COPY ({sql}) TO {_literal(str(target))} (FORMAT parquet)").fetchone()
        con.execute(
            f"CREATE VIEW {zone}.{name} AS SELECT * FROM read_parquet({_literal(str(target))})"
        )
        per_model[name] = {
            "seconds": time.perf_counter() - clock,
            "cpu_seconds": time.process_time() - cpu,
            "rows": int(row[0]) if row else 0,
        }
    con.close()
    return {
        "seconds_total": time.perf_counter() - started,
        "cpu_seconds_total": time.process_time(),
        "seconds_setup": setup,
        "duckdb_threads": spec.get("threads") or "default",
        "models": per_model,
    }


def main(argv: list[str]) -> int:
    spec_path, result_path = argv[1], argv[2]
    result = run(json.loads(Path(spec_path).read_text()))
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
