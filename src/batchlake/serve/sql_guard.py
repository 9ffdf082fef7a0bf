"""The first gate of `POST /query`: a sqlglot AST allow-list.

A query passes when it is exactly one SELECT (with its WITH, UNION/INTERSECT/EXCEPT,
subqueries, VALUES and UNNEST), every table it names is a catalog table of the lake
(`trusted.x`, `refined.x`, `raw.source.entity`) or one of its own CTEs, and it calls no
function that reads files, the network, settings or the host. Everything else is
refused with the reason. The second gate is the connection the query runs in
(`batchlake.serve.reader`): external access disabled and configuration locked, so a hole
in this list still cannot touch a file.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from batchlake.errors import QueryError

# Statement kinds refused wherever they appear (names, so missing classes do not matter).
_STATEMENTS = [
    *("Alter", "Attach", "Cache", "Command", "Commit", "Copy", "Create", "Delete"),
    *("Describe", "Detach", "Drop", "Export", "Insert", "Install", "Kill", "Load"),
    *("LoadData", "Merge", "Pragma", "Refresh", "Rollback", "Set", "Show", "Summarize"),
    *("Transaction", "TruncateTable", "Uncache", "Update", "Use"),
]
_REFUSED_NODES = tuple(getattr(exp, n) for n in _STATEMENTS if hasattr(exp, n))

# Functions that read files or the network, reveal the host or settings, or run SQL.
_REFUSED_PREFIXES = (
    "read_",
    "write_",
    "duckdb_",
    "pragma_",
    "parquet_",
    "iceberg_",
    "delta_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "http",
    "json_execute",
    "sniff_",
    "glob",
    "current_setting",
    "getenv",
    "which_secret",
    "load_",
    "install_",
)
_REFUSED_NAMES = {
    "query",
    "query_table",
    "test_all_types",
    "test_vector_types",
    "checkpoint",
    "force_checkpoint",
    "version",
    "current_version",
    "current_database",
    "current_schema",
    "current_schemas",
    "current_user",
    "user",
    "session_user",
    "system",
    "shell",
    "text",
    "readfile",
    "read_blob",
    "read_text",
    "arrow_scan",
    "arrow_scan_dumb",
    "seq_scan",
    "index_scan",
    "summary",
    "repeat_row",
    "range",
    "generate_series",
}


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed: its SQL and the catalog tables it reads."""

    sql: str
    tables: frozenset[str]


def _refuse(reason: str) -> QueryError:
    return QueryError(f"query refused: {reason}")


def _function_names(node: exp.Func) -> set[str]:
    names = {node.sql_name().lower(), type(node).__name__.lower()}
    if isinstance(node, exp.Anonymous):
        names.add(str(node.name).lower())
    return names


def _refused_function(node: exp.Func) -> str | None:
    for name in _function_names(node):
        if name in _REFUSED_NAMES or name.startswith(_REFUSED_PREFIXES):
            return name
    return None


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _table_name(table: exp.Table) -> str:
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)


def check_query(sql: str, catalog_tables: Collection[str]) -> CheckedQuery:
    """Return the query and the tables it reads, or raise QueryError with the reason."""
    if not sql or not sql.strip():
        raise _refuse("the query is empty; send one SELECT")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise _refuse(f"it does not parse as DuckDB SQL ({first})") from exc
    if len(statements) != 1:
        raise _refuse(f"send exactly one statement (got {len(statements)})")
    tree = statements[0]
    root = tree
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise _refuse(f"only SELECT queries are allowed (got {type(root).__name__.upper()})")
    known = {name.lower() for name in catalog_tables}
    ctes = _cte_names(tree)
    used: set[str] = set()
    for node in tree.walk():
        if isinstance(node, _REFUSED_NODES):
            raise _refuse(f"{type(node).__name__.upper()} is not allowed; only SELECT")
        if isinstance(node, exp.Func):
            refused = _refused_function(node)
            if refused:
                raise _refuse(
                    f"function {refused}() is not allowed (files, network, system "
                    "information and table functions are off limits)"
                )
        if isinstance(node, exp.Table):
            _check_table(node, known, ctes, used)
    return CheckedQuery(sql.strip().rstrip(";"), frozenset(used))


def _check_table(node: exp.Table, known: set[str], ctes: set[str], used: set[str]) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise _refuse(
            "table functions are not allowed in FROM; read catalog tables by name "
            "(e.g. refined.sales_by_day)"
        )
    if node.args.get("version") or node.args.get("when"):
        raise _refuse("time travel in SQL is not supported; use the rows endpoint's as_of")
    name = _table_name(node).lower()
    if not node.db and not node.catalog and name in ctes:
        return
    if name not in known:
        raise _refuse(
            f"'{_table_name(node)}' is not a catalog table; read trusted.<table>, "
            "refined.<table> or raw.<source>.<entity> (GET /api/v1/tables lists them)"
        )
    used.add(name)
