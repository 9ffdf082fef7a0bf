"""The raw Parquet writer: row groups, lineage columns, and failures on either side."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchlake.capture import Capture
from batchlake.capture.raw_writer import ROW_GROUP_ROWS, write_parquet
from batchlake.storage import Storage

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])
LOADED = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _batches(total: int, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, total, size):
        ids = list(range(start, min(start + size, total)))
        yield pa.record_batch([pa.array(ids), pa.array([f"n{i}" for i in ids])], schema=SCHEMA)


def _write(tmp_path: Path, batches: Iterator[pa.RecordBatch]) -> tuple[Path, int]:
    target = tmp_path / "batch.parquet"
    capture = Capture(format="arrow", batches=batches, schema=SCHEMA)
    rows, _, _ = write_parquet(
        capture, Storage(str(tmp_path)), str(target), "b-1", LOADED, on_rows=None
    )
    return target, rows


def test_small_reader_batches_become_large_row_groups(tmp_path: Path) -> None:
    total = 2 * ROW_GROUP_ROWS + 12_345
    target, rows = _write(tmp_path, _batches(total, 10_000))
    assert rows == total
    meta = pq.ParquetFile(target).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(sizes) == total
    assert meta.num_row_groups == 3  # 10k batches gathered to >= ROW_GROUP_ROWS, then the rest
    assert all(size >= ROW_GROUP_ROWS for size in sizes[:-1])
    table = pq.read_table(target)
    assert table.column("id").to_pylist() == list(range(total))
    assert set(table.column("_batch_id").to_pylist()) == {"b-1"}
    assert set(table.column("_loaded_at").to_pylist()) == {LOADED}


def test_a_failing_reader_stops_the_writer(tmp_path: Path) -> None:
    def broken() -> Iterator[pa.RecordBatch]:
        yield from _batches(3 * ROW_GROUP_ROWS, 50_000)
        raise ConnectionError("server closed the connection")

    with pytest.raises(ConnectionError, match="server closed"):
        _write(tmp_path, broken())


def test_a_failing_writer_reaches_the_caller(tmp_path: Path) -> None:
    capture = Capture(format="arrow", batches=_batches(5 * ROW_GROUP_ROWS, 50_000), schema=SCHEMA)
    missing = tmp_path / "no-such-folder" / "batch.parquet"
    with pytest.raises(OSError):
        write_parquet(capture, Storage(str(tmp_path)), str(missing), "b", LOADED, on_rows=None)


def test_only_text_and_lineage_columns_are_dictionary_encoded(tmp_path: Path) -> None:
    target, _ = _write(tmp_path, _batches(1_000, 1_000))
    group = pq.ParquetFile(target).metadata.row_group(0)
    dictionary = {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).dictionary_page_offset is not None
    }
    # Unique ids in a dictionary only to fall back to plain encoding cost time and space.
    assert dictionary == {"name", "_batch_id", "_loaded_at"}
