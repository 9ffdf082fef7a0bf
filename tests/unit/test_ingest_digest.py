from __future__ import annotations

import pyarrow as pa

from batchlake.ingest import ValueDigest


def digest(*batches: pa.RecordBatch) -> str:
    h = ValueDigest(batches[0].schema)
    for batch in batches:
        h.update(batch)
    return h.hexdigest()


def int_array_with_garbage(garbage: int) -> pa.Array:
    """[1, NULL, 3] where the bytes under the NULL slot hold `garbage`."""
    validity = pa.py_buffer(bytes([0b101]))
    values = pa.array([1, garbage, 3], pa.int64()).buffers()[1]
    return pa.Array.from_buffers(pa.int64(), 3, [validity, values], null_count=1)


def test_bytes_under_nulls_do_not_change_the_hash() -> None:
    a = pa.RecordBatch.from_arrays([int_array_with_garbage(0)], names=["x"])
    b = pa.RecordBatch.from_arrays([int_array_with_garbage(987654321)], names=["x"])
    assert a.column(0).to_pylist() == b.column(0).to_pylist() == [1, None, 3]
    assert digest(a) == digest(b)


def test_values_and_null_positions_change_the_hash() -> None:
    base = pa.RecordBatch.from_pydict({"x": [1, None, 3], "s": ["a", None, "c"]})
    other_value = pa.RecordBatch.from_pydict({"x": [1, None, 4], "s": ["a", None, "c"]})
    null_vs_zero = pa.RecordBatch.from_pydict({"x": [1, 0, 3], "s": ["a", None, "c"]})
    null_vs_empty = pa.RecordBatch.from_pydict({"x": [1, None, 3], "s": ["a", "", "c"]})
    hashes = {digest(b) for b in (base, other_value, null_vs_zero, null_vs_empty)}
    assert len(hashes) == 4


def test_slices_hash_like_copies() -> None:
    whole = pa.RecordBatch.from_pydict({"x": [9, 1, None, 3], "d": [None, 1.5, 2.5, None]})
    sliced = whole.slice(1, 3)
    copy = pa.RecordBatch.from_pydict({"x": [1, None, 3], "d": [1.5, 2.5, None]})
    assert digest(sliced) == digest(copy)


def test_every_common_type_with_nulls_hashes() -> None:
    import datetime as dt
    from decimal import Decimal

    batch = pa.RecordBatch.from_pydict(
        {
            "money": pa.array([Decimal("1.25"), None], pa.decimal128(12, 2)),
            "day": pa.array([dt.date(2024, 1, 1), None]),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None], pa.timestamp("us", "UTC")
            ),
            "flag": pa.array([True, None]),
            "blob": pa.array([b"x", None]),
            "mood": pa.array(["ok", None]).dictionary_encode(),
        }
    )
    other = pa.RecordBatch.from_pydict(
        {**batch.to_pydict(), "money": [Decimal("1.26"), None]}, schema=batch.schema
    )
    assert digest(batch) == digest(pa.RecordBatch.from_pylist(batch.to_pylist(), batch.schema))
    assert digest(batch) != digest(other)


def test_batch_boundaries_do_not_change_the_hash() -> None:
    whole = pa.RecordBatch.from_pydict(
        {
            "x": [1, None, 3, 4, None],
            "s": ["a", "bb", None, "", "ccc"],
            "f": [True, False, None, True, True],
        }
    )
    assert digest(whole) == digest(whole.slice(0, 1), whole.slice(1, 3), whole.slice(4, 1))
    assert digest(whole) == digest(whole.slice(0, 2), whole.slice(2, 3))
    assert digest(whole) != digest(whole.slice(0, 4))


def test_nested_columns_hash() -> None:
    batch = pa.RecordBatch.from_pydict({"tags": [["a", "b"], None, []], "id": [1, 2, 3]})
    changed = pa.RecordBatch.from_pydict({"tags": [["a", "c"], None, []], "id": [1, 2, 3]})
    assert digest(batch) == digest(batch) and digest(batch) != digest(changed)
