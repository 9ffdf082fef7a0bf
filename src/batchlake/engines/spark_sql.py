"""DuckDB-dialect model SQL → Spark SQL: sqlglot, plus fixes where the two disagree.

sqlglot keeps most analytics SQL equal, but some functions differ silently between the
engines (STACK.md): weekday numbering, `isodow`, day and month names, `date_diff`
counting, `date_trunc`'s result type, quantiles, ordered lists. Those are rewritten here
into Spark expressions that give DuckDB's answers. What cannot be made portable fails
with a `ModelError` naming the construct, never a silently different result.

Lake table names (`raw.src.entity`, `trusted.t`) become the flat temp-view names the
Spark engine registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from batchlake.errors import ModelError

if TYPE_CHECKING:
    import pyarrow as pa


def view_name(table: str) -> str:
    """The Spark temp view of a lake table: `raw.src.e` → `bl__raw__src__e`."""
    return "bl__" + "__".join(table.split("."))


def to_spark_sql(
    sql: str, views: Mapping[str, str], schemas: Mapping[str, pa.Schema] | None = None
) -> str:
    """Spark SQL for a DuckDB SELECT; `views` maps lake table names to temp views.

    `schemas` (lake table name → Arrow schema) lets type-dependent fixes see column
    types (`date_trunc` of a DATE stays a DATE).
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"does not parse as DuckDB SQL: {_first_line(exc)}") from exc
    tree = _rename_tables(tree, views)
    date_columns = _date_columns(tree, views, schemas or {})
    tree = tree.transform(lambda node: _fix(node, date_columns))
    try:
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise ModelError(f"cannot be run on Spark: {_first_line(exc)}") from exc


# -- table names -------------------------------------------------------------------------


def _rename_tables(tree: exp.Expr, views: Mapping[str, str]) -> exp.Expr:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}

    def rename(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Table) or not node.name:
            return node
        parts = [p for p in (node.catalog, node.db, node.name) if p]
        full = ".".join(parts).lower()
        if len(parts) == 1 and full in ctes:
            return node
        if full in views:
            renamed = exp.to_table(views[full])
            alias = node.args.get("alias")
            if alias is None and len(parts) > 1:
                alias = exp.TableAlias(this=exp.to_identifier(node.name))
            if alias is not None:
                renamed.set("alias", alias)
            return renamed
        return node

    return tree.transform(rename)


def _date_columns(
    tree: exp.Expr, views: Mapping[str, str], schemas: Mapping[str, pa.Schema]
) -> set[str]:
    """Names of columns known to be DATE: in registered tables and CTE casts."""
    import pyarrow as pa

    found = {
        field.name.lower()
        for name, schema in schemas.items()
        if name in views
        for field in schema
        if pa.types.is_date(field.type)
    }
    for alias in tree.find_all(exp.Alias):
        value = alias.this
        if isinstance(value, exp.Cast) and value.to.is_type(exp.DataType.Type.DATE):
            found.add(alias.alias.lower())
    return found


# -- function fixes ----------------------------------------------------------------------

_DATE_PARTS = {"year", "quarter", "month", "week", "day"}


def _fix(node: exp.Expr, date_columns: set[str]) -> exp.Expr:
    """The Spark form of a node that the two engines read differently, else the node."""
    if isinstance(node, exp.DayOfWeek | exp.DayOfWeekIso | exp.Dayname | exp.Monthname):
        return _fix_day_function(node)
    if isinstance(node, exp.Anonymous):
        return _fix_anonymous(node)
    if isinstance(node, exp.Extract):
        return _fix_extract(node)
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        return _date_trunc(node, date_columns)
    if isinstance(node, exp.AggFunc):
        return _fix_aggregate(node)
    return node


def _fix_day_function(node: exp.Expr) -> exp.Expr:
    """Day of week (DuckDB's and ISO numbering), day and month names."""
    if isinstance(node, exp.DayOfWeek):
        return _dow(node.this)
    if isinstance(node, exp.DayOfWeekIso):
        return _isodow(node.this)
    if isinstance(node, exp.Dayname):
        return _date_format(node.this, "EEEE")
    return _date_format(node.this, "MMMM")  # exp.Monthname


def _fix_extract(node: exp.Extract) -> exp.Expr:
    """EXTRACT of a day of week; other parts mean the same on both engines."""
    part = node.name.lower()
    if part in ("dow", "isodow", "dayofweek", "weekday"):
        return _dow(node.expression) if part != "isodow" else _isodow(node.expression)
    return node


def _fix_aggregate(node: exp.AggFunc) -> exp.Expr:
    """Quantiles outside WITHIN GROUP, and ordered list and string aggregates."""
    if isinstance(node, exp.PercentileCont) and not isinstance(node.parent, exp.WithinGroup):
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    if isinstance(node, exp.PercentileDisc) and not isinstance(node.parent, exp.WithinGroup):
        return _percentile_disc(node.this, node.expression)
    if isinstance(node, exp.Quantile):  # DuckDB's quantile() is quantile_disc()
        return _percentile_disc(node.this, node.args.get("quantile"))
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _ordered_list(node.this)
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
        return _ordered_string_agg(node)
    return node


def _fix_anonymous(node: exp.Anonymous) -> exp.Expr:
    name = node.name.lower()
    args = node.expressions
    if name == "weekday" and len(args) == 1:
        return _dow(args[0])
    if name in ("date_part", "datepart") and len(args) == 2 and args[0].is_string:
        part = args[0].name.lower()
        if part in ("dow", "dayofweek", "weekday"):
            return _dow(args[1])
        if part == "isodow":
            return _isodow(args[1])
        return exp.Extract(this=exp.var(part.upper()), expression=args[1])
    if name in ("epoch_ms", "epoch_us", "epoch_ns", "list_sort_desc", "quantile"):
        raise ModelError(f"uses {name}(), which has no portable Spark equivalent here")
    return node


def _dow(value: exp.Expr) -> exp.Expr:
    """DuckDB dayofweek: 0 = Sunday … 6 = Saturday (Spark's DAYOFWEEK is 1 = Sunday)."""
    return exp.paren(exp.Sub(this=_spark_dow(value), expression=exp.Literal.number(1)))


def _isodow(value: exp.Expr) -> exp.Expr:
    """ISO day of week: 1 = Monday … 7 = Sunday."""
    shifted = exp.Mod(
        this=exp.paren(exp.Add(this=_spark_dow(value), expression=exp.Literal.number(5))),
        expression=exp.Literal.number(7),
    )
    return exp.paren(exp.Add(this=exp.paren(shifted), expression=exp.Literal.number(1)))


def _spark_dow(value: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this="DAYOFWEEK", expressions=[value.copy()])


def _date_format(value: exp.Expr, pattern: str) -> exp.Expr:
    return exp.Anonymous(
        this="DATE_FORMAT", expressions=[value.copy(), exp.Literal.string(pattern)]
    )


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[a.copy() for a in args])


def _date_diff(node: exp.DateDiff) -> exp.Expr:
    """DuckDB counts the part's boundaries crossed between start and end."""
    unit = (node.unit.name if node.unit else "day").lower().rstrip("s")
    start, end = node.expression, node.this
    year = exp.Sub(this=_call("YEAR", end), expression=_call("YEAR", start))
    if unit == "year":
        return exp.paren(year)
    if unit == "month":
        months = exp.Sub(this=_call("MONTH", end), expression=_call("MONTH", start))
        twelve = exp.Mul(this=exp.paren(year), expression=exp.Literal.number(12))
        return exp.paren(exp.Add(this=twelve, expression=months))
    if unit == "quarter":
        quarters = exp.Sub(this=_call("QUARTER", end), expression=_call("QUARTER", start))
        four = exp.Mul(this=exp.paren(year), expression=exp.Literal.number(4))
        return exp.paren(exp.Add(this=four, expression=quarters))
    if unit == "day":
        return _call(
            "DATEDIFF",
            exp.cast(end.copy(), exp.DataType.Type.DATE),
            exp.cast(start.copy(), exp.DataType.Type.DATE),
        )
    raise ModelError(
        f"uses date_diff('{unit}', ...), which counts differently on Spark; use year, "
        "quarter, month or day, or compute it from epoch seconds"
    )


def _date_trunc(node: exp.Expr, date_columns: set[str]) -> exp.Expr:
    """DuckDB truncates a DATE to a DATE (to year…day); Spark always gives a TIMESTAMP."""
    unit = node.args.get("unit")
    part = (unit.name if unit is not None else "").lower()
    value = node.this
    is_date = (isinstance(value, exp.Cast) and value.to.is_type(exp.DataType.Type.DATE)) or (
        isinstance(value, exp.Column) and value.name.lower() in date_columns
    )
    if is_date and part in _DATE_PARTS:
        truncated = _call("DATE_TRUNC", exp.Literal.string(part.upper()), value)
        return exp.cast(truncated, exp.DataType.Type.DATE)
    return node


def _percentile_disc(value: exp.Expr, fraction: exp.Expr | None) -> exp.Expr:
    """quantile_disc(x, q) → PERCENTILE_DISC(q) WITHIN GROUP (ORDER BY x)."""
    if fraction is None or not fraction.is_number:
        raise ModelError("uses quantile_disc with a non-constant or list fraction (not portable)")
    ordered = exp.Order(expressions=[exp.Ordered(this=value.copy())])
    disc = exp.PercentileDisc(this=fraction.copy())
    return exp.WithinGroup(this=disc, expression=ordered)


def _ordered_list(order: exp.Order) -> exp.Expr:
    """list(x ORDER BY k1, k2) → the values of collect_list(struct(k1, k2, x)) sorted.

    Only ascending keys are portable this way (array_sort orders structs ascending).
    """
    value = order.this
    keys = order.expressions
    if any(k.args.get("desc") for k in keys):
        raise ModelError(
            "uses list(... ORDER BY ... DESC), which is not portable to Spark; "
            "order ascending or sort the list afterwards"
        )
    fields = [
        exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=k.this.copy())
        for i, k in enumerate(keys)
    ]
    fields.append(exp.PropertyEQ(this=exp.to_identifier("v"), expression=value.copy()))
    collected = _call("COLLECT_LIST", exp.Struct(expressions=fields))
    lambda_ = exp.Lambda(
        this=exp.Dot(this=exp.to_identifier("e"), expression=exp.to_identifier("v")),
        expressions=[exp.to_identifier("e")],
    )
    return _call("TRANSFORM", _call("ARRAY_SORT", collected), lambda_)


def _ordered_string_agg(node: exp.GroupConcat) -> exp.Expr:
    order = node.this
    assert isinstance(order, exp.Order)
    separator = node.args.get("separator") or exp.Literal.string(",")
    return _call("ARRAY_JOIN", _ordered_list(order), separator)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
