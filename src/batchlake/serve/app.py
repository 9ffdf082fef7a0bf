"""The FastAPI application: API routers under /api/v1, /metrics, the dashboard at /."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from batchlake.errors import BatchlakeError, ConfigError, LockError, NotFoundError, QueryError
from batchlake.serve.context import ServeContext
from batchlake.serve.limits import LimitError, WorkerError, WorkersBusy
from batchlake.serve.routers import dashboard, health, metrics, query, rows, runs, tables
from batchlake.serve.schemas import ErrorBody

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from batchlake.config import ServeSettings
    from batchlake.lake import Lake
    from batchlake.serve.metrics import ServeMetrics

log = logging.getLogger("batchlake.serve")
API = "/api/v1"
_STATUS = {QueryError: 400, NotFoundError: 404, LockError: 409, ConfigError: 500}
# Declared in the OpenAPI document of every route that needs a key (the routers add theirs).
_KEY_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "no API key, or one the server does not know"},
    422: {"model": ErrorBody, "description": "a parameter or the body is not valid"},
}


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    body = {"error": _one_line(message), "status": status, **extra}
    return JSONResponse(body, status, headers=headers)


def _one_line(text: str) -> str:
    """A message may quote the request: one line of text that encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode().replace("\n", " ")


def _status_of(exc: BatchlakeError) -> int:
    if isinstance(exc, LimitError | WorkerError):
        return exc.status
    return next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)


class _Observe:
    """Counts requests and times them by route template (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.metrics.observe(scope["method"], _route_of(scope), status, started)
            await send(message)

        await self.app(scope, receive, sending)


def _route_of(scope: Scope) -> str:
    """The matched route's template with its router prefix (labels stay few)."""
    # FastAPI ≥ 0.120 keeps included routes unprefixed and puts the full path here.
    included = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route")
    path = getattr(included, "path", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


def create_app(
    lake_or_path: Lake | Path | str,
    settings: ServeSettings | None = None,
    *,
    env_keys: str | None = None,
) -> FastAPI:
    """The app serving one lake; `settings` default to the project's `[serve]`."""
    from batchlake.lake import Lake

    lake = lake_or_path if isinstance(lake_or_path, Lake) else Lake.open(lake_or_path)
    settings = settings or lake.settings.serve
    ctx = ServeContext.build(lake, settings, env_keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.queries.warm()  # query workers start with the server, not on the first query
        yield
        ctx.queries.close()

    app = FastAPI(
        title=f"batchlake · {lake.settings.name}",
        description="Tables, rows, read-only SQL, runs and metrics of a batchlake lake.",
        version="1",
        docs_url="/docs",
        openapi_url=f"{API}/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.include_router(health.router, prefix=API)
    for router in (tables.router, rows.router, query.router, runs.router):
        app.include_router(router, prefix=API, responses=_KEY_ERRORS)
    app.include_router(metrics.router, responses=_KEY_ERRORS)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(_Observe, metrics=ctx.metrics)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(BatchlakeError)
    async def batchlake_error(request: Request, exc: BatchlakeError) -> JSONResponse:
        status = _status_of(exc)
        where = f"{request.method} {request.url.path}"
        if status >= 500:
            log.error("%s: %s", where, exc)
            if isinstance(exc, WorkerError):
                return _error(status, str(exc))
            return _error(status, "the server is misconfigured; see its log")
        # One line per refused or stopped request, never a traceback.
        log.log(
            logging.WARNING if isinstance(exc, LimitError) else logging.INFO,
            "%s answered %s: %.300s",
            where,
            status,
            _one_line(str(exc)),
        )
        if isinstance(exc, WorkersBusy):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
            return _error(status, str(exc), headers, limit=exc.limit)
        if isinstance(exc, LimitError):
            return _error(status, str(exc), limit=exc.limit)
        return _error(status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path {request.url.path}; the API is under {API} (see /docs)"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return _error(422, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A RecursionError's traceback is thousands of lines: one line says enough.
        deep = isinstance(exc, RecursionError)
        log.error("%s %s failed: %r", request.method, request.url.path, exc, exc_info=not deep)
        return _error(500, "internal error; the server log has the details")
