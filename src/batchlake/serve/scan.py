"""Pages of tables too large to hold in memory: a pyarrow dataset scan over the table's
Parquet files with the filters and columns pushed down, so only matching rows are read
and, without an order, the scan stops once the page is full."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchlake.serve import filters
from batchlake.storage import filesystem_for, path_of

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.serve.reader import TableVersion


def scan_page(
    version: TableVersion, wanted: filters.RowsRequest, offset: int, limit: int
) -> tuple[pa.Table, int]:
    """The page (`offset`, `limit`) of the filtered, ordered table, and the matching total."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    source = version.source
    schema = _regular(source.schema)
    empty = filters.apply(schema.empty_table(), wanted)  # checks every name against the schema
    if not source.files:
        return empty, 0
    dataset = ds.dataset(
        [path_of(f) for f in source.files],
        schema=schema,
        format="parquet",
        filesystem=filesystem_for(source.files[0]),
    )
    expression = filters.filter_expression(wanted.filters, schema)
    columns = wanted.columns or schema.names
    if wanted.order_by:
        needed = list(dict.fromkeys([*columns, *(name for name, _ in wanted.order_by)]))
        table = dataset.to_table(filter=expression, columns=needed)
        ordered = filters.apply(table, filters.RowsRequest(order_by=wanted.order_by))
        return ordered.select(columns).slice(offset, limit), ordered.num_rows
    total = dataset.count_rows(filter=expression)
    kept: list[pa.RecordBatch] = []
    skip, rows = offset, 0
    for batch in dataset.scanner(filter=expression, columns=columns).to_batches():
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        batch = batch.slice(skip, limit - rows)
        skip = 0
        kept.append(batch)
        rows += batch.num_rows
        if rows >= limit:
            break
    return pa.Table.from_batches(kept, schema=empty.schema), total


def _regular(schema: pa.Schema) -> pa.Schema:
    """Iceberg's Arrow schema says large_string/large_binary; the files and the in-memory
    path have string/binary: scan as those, so both paths answer with the same types."""
    import pyarrow as pa

    swap = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}
    return pa.schema([f.with_type(swap.get(f.type, f.type)) for f in schema])
