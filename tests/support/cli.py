"""Running the real `batchlake` command line in a subprocess, as users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def batchlake(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CHINOOK_URL"}
    environ.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "batchlake", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"batchlake {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
        )
    return result


def query_json(project: Path, sql: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = batchlake("query", "--project", str(project), "--format", "json", sql, env=env).stdout
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def table_rows(project: Path, table: str) -> list[str]:
    """A table's rows as sorted JSON strings: an order-free, exact fingerprint (in-process)."""
    from batchlake.lake import Lake
    from batchlake.serve.encode import json_value

    result = Lake.open(project).query_table(f"SELECT * FROM {table}")
    return sorted(json.dumps(json_value(r), sort_keys=True) for r in result.to_pylist())
