"""`batchlake check` and `batchlake test`: a project's models checked and unit-tested
without its data, as CI runs them on every pull request (docs/ci.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from batchlake.cli._app import ProjectOption, app
from batchlake.cli._output import stderr

if TYPE_CHECKING:
    from batchlake.transform.unit_tests import TestOutcome


@app.command()
def check(
    project: ProjectOption = Path("."),
    write_schemas: Annotated[
        bool,
        typer.Option(
            "--write-schemas",
            help=(
                "First write schemas.toml from this lake: the columns of every captured raw "
                "entity and of Python steps' outputs (run or ingest first). Commit it for CI."
            ),
        ),
    ] = False,
) -> None:
    """Check the project without reading data: batchlake.toml, every model parses, the DAG
    (unknown tables, cycles), and every SQL model compiled against empty tables of its
    inputs' columns (schemas.toml for raw entities), so a wrong column or type fails here.

    Exit code 1 when there is a problem; each names the file and what to fix.
    """
    from batchlake.transform.check import check_project

    if write_schemas:
        _write_schemas(project)
    result = check_project(project)
    for note in result.notes:
        stderr.print(f"[yellow]note[/yellow] {escape(str(note))}", highlight=False, soft_wrap=True)
    for problem in result.problems:
        stderr.print(f"[red]problem[/red] {escape(str(problem))}", highlight=False, soft_wrap=True)
    sql = len(result.models)
    summary = (
        f"{sql} SQL models, {len(result.python)} Python steps; {len(result.compiled)} of "
        f"{sql} models compiled against their inputs' columns in {result.seconds:.2f}s"
    )
    if result.problems:
        stderr.print(
            f"[bold red]check failed[/bold red]: {len(result.problems)} problem(s); {summary}"
        )
        raise typer.Exit(1)
    stderr.print(f"[green]check passed[/green]: {summary}")


def _write_schemas(project: Path) -> None:
    from batchlake.lake import Lake
    from batchlake.transform.models import project_models
    from batchlake.transform.schemas import SCHEMAS_FILE, lake_schemas, render_schemas

    lake = Lake.open(project)
    tables = [f"raw.{s}.{e}" for s, e in lake.metadata.raw_entities()]
    for model in project_models(lake.project).values():
        tables += getattr(model, "outputs", ())
    schemas = lake_schemas(lake, tables)
    path = lake.project.root / SCHEMAS_FILE
    path.write_text(render_schemas(schemas), encoding="utf-8")
    stderr.print(f"[green]wrote[/green] {path}: the columns of {len(schemas)} tables")


@app.command("test")
def test_models(
    project: ProjectOption = Path("."),
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select", "-s", help="Only the tests of these models (names or globs: refined.*)."
        ),
    ] = None,
) -> None:
    """Run the models' unit tests: models/<zone>/<name>.tests.toml beside each model gives
    input rows and the rows expected out; each test runs the model on DuckDB in a scratch
    database (no lake read or written) and shows the missing and unexpected rows on failure.

    Each test of the file has a `name`, `given."<table>".rows` for the tables the model
    reads (a list of {column = value}, or `csv`; columns left out are NULL) and
    `expect.rows`; only the columns named in expect are compared, as multisets.
    Exit code 1 when a test fails. The file format, with examples: docs/ci.md.
    """
    from batchlake.transform.unit_tests import run_unit_tests

    outcomes = run_unit_tests(project, select=select)
    failed = [o for o in outcomes if not o.passed]
    for outcome in outcomes:
        _print_outcome(outcome)
    seconds = sum(o.seconds for o in outcomes)
    if not outcomes:
        stderr.print(
            "no unit tests: add models/<zone>/<name>.tests.toml beside a model (docs/ci.md)"
        )
        return
    if failed:
        stderr.print(
            f"[bold red]{len(failed)} of {len(outcomes)} tests failed[/bold red] ({seconds:.2f}s)"
        )
        raise typer.Exit(1)
    stderr.print(f"[green]{len(outcomes)} tests passed[/green] ({seconds:.2f}s)")


def _print_outcome(outcome: TestOutcome) -> None:
    label = f"{outcome.model}: {outcome.name}"
    if outcome.passed:
        stderr.print(f"[green]PASS[/green] {escape(label)}", highlight=False, soft_wrap=True)
        return
    stderr.print(
        f"[red]FAIL[/red] {escape(label)} ({outcome.where})", highlight=False, soft_wrap=True
    )
    stderr.print(escape(outcome.report()), highlight=False, soft_wrap=True)
