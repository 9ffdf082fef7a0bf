"""MySQL/MariaDB tables read by ConnectorX, ~4x faster than DuckDB's scanner (docs).

ConnectorX widens some types; each batch is cast back to the types DuckDB's scanner
reports for the same SELECT, so both readers give the same Arrow schema and values.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from batchlake.capture.sql.mysql import ident as _my_ident
from batchlake.capture.sql.mysql import literal as _my_literal
from batchlake.config import SqlEntitySettings, SqlQuerySettings
from batchlake.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT"}  # fmt: skip


def split_column(
    options: SqlEntitySettings | SqlQuerySettings | None,
    columns: list[tuple[str, str]],
    rename: dict[str, str],
) -> str | None:
    """The column a read may be split on: a primary key of one integer column."""
    if options is None or len(options.primary_key) != 1:
        return None
    wanted = options.primary_key[0]
    for column, kind in columns:
        if wanted in (column, rename[column]) and kind.upper() in _INTEGER_TYPES:
            return column
    return None


def connectorx_reader(
    url: str,
    database: str,
    table: str,
    rename: dict[str, str],
    target: pa.Schema,
    cursor_column: str | None,
    since: str | None,
    *,
    batch_rows: int,
    split: str | None = None,
    partitions: int = 1,
) -> tuple[pa.RecordBatchReader, Callable[[pa.RecordBatch], int] | None] | None:
    """Stream a MySQL table with ConnectorX, cast to the exact types DuckDB reports.

    ConnectorX widens DECIMAL to (38,10) and TINYINT(1) to int8: each batch is cast back
    (safely: a value that does not fit fails). MySQL TIMESTAMP columns depend on the
    session time zone, so tables with them are left to DuckDB's scanner (None).

    With a `split` column (an integer primary key) and `partitions` > 1 the table is read
    as that many ranges of the key in parallel. Each ConnectorX batch comes from one
    range, so the batch's first key tells its stream (the second value returned).
    """
    import connectorx as cx
    import pyarrow as pa

    if any(pa.types.is_timestamp(f.type) and f.type.tz for f in target):
        return None
    columns = ", ".join(f"{_my_ident(c)} AS {_my_ident(rename[c])}" for c in rename)
    source = f"{_my_ident(database)}.{_my_ident(table)}"
    select = f"SELECT {columns} FROM {source}"
    conditions = []
    if cursor_column is not None and since is not None:
        conditions.append(f"{_my_ident(cursor_column)} > {_my_literal(since.replace('T', ' '))}")
    parts = urlsplit(url)
    login = f"{unquote(parts.username or 'root')}:{unquote(parts.password or '')}"
    cx_url = f"mysql://{login}@{parts.hostname or 'localhost'}:{parts.port or 3306}{parts.path}"
    edges = _ranges(cx, cx_url, source, conditions, split, partitions) if split else []
    if len(edges) > 2:
        assert split is not None
        key = _my_ident(split)
        queries = [
            _where(select, [*conditions, f"{key} >= {low}", f"{key} < {high}"])
            for low, high in itertools.pairwise(edges)
        ]
    else:
        queries = [_where(select, conditions)]
    stream = cx.read_sql(
        cx_url,
        queries if len(queries) > 1 else queries[0],
        return_type="arrow_stream",
        batch_size=batch_rows,
    )

    def cast() -> Iterator[pa.RecordBatch]:
        for batch in stream:
            arrays = [batch.column(f.name).cast(f.type, safe=True) for f in target]
            yield pa.RecordBatch.from_arrays(arrays, schema=target)

    reader = pa.RecordBatchReader.from_batches(target, cast())
    if len(queries) == 1:
        return reader, None
    assert split is not None
    column = rename[split]

    def stream_of(batch: pa.RecordBatch) -> int:
        keys = batch.column(column)
        first, last = (bisect.bisect_right(edges, keys[i].as_py()) for i in (0, -1))
        if first != last:  # ConnectorX mixed two ranges in one batch: the hash would vary
            raise SourceError(
                f"a partitioned read of {table} returned rows of two ranges in one batch; "
                "set partitions = 1 on the source"
            )
        return first

    return reader, stream_of


def _where(select: str, conditions: list[str]) -> str:
    return f"{select} WHERE {' AND '.join(conditions)}" if conditions else select


def _ranges(
    cx: Any, url: str, source: str, conditions: list[str], split: str, partitions: int
) -> list[int]:
    """Edges of `partitions` equal ranges of the key: [e0, e1), [e1, e2)...; [] if small."""
    if partitions < 2:
        return []
    key = _my_ident(split)
    bounds = _where(f"SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {source}", conditions)
    found = cx.read_sql(url, bounds, return_type="arrow")
    low, high = found.column("lo")[0].as_py(), found.column("hi")[0].as_py()
    if low is None or high - low + 1 < partitions * 10_000:  # small: one stream is quicker
        return []
    span = high - low + 1
    return [low + span * i // partitions for i in range(partitions)] + [high + 1]
