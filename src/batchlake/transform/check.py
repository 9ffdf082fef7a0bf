"""`batchlake check`: a project's configuration, models and DAG, checked without data.

In order: `batchlake.toml` loads; every model file parses (its SQL, `<name>.toml` kind,
`<name>.checks.toml` checks) and every Python step loads; every table a model reads
exists (a model, a Python step's output, or a raw entity of a declared source) and the
models form no cycle; then every SQL model is compiled, in DAG order, against EMPTY
DuckDB tables of its inputs' columns: raw entities and Python outputs from
`schemas.toml` (`transform.schemas`), upstream models from compiling them. A wrong
column, a type error or a missing function fails here, naming the model file. The
columns a model's kind, partition spec and quality checks name must be in its result.

No data is read and nothing is written: only the project's files are opened.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.catalog import ZONES
from batchlake.catalog.references import zone_hint
from batchlake.errors import BatchlakeError
from batchlake.transform.models import CHECKS_SUFFIX, Model, PythonModel, load_model
from batchlake.transform.schemas import SCHEMAS_FILE, Columns, describe, load_schemas

if TYPE_CHECKING:
    import duckdb

    from batchlake.config import Project

TESTS_SUFFIX = ".tests.toml"  # a model's unit tests, beside its SQL (transform.unit_tests)
_OWN_SUFFIXES = (CHECKS_SUFFIX, TESTS_SUFFIX)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
_UNSET = "unset-variable"


def project_variables(project_file: Path, *, required: bool = False) -> list[str]:
    """The environment variables a `batchlake.toml` reads (`${VAR}`, `${VAR:-default}`),
    outside comments; with `required`, only those used without a default."""
    if not project_file.is_file():
        return []
    text = "\n".join(
        line
        for line in project_file.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )
    found = list(_VARIABLE.finditer(text))
    return sorted({m.group(1) for m in found if not required or m.group(2) is None})


@dataclass(frozen=True)
class Problem:
    """Something to fix: the file it is in and a message saying what is wrong and how."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ProjectSchemas:
    """What checking a project found: its models, and the columns of every table known."""

    project: Project | None
    models: dict[str, Model] = field(default_factory=dict)
    python: dict[str, PythonModel] = field(default_factory=dict)
    columns: dict[str, Columns] = field(default_factory=dict)  # table -> its columns
    compiled: list[str] = field(default_factory=list)  # SQL models compiled, in order
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # not wrong, but not checked either
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_project(root: Path) -> ProjectSchemas:
    """Check the project in `root` (see the module's description); never raises for a
    problem of the project: each one is listed in the result's `problems`."""
    from batchlake.config import load_project

    started = time.perf_counter()
    result = ProjectSchemas(None)
    # CI checks pull requests without secrets: unset variables get a placeholder
    needed = project_variables(Path(root) / "batchlake.toml", required=True)
    unset = [name for name in needed if not os.environ.get(name)]
    try:
        result.project = load_project(root, env={**os.environ, **dict.fromkeys(unset, _UNSET)})
    except BatchlakeError as exc:
        result.problems.append(Problem("batchlake.toml", str(exc)))
        return result
    if unset:
        result.notes.append(
            Problem(
                "batchlake.toml",
                f"checked with placeholders for the unset variables {', '.join(unset)} "
                "(nothing is connected to)",
            )
        )
    project = result.project
    with _collect(result, SCHEMAS_FILE):
        result.columns.update(load_schemas(project.root))
    _load_files(project, result)
    graph = _dependencies(project, result)
    if graph is not None:
        from batchlake.engines import connection

        con = connection.connect(threads=1)
        try:
            _compile_all(con, graph, result)
        finally:
            con.close()
    result.seconds = time.perf_counter() - started
    return result


@contextmanager
def _collect(result: ProjectSchemas, where: str) -> Iterator[None]:
    try:
        yield
    except BatchlakeError as exc:
        message = str(exc)
        if message.startswith(f"{where}: "):
            message = message[len(where) + 2 :]
        result.problems.append(Problem(where, message))


def _relative(project: Project, path: Path) -> str:
    return str(path.relative_to(project.root))


# -- files -------------------------------------------------------------------------------------


def _load_files(project: Project, result: ProjectSchemas) -> None:
    from batchlake.transform.models import load_python_models
    from batchlake.transform.quality import load_checks

    models_dir = project.models_dir
    for zone in ZONES:
        folder = models_dir / zone
        for path in sorted(folder.glob("*.sql")):
            with _collect(result, _relative(project, path)):
                model = load_model(path, zone, models_dir)
                result.models[model.full_name] = model
            checks = path.with_name(f"{path.stem}{CHECKS_SUFFIX}")
            if checks.is_file():
                with _collect(result, _relative(project, checks)):
                    load_checks(models_dir, f"{zone}.{path.stem}")
        for path in sorted(folder.glob("*.toml")):
            stem = path.name.removesuffix(".toml")
            for suffix in _OWN_SUFFIXES:
                stem = path.name.removesuffix(suffix) if path.name.endswith(suffix) else stem
            if not path.with_name(f"{stem}.sql").is_file():
                result.problems.append(
                    Problem(
                        _relative(project, path),
                        f"there is no model {zone}/{stem}.sql for it; rename it after its "
                        "model (<name>.toml, <name>.checks.toml, <name>.tests.toml) or remove it",
                    )
                )
    with _collect(result, "python/"):
        result.python = load_python_models(project.root / "python")
        steps = sorted(m.name for m in result.python.values())
        for name in project.settings.python:
            if name not in steps:
                result.problems.append(
                    Problem(
                        "batchlake.toml",
                        f"[python.{name}] names no Python step; steps in python/*.py: "
                        f"{', '.join(steps) or 'none'}",
                    )
                )


# -- the DAG -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Graph:
    order: list[str]  # every table, inputs first
    reads: dict[str, frozenset[str]]  # a model's input tables
    outputs: dict[str, str]  # a Python step's output table -> the step


def _dependencies(project: Project, result: ProjectSchemas) -> _Graph | None:
    """Every model's inputs resolved (problems for those that are not), then the order."""
    outputs = {out: step for step, model in result.python.items() for out in model.outputs}
    for output, step in outputs.items():
        if output in result.models:
            result.problems.append(
                Problem(result.python[step].where, f"writes {output}, which a SQL model builds")
            )
    sources = project.settings.sources
    reads: dict[str, frozenset[str]] = {}
    every: list[tuple[str, Model | PythonModel]] = [*result.models.items()]
    every += result.python.items()
    for name, model in every:
        where = _where(project, model)
        for dep in sorted(model.depends_on):
            zone = dep.split(".")[0]
            if dep in result.models or dep in outputs:
                continue
            if zone == "raw" and dep.count(".") == 2:
                source = dep.split(".")[1]
                if source not in sources:
                    result.problems.append(
                        Problem(
                            where,
                            f"reads '{dep}', but there is no source '{source}' in "
                            f"batchlake.toml (sources: {', '.join(sources) or 'none'})",
                        )
                    )
                    continue
                _raw_known(dep, result, where)
                continue
            hint = (
                f"add models/{dep.replace('.', '/')}.sql or fix the name"
                if zone in ZONES
                else "write it as trusted.<name>, refined.<name> or raw.<source>.<entity>"
            )
            result.problems.append(
                Problem(where, f"reads '{dep}', which is not in the project; {hint}")
            )
        reads[name] = frozenset(outputs.get(dep, dep) for dep in model.depends_on)
    try:
        order = list(TopologicalSorter({n: set(d) for n, d in reads.items()}).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        result.problems.append(
            Problem(
                "models/", f"models form a cycle: {cycle}; one of them must stop reading the next"
            )
        )
        return None
    return _Graph(order, reads, outputs)


def _raw_known(dep: str, result: ProjectSchemas, where: str) -> None:
    """A raw entity of a declared source: its columns should be in schemas.toml."""
    if dep in result.columns:
        return
    source = dep.split(".")[1]
    known = sorted(t for t in result.columns if t.startswith(f"raw.{source}."))
    if known:  # the source's entities are declared, this one is not: most likely a typo
        result.problems.append(
            Problem(
                where,
                f"reads '{dep}', which {SCHEMAS_FILE} does not declare (entities of "
                f"{source}: {', '.join(t.split('.')[2] for t in known)}); fix the name, or "
                f"add its columns to {SCHEMAS_FILE} ('batchlake check --write-schemas' after "
                "capturing it)",
            )
        )
    elif not any(n.where == dep for n in result.notes):
        result.notes.append(
            Problem(
                dep,
                f"columns unknown: models reading it are parsed but not compiled; declare them "
                f"in {SCHEMAS_FILE} ('batchlake check --write-schemas' after a capture)",
            )
        )


def _where(project: Project, model: Model | PythonModel) -> str:
    if isinstance(model, PythonModel):
        return model.where
    return _relative(project, model.path)


# -- compiling ---------------------------------------------------------------------------------


def _compile_all(con: duckdb.DuckDBPyConnection, graph: _Graph, result: ProjectSchemas) -> None:
    assert result.project is not None
    project = result.project
    create_schemas(con)
    for table, columns in result.columns.items():
        create_table(con, table, columns)
    for output, step in graph.outputs.items():
        if output not in result.columns:
            result.notes.append(
                Problem(
                    result.python[step].where,
                    f"columns of its output {output} unknown: SQL models reading it are not "
                    f"compiled; declare them in {SCHEMAS_FILE} ('--write-schemas' after a run)",
                )
            )
    for name in graph.order:
        model = result.models.get(name)
        if model is None:
            continue
        missing = sorted(dep for dep in graph.reads[name] if dep not in result.columns)
        if missing:
            continue  # noted where they are unknown, or an upstream problem
        compiled = compile_model(con, model, result)
        if compiled is not None:
            result.columns[name] = compiled
            create_table(con, name, compiled)
            result.compiled.append(name)
            _check_named_columns(project, model, compiled, result)


def compile_model(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    result: ProjectSchemas,
) -> Columns | None:
    """The columns a model's result has in its Iceberg table (DuckDB types after the casts
    made on write), or None with a problem naming the model file and the fix."""
    import duckdb

    from batchlake.engines.duckdb import portable_type

    assert result.project is not None
    where = _where(result.project, model)
    try:
        described = describe(con, model.sql)
    except duckdb.Error as exc:
        result.problems.append(Problem(where, _compile_message(str(exc), model, result)))
        return None
    names = [name for name, _ in described]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        result.problems.append(
            Problem(
                where,
                f"the result has more than one column named {', '.join(twice)}; "
                "give each column its own name (AS ...)",
            )
        )
        return None
    return [(name, portable_type(type_name)) for name, type_name in described]


def _compile_message(error: str, model: Model, result: ProjectSchemas) -> str:
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    text = lines[0] if lines else error
    extra: list[str] = []
    for line in lines[1:]:
        if line.startswith("LINE ") or len(extra) == 3:
            break
        extra.append(line)
    if extra:
        text += f" ({' '.join(extra)})"
    hint = zone_hint(error, set(model.depends_on), set(result.columns))
    if hint:
        return f"does not compile: {hint}"
    inputs = [
        f"{dep} ({', '.join(c for c, _ in result.columns[dep])})"
        for dep in sorted(model.depends_on)
        if dep in result.columns
    ]
    if "not found" in error and inputs:
        return f"does not compile: {text}. Columns of its inputs: {'; '.join(inputs)}"
    return f"does not compile against its inputs' columns: {text}"


def _check_named_columns(
    project: Project, model: Model, columns: Columns, result: ProjectSchemas
) -> None:
    """The columns its `<name>.toml` and `<name>.checks.toml` name are in its result."""
    from batchlake.transform.quality import load_checks

    have = {name for name, _ in columns}
    listed = ", ".join(name for name, _ in columns)
    settings = model.settings
    named = [*settings.unique_key, settings.order_by, settings.tombstone, settings.time_column]
    named += [p.column for p in settings.partitions]
    toml = model.path.with_suffix(".toml")
    for column in sorted({c for c in named if c and c not in have}):
        result.problems.append(
            Problem(
                _relative(project, toml),
                f"names column '{column}', which {model.full_name} does not have "
                f"(its columns: {listed})",
            )
        )
    try:
        checks = load_checks(project.models_dir, model.full_name)
    except BatchlakeError:
        return  # already reported
    path = model.path.with_name(f"{model.name}{CHECKS_SUFFIX}")
    for check in checks:
        for column in [*check.columns, check.column or ""]:
            if column and column not in have:
                result.problems.append(
                    Problem(
                        _relative(project, path),
                        f"check {check.label} names column '{column}', which "
                        f"{model.full_name} does not have (its columns: {listed})",
                    )
                )
        if check.to and check.to not in result.columns and check.to not in result.models:
            result.problems.append(
                Problem(
                    _relative(project, path),
                    f"check {check.label} refers to {check.to}, which is not in the project",
                )
            )


# -- scratch tables ----------------------------------------------------------------------------


def create_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """The zones as DuckDB names resolve them: `raw` a database, trusted/refined schemas."""
    con.execute("ATTACH ':memory:' AS raw")
    for zone in ZONES:
        if zone != "raw":
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {zone}")


def create_table(con: duckdb.DuckDBPyConnection, table: str, columns: Columns) -> None:
    """An empty table `table` (raw.s.e or zone.name) with `columns`."""
    from sqlglot import exp

    parts = [exp.to_identifier(p, quoted=True) for p in table.split(".")]
    if table.startswith("raw."):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS raw.{parts[1].sql(dialect='duckdb')}")
    target = exp.Table(
        this=parts[-1],
        db=parts[-2] if len(parts) > 1 else None,
        catalog=parts[0] if len(parts) == 3 else None,
    )
    schema = exp.Schema(
        this=target,
        expressions=[
            exp.ColumnDef(
                this=exp.to_identifier(name, quoted=True),
                kind=exp.DataType.build(type_name, dialect="duckdb"),
            )
            for name, type_name in columns
        ],
    )
    create = exp.Create(this=schema, kind="TABLE", replace=True)
    con.execute(create.sql(dialect="duckdb"))
