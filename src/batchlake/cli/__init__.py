"""The `batchlake` command line. Thin: parses options, calls the modules, prints.

Data goes to stdout, progress and messages to stderr. Failures print one line naming
what to fix and exit non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from batchlake.cli._app import FormatOption, ProjectOption, _lake, _run, _state, app
from batchlake.cli._connect import Reader
from batchlake.cli._output import Format, print_arrow, print_rows, stderr
from batchlake.errors import BatchlakeError

# -- project setup -------------------------------------------------------------------------


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")] = Path("."),
    example: Annotated[
        str | None, typer.Option("--example", "-e", help="Start from an example: chinook.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite files that already exist.")] = False,
    data: Annotated[
        bool,
        typer.Option(
            help="With --example chinook: generate the store it captures (data/chinook.sqlite)."
        ),
    ] = True,
) -> None:
    """Create a lake project: batchlake.toml, models/trusted, models/refined."""
    from batchlake.cli._demo import prepare_example
    from batchlake.demo.scaffold import create_project

    created = create_project(directory, example=example, force=force)
    stderr.print(
        f"[green]created[/green] lake project in {directory.resolve()} ({len(created)} files)"
    )
    next_command = prepare_example(directory, example, data=data)
    stderr.print(f"next: {escape(next_command)}", highlight=False)


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", "--project", "-p", help="Folder of the demo project.")
    ] = Path("demo-lake"),
    invoices: Annotated[
        int,
        typer.Option(min=1, help="Invoices to generate (≈5 lines each; 2,000,000 ≈ 10M lines)."),
    ] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed of the generated store data.")] = 42,
) -> None:
    """Generate the Chinook store database, run the whole pipeline, print a summary."""
    from batchlake.cli._demo import generate_if_needed, print_demo_summary
    from batchlake.demo.scaffold import create_project

    started = time.perf_counter()
    if not (directory / "batchlake.toml").exists():
        create_project(directory, example="chinook")
        stderr.print(f"[green]created[/green] the Chinook lake project in {directory.resolve()}")
    generate_if_needed(directory, invoices=invoices, seed=seed)
    os.environ.pop("CHINOOK_URL", None)  # the demo always reads its own generated store
    result = _run(directory, select=None, full_refresh=False, wait=None, command="demo")
    print_demo_summary(_lake(directory), result, time.perf_counter() - started)
    if not result.ok:
        raise typer.Exit(1)


# -- running -------------------------------------------------------------------------------


@app.command()
def run(
    project: ProjectOption = Path("."),
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            help=(
                "Steps to run: a name (refined.sales_by_day), a glob (refined.*), "
                "+NAME with what it needs, NAME+ with what depends on it. Repeatable."
            ),
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild every selected model even if unchanged.")
    ] = False,
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for another run on this project to finish."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="A run id: rerun only the steps it failed, skipped or never reached."),
    ] = None,
) -> None:
    """Capture sources and build models, in dependency order."""
    result = _run(
        project,
        select=select,
        full_refresh=full_refresh,
        wait=wait,
        command="resume" if resume else "run",
        resume=resume,
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def ingest(
    target: Annotated[str, typer.Argument(help="SOURCE or SOURCE.ENTITY to capture.")],
    project: ProjectOption = Path("."),
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Forget the incremental cursor: capture everything."),
    ] = False,
    wait: Annotated[float | None, typer.Option(help="Seconds to wait for another run.")] = None,
) -> None:
    """Capture one source (every entity) or one entity into the raw zone (no models)."""
    from batchlake.capture import open_source

    source, _, entity = target.partition(".")
    open_source(_lake(project).project, source).close()  # an unknown source is named clearly
    select = [f"raw.{source}.{entity or '*'}"]
    result = _run(project, select=select, full_refresh=full_refresh, wait=wait, command="ingest")
    if not result.ok:
        raise typer.Exit(1)


# -- looking at the lake -------------------------------------------------------------------


@app.command()
def sources(
    project: ProjectOption = Path("."),
    fmt: FormatOption = Format.table,
) -> None:
    """Configured sources and their entities: mode, cursor, last batch, rows captured."""
    from batchlake.cli._catalog import list_sources

    list_sources(_lake(project), fmt)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A SELECT in the DuckDB dialect; '-' reads stdin.")],
    project: ProjectOption = Path("."),
    fmt: FormatOption = Format.table,
    limit: Annotated[
        int | None,
        typer.Option(help="Print at most this many rows (default: 100 for table, all otherwise)."),
    ] = None,
    remote: Annotated[
        str | None, typer.Option(help="Ask a 'batchlake serve' at this URL instead.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key for --remote.", envvar="BATCHLAKE_API_KEY")
    ] = None,
) -> None:
    """Answer SQL over raw, trusted and refined tables (e.g. refined.sales_by_day)."""
    text = sys.stdin.read() if sql == "-" else sql
    if remote:
        from batchlake.cli._serve import remote_query

        return remote_query(remote, api_key, text, fmt, limit)
    lake = _lake(project)
    engine, reader = lake.query(text)
    try:
        max_rows = limit if limit is not None else (100 if fmt is Format.table else None)
        shown = print_arrow(reader, fmt, max_rows=max_rows)
    finally:
        engine.close()
    if fmt is Format.table:
        stderr.print(
            f"{shown} row(s)" + (" (limit reached; use --limit)" if shown == max_rows else "")
        )


@app.command()
def catalog(
    table: Annotated[str | None, typer.Argument(help="A table to describe in detail.")] = None,
    project: ProjectOption = Path("."),
    fmt: FormatOption = Format.table,
    connect: Annotated[
        Reader | None,
        typer.Option(
            "--connect",
            help="Print a script that reads this lake (TABLE, or a refined table) "
            "with duckdb, pyiceberg or spark, without batchlake.",
        ),
    ] = None,
) -> None:
    """List every table (zone, rows, columns, snapshot, lineage), or describe one."""
    from batchlake.cli import _catalog

    lake = _lake(project)
    if connect is not None:
        from batchlake.cli._connect import snippet

        print(snippet(lake, connect, table), end="")
        return
    if table is None:
        _catalog.list_tables(lake, fmt)
    else:
        _catalog.describe_table(lake, table, fmt)


@app.command()
def runs(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id (or its prefix) to detail.")
    ] = None,
    project: ProjectOption = Path("."),
    fmt: FormatOption = Format.table,
    limit: Annotated[int, typer.Option(help="How many recent runs to list.")] = 20,
    tracebacks: Annotated[
        bool, typer.Option("--traceback", help="Also print the tracebacks of failed steps.")
    ] = False,
) -> None:
    """Run history: recent runs, or the steps of one run."""
    lake = _lake(project)
    if run_id is None:
        rows = lake.metadata.runs(limit)
        print_rows(
            ["run_id", "command", "status", "started_at", "seconds", "error"],
            [
                (r["run_id"], r["command"], r["status"], r["started_at"], _seconds(r), r["error"])
                for r in rows
            ],
            fmt,
            title="runs",
        )
        return
    found = lake.metadata.run(run_id)
    if found is None:
        raise BatchlakeError(f"no run '{run_id}'; list runs with 'batchlake runs'")
    steps = lake.metadata.steps(found["run_id"])
    if fmt is Format.table:
        stderr.print(
            f"run {found['run_id']} ({found['command']}): {found['status']}, "
            f"started {found['started_at']:%Y-%m-%d %H:%M:%S} UTC, {_seconds(found)}s"
        )
    print_rows(
        [
            "step",
            "kind",
            "status",
            "seconds",
            "rows",
            "bytes",
            "inserted",
            "updated",
            "deleted",
            "snapshot_id",
            "attempts",
            "message",
        ],
        [
            (
                s["step"],
                s["kind"],
                s["status"],
                _seconds(s),
                s["rows_out"],
                s["bytes"],
                s.get("rows_inserted"),
                s.get("rows_updated"),
                s.get("rows_deleted"),
                s["snapshot_id"],
                s["attempts"],
                (s["message"] or "").splitlines()[0] if s["message"] else None,
            )
            for s in steps
        ],
        fmt,
        title=None,
    )
    for s in steps if tracebacks else []:
        if s["traceback"]:
            stderr.print(f"[red]{s['step']}[/red]\n{escape(s['traceback'])}", highlight=False)


from batchlake.cli._serve import serve  # noqa: E402  (its heavy imports are inside)

app.command()(serve)

from batchlake.cli._report import report  # noqa: E402

app.command()(report)


def _seconds(row: dict[str, Any]) -> float | None:
    if row.get("finished_at") is None:
        return None
    return round((row["finished_at"] - row["started_at"]).total_seconds(), 2)


# Commands of their own modules (they register on `app` when imported).
from batchlake.cli import (  # noqa: E402, F401
    _api_spec,
    _backfill,
    _check,
    _doctor,
    _maintain,
    _quality,
    _scheduler,
)


def main() -> None:
    """Entry point: run the app, turning batchlake errors into one-line messages."""
    code: int | str | None = 0
    try:
        _run_app()
    except SystemExit as exc:
        code = exc.code
    _leave(code)


def _leave(code: int | str | None) -> None:
    """End the process once the command is done, skipping the interpreter's teardown.

    Tearing down DuckDB, Arrow and SQLAlchemy objects module by module took ~0.1 s of
    every command (a tenth of a 1 M-row capture). Everything the command wrote is
    committed by now; exit handlers (temporary folders, Spark's gateway, logging) still
    run. It also leaves cleanly when a step past its timeout still waits in a thread on
    a call that cannot be interrupted: the interpreter's shutdown would abort on that
    thread (exit 134). Under a profiler or a debugger the interpreter exits as usual.
    """
    import atexit
    import logging

    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler or debugger reports at the interpreter's exit
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _run_app() -> None:
    try:
        # Without standalone mode click returns the code of `typer.Exit` instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BatchlakeError as exc:
        if _state["debug"]:
            raise
        stderr.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("[yellow]interrupted[/yellow]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, EOFError):
        sys.exit(1)
    except Exception as exc:  # a bug or an unexpected environment problem
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        stderr.print(
            f"[bold red]error:[/bold red] {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            highlight=False,
        )
        sys.exit(1)
