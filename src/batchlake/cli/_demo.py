"""`batchlake demo`: generate the Chinook store for a project and print the run's summary.

`generate_if_needed` writes `<project>/data/chinook.sqlite` (skipped when the file was
already generated with the same parameters); the project itself is in `batchlake/demo/project/`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.cli._output import stderr
from batchlake.demo import DEMO_DB

if TYPE_CHECKING:
    from batchlake.lake import Lake
    from batchlake.run.runner import RunResult


def generate_if_needed(project_dir: Path, *, invoices: int, seed: int) -> Path:
    """Generate the demo store database for the project, unless it is already there."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from batchlake.demo.generator import generate

    target = project_dir / DEMO_DB
    marker = target.with_suffix(".params.json")
    params = {"invoices": invoices, "seed": seed}
    if target.exists() and marker.exists() and json.loads(marker.read_text()) == params:
        stderr.print(f"reusing {target} ({invoices:,} invoices, seed {seed})")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with Progress(
        "generating the store database",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("generate", total=invoices)
        stats = generate(
            target,
            invoices=invoices,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    marker.write_text(json.dumps(params))
    stderr.print(
        f"[green]generated[/green] {target}: {stats.invoices:,} invoices, "
        f"{stats.invoice_lines:,} invoice lines, {stats.customers:,} customers "
        f"in {stats.seconds:.1f}s"
    )
    return target


EXAMPLE_INVOICES = 5000  # what `batchlake demo` generates by default
EXAMPLE_SEED = 42


def prepare_example(directory: Path, example: str | None, *, data: bool) -> str:
    """After `init`: generate what the example reads (Chinook: its store database, as
    `batchlake demo` does) unless `data` is false; return the command to run next.

    The command is printed for the user to paste, so it must work as printed: after `cd`,
    a `batchlake` that is not on PATH is named by its absolute path.
    """
    import shlex

    exe = _runnable_command()
    into = (
        ""
        if directory.resolve() == Path.cwd().resolve()
        else f"cd {shlex.quote(str(directory))} && "
    )
    if example != "chinook":
        return f"{into}{exe} run"
    if not data:
        return (
            f"{into}CHINOOK_URL=<your Chinook store: sqlite:///… or postgresql://…> {exe} run"
            f"   (or {into}{exe} demo -p . to generate {DEMO_DB} and run)"
        )
    generate_if_needed(directory, invoices=EXAMPLE_INVOICES, seed=EXAMPLE_SEED)
    return f"{into}{exe} run"


def _runnable_command() -> str:
    """How to run this `batchlake` from any folder: its name when the shell finds it there,
    else its absolute path (or `python -m batchlake`)."""
    import shlex
    import shutil

    running = Path(sys.argv[0]).resolve()
    found = shutil.which("batchlake")
    if found and (running.name != "batchlake" or Path(found).resolve() == running):
        return "batchlake"
    if running.name == "batchlake":
        return shlex.quote(str(running))
    return f"{shlex.quote(sys.executable)} -m batchlake"


def print_demo_summary(lake: Lake, result: RunResult, seconds: float) -> None:
    """Tables, rows and time per step, then the commands to try next."""
    from batchlake.cli._output import Format, print_rows

    rows = [(s.name, s.kind, s.status, s.rows, round(s.seconds, 2)) for s in result.steps]
    print_rows(
        ["table", "step", "status", "rows", "seconds"],
        rows,
        Format.table,
        title=f"demo run {result.run_id}: {result.status} in {seconds:.1f}s",
    )
    root = lake.project.root
    try:
        shown = root.relative_to(Path.cwd())
    except ValueError:
        shown = root
    exe = _command_name()
    stderr.print("\n[bold]Try next:[/bold]")
    for command in (
        f'batchlake query -p {shown} "SELECT * FROM refined.sales_by_month ORDER BY rank LIMIT 5"',
        f"batchlake catalog -p {shown}",
        f"batchlake catalog -p {shown} refined.top_artists_by_month",
        f"batchlake runs -p {shown}",
        f"batchlake run -p {shown}    # again: unchanged data is not captured twice",
    ):
        stderr.print(f"  {command.replace('batchlake', exe, 1)}", highlight=False)


def _command_name() -> str:
    """`batchlake` when that is what the shell finds, else the path that ran this process."""
    import shutil

    running = Path(sys.argv[0]).resolve()
    found = shutil.which("batchlake")
    if running.name != "batchlake" or (found and Path(found).resolve() == running):
        return "batchlake"
    try:
        return str(running.relative_to(Path.cwd()))
    except ValueError:
        return str(running)
