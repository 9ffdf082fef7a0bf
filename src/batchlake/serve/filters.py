"""The rows endpoint's query string → a safe Arrow read: columns, filters, order, page.

Filters never become SQL text: each is a pyarrow compute expression on a column checked
against the table's schema, with the value parsed and cast to that column's type, so a
value can only ever be compared, never executed. The same filters, with the same values,
also become a PyIceberg row filter (`row_filter`) that plans only the data files whose
partitions and column statistics can hold a matching row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batchlake.errors import QueryError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema

    from batchlake.lake.predicates import Op

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains")
# Query parameters of the endpoint itself; every other parameter is a filter.
RESERVED = {"limit", "offset", "cursor", "columns", "order_by", "as_of", "format"}
MAX_LIMIT = 10_000


@dataclass
class RowsRequest:
    columns: list[str] | None = None
    filters: list[tuple[str, str, str]] = field(default_factory=list)  # column, op, value
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # column, descending


def parse_filters(params: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    found = []
    for key, value in params:
        if key in RESERVED:
            continue
        column, _, op = key.partition("__")
        op = op or "eq"
        if op not in OPERATORS:
            raise QueryError(
                f"unknown filter operator '__{op}' in '{key}'; use one of "
                + ", ".join(f"__{o}" for o in OPERATORS if o != "eq")
            )
        found.append((column, op, value))
    return found


def parse_order(text: str | None) -> list[tuple[str, bool]]:
    if not text:
        return []
    order = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            order.append((part.lstrip("-"), part.startswith("-")))
    return order


def _check_column(name: str, schema: pa.Schema, what: str) -> None:
    if schema.get_field_index(name) < 0:
        raise QueryError(
            f"unknown column '{name}' in {what}; the table has: {', '.join(schema.names)}"
        )


def _value(text: str, type_: pa.DataType, column: str) -> pa.Scalar:
    import pyarrow as pa

    if pa.types.is_boolean(type_):
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise QueryError(f"filter on {column}: '{text}' is not true or false")
        return pa.scalar(lowered in ("true", "1"))
    try:
        return pa.scalar(text).cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise QueryError(f"filter on {column}: '{text}' is not a valid {type_}") from exc


def filter_expression(
    filters: list[tuple[str, str, str]], schema: pa.Schema
) -> pc.Expression | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    expression: pc.Expression | None = None
    for column, op, text in filters:
        _check_column(column, schema, "a filter")
        type_ = schema.field(column).type
        ref = pc.field(column)
        if op == "contains":
            if not (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
                raise QueryError(f"__contains needs a text column; {column} is {type_}")
            term = pc.match_substring(ref, text)
        elif op == "in":
            values = [_value(v, type_, column) for v in text.split(",")]
            term = ref.isin(pa.array([v.as_py() for v in values], type_))
        else:
            value = _value(text, type_, column)
            term = {
                "eq": ref == value,
                "ne": ref != value,
                "gt": ref > value,
                "gte": ref >= value,
                "lt": ref < value,
                "lte": ref <= value,
            }[op]
        expression = term if expression is None else expression & term
    return expression


# The API's operators as predicates for planning (`contains` cannot prune: every file).
_PLANNED: dict[str, Op] = {
    "eq": "eq",
    "ne": "ne",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "in": "in",
}


def row_filter(
    filters: list[tuple[str, str, str]], schema: pa.Schema, iceberg: Schema
) -> BooleanExpression:
    """The filters as a PyIceberg row filter on an Iceberg table, with the values the
    Arrow filter compares (`AlwaysTrue()` for what cannot prune)."""
    from pyiceberg.expressions import AlwaysTrue, And

    from batchlake.lake.predicates import predicate

    expression: BooleanExpression = AlwaysTrue()
    for column, op, text in filters:
        _check_column(column, schema, "a filter")
        planned = _PLANNED.get(op)
        if planned is None:
            continue
        type_ = schema.field(column).type
        texts = text.split(",") if op == "in" else [text]
        values = [_value(t, type_, column).as_py() for t in texts]
        expression = And(expression, predicate(iceberg, column, planned, values))
    return expression


def apply(table: pa.Table, request: RowsRequest) -> pa.Table:
    """Filter, order and project a table (before the page is cut)."""
    schema = table.schema
    for name in request.columns or []:
        _check_column(name, schema, "columns")
    for name, _ in request.order_by:
        _check_column(name, schema, "order_by")
    expression = filter_expression(request.filters, schema)
    if expression is not None:
        table = table.filter(expression)
    if request.order_by:
        table = table.sort_by(
            [(name, "descending" if desc else "ascending") for name, desc in request.order_by]
        )
    if request.columns:
        table = table.select(request.columns)
    return table


def encode_cursor(version: str, offset: int, fingerprint: str) -> str:
    raw = json.dumps({"v": version, "o": offset, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (
            isinstance(data, dict)
            and isinstance(data.get("v"), str)
            and isinstance(data.get("f"), str)
            and type(data.get("o")) is int
            and data["o"] >= 0
        ):
            raise ValueError("bad cursor")
        return data
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise QueryError(
            "cursor is not one this server returned; pass next_cursor from a previous page"
        ) from exc
