"""FastAPI dependencies shared by the routers: settings, database session, cart, CSRF."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Form, Path, Request
from sqlalchemy.orm import Session

from chinook_store.cart import Cart
from chinook_store.errors import InvalidRequest
from chinook_store.settings import StoreSettings

CSRF_KEY = "csrf"
# Chinook's ids are INT columns: anything outside 1..2^31-1 is not an id (422, not a 500
# from a driver that cannot bind it).
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def get_settings(request: Request) -> StoreSettings:
    settings: StoreSettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as db:
        yield db


def get_cart(request: Request, settings: Annotated[StoreSettings, Depends(get_settings)]) -> Cart:
    return Cart(
        request.session, max_lines=settings.max_cart_lines, max_quantity=settings.max_quantity
    )


def csrf_token(request: Request) -> str:
    """The session's anti-forgery token, created on first use (put in every form)."""
    token = request.session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return str(token)


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Every POST form must echo the session's token: a forged cross-site form cannot."""
    expected = request.session.get(CSRF_KEY)
    if not expected or not secrets.compare_digest(str(expected), csrf_token):
        raise InvalidRequest(
            "the form's security token is missing or stale; reload the page and try again",
            status=403,
        )


def json_only(request: Request) -> None:
    """Mutating API calls must be JSON: a cross-site HTML form cannot send that type without
    a CORS preflight, which this app never grants — the API's CSRF protection."""
    if request.method in ("POST", "PATCH", "PUT", "DELETE"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method != "DELETE" and kind != "application/json":
            raise InvalidRequest("send the request body as application/json", status=415)
        if request.method == "DELETE" and kind not in ("", "application/json"):
            raise InvalidRequest("send the request body as application/json", status=415)


DB = Annotated[Session, Depends(get_db)]
CartDep = Annotated[Cart, Depends(get_cart)]
Settings = Annotated[StoreSettings, Depends(get_settings)]
