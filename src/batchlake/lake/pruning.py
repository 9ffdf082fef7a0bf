"""Which files of each Iceberg table a SELECT can need: its WHERE clauses as row filters.

`sql_row_filters` parses the query (sqlglot, DuckDB dialect) and, for every reference to
a lake table, turns the conditions that bind that reference's rows into a PyIceberg row
filter: comparisons of one of its columns with a literal (=, <>, <, <=, >, >=, IN,
NOT IN, BETWEEN, IS [NOT] NULL), combined by AND and OR. A table read more than once
gets the OR of its references' filters; one reference without a filter means every file.

Only conditions that remove the same rows whether or not the files are pruned are used:

- the WHERE of the SELECT whose FROM names the table (each subquery and CTE body is its
  own SELECT, with its own WHERE), the column qualified by the table's alias or, when
  every table of that FROM is a lake table of known columns, unqualified and found in
  exactly one of them;
- the ON of an INNER or LEFT JOIN, for the joined table only;
- on the nullable side of an outer join, only a filter that NULLs fail (not IS NULL);
- nothing through a derived table or CTE (`FROM (SELECT ...) s WHERE s.x = 1` reads
  every file), nor for SEMI, ANTI, ASOF or POSITIONAL joins, PIVOT or TABLESAMPLE.

Anything else is left to the engine, which still applies the whole WHERE: a filter only
decides which files to read, never which rows are answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from batchlake.lake.predicates import FLIPPED, Op, field_named, null_rejecting, predicate

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType, NestedField
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")
_OFFSET = re.compile(r"(?P<ts>.+?)\s*(?P<off>Z|[+-]\d{2}(?::?\d{2})?)")
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_COMPARISONS: dict[str, Op] = {
    "EQ": "eq",
    "NEQ": "ne",
    "LT": "lt",
    "LTE": "lte",
    "GT": "gt",
    "GTE": "gte",
}
_JOIN_KINDS = ("", "INNER", "OUTER", "CROSS")


class _Inexact:
    """A literal that does not convert exactly to the column's type."""


INEXACT = _Inexact()


def sql_row_filters(sql: str, schemas: Mapping[str, Schema]) -> dict[str, BooleanExpression]:
    """A row filter for each table of `schemas` (lake name → Iceberg schema) the query reads.

    Every row the query's answer depends on satisfies its table's filter. A query sqlglot
    cannot parse or scope gets no filters (every file is read).
    """
    import sqlglot
    from pyiceberg.expressions import AlwaysTrue, Or
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        scopes = list(traverse_scope(tree))
    except sqlglot.errors.SqlglotError:
        return {}
    by_reference: dict[int, BooleanExpression] = {}
    for scope in scopes:
        for reference, row_filter in _scope_filters(scope, schemas):
            by_reference[id(reference)] = row_filter
    found: dict[str, BooleanExpression] = {}
    for table in tree.find_all(exp.Table):
        name = lake_name(table)
        if name is None or name not in schemas:
            continue
        row_filter = by_reference.get(id(table), AlwaysTrue())
        found[name] = Or(found[name], row_filter) if name in found else row_filter
    return found


def lake_name(table: exp.Table) -> str | None:
    """`refined.sales` for a reference to that table (None for functions and paths)."""
    from sqlglot import exp

    if not isinstance(table.this, exp.Identifier):
        return None
    return ".".join(p for p in (table.catalog, table.db, table.name) if p)


@dataclass
class _Member:
    """One table of a SELECT's FROM clause (the FROM itself or a joined table)."""

    node: exp.Expression
    schema: Schema | None  # None: not a plain lake table (a CTE, subquery, function, ...)
    nullable: bool = False
    on: exp.Expression | None = None  # an ON condition that filters this table's rows

    @property
    def key(self) -> str:
        return self.node.alias_or_name.lower()


def _scope_filters(
    scope: Scope, schemas: Mapping[str, Schema]
) -> Iterator[tuple[exp.Expression, BooleanExpression]]:
    from pyiceberg.expressions import AlwaysTrue, And
    from sqlglot import exp

    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    members = _members(select, schemas)
    if members is None:
        return
    where = select.args.get("where")
    for member in members:
        if member.schema is None:
            continue
        resolve = _Resolver(member, members)
        on_rows = _translate(member.on, resolve) if member.on is not None else AlwaysTrue()
        where_rows = _translate(where.this, resolve) if where is not None else AlwaysTrue()
        if member.nullable and not null_rejecting(where_rows):
            where_rows = AlwaysTrue()
        yield member.node, And(on_rows, where_rows)


def _members(select: exp.Select, schemas: Mapping[str, Schema]) -> list[_Member] | None:
    """The tables of the FROM clause in order, with outer-join sides marked (None: a join
    this module does not reason about)."""
    from sqlglot import exp

    source = select.args.get("from_") or select.args.get("from")
    if source is None:
        return None
    members = [_member(source.this, schemas)]
    for join in select.args.get("joins") or []:
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        if join.args.get("method") or kind not in _JOIN_KINDS:
            return None
        member = _member(join.this, schemas)
        if side in ("LEFT", "FULL"):
            member.nullable = True
        if side in ("RIGHT", "FULL"):
            for earlier in members:
                earlier.nullable = True
        on = join.args.get("on")
        if on is not None and side in ("", "LEFT") and kind in ("", "INNER", "OUTER"):
            member.on = on
        members.append(member)
    keys = [m.key for m in members]
    for member in members:
        if keys.count(member.key) > 1 or not isinstance(member.node, exp.Table):
            member.schema = None
    return members


def _member(node: exp.Expression, schemas: Mapping[str, Schema]) -> _Member:
    from sqlglot import exp

    if not isinstance(node, exp.Table):
        return _Member(node, None)
    plain = {k for k, v in node.args.items() if v} <= {"this", "db", "catalog", "alias"}
    alias = node.args.get("alias")
    if alias is not None and alias.columns:
        plain = False  # `AS t(a, b)` renames the columns
    name = lake_name(node)
    return _Member(node, schemas.get(name) if plain and name else None)


@dataclass
class _Resolver:
    """Which columns of a condition are columns of one member of the FROM clause."""

    member: _Member
    members: list[_Member]

    @property
    def schema(self) -> Schema:
        assert self.member.schema is not None
        return self.member.schema

    def field(self, column: exp.Column) -> NestedField | None:
        """The member's field a column node means, or None (another table's, or unsure)."""
        if column.args.get("catalog"):
            return None
        qualifier = column.table.lower()
        node = self.member.node
        if qualifier:
            if qualifier != self.member.key:
                return None
            db = column.db.lower()
            table_db = node.text("db").lower()
            if db and (node.args.get("alias") is not None or db != table_db):
                return None
        else:  # unqualified: only when every table is known and exactly this one has it
            if any(m.schema is None for m in self.members):
                return None
            having = [m for m in self.members if m.schema and field_named(m.schema, column.name)]
            if having != [self.member]:
                return None
        return field_named(self.schema, column.name)


def _translate(node: exp.Expression, resolve: _Resolver) -> BooleanExpression:
    """The part of a condition on one table, weakened to AlwaysTrue where unknown."""
    from pyiceberg.expressions import AlwaysTrue, And, Or
    from sqlglot import exp

    node = _unwrap(node)
    if isinstance(node, exp.And):
        return And(_translate(node.this, resolve), _translate(node.expression, resolve))
    if isinstance(node, exp.Or):
        return Or(_translate(node.this, resolve), _translate(node.expression, resolve))
    leaf = _leaf(node, resolve)
    return leaf if leaf is not None else AlwaysTrue()


def _leaf(node: exp.Expression, resolve: _Resolver) -> BooleanExpression | None:
    from pyiceberg.expressions import And
    from sqlglot import exp

    negated = isinstance(node, exp.Not)
    inner = _unwrap(node.this) if negated else node
    if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
        return _on_column(inner.this, "not_null" if negated else "is_null", [], resolve)
    if isinstance(inner, exp.In):
        if inner.args.get("query") or inner.args.get("unnest") or inner.args.get("field"):
            return None
        return _on_column(inner.this, "not_in" if negated else "in", inner.expressions, resolve)
    if negated:
        return None  # NOT of anything else would negate a weakened filter
    if isinstance(node, exp.Between):
        if node.args.get("symmetric"):
            return None
        low = _on_column(node.this, "gte", [node.args["low"]], resolve)
        high = _on_column(node.this, "lte", [node.args["high"]], resolve)
        return And(low, high) if low is not None and high is not None else None
    op = _COMPARISONS.get(type(node).__name__)
    if op is None:
        return None
    left, right = _unwrap(node.this), _unwrap(node.expression)
    if isinstance(left, exp.Column):
        return _on_column(left, op, [right], resolve)
    if isinstance(right, exp.Column):
        return _on_column(right, FLIPPED[op], [left], resolve)
    return None


def _on_column(
    column: exp.Expression, op: Op, values: list[exp.Expression], resolve: _Resolver
) -> BooleanExpression | None:
    from sqlglot import exp

    column = _unwrap(column)
    if not isinstance(column, exp.Column) or not isinstance(column.this, exp.Identifier):
        return None
    field = resolve.field(column)
    if field is None:
        return None
    converted = [sql_value(v, field.field_type) for v in values]
    if any(isinstance(v, _Inexact) for v in converted):
        return None
    return predicate(resolve.schema, field.name, op, converted)


def _unwrap(node: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    return node


def sql_value(node: exp.Expression, type_: IcebergType) -> Any:
    """A SQL literal as the Python value DuckDB compares with a column of `type_`
    (None for NULL, `INEXACT` when it cannot say for sure)."""
    from pyiceberg.types import (
        BooleanType,
        DateType,
        DecimalType,
        DoubleType,
        FloatType,
        IntegerType,
        LongType,
        StringType,
        TimestampType,
        TimestamptzType,
    )
    from sqlglot import exp

    node = _unwrap(node)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this) if isinstance(type_, BooleanType) else INEXACT
    negative = isinstance(node, exp.Neg)
    if negative:
        node = _unwrap(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        text = ("-" if negative else "") + node.this
        if isinstance(type_, IntegerType | LongType):
            return int(text) if _INTEGER.fullmatch(text) else INEXACT
        if isinstance(type_, DoubleType | FloatType):
            return _float(text)
        if isinstance(type_, DecimalType):
            return _decimal(text)
        return INEXACT
    if negative:
        return INEXACT
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return _typed_string(node.this.this, node.to, type_)
    if not (isinstance(node, exp.Literal) and node.is_string):
        return INEXACT
    text = node.this
    if isinstance(type_, StringType):
        return text
    if isinstance(type_, IntegerType | LongType):
        return int(text) if _INTEGER.fullmatch(text) else INEXACT
    if isinstance(type_, DecimalType):
        return _decimal(text) if _NUMBER.fullmatch(text) else INEXACT
    if isinstance(type_, DateType):
        return date.fromisoformat(text) if _DATE.fullmatch(text) else INEXACT
    if isinstance(type_, TimestampType):
        return _timestamp(text)
    if isinstance(type_, TimestamptzType):
        return _timestamptz(text)
    return INEXACT


def _typed_string(text: str, to: exp.DataType, type_: IcebergType) -> Any:
    """`DATE '…'`, `TIMESTAMP '…'`, `TIMESTAMPTZ '…'` (or CAST) against a date/time column."""
    from pyiceberg.types import DateType, TimestampType, TimestamptzType

    if to.is_type("date") and _DATE.fullmatch(text):
        if isinstance(type_, DateType | TimestampType):  # DuckDB: a date is its midnight
            return date.fromisoformat(text)
        return INEXACT
    if to.is_type("timestamp", "timestampntz", "datetime") and isinstance(type_, TimestampType):
        return _timestamp(text)
    if to.is_type("timestamptz") and isinstance(type_, TimestamptzType):
        return _timestamptz(text)
    return INEXACT


def _timestamp(text: str) -> Any:
    if not _TIMESTAMP.fullmatch(text):
        return INEXACT
    return datetime.fromisoformat(text)


def _timestamptz(text: str) -> Any:
    """Only with an explicit offset: without one DuckDB reads it in the session's zone."""
    match = _OFFSET.fullmatch(text)
    if not match or not _TIMESTAMP.fullmatch(match.group("ts")):
        return INEXACT
    offset = match.group("off")
    if offset != "Z" and len(offset) == 3:
        offset += ":00"
    return datetime.fromisoformat(f"{match.group('ts')}{offset}")


def _float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return INEXACT


def _decimal(text: str) -> Any:
    try:
        return Decimal(text)
    except InvalidOperation:
        return INEXACT
