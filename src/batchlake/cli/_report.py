"""`batchlake report`: render the project's declared charts to PNGs and one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._output import stderr


def report(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the PNGs and report.html.")
    ] = Path("report"),
    project: Annotated[
        Path,
        typer.Option(
            "--project",
            "-p",
            help="The lake project folder (holding batchlake.toml).",
            envvar="BATCHLAKE_PROJECT",
            show_default="current folder",
        ),
    ] = Path("."),
) -> None:
    """Draw the charts declared in batchlake.toml to PNGs and one offline report.html."""
    from batchlake.analytics.report import render_report
    from batchlake.lake import Lake

    result = render_report(Lake.open(project), out)
    for chart in result.charts:
        note = "" if chart.rows else "  [yellow](no rows)[/yellow]"
        stderr.print(f"  {chart.png.name}: {chart.chart.title}{note}")
    stderr.print(f"[green]wrote[/green] {len(result.charts)} charts and {result.html}")
    print(result.html)
