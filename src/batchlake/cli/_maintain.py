"""`batchlake maintain`: expire old snapshots and raw batches, delete orphans, compact."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._app import FormatOption, ProjectOption, _lake, app
from batchlake.cli._output import Format, print_rows, stderr


@app.command()
def maintain(
    tables: Annotated[
        list[str] | None,
        typer.Argument(help="Tables to maintain (default: every table and raw entity)."),
    ] = None,
    project: ProjectOption = Path("."),
    retain_days: Annotated[
        float, typer.Option(min=0, help="Expire snapshots older than this many days…")
    ] = 7,
    keep: Annotated[int, typer.Option(min=1, help="…but always keep this many newest.")] = 5,
    grace_hours: Annotated[
        float,
        typer.Option(
            min=0, help="Delete unreferenced files only when older than this (longer than a run)."
        ),
    ] = 24,
    compact: Annotated[
        bool, typer.Option(help="Rewrite tables spread over many small files into fewer.")
    ] = True,
    raw_retention: Annotated[
        bool,
        typer.Option(
            help="Expire raw batches by the sources' raw_retention / raw_keep_batches "
            "(never one an incremental model has not consumed)."
        ),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option(help="Report what would be done; change nothing.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Tidy the lake: old snapshots and raw batches, orphan files of failed writes, small files."""
    from batchlake.ops.maintenance import Policy
    from batchlake.ops.maintenance import maintain as run_maintenance

    lake = _lake(project)
    policy = Policy(
        retain=timedelta(days=retain_days),
        keep_last=keep,
        grace=timedelta(hours=grace_hours),
        raw_retention=raw_retention,
        dry_run=dry_run,
    )
    stderr.print(f"[bold]maintain[/bold] {lake.settings.name}{' (dry run)' if dry_run else ''}")
    reports = run_maintenance(lake, tables or None, policy=policy, compact=compact)
    print_rows(
        [
            "table",
            "snapshots_expired",
            "snapshots_left",
            "batches_expired",
            "expired_bytes",
            "batches_held",
            "orphans_deleted",
            "orphan_bytes",
            "files_before",
            "files_after",
            "notes",
        ],
        [
            (
                r.name,
                r.snapshots_expired,
                r.snapshots_left if not r.name.startswith("raw.") else None,
                r.batches_expired if r.name.startswith("raw.") else None,
                r.expired_bytes if r.name.startswith("raw.") else None,
                r.batches_held if r.name.startswith("raw.") else None,
                r.orphans_deleted,
                r.orphan_bytes,
                r.files_before,
                r.files_after,
                "; ".join(r.notes) or None,
            )
            for r in reports
        ],
        fmt,
        title="maintenance" + (" (dry run: nothing changed)" if dry_run else ""),
    )
