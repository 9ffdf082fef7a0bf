"""`batchlake quality [TABLE]`: results of the data-quality checks, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._app import FormatOption, ProjectOption, _lake, app
from batchlake.cli._output import Format, print_rows


@app.command()
def quality(
    table: Annotated[str | None, typer.Argument(help="Only the checks of this table.")] = None,
    project: ProjectOption = Path("."),
    fmt: FormatOption = Format.table,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Only the checks of this run.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many results to list.")] = 50,
) -> None:
    """Data-quality check results (declared in models/<zone>/<name>.checks.toml)."""
    rows = _lake(project).metadata.quality_results(table, run_id)[:limit]
    columns = ["table", "check", "severity", "status", "failing_rows", "run_id", "checked_at"]
    print_rows(
        [*columns, "message"],
        [tuple(r[c] for c in [*columns, "message"]) for r in rows],
        fmt,
        title="quality",
    )
