"""Arrow batches made exactly what Parquet (and then Iceberg) can hold, or refused.

A source reads columns into Arrow; a few Arrow types cannot be written to Parquet, and a
few values are only exact as text. `Conformer` turns each batch into the capture's
target schema, column by column:

* an interval (Arrow `month_day_nano`, which Parquet cannot store) becomes the struct
  `{months: int32, days: int32, microseconds: int64}` — the three parts PostgreSQL and
  DuckDB keep apart (a month is not a fixed number of days), exact to the microsecond;
* a decimal read as text (PostgreSQL `numeric`, `money`; MySQL `DECIMAL` wider than 38
  digits) becomes `decimal128(p, s)` only when every value fits exactly: NaN, infinities,
  more integer digits than p - s or more fraction digits than s stop the capture with a
  message naming the column, the value and the fix;
* a column the source declares NOT NULL is a non-nullable field (Parquet `required`);
  a NULL in it stops the capture, naming the column.

Any other type Parquet cannot take (an interval inside a list, say) is refused before a
byte is written, naming the column and the fix. The mapping per source is docs/types.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from batchlake.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa


def interval_type() -> pa.DataType:
    """The struct an interval is kept as."""
    import pyarrow as pa

    return pa.struct(
        [
            pa.field("months", pa.int32()),
            pa.field("days", pa.int32()),
            pa.field("microseconds", pa.int64()),
        ]
    )


@dataclass(frozen=True)
class ColumnRule:
    """What the source knows of one column beyond its Arrow type."""

    nullable: bool = True
    decimal: tuple[int, int] | None = None  # text holding a decimal(p, s), converted exactly
    declared: str = ""  # the source's type, for messages ("numeric", "money"...)


@dataclass
class Conformer:
    """Converts batches of `schema` (as read) to `target`; `where` names them in messages."""

    where: str
    schema: pa.Schema
    rules: dict[str, ColumnRule] = field(default_factory=dict)
    fix: str = "capture the column with a custom query that casts it"

    def __post_init__(self) -> None:
        import pyarrow as pa

        fields = []
        for column in self.schema:
            rule = self.rules.get(column.name, ColumnRule())
            kind = column.type
            if rule.decimal is not None:
                kind = pa.decimal128(*rule.decimal)
            elif kind == pa.month_day_nano_interval():
                kind = interval_type()
            elif _holds_interval(kind):
                raise SourceError(
                    f"{self.where}: column '{column.name}' is {_declared(rule, kind)}, a type "
                    f"Parquet cannot store; {self.fix} (for example to text)"
                )
            fields.append(pa.field(column.name, kind, nullable=rule.nullable))
        self.target = pa.schema(fields)

    @property
    def changes(self) -> bool:
        """Whether any batch needs converting (else batches pass through untouched)."""
        return not self.target.equals(self.schema, check_metadata=False) or any(
            a.nullable != b.nullable for a, b in zip(self.target, self.schema, strict=True)
        )

    def conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa

        arrays = []
        for column, wanted in zip(batch.columns, self.target, strict=True):
            rule = self.rules.get(wanted.name, ColumnRule())
            if rule.decimal is not None:
                column = self._decimal(column, wanted.name, rule)
            elif column.type == pa.month_day_nano_interval():
                column = self._interval(column, wanted.name)
            if not wanted.nullable and column.null_count:
                raise SourceError(
                    f"{self.where}: column '{wanted.name}' is NOT NULL in the source but the "
                    "read returned NULL; check the column's definition, or capture it with a "
                    "custom query"
                )
            arrays.append(column)
        return pa.RecordBatch.from_arrays(arrays, schema=self.target)

    def batches(self, source: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in source:
            yield self.conform(batch)

    def _decimal(self, column: pa.Array, name: str, rule: ColumnRule) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        assert rule.decimal is not None
        precision, scale = rule.decimal
        text = column.cast(pa.string())
        # Plain decimal text (no exponent: PostgreSQL and MySQL never write one) with at
        # most p - s integer digits; more fraction digits than s fail the safe cast below.
        pattern = rf"^[+-]?0*[0-9]{{0,{precision - scale}}}(\.[0-9]*)?$"
        bad = pc.invert(pc.match_substring_regex(text, pattern))
        if pc.any(bad).as_py():
            raise self._not_exact(name, rule, text.filter(bad)[0].as_py())
        try:
            return text.cast(pa.decimal128(precision, scale), safe=True)
        except pa.ArrowInvalid:  # more fraction digits than the scale
            for value in text.drop_null().to_pylist():
                try:
                    pa.array([value]).cast(pa.decimal128(precision, scale), safe=True)
                except pa.ArrowInvalid:
                    raise self._not_exact(name, rule, value) from None
            raise

    def _not_exact(self, name: str, rule: ColumnRule, value: str) -> SourceError:
        assert rule.decimal is not None
        precision, scale = rule.decimal
        shown = value if len(value) <= 60 else value[:57] + "..."
        return SourceError(
            f"{self.where}: column '{name}' ({rule.declared or 'decimal'}) holds '{shown}', "
            f"which decimal({precision}, {scale}) cannot hold exactly; {self.fix} "
            f"(a numeric with the precision and scale the values need, up to 38 digits, "
            f"or text)"
        )

    def _interval(self, column: pa.Array, name: str) -> pa.Array:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanoseconds", "<i8")])
        data = column.buffers()[1]
        assert data is not None
        values = np.frombuffer(data, dtype=parts)[column.offset : column.offset + len(column)]
        nanoseconds = values["nanoseconds"]
        valid = np.asarray(column.is_valid())
        if np.any((nanoseconds % 1000 != 0) & valid):
            raise SourceError(
                f"{self.where}: column '{name}' holds an interval finer than a microsecond; "
                f"{self.fix}"
            )
        mask = pc.invert(column.is_valid())
        return pa.StructArray.from_arrays(
            [
                pa.array(values["months"], pa.int32()),
                pa.array(values["days"], pa.int32()),
                pa.array(nanoseconds // 1000, pa.int64()),
            ],
            fields=list(interval_type()),
            mask=mask,
        )


def _holds_interval(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if kind == pa.month_day_nano_interval():
        return True
    return any(_holds_interval(kind.field(i).type) for i in range(kind.num_fields))


def _declared(rule: ColumnRule, kind: pa.DataType) -> str:
    return f"{rule.declared} ({kind})" if rule.declared else str(kind)
