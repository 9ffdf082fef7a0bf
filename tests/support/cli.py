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


def batchlake_in_process(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`batchlake ARGS` run by this process, as `batchlake()` runs it but without an
    interpreter start and its imports (seconds a call).

    The command goes through the entry point's own handling (`cli._run_app`: a batchlake
    error becomes its one-line message and exit code) with stdin, stdout, stderr and the
    environment swapped for the call (click's CliRunner isolation); CHINOOK_URL is unset
    unless `env` sets it. For tests whose subject is what a command does, not the process
    it runs in: kill -9, exit handlers, signals and process-wide state need `batchlake()`.
    """
    from click.testing import CliRunner

    from batchlake.cli import _run_app

    environ: dict[str, str | None] = {"CHINOOK_URL": None, **(env or {})}
    argv = sys.argv
    code: int | str | None = 0
    with CliRunner().isolation(env=environ) as (out, err, _):
        sys.argv = ["batchlake", *args]
        try:
            _run_app()
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.argv = argv
            sys.stdout.flush()  # the isolation's text wrappers buffer what print() wrote
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    if isinstance(code, str):
        stderr, code = stderr + code + "\n", 1
    done = subprocess.CompletedProcess(["batchlake", *args], code or 0, stdout, stderr)
    if check and done.returncode != 0:
        raise AssertionError(
            f"batchlake {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-3000:]}"
        )
    return done


def read_tables(project: Path, tables: list[str]) -> dict[str, Any]:
    """Several tables as Arrow, read as `Lake.query_table` reads one, but with one engine
    and one planning for all (a query_table per table paid both each time: most of the
    time it took)."""
    from batchlake.lake import Lake

    lake = Lake.open(project)
    planned = lake.plan_query("SELECT * FROM " + ", ".join(tables))
    engine = lake.engine()
    try:
        engine.register(read.source for read in planned)
        return {name: engine.query(f"SELECT * FROM {name}").read_all() for name in tables}
    finally:
        engine.close()


def tables_rows(project: Path, tables: list[str]) -> dict[str, list[str]]:
    """`table_rows` of several tables (read_tables)."""
    from batchlake.serve.encode import json_value

    return {
        name: sorted(json.dumps(json_value(r), sort_keys=True) for r in table.to_pylist())
        for name, table in read_tables(project, tables).items()
    }


def run_ok(project: Path, *, full_refresh: bool = False) -> Any:
    """`batchlake run` in this process (the Runner the command uses); fails the test,
    naming the steps, unless every step succeeded. Returns the RunResult."""
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    result = Runner(Lake.open(project)).run(full_refresh=full_refresh)
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status != "success"]
    return result
