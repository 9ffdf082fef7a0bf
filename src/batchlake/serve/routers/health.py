"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from batchlake.serve.deps import Context

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "catalog or metadata unreachable"}})
def ready(ctx: Context) -> Any:
    """The catalog and the metadata database answer."""
    checks: dict[str, str] = {}
    for name, probe in (
        ("metadata", ctx.lake.metadata.schema_version),
        ("catalog", ctx.lake.catalog.table_names),
    ):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", **checks}, 200 if ok else 503)
