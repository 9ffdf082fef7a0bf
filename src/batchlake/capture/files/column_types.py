"""Column types of file captures: type names, inference from text, casts that find bad rows.

Override names are DuckDB/SQL type names, as written in models (`BIGINT`, `DECIMAL(10,2)`,
`DATE`, `TIMESTAMP`, `VARCHAR`...). A cast never silently changes a value: a value that does
not convert exactly (`'abc'` as BIGINT, `'2020-02-30'` as DATE, `'1.555'` as DECIMAL(10,2))
makes its row bad, and the other rows of the batch keep their values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow's own CSV null markers: they read as NULL in every column that is not text.
NULL_TEXTS = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
]

_NAMES = {
    "BOOLEAN": "bool",
    "BOOL": "bool",
    "LOGICAL": "bool",
    "TINYINT": "int8",
    "INT1": "int8",
    "SMALLINT": "int16",
    "INT2": "int16",
    "SHORT": "int16",
    "INTEGER": "int32",
    "INT": "int32",
    "INT4": "int32",
    "SIGNED": "int32",
    "BIGINT": "int64",
    "INT8": "int64",
    "LONG": "int64",
    "UTINYINT": "uint8",
    "USMALLINT": "uint16",
    "UINTEGER": "uint32",
    "UBIGINT": "uint64",
    "REAL": "float32",
    "FLOAT": "float32",
    "FLOAT4": "float32",
    "DOUBLE": "float64",
    "FLOAT8": "float64",
    "VARCHAR": "string",
    "TEXT": "string",
    "STRING": "string",
    "CHAR": "string",
    "BPCHAR": "string",
    "DATE": "date32",
    "TIMESTAMP": "timestamp",
    "DATETIME": "timestamp",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BLOB": "binary",
    "BYTEA": "binary",
    "VARBINARY": "binary",
}
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
_SIZED_TEXT = re.compile(r"^(?:VARCHAR|CHAR|BPCHAR)\s*\(\s*\d+\s*\)$")


def parse_type(name: str, key: str) -> pa.DataType:
    """The Arrow type for a DuckDB/SQL type name; `key` names the setting in errors."""
    import pyarrow as pa

    spelled = " ".join(name.upper().split())
    decimal = _DECIMAL.match(spelled)
    if decimal:
        precision = int(decimal.group(1) or 18)
        scale = int(decimal.group(2) or (0 if decimal.group(1) else 3))
        if not 1 <= precision <= 38 or scale > precision:
            raise ConfigError(f"{key}: {name} needs 1 <= precision <= 38 and scale <= precision")
        return pa.decimal128(precision, scale)
    if _SIZED_TEXT.match(spelled):
        return pa.string()
    arrow = _NAMES.get(spelled)
    if arrow is None:
        raise ConfigError(
            f"{key}: unknown type '{name}'; use a DuckDB/SQL type name such as BIGINT, "
            "DOUBLE, DECIMAL(10,2), VARCHAR, BOOLEAN, DATE, TIMESTAMP or TIMESTAMPTZ"
        )
    if arrow == "timestamp":
        return pa.timestamp("us")
    if arrow == "timestamptz":
        return pa.timestamp("us", tz="UTC")
    return pa.type_for_alias(arrow)


def infer_text_type(strings: pa.Array) -> pa.DataType:
    """The narrowest type every non-null value of a text column reads as exactly (else text).

    Numbers with a leading zero (`007`, zip codes) stay text; decimal text with more
    significant digits than a double keeps (15) becomes an exact decimal(p, s) when it
    fits 38 digits, else stays text.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = strings.drop_null()
    if len(values) == 0:
        return pa.string()
    padded = pc.any(pc.match_substring_regex(values, r"^[+-]?0[0-9]")).as_py()
    candidates = [
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us"),
        pa.timestamp("us", tz="UTC"),
    ]
    if padded:
        candidates = candidates[2:]
    head = values.slice(0, 1000)  # a failing cast is slow: rule most types out on a few
    for candidate in candidates:
        try:
            pc.cast(head, candidate, safe=True)
            pc.cast(values, candidate, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if candidate == pa.float64():
            return _exact_decimal(values) or candidate
        return candidate
    return pa.string()


_DECIMAL_TEXT = r"^[+-]?(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?$"


def _exact_decimal(values: pa.Array) -> pa.DataType | None:
    """decimal(p, s) when some value has more significant digits than a double keeps.

    None when a double holds every value (15 significant digits or fewer); text when a
    value has an exponent or needs more than 38 digits.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_length(
        pc.utf8_ltrim(pc.replace_substring_regex(values, r"[eE].*$|[^0-9]", ""), "0")
    )
    if pc.max(digits).as_py() <= 15:
        return None
    parts = pc.extract_regex(values, _DECIMAL_TEXT)
    if parts.null_count:  # an exponent: not a plain decimal
        return pa.string()
    whole = pc.max(pc.utf8_length(pc.utf8_ltrim(pc.struct_field(parts, "whole"), "0"))).as_py()
    scale = pc.max(pc.utf8_length(pc.struct_field(parts, "fraction"))).as_py() or 0
    if whole + scale > 38:
        return pa.string()
    return pa.decimal128(max(whole + scale, 1), scale)


def null_markers(strings: pa.Array) -> pa.Array:
    """Text with pyarrow's null markers ('', 'NA', 'null'...) turned into NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    marked = pc.is_in(strings, value_set=pa.array(NULL_TEXTS, pa.string()))
    return pc.if_else(marked, pa.scalar(None, pa.string()), strings)


def cast_checked(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """`values` as `target`, with the positions that do not convert exactly set to NULL.

    The whole array is cast at once; only when that fails is it halved until the failing
    values are found, so a batch with k bad values costs about 2·k·log2(n) small casts.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_decimal(target) and pa.types.is_integer(values.type):
        values = pc.cast(values, pa.decimal128(38, 0))  # int64 → decimal needs 19+ digits
    try:
        return pc.cast(values, target, safe=True), []
    except pa.ArrowNotImplementedError as exc:
        raise SourceError(f"cannot convert {values.type} to {target}: {exc}") from None
    except pa.ArrowInvalid:
        pass
    bad = _failing(values, target, 0)
    mask = np.zeros(len(values), dtype=bool)
    mask[bad] = True
    cleaned = pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)
    return pc.cast(cleaned, target, safe=True), bad


def _failing(values: pa.Array, target: pa.DataType, offset: int) -> list[int]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) <= 8:
        found = []
        for index in range(len(values)):
            try:
                pc.cast(values.slice(index, 1), target, safe=True)
            except pa.ArrowInvalid:
                found.append(offset + index)
        return found
    middle = len(values) // 2
    found = []
    for start, part in ((0, values.slice(0, middle)), (middle, values.slice(middle))):
        try:
            pc.cast(part, target, safe=True)
        except pa.ArrowInvalid:
            found += _failing(part, target, offset + start)
    return found


def show(value: object) -> str:
    """A value as quoted in a reason: `'abc'`, `12.5`, cut at 60 characters."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = f"'{value}'" if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def conform(
    batch: pa.RecordBatch, target: pa.Schema, labels: dict[str, str]
) -> tuple[pa.RecordBatch, dict[int, list[str]]]:
    """`batch` with `target`'s columns and types, and why each bad row (by index) is bad.

    Columns the batch lacks read as NULL. Bad values are NULL in the returned batch; the
    caller drops their rows (see `drop_rows`) after merging in reasons of its own.
    """
    import pyarrow as pa

    arrays = []
    problems: dict[int, list[str]] = {}
    present = set(batch.schema.names)
    for field in target:
        if field.name not in present:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(field.name)
        if column.type == field.type:
            arrays.append(column)
            continue
        try:
            converted, bad = cast_checked(column, field.type)
        except SourceError as exc:
            raise SourceError(f"column '{field.name}': {exc}") from None
        label = labels.get(field.name, str(field.type))
        for index in bad:
            problems.setdefault(index, []).append(
                f"column '{field.name}': {show(column[index].as_py())} is not a valid {label}"
            )
        arrays.append(converted)
    return pa.RecordBatch.from_arrays(arrays, schema=target), problems


def drop_rows(batch: pa.RecordBatch, rows: Iterable[int]) -> pa.RecordBatch:
    """`batch` without the rows at the given indices."""
    import numpy as np
    import pyarrow as pa

    indices = list(rows)
    if not indices:
        return batch
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[indices] = False
    return batch.filter(pa.array(keep))


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """Nullable fields, no metadata: what every batch of a capture is conformed to."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, f.type) for f in schema])
