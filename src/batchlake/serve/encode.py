"""Arrow results as JSON, CSV or Parquet bodies, streamed batch by batch."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def json_value(value: Any) -> Any:
    """A JSON-safe value: exact decimals as strings, dates as ISO text, bytes as base64."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def _converter(type_: pa.DataType) -> Callable[[Any], Any] | None:
    """How a column's Python values become JSON values; None when they already are."""
    import pyarrow as pa

    if pa.types.is_decimal(type_):
        return lambda v: format(v, "f")
    if pa.types.is_temporal(type_) and not pa.types.is_duration(type_):
        return lambda v: v.isoformat()
    if pa.types.is_duration(type_):
        return lambda v: v.total_seconds()
    if pa.types.is_floating(type_):
        return lambda v: v if math.isfinite(v) else None
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_) or pa.types.is_nested(type_):
        return json_value
    return None


def rows_of(batch: pa.RecordBatch) -> list[list[Any]]:
    """A batch as JSON-ready rows, converted column by column (one type check per column)."""
    columns = []
    for array in batch.columns:
        values = array.to_pylist()
        convert = _converter(array.type)
        if convert is not None:
            values = [None if v is None else convert(v) for v in values]
        columns.append(values)
    return [list(row) for row in zip(*columns, strict=True)]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def json_stream(
    header: dict[str, Any], batches: Iterable[pa.RecordBatch], footer: dict[str, Any]
) -> Iterator[bytes]:
    """`{...header, "rows": [[...], ...], ...footer}` without holding all rows as text."""
    head = dumps(header)[:-1]
    yield (head + ("," if header else "") + '"rows":[').encode()
    first = True
    for batch in batches:
        rows = rows_of(batch)
        if not rows:
            continue
        text = dumps(rows)[1:-1]
        yield (text if first else "," + text).encode()
        first = False
    tail = dumps(footer)[1:]
    yield ("]" + ("," + tail if footer else "}")).encode()


def csv_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    import pyarrow.csv as pcsv

    sink = io.BytesIO()
    writer = pcsv.CSVWriter(sink, _csv_safe(schema))
    for batch in batches:
        writer.write_batch(_csv_batch(batch))
        yield sink.getvalue()
        sink.seek(0)
        sink.truncate()
    writer.close()
    rest = sink.getvalue()
    if rest:
        yield rest


def _csv_safe(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    fields = []
    for f in schema:
        nested = pa.types.is_nested(f.type) or pa.types.is_binary(f.type)
        fields.append(pa.field(f.name, pa.string()) if nested else f)
    return pa.schema(fields)


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Nested and binary columns become JSON text (pyarrow's CSV writer refuses them)."""
    import pyarrow as pa

    arrays = []
    for array in batch.columns:
        if pa.types.is_nested(array.type) or pa.types.is_binary(array.type):
            texts = [None if v is None else dumps(json_value(v)) for v in array.to_pylist()]
            arrays.append(pa.array(texts, pa.string()))
        else:
            arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=_csv_safe(batch.schema))


class _Chunks(io.RawIOBase):
    """A write-only file that hands out what was written so far (position kept whole)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def parquet_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    for batch in batches:
        writer.write_batch(batch)
        if sink.parts:
            yield sink.take()
    writer.close()
    yield sink.take()
