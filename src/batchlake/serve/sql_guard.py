"""The first gate of `POST /query`: a sqlglot AST allow-list.

A query passes when it is exactly one SELECT (with its WITH, UNION/INTERSECT/EXCEPT,
subqueries, VALUES and UNNEST), every table it names is a catalog table of the lake
(`trusted.x`, `refined.x`, `raw.source.entity`) or a CTE *in scope where it is named*,
and it calls no function that reads files, the network, settings or the host.
Everything else is refused with the reason.

Names are resolved as DuckDB resolves them: sqlglot's scope tools say which CTEs each
FROM can see (a CTE declared inside a subquery does not exist outside it, and a
recursive CTE's base term sees the catalog, not itself), and identifiers are compared
case-insensitively, as DuckDB compares them. The second gate is the process and the
connection the query runs in (`batchlake.serve.sandbox`, `batchlake.serve.query_pool`): no
readable directory, configuration locked, memory and time bounded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, build_scope

from batchlake.errors import QueryError
from batchlake.serve.limits import check_text

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


def _table_name(table: exp.Table) -> str:
    return ".".join(part for part in (table.catalog, table.db, table.name) if part)


def check_query(sql: str, catalog_tables: Collection[str]) -> CheckedQuery:
    """Return the query and the tables it reads, or raise QueryError with the reason."""
    check_text(sql)
    if not sql.strip():
        raise _refuse("the query is empty; send one SELECT")
    try:
        return _check(sql, catalog_tables)
    except RecursionError:
        raise _refuse(
            "it nests too deeply to be checked (about 50 levels of parentheses or "
            "subqueries at most); flatten it, e.g. with WITH"
        ) from None


def _check(sql: str, catalog_tables: Collection[str]) -> CheckedQuery:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise _refuse(f"it does not parse as DuckDB SQL ({first[:200]})") from None
    if len(statements) != 1:
        raise _refuse(f"send exactly one statement (got {len(statements)})")
    # DuckDB compares identifiers case-insensitively, quoted or not; so does the check.
    tree = normalize_identifiers(statements[0], dialect="duckdb")
    root = tree
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise _refuse(f"only SELECT queries are allowed (got {type(root).__name__.upper()})")
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
            _check_shape(node)
    known = {name.lower(): name for name in catalog_tables}
    ctes = _cte_references(tree)
    used: set[str] = set()
    for table in tree.find_all(exp.Table):
        if id(table) not in ctes:
            used.add(_catalog_table(table, known))
    return CheckedQuery(sql.strip().rstrip(";"), frozenset(used))


def _cte_references(tree: exp.Expr) -> set[int]:
    """Ids of the FROM/JOIN names that refer to a CTE visible where they stand.

    Any other name, wherever it is, must be a catalog table. A name counts as a CTE only
    when sqlglot's scope of that FROM has the CTE among its `cte_sources`, and the name
    does not stand inside the very term that CTE is made of: a recursive CTE's base term
    (the left side of its UNION) sees the catalog, not itself, in DuckDB.
    """
    try:
        root = build_scope(tree)
    except sqlglot.errors.SqlglotError as exc:
        raise _refuse(f"its names cannot be resolved ({str(exc)[:200]})") from None
    found: set[int] = set()
    for scope in root.traverse() if root is not None else ():
        for table in scope.tables:
            if table.db or table.catalog or not isinstance(table.this, exp.Identifier):
                continue
            cte = scope.cte_sources.get(table.name)
            if isinstance(cte, Scope) and not _inside(table, cte.expression):
                found.add(id(table))
    return found


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


def _check_shape(node: exp.Table) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise _refuse(
            "table functions are not allowed in FROM; read catalog tables by name "
            "(e.g. refined.sales_by_day)"
        )
    if node.args.get("version") or node.args.get("when"):
        raise _refuse("time travel in SQL is not supported; use the rows endpoint's as_of")


def _catalog_table(node: exp.Table, known: dict[str, str]) -> str:
    """The catalog table a FROM names (as the catalog spells it), or a refusal."""
    name = _table_name(node)
    if name not in known:
        raise _refuse(
            f"'{name}' is not a catalog table (nor a CTE in scope there); read "
            "trusted.<table>, refined.<table> or raw.<source>.<entity> "
            "(GET /api/v1/tables lists them)"
        )
    return known[name]
