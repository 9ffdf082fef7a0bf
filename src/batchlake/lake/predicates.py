"""Predicates on one column of an Iceberg table, as PyIceberg row filters for planning.

A read plans only the data files whose partition values and column statistics can hold a
matching row (`table.scan(row_filter=...).plan_files()`); the reader still applies its
own filter to the rows, so a row filter only has to be *implied* by it. Every function
here therefore answers `AlwaysTrue()` (plan every file) when it cannot express a
predicate exactly: an unknown column, a value that is not exactly of the column's type
(`1.555` against a DECIMAL(10, 2), a float against an integer), a type PyIceberg cannot
compare. A row filter never makes a read wrong, only cheaper.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.expressions.literals import Literal as IcebergLiteral
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType, NestedField

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_null", "not_null"]
# The comparison as seen from the other side (`5 < x` is `x > 5`).
FLIPPED: dict[Op, Op] = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "eq", "ne": "ne"}

_EPOCH = datetime(1970, 1, 1)
_EPOCH_TZ = datetime(1970, 1, 1, tzinfo=UTC)


def field_named(schema: Schema, column: str) -> NestedField | None:
    """The top-level primitive field a SQL name means (case-insensitive, as in DuckDB)."""
    found = [f for f in schema.fields if f.name.lower() == column.lower()]
    if len(found) != 1 or not found[0].field_type.is_primitive:
        return None
    return found[0]


def predicate(schema: Schema, column: str, op: Op, values: Sequence[Any] = ()) -> BooleanExpression:
    """`column <op> values` as a PyIceberg expression, or `AlwaysTrue()` if not exact.

    `values` are Python values (int, Decimal, str, date, datetime, ...) already meaning
    what the reader compares with; each must convert to the column's type losslessly.
    """
    from pyiceberg import expressions as ex
    from pyiceberg.expressions.visitors import bind

    field = field_named(schema, column)
    if field is None:
        return ex.AlwaysTrue()
    ref = ex.Reference(field.name)
    # (pyiceberg's predicates are pydantic models whose constructors mypy misreads)
    if op in ("is_null", "not_null"):
        unary: Any = ex.IsNull if op == "is_null" else ex.NotNull
        return unary(ref)
    literals = [iceberg_literal(field.field_type, v) for v in values if v is not None]
    if not literals or any(lit is None for lit in literals):
        return ex.AlwaysTrue()  # NULLs compare as unknown; an inexact value prunes nothing
    known = [lit for lit in literals if lit is not None]
    if op in ("in", "not_in"):
        if op == "not_in" and len(known) != len(values):
            return ex.AlwaysTrue()  # x NOT IN (..., NULL) is never true: leave it to the reader
        among: Any = ex.In if op == "in" else ex.NotIn
        built: BooleanExpression = among(ref, known)
    else:
        if len(known) != 1:
            return ex.AlwaysTrue()
        kinds = {
            "eq": ex.EqualTo,
            "ne": ex.NotEqualTo,
            "lt": ex.LessThan,
            "lte": ex.LessThanOrEqual,
            "gt": ex.GreaterThan,
            "gte": ex.GreaterThanOrEqual,
        }
        built = kinds[op](ref, known[0])
    try:
        bind(schema, built, case_sensitive=True)
    except (ValueError, TypeError):
        return ex.AlwaysTrue()
    return built


def iceberg_literal(type_: IcebergType, value: Any) -> IcebergLiteral[Any] | None:
    """`value` as a literal of exactly `type_`, or None when that would change it."""
    from pyiceberg.expressions import literals as lit
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

    if isinstance(type_, BooleanType):
        return lit.BooleanLiteral(value) if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None  # a bool is an int to Python, never to SQL
    if isinstance(type_, IntegerType | LongType):
        return lit.LongLiteral(value) if isinstance(value, int) else None
    if isinstance(type_, DoubleType):
        return lit.DoubleLiteral(float(value)) if isinstance(value, int | float) else None
    if isinstance(type_, FloatType):
        # Statistics hold 32-bit floats: only a value a float32 holds exactly compares alike.
        if isinstance(value, int | float) and _float32(float(value)) == float(value):
            return lit.FloatLiteral(float(value))
        return None
    if isinstance(type_, DecimalType):
        exact = _decimal(value, type_.precision, type_.scale)
        return lit.DecimalLiteral(exact) if exact is not None else None
    if isinstance(type_, StringType):
        return lit.StringLiteral(value) if isinstance(value, str) else None
    if isinstance(type_, DateType):
        if isinstance(value, date) and not isinstance(value, datetime):
            return lit.DateLiteral((value - date(1970, 1, 1)).days)
        return None
    if isinstance(type_, TimestampType):
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)  # SQL: midnight of that day
        if isinstance(value, datetime) and value.tzinfo is None:
            return lit.TimestampLiteral(_micros(value - _EPOCH))
        return None
    if isinstance(type_, TimestamptzType):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return lit.TimestampLiteral(_micros(value - _EPOCH_TZ))
        return None
    return None


def null_rejecting(expression: BooleanExpression) -> bool:
    """Whether the expression is never true for a row whose columns are all NULL.

    Pruning the nullable side of an outer join is exact only with such a filter: a row
    it removes would otherwise come back as NULLs and must still fail the filter.
    """
    from pyiceberg import expressions as ex

    if isinstance(expression, ex.And):
        return null_rejecting(expression.left) or null_rejecting(expression.right)
    if isinstance(expression, ex.Or):
        return null_rejecting(expression.left) and null_rejecting(expression.right)
    if isinstance(expression, ex.AlwaysFalse):
        return True
    if isinstance(expression, ex.AlwaysTrue | ex.IsNull | ex.Not):
        return False
    return isinstance(expression, ex.UnboundPredicate)


def _micros(delta: Any) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _float32(value: float) -> float:
    try:
        packed: float = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return float("nan")
    return packed


def _decimal(value: Any, precision: int, scale: int) -> Decimal | None:
    if not isinstance(value, int | Decimal):
        return None
    try:
        exact = Decimal(value).quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        return None
    if exact != value or len(exact.as_tuple().digits) > precision:
        return None
    return exact
