"""The FastAPI application: routers, session cookie, static files, error pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from chinook_store.db import check_schema, make_engine, session_factory
from chinook_store.errors import InvalidRequest, NotFound
from chinook_store.routers import api_cart, api_catalog, api_sales, pages_catalog, pages_shop
from chinook_store.settings import StoreSettings
from chinook_store.web import HERE, templates


def create_app(settings: StoreSettings | None = None) -> FastAPI:
    """The store app on `settings.db_url` (checked at once: a bad URL fails here)."""
    settings = settings or StoreSettings()
    engine = make_engine(settings.db_url)
    check_schema(engine)
    app = FastAPI(
        title="Chinook music store",
        description="Browse the Chinook catalog, fill a cart, check out. Prices come from "
        "the database; money is sent as exact decimal strings.",
        version="0.1.0",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="chinook_store",
        same_site="lax",
        https_only=settings.https_only_cookie,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (api_catalog, api_cart, api_sales, pages_catalog, pages_shop):
        app.include_router(router.router)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InvalidRequest, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _error(request: Request, status: int, message: str, detail: Any = None) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": detail if detail is not None else message}, status)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


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
