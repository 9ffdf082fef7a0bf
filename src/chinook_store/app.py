"""The FastAPI application: routers, session cookie, static files, error pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from chinook_store.db import check_schema, make_engine, session_factory, write_gate
from chinook_store.errors import Busy, InvalidRequest, NotFound
from chinook_store.limits import RequestLimit
from chinook_store.routers import api_cart, api_catalog, api_sales, pages_catalog, pages_shop
from chinook_store.settings import StoreSettings
from chinook_store.web import HERE, templates


def create_app(settings: StoreSettings | None = None) -> FastAPI:
    """The store app on `settings.db_url` (checked at once: a bad URL fails here)."""
    settings = settings or StoreSettings()
    engine = make_engine(settings.db_url, pool_size=settings.max_concurrent_requests)
    check_schema(engine)
    app = FastAPI(
        title="Chinook music store",
        description="Browse the Chinook catalog, fill a cart, check out. Prices come from "
        "the database; money is sent as exact decimal strings.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = engine
    gate = write_gate(engine, settings.write_wait_seconds)
    app.state.sessions = session_factory(engine, gate)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="chinook_store",
        same_site="lax",
        https_only=settings.https_only_cookie,
    )
    app.add_middleware(  # outermost: a request waits here before anything else
        RequestLimit,
        concurrent=settings.max_concurrent_requests,
        queued=settings.max_queued_requests,
        wait_seconds=settings.queue_wait_seconds,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (api_catalog, api_cart, api_sales, pages_catalog, pages_shop):
        app.include_router(router.router)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InvalidRequest, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(sa_exc.TimeoutError, _overloaded)  # no pooled connection in time
    app.add_exception_handler(sa_exc.OperationalError, _operational)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _error(
    request: Request,
    status: int,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if _is_api(request):
        body = {"detail": detail if detail is not None else message}
        return JSONResponse(body, status, headers=headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "message": message},
        status_code=status,
        headers=headers,
    )


async def _busy(request: Request, error: Exception) -> Response:
    assert isinstance(error, Busy)
    return _error(request, 503, str(error), headers={"Retry-After": str(error.retry_after)})


async def _overloaded(request: Request, error: Exception) -> Response:
    return await _busy(request, Busy("the store is busy; try again shortly", 2))


# SQLite's words for a lock another process held past the busy timeout (several workers).
_LOCKED = ("database is locked", "database table is locked", "database is busy")


async def _operational(request: Request, error: Exception) -> Response:
    if any(words in str(error) for words in _LOCKED):
        return await _overloaded(request, error)
    raise error  # any other database failure is a server error, logged as such


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(request, 404, str(error))


async def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidRequest)
    return _error(request, error.status, str(error))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "page not found" if error.status_code == 404 else str(error.detail)
    return _error(request, error.status_code, message)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in error.errors()
    ]
    return _error(
        request, 422, "invalid request: " + "; ".join(problems), detail=_plain(error.errors())
    )


def _plain(errors: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


def app_from_env() -> FastAPI:
    """The app configured from CHINOOK_STORE_DB / CHINOOK_STORE_SECRET (uvicorn factory)."""
    return create_app(StoreSettings())
