"""A table's rows: pages, columns, filters, order, time travel; JSON, CSV or Parquet."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from batchlake.errors import QueryError
from batchlake.serve import encode, filters
from batchlake.serve.context import ServeContext
from batchlake.serve.deps import Context, Reader
from batchlake.serve.routers.tables import find_entry
from batchlake.serve.scan import scan_page
from batchlake.serve.schemas import ErrorBody

router = APIRouter(prefix="/tables", tags=["rows"])

# Pages up to this many rows are sent whole; larger ones stream batch by batch.
_STREAM_FROM = 1000
_EXAMPLE = {"description": "rows (JSON: columns, rows, total, next_cursor)"}


@router.get(
    "/{zone}/{name}/rows",
    responses={
        200: {**_EXAMPLE, "content": {"text/csv": {}, encode.MEDIA_TYPES["parquet"]: {}}},
        400: {"model": ErrorBody, "description": "a bad filter, column, order or cursor"},
        404: {"model": ErrorBody, "description": "no such table or snapshot"},
    },
)
async def table_rows(
    zone: str,
    name: str,
    request: Request,
    ctx: Context,
    _: Reader,
    limit: int = Query(100, ge=1, le=filters.MAX_LIMIT),
    offset: int = Query(0, ge=0),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    columns: str | None = Query(None, description="comma-separated column names"),
    order_by: str | None = Query(None, description="col or -col (descending), comma-separated"),
    as_of: str | None = Query(None, description="a snapshot id or an ISO timestamp"),
    format: Literal["json", "csv", "parquet"] = "json",
) -> Any:
    """Rows of a table. Any other parameter is a filter: `col=value`, `col__gte=value`,
    `__gt`, `__lt`, `__lte`, `__ne`, `__in` (comma-separated values), `__contains`."""
    wanted = filters.RowsRequest(
        columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        filters=filters.parse_filters(request.query_params.multi_items()),
        order_by=filters.parse_order(order_by),
    )
    fingerprint = hashlib.sha256(
        repr((wanted.columns, wanted.filters, wanted.order_by)).encode()
    ).hexdigest()[:12]
    if not cursor and not as_of:
        # A page already encoded for the table's current snapshot: answered on the event
        # loop, without a worker thread (the common case of dashboards and polling clients).
        current = ctx.cache.peek_current(f"{zone}.{name}")
        if current is not None:
            key = (current.name, current.version, fingerprint, offset, limit, format)
            cached = ctx.pages.get(key)
            if cached is not None:
                return Response(cached[0], media_type=encode.MEDIA_TYPES[format], headers=cached[1])
    return await run_in_threadpool(
        _page, ctx, zone, name, wanted, fingerprint, limit, offset, cursor, as_of, format
    )


def _page(
    ctx: ServeContext,
    zone: str,
    name: str,
    wanted: filters.RowsRequest,
    fingerprint: str,
    limit: int,
    offset: int,
    cursor: str | None,
    as_of: str | None,
    format: str,
) -> Response:
    entry = find_entry(ctx, zone, name)
    if cursor:
        state = filters.decode_cursor(cursor)
        if state.get("f") != fingerprint:
            raise QueryError("this cursor belongs to another query; keep the same filters")
        offset = state["o"]
        version = ctx.cache.at(entry.full_name, None if zone == "raw" else str(state["v"]))
        if version.version != state["v"]:
            raise QueryError("the table changed since this cursor was made; start from offset 0")
    else:
        version = ctx.cache.at(entry.full_name, as_of)
    key = (entry.full_name, version.version, fingerprint, offset, limit, format)
    cached = ctx.pages.get(key)
    if cached is not None:
        return Response(cached[0], media_type=encode.MEDIA_TYPES[format], headers=cached[1])
    # In memory already: filter there. Else a filter that prunes files scans only those;
    # an unfiltered (or unprunable) read of a table that fits is loaded whole and kept.
    read = version if ctx.cache.holds(version) else ctx.cache.pruned(version, wanted.filters)
    if read is version and ctx.cache.fits(version):
        table = filters.apply(ctx.cache.arrow(version), wanted)
        total = table.num_rows
        page = table.slice(offset, limit)
    else:
        page, total = scan_page(read, wanted, offset, limit)
    batches = page.to_batches(max_chunksize=10_000)
    headers = {"X-Total-Count": str(total), "X-Snapshot": version.version}
    if format == "csv":
        return StreamingResponse(
            encode.csv_stream(page.schema, batches),
            media_type=encode.MEDIA_TYPES["csv"],
            headers={**headers, "Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "parquet":
        return StreamingResponse(
            encode.parquet_stream(page.schema, batches),
            media_type=encode.MEDIA_TYPES["parquet"],
            headers={**headers, "Content-Disposition": f'attachment; filename="{name}.parquet"'},
        )
    end = offset + page.num_rows
    next_cursor = filters.encode_cursor(version.version, end, fingerprint) if end < total else None
    header = {
        "table": entry.full_name,
        "snapshot": version.version,
        "columns": [{"name": f.name, "type": str(f.type)} for f in page.schema],
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_cursor": next_cursor,
    }
    body = encode.json_stream(header, batches, {"row_count": page.num_rows})
    if page.num_rows <= _STREAM_FROM:  # small pages: one body, no chunked encoding
        whole = b"".join(body)
        ctx.pages.put(key, whole, headers)
        return Response(whole, media_type=encode.MEDIA_TYPES["json"], headers=headers)
    return StreamingResponse(body, media_type=encode.MEDIA_TYPES["json"], headers=headers)
