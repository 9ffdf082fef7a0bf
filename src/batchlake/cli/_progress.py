"""Progress of a run on stderr, drawn with rich."""

from __future__ import annotations

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from batchlake.cli._output import stderr
from batchlake.run.runner import StepResult
from batchlake.transform.models import Node

STATUS_STYLE = {
    "success": "green",
    "unchanged": "cyan",
    "duplicate": "cyan",
    "failed": "bold red",
    "upstream_failed": "yellow",
    "cancelled": "yellow",
}


class RichReporter:
    """Shows overall progress and the step in flight; prints each finished step."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self.task = self.progress.add_task("starting", total=None, rows="")
        self.rows = 0

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def step_started(self, node: Node, position: int, total: int) -> None:
        self.rows = 0
        verb = "capturing" if node.kind == "ingest" else "building"
        self.progress.update(
            self.task,
            description=f"{verb} {node.name}",
            total=total,
            completed=position - 1,
            rows="",
        )

    def rows_read(self, node: Node, rows: int) -> None:
        self.rows += rows
        self.progress.update(self.task, rows=f"{self.rows:,} rows")

    def step_finished(self, result: StepResult) -> None:
        style = STATUS_STYLE.get(result.status, "white")
        rows = f"{result.rows:,} rows" if result.rows is not None else ""
        shown = result.message and (result.status != "success" or result.rejected)
        note = f" — {escape(result.message or '')}" if shown else ""
        self.progress.console.print(
            f"  [{style}]{result.status:<15}[/{style}] {result.name:<45} {rows:>14} "
            f"{result.seconds:6.2f}s{note}",
            highlight=False,
        )
        self.progress.advance(self.task)
