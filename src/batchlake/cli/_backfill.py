"""`batchlake backfill SOURCE[.ENTITY] --from X --to Y`: re-capture a cursor window."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._app import ProjectOption, _lake, _print_run_footer, app
from batchlake.cli._output import stderr


@app.command()
def backfill(
    target: Annotated[str, typer.Argument(help="SOURCE or SOURCE.ENTITY (incremental, sql).")],
    start: Annotated[str, typer.Option("--from", help="Lowest cursor value to re-capture.")],
    end: Annotated[str, typer.Option("--to", help="Highest cursor value to re-capture.")],
    project: ProjectOption = Path("."),
    wait: Annotated[float | None, typer.Option(help="Seconds to wait for another run.")] = None,
) -> None:
    """Re-capture the rows whose cursor is in [--from, --to]; the stored cursor stays."""
    from batchlake.cli._progress import RichReporter
    from batchlake.run.runner import Runner

    lake = _lake(project)
    stderr.print(f"[bold]backfill[/bold] {target} [{start}, {end}] ({lake.project.root})")
    with RichReporter() as reporter:
        result = Runner(lake, reporter).backfill(target, start, end, wait_seconds=wait)
    _print_run_footer(result)
    if not result.ok:
        raise typer.Exit(1)
