"""Read-only SQL over the catalog tables, with a row limit and a time limit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from batchlake.serve import encode
from batchlake.serve.context import ServeContext
from batchlake.serve.deps import Context, Reader
from batchlake.serve.sandbox import QueryResult
from batchlake.serve.schemas import ErrorBody, QueryIn, QueryOut
from batchlake.serve.sql_guard import check_query

router = APIRouter(tags=["query"])


def answer(ctx: ServeContext, sql: str, max_rows: int | None) -> QueryResult:
    """Check the SQL against the allow-list, then run it in a locked connection."""
    checked = check_query(sql, ctx.cache.table_names())
    limit = min(max_rows or ctx.settings.query_max_rows, ctx.settings.query_max_rows)
    return ctx.queries.run(checked.tables, checked.sql, limit)


@router.post(
    "/query",
    response_model=QueryOut,
    responses={400: {"model": ErrorBody, "description": "refused, with the reason"}},
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
