"""Rows filters: parsed from the query string, checked against the schema, typed values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from batchlake.errors import QueryError
from batchlake.serve import filters

TABLE = pa.table(
    {
        "day": pa.array([date(2024, 1, d) for d in range(1, 7)], pa.date32()),
        "amount": pa.array(
            [Decimal(x) for x in ("1.50", "2.00", "3.25", "0.99", "10.00", "2.00")],
            pa.decimal128(10, 2),
        ),
        "name": ["ann", "bob", "cy", "dan", "eve", "bo"],
        "n": pa.array([1, 2, 3, 4, 5, None], pa.int64()),
        "flag": [True, False, True, False, True, False],
    }
)


def rows(params: list[tuple[str, str]], order: str | None = None, cols: str | None = None) -> list:
    request = filters.RowsRequest(
        columns=cols.split(",") if cols else None,
        filters=filters.parse_filters(params),
        order_by=filters.parse_order(order),
    )
    return filters.apply(TABLE, request).to_pylist()


def test_each_operator_matches_a_plain_python_filter() -> None:
    data = TABLE.to_pylist()
    cases = {
        ("amount", "2.00"): [r for r in data if r["amount"] == Decimal("2.00")],
        ("amount__gte", "2"): [r for r in data if r["amount"] >= 2],
        ("amount__gt", "2"): [r for r in data if r["amount"] > 2],
        ("amount__lt", "2"): [r for r in data if r["amount"] < 2],
        ("amount__lte", "2"): [r for r in data if r["amount"] <= 2],
        ("name__ne", "bob"): [r for r in data if r["name"] != "bob"],
        ("name__in", "ann,eve,zed"): [r for r in data if r["name"] in {"ann", "eve"}],
        ("name__contains", "bo"): [r for r in data if "bo" in r["name"]],
        ("day__gte", "2024-01-04"): [r for r in data if r["day"] >= date(2024, 1, 4)],
        ("n__in", "1,5"): [r for r in data if r["n"] in (1, 5)],
        ("flag", "true"): [r for r in data if r["flag"]],
    }
    for param, expected in cases.items():
        assert rows([param]) == expected, param


def test_filters_combine_order_and_columns() -> None:
    got = rows([("amount__gte", "1"), ("flag", "false")], order="-amount,name", cols="name,amount")
    expected = sorted(
        (
            {"name": r["name"], "amount": r["amount"]}
            for r in TABLE.to_pylist()
            if r["amount"] >= 1 and not r["flag"]
        ),
        key=lambda r: (-r["amount"], r["name"]),
    )
    assert got == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("nope", "1")], "unknown column 'nope' in a filter"),
        ([("amount__between", "1")], "unknown filter operator '__between'"),
        ([("amount", "lots")], "'lots' is not a valid decimal"),
        ([("day__gt", "yesterday")], "'yesterday' is not a valid date32"),
        ([("flag", "maybe")], "'maybe' is not true or false"),
        ([("amount__contains", "1")], "__contains needs a text column"),
    ],
)
def test_bad_filters_are_named(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        rows(params)


def test_unknown_order_and_column_are_named() -> None:
    with pytest.raises(QueryError, match="unknown column 'x' in order_by"):
        rows([], order="-x")
    with pytest.raises(QueryError, match="unknown column 'y' in columns"):
        rows([], cols="name,y")


def test_a_value_is_never_sql() -> None:
    hostile = "x' OR '1'='1"
    assert rows([("name", hostile)]) == []
    assert rows([("name__contains", "'; DROP TABLE t; --")]) == []


def test_cursor_round_trip_and_garbage() -> None:
    token = filters.encode_cursor("123", 200, "abc")
    assert filters.decode_cursor(token) == {"v": "123", "o": 200, "f": "abc"}
    for bad in ("not-a-cursor", "e30", filters.encode_cursor("1", 0, "f")[:-3] + "!!!"):
        with pytest.raises(QueryError, match="cursor is not one this server returned"):
            filters.decode_cursor(bad)
