"""Request dependencies: the server context and the role a request acts with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from batchlake.serve.auth import allows
from batchlake.serve.context import ServeContext

COOKIE = "batchlake_key"  # set by the dashboard's sign-in form; read access only
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


async def get_context(request: Request) -> ServeContext:
    ctx: ServeContext = request.app.state.ctx
    return ctx


Context = Annotated[ServeContext, Depends(get_context)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def role_of(request: Request, ctx: ServeContext, *, cookie: bool) -> str | None:
    """The role of the presented key; 401 for an unknown key; None when none was sent."""
    key = _bearer(request) or (request.cookies.get(COOKIE) if cookie else None)
    if key is None:
        return None
    role = ctx.keys.role_of(key)
    if role is None:
        raise _unauthorized("the API key is not valid; create one with 'batchlake serve --new-key'")
    return role


def open_read_allowed(request: Request, ctx: ServeContext) -> bool:
    client = request.client.host if request.client else ""
    return ctx.settings.open_read and client in LOOPBACK


async def require_reader(request: Request, ctx: Context) -> str:
    role = role_of(request, ctx, cookie=True)
    if role is not None:
        return role
    if open_read_allowed(request, ctx):
        return "reader"
    raise _unauthorized("an API key is needed: send 'Authorization: Bearer <key>'")


async def require_operator(request: Request, ctx: Context) -> str:
    role = role_of(request, ctx, cookie=False)  # never a cookie: no cross-site run starts
    if role is None:
        raise _unauthorized("starting runs needs an operator key: 'Authorization: Bearer <key>'")
    if not allows(role, "operator"):
        raise HTTPException(403, f"this key has the {role} role; starting runs needs operator")
    return role


Reader = Annotated[str, Depends(require_reader)]
Operator = Annotated[str, Depends(require_operator)]
