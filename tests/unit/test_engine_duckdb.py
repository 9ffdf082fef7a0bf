from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchlake.config import EngineSettings
from batchlake.engines import TableSource, create_engine
from batchlake.errors import ModelError


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    engine = create_engine(EngineSettings(memory_limit="512MB", threads=1))
    yield engine
    engine.close()


def write(path: Path, table: pa.Table) -> str:
    pq.write_table(table, path)
    return str(path)


def test_register_and_materialize_with_portable_types(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = write(tmp_path / "a.parquet", pa.table({"id": [1, 2], "qty": [3, 4]}))
    b = write(tmp_path / "b.parquet", pa.table({"id": [3], "qty": [5], "extra": ["x"]}))
    engine.register([TableSource("trusted.t", [a, b], pa.schema([]))])
    out = tmp_path / "out"
    out.mkdir()
    written = engine.materialize(
        "SELECT sum(qty) AS total, 3::UTINYINT AS small,"
        " TIMESTAMP_NS '2024-01-01 10:00:00.123456789' AS ts,"
        " count(extra) AS extras FROM trusted.t",
        str(out),
    )
    assert written.rows == 1 and written.files
    result = pq.read_table(written.files[0])
    assert result.schema.field("total").type == pa.decimal128(38, 0)  # not DOUBLE
    assert result.column("total")[0].as_py() == 12
    assert result.schema.field("small").type == pa.int32()
    assert result.schema.field("ts").type == pa.timestamp("us")
    assert result.column("extras")[0].as_py() == 1  # union_by_name kept the new column


def test_raw_names_and_empty_tables(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = pa.schema([("id", pa.int64()), ("name", pa.string())])
    engine.register([TableSource("raw.shop.orders", [], empty)])
    reader = engine.query("SELECT count(*) AS n, max(name) AS m FROM raw.shop.orders")
    assert reader.read_all().to_pylist() == [{"n": 0, "m": None}]


def test_content_hash_ignores_row_order_and_sees_changes(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hashes = []
    for i, values in enumerate(([1, 2, 3], [3, 1, 2], [1, 2, 4], [1, 1, 2, 3])):
        out = tmp_path / f"o{i}"
        out.mkdir()
        sql = "SELECT * FROM (VALUES " + ", ".join(f"({v})" for v in values) + ") AS t(v)"
        hashes.append(engine.materialize(sql, str(out)).content_hash)
    assert hashes[0] == hashes[1]
    assert len({hashes[0], hashes[2], hashes[3]}) == 3


def test_bad_sql_is_a_model_error(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="nope"):
        engine.materialize("SELECT * FROM nope", str(tmp_path))
