"""MySQL/MariaDB: which relations `tables = "*"` means, and the columns read as text.

DuckDB's mysql scanner reads MySQL's types faithfully (docs/types.md) except `DECIMAL`
wider than 38 digits, which it reads as a double. Those columns are read as text
(`CAST(c AS CHAR)`) and converted exactly to `decimal(38, s)` by `capture.conform`, or
refused naming the column and the value. NOT NULL comes from the same catalog query.
"""

from __future__ import annotations

from collections.abc import Callable

from batchlake.capture.conform import ColumnRule
from batchlake.errors import SourceError

Rows = Callable[[str], list[tuple[object, ...]]]  # runs MySQL SQL, returns its rows

# Base tables (and system-versioned ones, MariaDB) of the URL's database; views apart.
RELATIONS = (
    "SELECT table_schema, table_name, table_type FROM information_schema.tables "
    "WHERE table_schema = DATABASE() ORDER BY table_name"
)
TABLE_TYPES = {"BASE TABLE", "SYSTEM VERSIONED"}
VIEW_TYPES = {"VIEW"}

_COLUMNS = (
    "SELECT column_name, column_type, data_type, numeric_precision, numeric_scale, "
    "is_nullable FROM information_schema.columns "
    "WHERE table_schema = {schema} AND table_name = {table} ORDER BY ordinal_position"
)


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: str) -> str:
    """A MySQL string literal; backslashes escaped for the default (non-ANSI) SQL mode."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def columns(
    rows: Rows, schema: str, table: str, where: str
) -> tuple[dict[str, ColumnRule], dict[str, str]]:
    """Each column's rule (NOT NULL, exact decimal) and the expressions of those read as text."""
    found = rows(_COLUMNS.format(schema=literal(schema), table=literal(table)))
    rules: dict[str, ColumnRule] = {}
    read_as: dict[str, str] = {}
    for name, column_type, data_type, precision, scale, nullable in found:
        name, column_type = str(name), str(column_type)
        decimal = None
        if str(data_type).lower() == "decimal" and int(str(precision)) > 38:
            digits = int(str(scale))
            if digits > 38:
                raise SourceError(
                    f"{where}: column '{name}' is {column_type}, more fraction digits than "
                    "a decimal holds (38); capture it with a custom query casting it to CHAR"
                )
            decimal = (38, digits)
            read_as[name] = f"CAST({ident(name)} AS CHAR)"
        rules[name] = ColumnRule(
            nullable=str(nullable).upper() != "NO", decimal=decimal, declared=column_type
        )
    return rules, read_as


def select(schema: str, table: str, names: list[str], read_as: dict[str, str]) -> str:
    projections = ", ".join(
        f"{read_as[n]} AS {ident(n)}" if n in read_as else ident(n) for n in names
    )
    return f"SELECT {projections} FROM {ident(schema)}.{ident(table)}"


def cursor_window(column: str, cursor: str | None, until: str | None) -> str:
    conditions = []
    if cursor is not None:
        op = ">=" if until is not None else ">"
        conditions.append(f"{ident(column)} {op} {literal(cursor.replace('T', ' '))}")
    if until is not None:
        conditions.append(f"{ident(column)} <= {literal(until.replace('T', ' '))}")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""
