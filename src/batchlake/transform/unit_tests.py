"""`batchlake test`: models' unit tests, declared beside each model.

`models/<zone>/<name>.tests.toml` holds `[[test]]` tables: rows given for the tables the
model reads, and the rows expected out of it.

```toml
[[test]]
name = "an invoice of two lines is one sale of both amounts"
[test.given."trusted.sales"]      # a table the model reads; columns left out are NULL
rows = [
  { sale_date = 2024-01-05, invoice_id = 1, amount = "1.98", quantity = 2 },
  { sale_date = 2024-01-05, invoice_id = 1, amount = "0.99", quantity = 1 },
]
[test.expect]                     # only the columns named here are compared
rows = [{ sale_date = 2024-01-05, invoices = 1, total_amount = "2.97" }]
```

Rows may also be given as CSV text (`csv = '''...'''`, a header line, empty = NULL).
Each test runs in its own in-memory DuckDB database: every input is an empty table of its
columns (`transform.check`: schemas.toml and the upstream models compiled), the given
rows are inserted (values are cast to the columns' types), and the model's SELECT runs
on them. Rows are compared as multisets (order and duplicates count as in SQL's
`EXCEPT ALL`); floating-point columns are compared rounded to 6 decimals. A failure lists
the expected rows missing from the result and the result's unexpected rows.
The model's SQL runs as a full build whatever its kind: incremental kinds change which
input rows a run reads, not what the SELECT computes from them.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

from batchlake.config.base import load_toml_tables
from batchlake.errors import BatchlakeError, ConfigError
from batchlake.transform.check import (
    TESTS_SUFFIX,
    ProjectSchemas,
    check_project,
    compile_model,
    create_schemas,
    create_table,
)
from batchlake.transform.schemas import Columns

if TYPE_CHECKING:
    import duckdb

    from batchlake.transform.models import Model

_FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
_DECIMALS = 6
Value = str | int | float | bool | date | datetime


class Rows(BaseModel):
    """Rows of a table, as a list of tables (`rows = [{...}]`) or as CSV text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: list[dict[str, Any]] | None = None
    csv: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Rows:
        if (self.rows is None) == (self.csv is None):
            raise ValueError("give either rows = [{...}] or csv = '''...'''")
        return self

    def records(self) -> list[dict[str, Any]]:
        """The rows as column -> value dicts (a CSV's empty fields are NULL)."""
        if self.rows is not None:
            return self.rows
        import csv
        import io

        assert self.csv is not None
        reader = csv.DictReader(io.StringIO(self.csv.strip()))
        return [{k.strip(): (v if v != "" else None) for k, v in row.items()} for row in reader]

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        if self.csv is not None:
            return [c.strip() for c in self.csv.strip().splitlines()[0].split(",")]
        for row in self.records():
            seen.update(dict.fromkeys(row))
        return list(seen)


class UnitTest(BaseModel):
    """One `[[test]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    given: dict[str, Rows] = {}
    expect: Rows


@dataclass
class TestOutcome:
    """The result of one unit test; `missing` and `unexpected` rows when it failed."""

    __test__ = False  # not a pytest class

    model: str
    name: str
    where: str  # the tests file, relative to the project
    error: str | None = None  # the test could not run (bad input, model does not compile)
    columns: list[str] = field(default_factory=list)
    missing: list[tuple[Any, ...]] = field(default_factory=list)  # expected, not produced
    unexpected: list[tuple[Any, ...]] = field(default_factory=list)  # produced, not expected
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.missing and not self.unexpected

    def report(self) -> str:
        """What failed, as text: the error, or the diff of rows (- missing, + unexpected)."""
        if self.error is not None:
            return f"  {self.error}"
        lines = [
            f"  {len(self.missing)} expected row(s) missing (-), "
            f"{len(self.unexpected)} unexpected row(s) in the result (+):"
        ]
        table = [["", *self.columns]]
        table += [["-", *map(_show, row)] for row in self.missing]
        table += [["+", *map(_show, row)] for row in self.unexpected]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        ]
        return "\n".join(lines)


def _show(value: Any) -> str:
    return "NULL" if value is None else str(value)


def load_unit_tests(path: Path) -> list[UnitTest]:
    """The `[[test]]` tables of a `<name>.tests.toml` file (ConfigError naming the key)."""
    return load_toml_tables(path, "test", UnitTest)


def run_unit_tests(root: Path, *, select: list[str] | None = None) -> list[TestOutcome]:
    """Run the unit tests of the project in `root` (of the models matching `select`).

    A project whose models do not load or whose tests files do not parse raises the
    error of the first such file (run `batchlake check` for all of them)."""
    schemas = check_project(root)
    if schemas.project is None:
        raise ConfigError(str(schemas.problems[0]))
    project = schemas.project
    outcomes: list[TestOutcome] = []
    patterns = [p for text in select or [] for p in text.replace(",", " ").split()]
    for path in sorted(project.models_dir.glob(f"*/*{TESTS_SUFFIX}")):
        full_name = f"{path.parent.name}.{path.name.removesuffix(TESTS_SUFFIX)}"
        if patterns and not any(fnmatch.fnmatchcase(full_name, p) for p in patterns):
            continue
        where = str(path.relative_to(project.root))
        model = schemas.models.get(full_name)
        if model is None:
            problems = [p.message for p in schemas.problems if p.where.endswith(f"{path.stem}.sql")]
            reason = problems[0] if problems else "there is no such SQL model"
            outcomes.append(TestOutcome(full_name, "(all)", where, error=reason))
            continue
        for test in load_unit_tests(path):
            outcomes.append(run_unit_test(model, test, schemas, where))
    return outcomes


def run_unit_test(model: Model, test: UnitTest, schemas: ProjectSchemas, where: str) -> TestOutcome:
    """Run one test of `model` in a scratch in-memory DuckDB database."""
    from batchlake.engines import connection

    started = time.perf_counter()
    outcome = TestOutcome(model.full_name, test.name, where)
    con = connection.connect(threads=1)
    try:
        create_schemas(con)
        _given(con, model, test, schemas)
        result = ProjectSchemas(schemas.project, problems=[])
        result.columns = dict(schemas.columns)
        columns = compile_model(con, model, result)
        if columns is None:
            raise _TestError(result.problems[0].message)
        _compare(con, model, test, columns, outcome)
    except _TestError as exc:
        outcome.error = str(exc)
    finally:
        con.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


class _TestError(BatchlakeError):
    """The test cannot run as written: the message says what to change."""


def _given(
    con: duckdb.DuckDBPyConnection, model: Model, test: UnitTest, schemas: ProjectSchemas
) -> None:
    """The model's inputs as tables: the given rows, or empty."""
    for table in test.given:
        if table not in model.depends_on:
            raise _TestError(
                f"given {table}, which {model.full_name} does not read "
                f"(it reads {', '.join(sorted(model.depends_on))})"
            )
    for table in sorted(model.depends_on):
        rows = test.given.get(table)
        columns = schemas.columns.get(table)
        if columns is None:
            if table in schemas.models:
                raise _TestError(
                    f"its input {table} does not compile, so its columns are unknown; "
                    "run 'batchlake check'"
                )
            if rows is None:
                raise _TestError(
                    f"{model.full_name} reads {table}, whose columns are unknown: give its rows "
                    f'([test.given."{table}"]) or declare it in schemas.toml'
                )
            columns = _inferred(rows)
        create_table(con, table, columns)
        if rows is not None:
            _insert(con, table, columns, rows, f"given {table}")


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Columns,
    rows: Rows,
    label: str,
    shown: str | None = None,
) -> None:
    import duckdb
    from sqlglot import exp

    types = dict(columns)
    names = rows.columns()
    unknown = [c for c in names if c not in types]
    if unknown:
        raise _TestError(
            f"{label}: no column {', '.join(unknown)} in {shown or table} "
            f"(its columns: {', '.join(types)})"
        )
    if not names:
        return
    target = exp.to_table(table, dialect="duckdb")
    for part in (target.args.get("catalog"), target.args.get("db"), target.this):
        if isinstance(part, exp.Identifier):
            part.set("quoted", True)
    listed = ", ".join(exp.to_identifier(c, quoted=True).sql(dialect="duckdb") for c in names)
    marks = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {target.sql(dialect='duckdb')} ({listed}) VALUES ({marks})"
    for number, record in enumerate(rows.records(), start=1):
        values = [_param(record.get(c)) for c in names]
        try:
            con.execute(sql, values)
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            raise _TestError(
                f"{label} row {number}: {message} (columns: "
                f"{', '.join(f'{c} {types[c]}' for c in names)})"
            ) from exc


def _inferred(rows: Rows) -> Columns:
    """Columns for rows of a table whose columns are not declared: each column's type
    from its TOML values (CSV values are text)."""
    columns = []
    for name in rows.columns():
        kinds = {type(r[name]) for r in rows.records() if r.get(name) is not None}
        type_name = "VARCHAR"
        if len(kinds) == 1:
            type_name = _TOML_TYPES.get(kinds.pop(), "VARCHAR")
        elif kinds == {int, float}:
            type_name = "DOUBLE"
        columns.append((name, type_name))
    return columns


_TOML_TYPES = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE", date: "DATE", datetime: "TIMESTAMP"}


def _param(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value)
    return value


def _compare(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    test: UnitTest,
    columns: Columns,
    outcome: TestOutcome,
) -> None:
    import duckdb

    types = dict(columns)
    names = test.expect.columns()
    if not names:
        names = list(types)  # rows = []: the result must be empty
    create_table(con, "__expected", [(c, types.get(c, "VARCHAR")) for c in names])
    _insert(con, "__expected", columns, test.expect, "expect", f"the result of {model.full_name}")
    create_table(con, "__actual", columns)  # the types of the written table
    try:
        con.execute(f"INSERT INTO __actual {model.sql}")
    except duckdb.Error as exc:
        raise _TestError(f"the model failed on the given rows: {str(exc).splitlines()[0]}") from exc
    projected = ", ".join(_compared(c, types[c]) for c in names)
    order = ", ".join(str(i + 1) for i in range(len(names)))
    outcome.columns = names
    outcome.missing = con.execute(
        f"SELECT {projected} FROM __expected EXCEPT ALL SELECT {projected} FROM __actual "
        f"ORDER BY {order}"
    ).fetchall()
    outcome.unexpected = con.execute(
        f"SELECT {projected} FROM __actual EXCEPT ALL SELECT {projected} FROM __expected "
        f"ORDER BY {order}"
    ).fetchall()


def _compared(column: str, type_name: str) -> str:
    from sqlglot import exp

    ident = exp.to_identifier(column, quoted=True).sql(dialect="duckdb")
    if type_name.upper() in _FLOAT_TYPES:
        return f"round({ident}, {_DECIMALS}) AS {ident}"
    return ident
