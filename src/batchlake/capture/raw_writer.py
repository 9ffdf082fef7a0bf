"""Arrow captures to raw Parquet: value hashing, lineage columns, schema drift checks."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from batchlake.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.capture import Capture
    from batchlake.storage import Storage

BATCH_ID_COLUMN = "_batch_id"
LOADED_AT_COLUMN = "_loaded_at"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schema_json(schema: pa.Schema) -> str:
    """The columns as the manifest keeps them; NOT NULL ones (Parquet `required`) say so."""
    return json.dumps(
        [
            {"name": f.name, "type": str(f.type)} | ({} if f.nullable else {"nullable": False})
            for f in schema
        ]
    )


ROW_GROUP_ROWS = 100_000  # readers deliver 1k–100k-row batches; row groups get at least this
_QUEUE_DEPTH = 4  # row groups in flight between the reader and the writer thread


def write_parquet(
    capture: Capture,
    storage: Storage,
    location: str,
    batch_id: str,
    loaded_at: datetime,
    on_rows: Callable[[int], None] | None,
) -> tuple[int, str, str]:
    """Stream the capture's batches into one Parquet file; return rows, hash, schema.

    The calling thread reads and hashes while a second thread encodes and writes, so the
    two overlap; at most a few row groups are in flight (bounded memory). Small reader
    batches are gathered into row groups of at least ROW_GROUP_ROWS rows.
    """
    import pyarrow as pa

    batches = iter(capture.batches)
    schema = capture.schema
    first = None
    if schema is None:
        first = next(batches, None)
        schema = first.schema if first is not None else pa.schema([])
    digest = _StreamDigests(schema, capture.stream_of)
    file_schema = pa.schema(
        [
            *schema,
            pa.field(BATCH_ID_COLUMN, pa.string(), nullable=False),
            pa.field(LOADED_AT_COLUMN, pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )
    lineage = (_string_scalar(batch_id), _timestamp_scalar(loaded_at))
    path = location.split("://", 1)[1] if "://" in location else location
    writer = _WriterThread(storage, path, file_schema, lineage)
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        for batch in _chain(first, batches):
            if batch.num_rows == 0:
                continue
            digest.update(batch)
            pending.append(batch)
            pending_rows += batch.num_rows
            rows += batch.num_rows
            if on_rows is not None:
                on_rows(batch.num_rows)
            if pending_rows >= ROW_GROUP_ROWS:
                writer.put(pending)
                pending, pending_rows = [], 0
        if pending:
            writer.put(pending)
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    return rows, digest.hexdigest(), schema_json(schema)


class _WriterThread:
    """Writes row groups handed over through a bounded queue, in a thread of its own."""

    def __init__(
        self, storage: Storage, path: str, schema: pa.Schema, lineage: tuple[pa.Scalar, ...]
    ) -> None:
        self._queue: queue.Queue[list[pa.RecordBatch] | None] = queue.Queue(_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._aborted = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(storage, path, schema, lineage),
            name="batchlake-parquet-writer",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self, storage: Storage, path: str, schema: pa.Schema, lineage: tuple[pa.Scalar, ...]
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            with (
                storage.filesystem.open_output_stream(path) as sink,
                pq.ParquetWriter(
                    sink, schema, compression="zstd", use_dictionary=dictionary_columns(schema)
                ) as writer,
            ):
                while (group := self._queue.get()) is not None:
                    if self._aborted.is_set():
                        continue  # drain without writing; the caller deletes the file
                    table = pa.Table.from_batches(group)
                    n = table.num_rows
                    columns = [*table.columns, *(pa.repeat(value, n) for value in lineage)]
                    writer.write_table(pa.Table.from_arrays(columns, schema=schema), n)
        except BaseException as exc:
            self._error = exc
            while self._queue.get() is not None:  # unblock the producer until it stops
                pass

    def put(self, group: list[pa.RecordBatch]) -> None:
        if self._error is not None:
            self.finish()  # raises the writer's error
        self._queue.put(group)

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._aborted.set()
        if self._thread.is_alive():
            self._queue.put(None)
        self._thread.join()


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary encoding: text, booleans and the constant lineage columns.

    Numbers, decimals and times are mostly distinct (ids, amounts, timestamps): building a
    dictionary for them only to fall back to plain encoding made the write ~1.7x slower
    and the file ~25% larger (measured on the capture benchmark's 1 M rows).
    """
    import pyarrow as pa

    lineage = {BATCH_ID_COLUMN, LOADED_AT_COLUMN}
    return [
        f.name
        for f in schema
        if f.name in lineage
        or pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_boolean(f.type)
        or pa.types.is_dictionary(f.type)
    ]


def _string_scalar(value: str) -> pa.Scalar:
    """A string scalar built from buffers: `pa.scalar()` would import pandas (~0.2 s)."""
    import pyarrow as pa

    data = value.encode()
    offsets = pa.py_buffer(bytes(4) + len(data).to_bytes(4, "little"))  # int32: 0, len(data)
    return pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)])[0]


def _timestamp_scalar(value: datetime) -> pa.Scalar:
    import pyarrow as pa

    micros = (value - _EPOCH) // timedelta(microseconds=1)
    buffer = pa.py_buffer(micros.to_bytes(8, "little", signed=True))
    return pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), 1, [None, buffer])[0]


def _chain(
    first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from rest


class _StreamDigests:
    """One ValueDigest per stream of a partitioned read (one in all for a plain read)."""

    def __init__(
        self, schema: pa.Schema, stream_of: Callable[[pa.RecordBatch], int] | None
    ) -> None:
        self.schema = schema
        self.stream_of = stream_of
        self.streams: dict[int, ValueDigest] = {}

    def update(self, batch: pa.RecordBatch) -> None:
        stream = self.stream_of(batch) if self.stream_of is not None else 0
        if stream not in self.streams:
            self.streams[stream] = ValueDigest(self.schema)
        self.streams[stream].update(batch)

    def hexdigest(self) -> str:
        if self.stream_of is None:  # a plain read: the same hash as ever
            return (self.streams.get(0) or ValueDigest(self.schema)).hexdigest()
        total = hashlib.sha256(b"streams")
        for stream in sorted(self.streams):
            total.update(f"{stream}:{self.streams[stream].hexdigest()};".encode())
        return total.hexdigest()


class ValueDigest:
    """A sha256 of a stream's VALUES: independent of batch boundaries and buffer layouts.

    Each column has its own running hash fed with its values in order: nulls as a byte
    mask plus a fixed filler (the bytes under a null slot are undefined: readers leave
    whatever was in memory), fixed-width values as their bytes, strings and binaries as
    lengths plus bytes, dictionaries (enums) as their values. So the same rows captured
    in batches of different sizes (ConnectorX streams vary) hash the same.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        # Per column: running hashes of the null mask, of value lengths (strings) and of the
        # value bytes, kept apart so that what each receives does not depend on where
        # batches end.
        self.columns = [(hashlib.sha256(), hashlib.sha256(), hashlib.sha256()) for _ in schema]
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        for (nulls, lengths, values), column in zip(self.columns, batch.columns, strict=True):
            _feed(nulls, lengths, values, column)
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        total = hashlib.sha256(self.schema.serialize().to_pybytes())
        total.update(str(self.rows).encode())
        for nulls, lengths, values in self.columns:
            total.update(nulls.digest() + lengths.digest() + values.digest())
        return total.hexdigest()


def _feed(
    nulls: hashlib._Hash, lengths: hashlib._Hash, digest: hashlib._Hash, column: pa.Array
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not column.null_count:
        nulls.update(bytes(len(column)))  # all valid: the same bytes however batches split
    else:
        nulls.update(_bool_bytes(column.is_null()))
        filler = _zero(column.type)
        if filler is not None:
            column = pc.fill_null(column, filler)
    kind = column.type
    if pa.types.is_boolean(kind):
        digest.update(_bool_bytes(column))
    elif (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_large_binary(kind)
    ):
        wide = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
        _, offsets_buffer, data = column.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32)
        offsets = offsets[column.offset : column.offset + len(column) + 1]
        lengths.update(np.diff(offsets).astype(np.int64).tobytes())
        if data is not None and len(offsets):
            digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    elif not pa.types.is_nested(kind) and _fixed_width(kind):
        width = kind.bit_width // 8
        values = column.buffers()[1]
        assert values is not None
        start = column.offset * width
        digest.update(memoryview(values)[start : start + len(column) * width])
    else:  # nested types: their IPC form (rare in captures; boundaries then matter)
        digest.update(pa.record_batch([column], names=["c"]).serialize())


def _fixed_width(kind: pa.DataType) -> bool:
    try:
        return bool(kind.bit_width) and kind.bit_width % 8 == 0
    except ValueError:  # variable width (e.g. string views, unions)
        return False


def _bool_bytes(array: pa.Array) -> bytes:
    """One byte (0 or 1) per value, as a numpy bool array holds them.

    A cast, not `to_numpy(zero_copy_only=False)`, which makes pyarrow import pandas.
    """
    import pyarrow as pa

    as_bytes = array.cast(pa.uint8())
    values = as_bytes.buffers()[1]
    assert values is not None
    return memoryview(values)[as_bytes.offset : as_bytes.offset + len(as_bytes)].tobytes()


def _zero(type_: pa.DataType) -> pa.Scalar | None:
    """The filler for null slots: "", b"", False or all-zero bytes (0, 0.0, epoch).

    Built from buffers: `pa.scalar()` would import pandas (~0.2 s of every capture).
    """
    import pyarrow as pa

    if pa.types.is_boolean(type_):
        buffers = [None, pa.py_buffer(b"\x00")]
    elif pa.types.is_string(type_) or pa.types.is_binary(type_):
        buffers = [None, pa.py_buffer(bytes(8)), pa.py_buffer(b"")]  # int32 offsets 0, 0
    elif pa.types.is_large_string(type_) or pa.types.is_large_binary(type_):
        buffers = [None, pa.py_buffer(bytes(16)), pa.py_buffer(b"")]
    elif (
        pa.types.is_decimal(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or (pa.types.is_temporal(type_) and type_.bit_width in (32, 64))
    ):
        buffers = [None, pa.py_buffer(bytes(type_.bit_width // 8))]
    else:
        return None
    return pa.Array.from_buffers(type_, 1, buffers)[0]


_INT_ORDER = ["int8", "int16", "int32", "int64"]
_FLOAT_ORDER = ["halffloat", "float", "double"]


def _compatible(old: str, new: str) -> bool:
    """Whether a column may go from type `old` to `new` without losing what it held."""
    if old == new or "null" in (old, new):
        return True
    pairs = {
        ("string", "large_string"),
        ("large_string", "string"),
        ("binary", "large_binary"),
        ("large_binary", "binary"),
    }
    if (old, new) in pairs:
        return True
    # An enum read as dictionary-encoded text (DuckDB's attached PostgreSQL scan, before
    # PostgreSQL tables were read through postgres_query) and as plain text: the same values.
    text = ("string", "large_string")
    if old.startswith("dictionary<values=string") and new in text:
        return True
    if new.startswith("dictionary<values=string") and old in text:
        return True
    for order in (_INT_ORDER, _FLOAT_ORDER):
        if old in order and new in order:
            return order.index(new) >= order.index(old)
    if old in _INT_ORDER and new == "double":
        return True
    if old.startswith("decimal128(") and new.startswith("decimal128("):
        p_old, s_old = (int(x) for x in old[11:-1].split(","))
        p_new, s_new = (int(x) for x in new[11:-1].split(","))
        return s_new == s_old and p_new >= p_old
    if old.startswith("timestamp[") and new.startswith("timestamp["):
        return ("tz=" in old) == ("tz=" in new)
    return False


def check_drift(source: str, entity: str, previous: str, schema: pa.Schema) -> None:
    """Refuse a capture whose column changed type incompatibly since the last batch.

    New columns and dropped columns are fine (raw views read batches by name: a dropped
    column reads as NULL in new batches); `int32 → int64` and similar widening are fine.
    """
    before = {c["name"]: c["type"] for c in json.loads(previous)}
    for field in schema:
        old = before.get(field.name)
        if old is not None and not _compatible(old, str(field.type)):
            raise SourceError(
                f"schema drift in {source}.{entity}: column '{field.name}' changed type from "
                f"{old} to {field.type}; fix the source, or exclude the column, or capture "
                f"into a new entity name"
            )
