"""`batchlake doctor`: check configuration, sources, storage, catalog and metadata."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from batchlake.cli._app import ProjectOption, app
from batchlake.cli._output import stdout


@app.command()
def doctor(project: ProjectOption = Path(".")) -> None:
    """Check that the project can run unattended; print each problem with its fix."""
    from batchlake.config import load_project
    from batchlake.errors import BatchlakeError
    from batchlake.lake import Lake
    from batchlake.ops.doctor import diagnose

    try:
        lake = Lake(load_project(project))
    except BatchlakeError as exc:
        stdout.print(f"[red]✗ configuration[/red]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    stdout.print(f"[green]✓ configuration[/green] ({lake.project.root / 'batchlake.toml'})")
    failed = 0
    for title, problems in diagnose(lake):
        if not problems:
            stdout.print(f"[green]✓ {title}[/green]")
            continue
        failed += len(problems)
        for problem in problems:
            stdout.print(f"[red]✗ {escape(problem.check)}[/red]: {escape(problem.message)}")
            stdout.print(f"    fix: {escape(problem.fix)}")
    if failed:
        stdout.print(f"[red]{failed} problem(s)[/red]")
        raise typer.Exit(1)
    stdout.print("[green]no problems found[/green]")
