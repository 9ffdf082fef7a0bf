"""The Typer app, its shared options and helpers; every command module registers on `app`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from batchlake.cli._output import Format, stderr

if TYPE_CHECKING:
    from batchlake.lake import Lake
    from batchlake.run.results import RunResult

app = typer.Typer(
    name="batchlake",
    help=(
        "A batch data lake on your laptop or at scale: capture sources into the raw zone, "
        "build trusted and refined Iceberg tables with SQL models, query and catalog them."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="The lake project folder (holding batchlake.toml).",
        envvar="BATCHLAKE_PROJECT",
        show_default="current folder",
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="Output format: table (for people), csv or json.")
]

_state = {"debug": False}


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show full tracebacks on errors.", envvar="BATCHLAKE_DEBUG"),
    ] = False,
) -> None:
    _state["debug"] = debug


def _lake(project: Path) -> Lake:
    from batchlake.lake import Lake

    return Lake.open(project)


def _run(
    project: Path,
    *,
    select: list[str] | None,
    full_refresh: bool,
    wait: float | None,
    command: str,
    resume: str | None = None,
) -> RunResult:
    from batchlake.cli._progress import RichReporter
    from batchlake.run.runner import Runner

    lake = _lake(project)
    stderr.print(f"[bold]{command}[/bold] {lake.settings.name} ({lake.project.root})")
    with RichReporter() as reporter:
        result = Runner(lake, reporter).run(
            select, full_refresh=full_refresh, command=command, wait_seconds=wait, resume=resume
        )
    _print_run_footer(result)
    return result


def _print_run_footer(result: RunResult) -> None:
    counts = {
        s: result.count(s)
        for s in ("success", "unchanged", "duplicate", "failed", "upstream_failed", "cancelled")
    }
    parts = [f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n]
    style = "green" if result.ok else "red"
    stderr.print(
        f"[{style}]run {result.run_id} {result.status}[/{style}] in "
        f"{result.seconds:.1f}s: {', '.join(parts) or 'nothing to do'}"
    )
    if counts["duplicate"]:
        stderr.print(
            f"  {counts['duplicate']} captured batch(es) equal an earlier batch: "
            "recorded as duplicates, not written again"
        )
    rejected = sum(step.rejected for step in result.steps)
    if rejected:
        stderr.print(
            f"  [yellow]{rejected} bad row(s)[/yellow] left out of captures "
            "(quarantine files under lake/raw/<source>/<entity>/_quarantine/)"
        )
    for step in result.steps:
        if step.status == "failed":
            stderr.print(f"  [red]{step.name}[/red]: {escape(step.message or '')}")
    by_engine: dict[str, list[str]] = {}
    for step in result.steps:
        if step.engine:
            by_engine.setdefault(step.engine, []).append(step.name)
    if len(by_engine) > 1:  # engine = "auto" chose per model
        stderr.print("  ran on " + "; ".join(f"{e}: {', '.join(n)}" for e, n in by_engine.items()))
