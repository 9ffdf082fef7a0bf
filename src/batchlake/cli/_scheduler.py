"""`batchlake scheduler`: run pipelines on their schedules until SIGTERM; `--status`."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._app import FormatOption, ProjectOption, _lake, app
from batchlake.cli._output import Format, print_rows, stderr


@app.command()
def scheduler(
    project: ProjectOption = Path("."),
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", help="Schedule only these pipelines (repeatable)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on this port (0: any free port)."),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option(help="Address of the metrics server (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    once: Annotated[
        bool, typer.Option("--once", help="Handle what is due now, then exit (for cron).")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Show every scheduled fire and what became of it.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    r"""Start pipelines (\[pipelines.*] in batchlake.toml) on time, until SIGTERM or Ctrl-C."""
    from batchlake.run.scheduler import Scheduler

    lake = _lake(project)
    if status:
        rows = lake.metadata.pipeline_runs()
        columns = ["pipeline", "scheduled_for", "started_at", "status", "run_id", "reason"]
        print_rows(columns, [tuple(r[c] for c in columns) for r in rows], fmt, title="schedule")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner = Scheduler(lake, stop=stop, pipelines=pipeline)
    if metrics_port is not None:
        from batchlake.ops.monitoring import serve_metrics

        port = serve_metrics(lake, metrics_port, metrics_address)
        stderr.print(f"metrics on http://{metrics_address}:{port}/metrics")
    names = ", ".join(runner.pipelines)
    stderr.print(f"[bold]scheduler[/bold] {lake.settings.name}: {names} (SIGTERM stops it)")
    runner.serve(max_ticks=1 if once else None)
    stderr.print("scheduler stopped")
