"""A query's WHERE → PyIceberg row filters per table: what prunes, and what must not."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pyiceberg import expressions as ex
from pyiceberg.expressions.literals import (
    BooleanLiteral,
    DateLiteral,
    DecimalLiteral,
    DoubleLiteral,
    LongLiteral,
    StringLiteral,
    TimestampLiteral,
)
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)

from batchlake.lake.predicates import iceberg_literal, null_rejecting, predicate
from batchlake.lake.pruning import sql_row_filters

EVENTS = Schema(
    NestedField(1, "id", IntegerType()),
    NestedField(2, "day", DateType()),
    NestedField(3, "seen_at", TimestampType()),
    NestedField(4, "amount", DecimalType(10, 2)),
    NestedField(5, "ratio", DoubleType()),
    NestedField(6, "kind", StringType()),
    NestedField(7, "flag", BooleanType()),
    NestedField(8, "utc", TimestamptzType()),
    NestedField(9, "big", LongType()),
)
KINDS = Schema(NestedField(1, "kind", StringType()), NestedField(2, "label", StringType()))
SCHEMAS = {"refined.events": EVENTS, "trusted.kinds": KINDS}
TRUE = ex.AlwaysTrue()


def days(text: str) -> DateLiteral:
    return DateLiteral((date.fromisoformat(text) - date(1970, 1, 1)).days)


def micros(text: str) -> TimestampLiteral:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return TimestampLiteral(int(moment.timestamp() * 1_000_000))


def events_filter(where: str) -> ex.BooleanExpression:
    return sql_row_filters(f"SELECT * FROM refined.events WHERE {where}", SCHEMAS)["refined.events"]


# -- one table: operators and literal types --------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("day = '2024-03-05'", ex.EqualTo("day", days("2024-03-05"))),
        ("day = DATE '2024-03-05'", ex.EqualTo("day", days("2024-03-05"))),
        ("day = CAST('2024-03-05' AS DATE)", ex.EqualTo("day", days("2024-03-05"))),
        ("day <> '2024-03-05'", ex.NotEqualTo("day", days("2024-03-05"))),
        ("day != '2024-03-05'", ex.NotEqualTo("day", days("2024-03-05"))),
        ("day < '2024-03-05'", ex.LessThan("day", days("2024-03-05"))),
        ("day <= '2024-03-05'", ex.LessThanOrEqual("day", days("2024-03-05"))),
        ("day > '2024-03-05'", ex.GreaterThan("day", days("2024-03-05"))),
        ("day >= '2024-03-05'", ex.GreaterThanOrEqual("day", days("2024-03-05"))),
        ("'2024-03-05' < day", ex.GreaterThan("day", days("2024-03-05"))),
        (
            "day BETWEEN '2024-03-01' AND '2024-03-31'",
            ex.And(
                ex.GreaterThanOrEqual("day", days("2024-03-01")),
                ex.LessThanOrEqual("day", days("2024-03-31")),
            ),
        ),
        ("id IN (1, 2, NULL)", ex.In("id", [LongLiteral(1), LongLiteral(2)])),
        ("id NOT IN (1, 2)", ex.NotIn("id", [LongLiteral(1), LongLiteral(2)])),
        ("id = '7'", ex.EqualTo("id", LongLiteral(7))),
        ("id = -7", ex.EqualTo("id", LongLiteral(-7))),
        ("big > 5000000000", ex.GreaterThan("big", LongLiteral(5_000_000_000))),
        ("kind IS NULL", ex.IsNull("kind")),
        ("kind IS NOT NULL", ex.NotNull("kind")),
        ("NOT kind IS NULL", ex.NotNull("kind")),
        ("kind = 'a'", ex.EqualTo("kind", StringLiteral("a"))),
        ("flag = true", ex.EqualTo("flag", BooleanLiteral(True))),
        ("amount = 1.5", ex.EqualTo("amount", DecimalLiteral(Decimal("1.50")))),
        ("amount >= 100", ex.GreaterThanOrEqual("amount", DecimalLiteral(Decimal("100.00")))),
        ("ratio > 0.25", ex.GreaterThan("ratio", DoubleLiteral(0.25))),
        ("seen_at >= '2024-03-01'", ex.GreaterThanOrEqual("seen_at", micros("2024-03-01"))),
        (
            "seen_at < TIMESTAMP '2024-03-01 10:30'",
            ex.LessThan("seen_at", micros("2024-03-01T10:30:00")),
        ),
        ("seen_at < DATE '2024-03-01'", ex.LessThan("seen_at", micros("2024-03-01"))),
        (
            "utc >= '2024-03-01 10:00:00+02'",
            ex.GreaterThanOrEqual("utc", micros("2024-03-01T08:00:00+00:00")),
        ),
        (
            "utc >= TIMESTAMPTZ '2024-03-01 10:00:00Z'",
            ex.GreaterThanOrEqual("utc", micros("2024-03-01T10:00:00+00:00")),
        ),
        ("\"DAY\" = '2024-03-05'", ex.EqualTo("day", days("2024-03-05"))),
        ("refined.events.day = '2024-03-05'", ex.EqualTo("day", days("2024-03-05"))),
        (
            "(day = '2024-03-05' OR day = '2024-04-05') AND kind = 'a'",
            ex.And(
                ex.Or(
                    ex.EqualTo("day", days("2024-03-05")),
                    ex.EqualTo("day", days("2024-04-05")),
                ),
                ex.EqualTo("kind", StringLiteral("a")),
            ),
        ),
        # Conjuncts pruning cannot use are dropped; the rest still prunes.
        ("month(day) = 3 AND kind = 'a'", ex.EqualTo("kind", StringLiteral("a"))),
    ],
)
def test_conditions_on_a_column_and_a_literal_become_row_filters(
    where: str, expected: ex.BooleanExpression
) -> None:
    assert events_filter(where) == expected


@pytest.mark.parametrize(
    "where",
    [
        "month(day) = 3",  # a function of the column
        "CAST(day AS VARCHAR) LIKE '2024-03%'",
        "day + 1 = DATE '2024-03-05'",
        "day = current_date",  # not a literal
        "id = ratio",  # two columns
        "NOT (day = '2024-03-05')",  # a negation of anything but IS NULL / IN
        "day = '2024-3-5'",  # DuckDB reads it, but only strict ISO text is taken
        "day >= TIMESTAMP '2024-03-05 10:00'",  # a date against a time: inexact
        "amount = 1.555",  # more decimals than the column: DuckDB never matches it exactly
        "amount = '1.504'",  # DuckDB rounds a string to the column's scale: leave it
        "id = 1.5",  # a decimal against an integer
        "kind = 5",  # a number against text (DuckDB would cast the column)
        "flag = 1",
        "utc >= '2024-03-01 10:00:00'",  # no offset: DuckDB reads it in the session zone
        "utc >= TIMESTAMP '2024-03-01 10:00:00'",
        "seen_at >= '2024-03-01 10:00:00+02'",  # an offset against a naive timestamp
        "id NOT IN (1, NULL)",  # never true: left to the engine
        "id = NULL",
        "day BETWEEN SYMMETRIC '2024-03-31' AND '2024-03-01'",
        "id IN (SELECT 1)",
        "day = '2024-03-05' OR month(day) = 4",  # one side unknown: the OR is unknown
        "nope = 1",  # not a column of the table (a select alias, an outer column)
    ],
)
def test_what_cannot_be_expressed_exactly_reads_every_file(where: str) -> None:
    assert events_filter(where) == TRUE


def test_float_columns_prune_only_by_values_a_float32_holds() -> None:
    schema = Schema(NestedField(1, "r", FloatType()))
    assert predicate(schema, "r", "eq", [0.5]) != TRUE
    assert predicate(schema, "r", "eq", [0.1]) == TRUE  # 0.1 is not a float32


def test_literals_convert_only_losslessly() -> None:
    assert iceberg_literal(IntegerType(), True) is None
    assert iceberg_literal(BooleanType(), 1) is None
    assert iceberg_literal(DecimalType(4, 2), Decimal("123.4")) is None  # 5 digits > 4
    assert iceberg_literal(DecimalType(4, 2), Decimal("12.3")) == DecimalLiteral(Decimal("12.30"))
    assert iceberg_literal(DateType(), datetime(2024, 1, 1)) is None
    assert iceberg_literal(TimestampType(), date(2024, 1, 1)) == micros("2024-01-01")
    assert iceberg_literal(TimestamptzType(), datetime(2024, 1, 1)) is None


def test_an_integer_out_of_the_columns_range_prunes_everything_or_nothing() -> None:
    from pyiceberg.expressions.visitors import bind

    beyond = events_filter("id = 99999999999")
    assert bind(EVENTS, beyond, case_sensitive=True) == ex.AlwaysFalse()
    assert bind(EVENTS, events_filter("id < 99999999999"), case_sensitive=True) == TRUE


# -- several tables: joins, subqueries, repeated references -----------------------------------


def filters(sql: str) -> dict[str, ex.BooleanExpression]:
    return sql_row_filters(sql, SCHEMAS)


def test_an_inner_join_prunes_each_side_by_its_own_columns() -> None:
    found = filters(
        "SELECT * FROM refined.events e JOIN trusted.kinds k ON e.kind = k.kind "
        "WHERE e.day >= '2024-03-01' AND k.label = 'alpha' AND e.ratio > k.label"
    )
    assert found["refined.events"] == ex.GreaterThanOrEqual("day", days("2024-03-01"))
    assert found["trusted.kinds"] == ex.EqualTo("label", StringLiteral("alpha"))


def test_unqualified_columns_belong_to_the_one_table_that_has_them() -> None:
    found = filters(
        "SELECT * FROM refined.events, trusted.kinds "
        "WHERE day = '2024-03-05' AND label = 'beta' AND kind = 'a'"  # kind: in both
    )
    assert found["refined.events"] == ex.EqualTo("day", days("2024-03-05"))
    assert found["trusted.kinds"] == ex.EqualTo("label", StringLiteral("beta"))


def test_the_nullable_side_of_an_outer_join_prunes_only_by_a_filter_nulls_fail() -> None:
    # `k.label IS NULL` keeps events whose kind has no label row: pruning kinds by it
    # would turn matched rows into unmatched ones.
    anti = filters(
        "SELECT * FROM refined.events e LEFT JOIN trusted.kinds k ON e.kind = k.kind "
        "WHERE k.label IS NULL AND e.day = '2024-03-05'"
    )
    assert anti["trusted.kinds"] == TRUE
    assert anti["refined.events"] == ex.EqualTo("day", days("2024-03-05"))
    rejecting = filters(
        "SELECT * FROM refined.events e LEFT JOIN trusted.kinds k ON e.kind = k.kind "
        "WHERE k.label = 'alpha' OR k.label IN ('beta')"
    )
    assert rejecting["trusted.kinds"] != TRUE
    right = filters(
        "SELECT * FROM refined.events e RIGHT JOIN trusted.kinds k ON e.kind = k.kind "
        "WHERE e.id IS NULL AND k.label = 'alpha'"
    )
    assert right["refined.events"] == TRUE  # the left side of a RIGHT JOIN is nullable
    assert right["trusted.kinds"] == ex.EqualTo("label", StringLiteral("alpha"))
    full = filters(
        "SELECT * FROM refined.events e FULL JOIN trusted.kinds k ON e.kind = k.kind "
        "WHERE e.kind IS NULL OR k.kind IS NULL"
    )
    assert full == {"refined.events": TRUE, "trusted.kinds": TRUE}


def test_on_conditions_prune_the_joined_table_of_inner_and_left_joins_only() -> None:
    left = filters(
        "SELECT * FROM refined.events e LEFT JOIN trusted.kinds k "
        "ON e.kind = k.kind AND k.label IS NULL AND e.day = '2024-03-05'"
    )
    assert left["trusted.kinds"] == ex.IsNull("label")
    assert left["refined.events"] == TRUE  # a LEFT JOIN keeps every event
    right = filters(
        "SELECT * FROM trusted.kinds k RIGHT JOIN refined.events e "
        "ON e.kind = k.kind AND e.day = '2024-03-05'"
    )
    assert right["refined.events"] == TRUE


@pytest.mark.parametrize("join", ["SEMI JOIN", "ANTI JOIN", "ASOF JOIN", "POSITIONAL JOIN"])
def test_joins_with_other_semantics_prune_nothing(join: str) -> None:
    on = "" if join == "POSITIONAL JOIN" else " ON e.kind = k.kind"
    sql = f"SELECT * FROM refined.events e {join} trusted.kinds k{on} WHERE e.id = 1"
    assert set(filters(sql).values()) == {TRUE}


def test_each_select_prunes_by_its_own_where_and_references_are_ored() -> None:
    union = filters(
        "SELECT id FROM refined.events WHERE day = '2024-03-05' "
        "UNION ALL SELECT id FROM refined.events WHERE day = '2024-04-05'"
    )
    assert union["refined.events"] == ex.Or(
        ex.EqualTo("day", days("2024-03-05")), ex.EqualTo("day", days("2024-04-05"))
    )
    one_unfiltered = filters(
        "SELECT id FROM refined.events WHERE day = '2024-03-05' "
        "UNION ALL SELECT id FROM refined.events"
    )
    assert one_unfiltered["refined.events"] == TRUE
    cte = filters(
        "WITH march AS (SELECT * FROM refined.events WHERE id < 10) "
        "SELECT * FROM march WHERE day = '2024-03-05'"
    )
    assert cte["refined.events"] == ex.LessThan("id", LongLiteral(10))
    exists = filters(
        "SELECT * FROM trusted.kinds k WHERE EXISTS "
        "(SELECT 1 FROM refined.events e WHERE e.kind = k.kind AND e.id = 3)"
    )
    assert exists["refined.events"] == ex.EqualTo("id", LongLiteral(3))


def test_conditions_do_not_cross_into_derived_tables_or_correlated_columns() -> None:
    derived = filters("SELECT * FROM (SELECT * FROM refined.events) s WHERE s.day = '2024-03-05'")
    assert derived["refined.events"] == TRUE
    correlated = filters(
        "SELECT * FROM refined.events e WHERE e.id IN "
        "(SELECT 1 FROM trusted.kinds k WHERE e.day = '2024-03-05')"
    )
    assert correlated["trusted.kinds"] == TRUE
    assert correlated["refined.events"] == TRUE
    with_cte_in_from = filters(
        "WITH x AS (SELECT 1 AS day) SELECT * FROM refined.events, x WHERE kind = 'a'"
    )
    assert with_cte_in_from["refined.events"] == TRUE  # unqualified: x's columns unknown


def test_a_query_sqlglot_cannot_parse_gets_no_filters() -> None:
    assert filters("SELECT * FROM refined.events WHERE day = '2024-03-05' AND (") == {}


def test_null_rejecting() -> None:
    assert null_rejecting(ex.EqualTo("kind", "a"))
    assert null_rejecting(ex.And(ex.IsNull("kind"), ex.NotNull("label")))
    assert not null_rejecting(ex.Or(ex.IsNull("kind"), ex.NotNull("label")))
    assert not null_rejecting(ex.IsNull("kind"))
    assert not null_rejecting(TRUE)
