"""The SQL an increment runs: scoped inputs, touched values, a kind's final rules.

Built as DuckDB-dialect text with explicit column lists, so the Spark engine runs it
after sqlglot transpiles it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from batchlake.transform.kinds import ModelSettings

SCOPE_TABLE = "batchlake_scope.touched"
CURRENT_TABLE = "batchlake_scope.current"


def scope_expr(settings: ModelSettings) -> Callable[[str], str]:
    """How a scope column's value is taken (a time interval for by_time)."""
    if settings.kind == "incremental_by_time":
        grain = settings.time_grain
        return lambda column: f"date_trunc('{grain}', {ident(column)})"
    return ident


def scoped_sql(sql: str, scoped: set[str], scope: list[str], expr: Callable[[str], str]) -> str:
    """The model's SQL with each scoped input limited to the touched scope values."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    condition = in_scope(scope, expr, alias="__s")
    for table in list(tree.find_all(exp.Table)):
        parts = [p for p in (table.catalog, table.db, table.name) if p]
        name = ".".join(parts)
        if name not in scoped:
            continue
        alias = table.alias_or_name
        select = sqlglot.parse_one(f"SELECT * FROM {name} AS __s WHERE {condition}", read="duckdb")
        assert isinstance(select, exp.Query)
        limited = select.subquery(alias)
        table.replace(limited)
    return tree.sql(dialect="duckdb")


def in_scope(scope: Sequence[str], expr: Callable[[str], str], alias: str = CURRENT_TABLE) -> str:
    """`(cols) IN (SELECT cols FROM touched)` over a row of `alias`."""
    left = ", ".join(_qualified(expr, alias, c) for c in scope)
    right = ", ".join(ident(c) for c in scope)
    if len(scope) > 1:
        left = f"({left})"
    return f"{left} IN (SELECT {right} FROM {SCOPE_TABLE})"


def _qualified(expr: Callable[[str], str], alias: str, column: str) -> str:
    text = expr(column)
    return text.replace(ident(column), f"{alias}.{ident(column)}")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    from batchlake.storage import duckdb_path

    return "'" + duckdb_path(value).replace("'", "''") + "'"
