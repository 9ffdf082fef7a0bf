"""Capture a source entity into the raw zone: one Parquet batch plus a manifest row.

The batch streams from the source to a temporary file next to its final place while a
sha256 of the data is computed. If an earlier batch of the same entity has the same hash,
the new file is dropped and the batch is recorded as a duplicate; otherwise the file is
renamed into place and then recorded. Raw views read only recorded batches, so a killed
capture leaves at most an unreferenced file behind, never a half batch in the lake.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchlake.metadata import BatchRecord, MetadataStore, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa

    from batchlake.sources import Source
    from batchlake.storage import Storage

BATCH_ID_COLUMN = "_batch_id"
LOADED_AT_COLUMN = "_loaded_at"


@dataclass(frozen=True)
class IngestResult:
    source: str
    entity: str
    batch_id: str
    status: str  # "written" or "duplicate"
    rows: int
    bytes: int
    seconds: float
    duplicate_of: str | None = None

    @property
    def name(self) -> str:
        return f"raw.{self.source}.{self.entity}"


def new_batch_id(now: datetime) -> str:
    """Sortable by time, unique across processes: `20260101T120000123456-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def schema_json(schema: pa.Schema) -> str:
    return json.dumps([{"name": f.name, "type": str(f.type)} for f in schema])


def ingest_entity(
    source: Source,
    entity: str,
    *,
    storage: Storage,
    metadata: MetadataStore,
    run_id: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> IngestResult:
    """Capture one entity of `source` into a new raw batch (or record a duplicate)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = utcnow()
    clock = time.perf_counter()
    batch_id = new_batch_id(started)
    final = storage.raw_batch_path(source.name, entity, started.date(), batch_id, "parquet")
    folder, _, filename = final.rpartition("/")
    temporary = f"{folder}/.{filename}.tmp"
    storage.makedirs(folder)

    reader = source.read(entity)
    data_schema = reader.schema
    digest = hashlib.sha256(data_schema.serialize().to_pybytes())
    lineage = [
        pa.field(BATCH_ID_COLUMN, pa.string(), nullable=False),
        pa.field(LOADED_AT_COLUMN, pa.timestamp("us", tz="UTC"), nullable=False),
    ]
    file_schema = pa.schema([*data_schema, *lineage])
    batch_value = pa.scalar(batch_id, pa.string())
    loaded_value = pa.scalar(started, pa.timestamp("us", tz="UTC"))
    rows = 0
    try:
        with (
            storage.filesystem.open_output_stream(_path(temporary)) as sink,
            pq.ParquetWriter(sink, file_schema, compression="zstd") as writer,
        ):
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                update_digest(digest, batch)
                columns = [
                    *batch.columns,
                    pa.repeat(batch_value, batch.num_rows),
                    pa.repeat(loaded_value, batch.num_rows),
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=file_schema))
                rows += batch.num_rows
                if on_rows is not None:
                    on_rows(batch.num_rows)
    except BaseException:
        storage.delete(temporary)
        raise
    content_hash = digest.hexdigest()
    duplicate_of = metadata.find_batch_by_hash(source.name, entity, content_hash)
    if duplicate_of is not None:
        storage.delete(temporary)
        status, path, size = "duplicate", None, 0
    else:
        storage.move(temporary, final)
        status, path, size = "written", final, storage.size(final)
    finished = utcnow()
    metadata.record_batch(
        BatchRecord(
            batch_id=batch_id,
            source=source.name,
            entity=entity,
            status=status,
            path=path,
            rows=rows,
            bytes=size,
            schema_json=schema_json(data_schema),
            content_hash=content_hash,
            started_at=started,
            finished_at=finished,
            run_id=run_id,
        )
    )
    return IngestResult(
        source.name, entity, batch_id, status, rows, size, time.perf_counter() - clock, duplicate_of
    )


def update_digest(digest: hashlib._Hash, batch: pa.RecordBatch) -> None:
    """Feed a batch's VALUES into `digest`, independent of how its buffers were laid out.

    The bytes under a null slot are undefined (readers leave whatever was in memory), so
    they are hashed as a null mask plus the column with nulls replaced by a fixed value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for index, column in enumerate(batch.columns):
        if column.null_count:
            mask = column.is_null().to_numpy(zero_copy_only=False)
            digest.update(f"nulls of column {index}:".encode())
            digest.update(mask.tobytes())
            filler = _zero(column.type)
            if filler is not None:
                column = pc.fill_null(column, filler)
        columns.append(column)
    digest.update(pa.RecordBatch.from_arrays(columns, names=batch.schema.names).serialize())


def _zero(type_: pa.DataType) -> pa.Scalar | None:
    import pyarrow as pa

    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return pa.scalar("", type_)
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
        return pa.scalar(b"", type_)
    if pa.types.is_boolean(type_):
        return pa.scalar(False)
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return pa.scalar(0).cast(type_)
    if pa.types.is_temporal(type_) and type_.bit_width in (32, 64):
        storage = pa.int32() if type_.bit_width == 32 else pa.int64()
        return pa.array([0], storage).view(type_)[0]
    return None


def _path(location: str) -> str:
    return location.split("://", 1)[1] if "://" in location else location
