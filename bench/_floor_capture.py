"""The capture floor: every table of the SQLite store to Parquet in plain DuckDB, nothing else.

Run as a child process by ``core_pipeline.py``::

    python bench/_floor_capture.py SPEC.json RESULT.json

SPEC names the SQLite file and an output folder. The store is attached with DuckDB's
SQLite scanner (what batchlake's capture of a SQLite source reads with) and each table is
written with ``COPY (SELECT * FROM t) TO 'x.parquet'``: no type mapping, no batch
columns, no content digest, no manifest, no metadata. Only the standard library,
duckdb and duckdb_ext (where the scanner extension is installed) are imported. CPU
seconds (``time.process_time``) are recorded beside wall seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import duckdb_ext


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run(spec: dict[str, Any]) -> dict[str, Any]:
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # The scanner comes from the duckdb-ext wheel, as batchlake loads it (nothing downloaded).
    con = duckdb.connect(
        ":memory:",
        config={
            "extension_directory": duckdb_ext.get_extension_dir(),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
            "allow_unsigned_extensions": True,
        },
    )
    con.execute(f"ATTACH {_literal(spec['sqlite'])} AS src (TYPE sqlite, READ_ONLY)")
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'src' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    per_table: dict[str, dict[str, float | int]] = {}
    for name in tables:
        target = out_dir / f"{name}.parquet"
        clock, cpu = time.perf_counter(), time.process_time()
        row = con.execute(
            f'COPY (SELECT * FROM src."{name}") TO {_literal(str(target))} (FORMAT parquet)'
        ).fetchone()
        per_table[name] = {
            "seconds": time.perf_counter() - clock,
            "cpu_seconds": time.process_time() - cpu,
            "rows": int(row[0]) if row else 0,
        }
    con.close()
    return {
        "seconds_total": time.perf_counter() - started,
        "cpu_seconds_total": time.process_time(),
        "tables": per_table,
    }


def main(argv: list[str]) -> int:
    spec_path, result_path = argv[1], argv[2]
    result = run(json.loads(Path(spec_path).read_text()))
    Path(result_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
