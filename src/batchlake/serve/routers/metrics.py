"""Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from batchlake.serve.deps import Context, Reader
from batchlake.serve.metrics import CONTENT_TYPE

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(ctx: Context, _: Reader) -> Response:
    """Requests, latencies, run outcomes and table freshness, in Prometheus text format."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
