"""Templates and the small helpers the page routers share."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates

from chinook_store.cart import CART_KEY
from chinook_store.deps import MAX_ID, csrf_token
from chinook_store.errors import InvalidRequest

HERE = Path(__file__).parent
FLASH_KEY = "flash"


def _context(request: Request) -> dict[str, Any]:
    cart = request.session.get(CART_KEY) or {}
    return {
        "csrf_token": csrf_token(request),
        "cart_count": sum(int(q) for q in cart.values()),
        "flashes": request.session.pop(FLASH_KEY, []),
        "customer_id": request.session.get("customer_id"),
    }


def _duration(ms: int | None) -> str:
    if not ms:
        return ""
    seconds = ms // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


def _with_query(request: Request, **changes: object) -> str:
    """The current URL with some query parameters replaced (for pagination links)."""
    params = {k: v for k, v in request.query_params.items() if v != ""}
    params.update({k: str(v) for k, v in changes.items()})
    return f"{request.url.path}?{urlencode(params)}"


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_context])
templates.env.filters["duration"] = _duration
templates.env.globals["with_query"] = _with_query


def flash(request: Request, message: str) -> None:
    request.session.setdefault(FLASH_KEY, [])
    request.session[FLASH_KEY] = [*request.session[FLASH_KEY], message]


def int_param(value: str | None, name: str) -> int | None:
    """An optional whole number from a form or query string ('' means not given)."""
    if value is None or not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number (got '{value}')", 422) from None
    if abs(number) > MAX_ID:
        raise InvalidRequest(f"{name} {number} is out of range", 422)
    return number


def price_param(value: str | None, name: str) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidRequest(f"{name} must be a price such as 0.99 (got '{value}')", 422) from None
    if not price.is_finite() or price < 0:
        raise InvalidRequest(f"{name} must be a price of 0 or more (got '{value}')", 422)
    return price


def local_path(target: str | None, default: str) -> str:
    """A redirect target only within this site (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default
