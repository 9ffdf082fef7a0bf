"""Read-only SQL over the catalog tables, with row, size, time and memory limits.

The SQL is checked for size and encoding here, then checked against the allow-list and
run in a query worker process (`batchlake.serve.query_pool`); `batchlake.serve.limits` lists
the statuses of each limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from batchlake.serve import encode
from batchlake.serve.context import ServeContext
from batchlake.serve.deps import Context, Reader
from batchlake.serve.limits import check_text
from batchlake.serve.sandbox import QueryResult
from batchlake.serve.schemas import ErrorBody, QueryIn, QueryOut

router = APIRouter(tags=["query"])


def answer(ctx: ServeContext, sql: str, max_rows: int | None) -> QueryResult:
    """Check the SQL's size, then check it against the allow-list and run it, both in a
    query worker under the time limit."""
    check_text(sql)
    limit = min(max_rows or ctx.settings.query_max_rows, ctx.settings.query_max_rows)
    return ctx.queries.run(sql, ctx.cache.table_names(), limit)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


@router.post(
    "/query",
    response_model=QueryOut,
    responses={
        400: _error("refused by the allow-list, malformed SQL, or a DuckDB error"),
        408: _error("past [serve] query_timeout_seconds (limit: time)"),
        413: _error(
            "SQL over 64 KiB (limit: sql_bytes), past [serve] memory_limit (limit: memory), "
            "or a result over a quarter of it (limit: result)"
        ),
        429: _error("every query worker busy for half the time limit; see Retry-After"),
    },
)
def query(body: QueryIn, ctx: Context, _: Reader) -> Any:
    """One SELECT in the DuckDB dialect over trusted, refined and raw tables."""
    result = answer(ctx, body.sql, body.max_rows)
    headers = {"X-Truncated": str(result.truncated).lower(), "X-Row-Count": str(result.rows)}
    if body.format == "csv":
        import pyarrow as pa

        schema = result.batches[0].schema if result.batches else pa.schema([])
        return StreamingResponse(
            encode.csv_stream(schema, result.batches),
            media_type=encode.MEDIA_TYPES["csv"],
            headers={**headers, "Content-Disposition": 'attachment; filename="query.csv"'},
        )
    return StreamingResponse(
        encode.json_stream(
            {"columns": [{"name": n, "type": t} for n, t in result.columns]},
            result.batches,
            {
                "row_count": result.rows,
                "truncated": result.truncated,
                "seconds": round(result.seconds, 4),
            },
        ),
        media_type=encode.MEDIA_TYPES["json"],
        headers=headers,
    )
