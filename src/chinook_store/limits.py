"""How many requests the store serves at once; the others wait their turn, or get a 503.

FastAPI runs the store's (sync) endpoints on AnyIO's thread pool, 40 threads, and a
request keeps its database connection until its response is serialised, which waits for
a thread again. With more requests in flight than connections, every connection could be
held by a request waiting for a thread while every thread waits for a connection: 200
shoppers checking out at once on PostgreSQL (pool of 20) answered nothing for 30 s, then
503s and read timeouts. So at most `concurrent` requests are inside the app — no more
than the connection pool and the thread pool hold — and the rest wait here, in arrival
order, holding neither. A request that finds `queued` others waiting, or waits more than
`wait_seconds`, is answered 503 with a Retry-After estimated from the queue and the
recent time per request.
"""

from __future__ import annotations

import asyncio
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestLimit:
    """ASGI middleware: at most `concurrent` requests in the app, `queued` waiting."""

    def __init__(self, app: ASGIApp, *, concurrent: int, queued: int, wait_seconds: float) -> None:
        if concurrent < 1 or queued < 0 or wait_seconds <= 0:
            raise ValueError("concurrent >= 1, queued >= 0 and wait_seconds > 0 are needed")
        self.app = app
        self.concurrent = concurrent
        self.queued = queued
        self.wait_seconds = wait_seconds
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop
        self.waiting = 0
        self.seconds_per_request = 0.05  # a moving average, first guess 50 ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrent)
        if self._slots.locked() and self.waiting >= self.queued:
            await self._refuse(scope, receive, send, f"{self.queued} requests are waiting")
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
        except TimeoutError:
            await self._refuse(scope, receive, send, f"no turn within {self.wait_seconds:g} s")
            return
        finally:
            self.waiting -= 1
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
            elapsed = time.monotonic() - started
            self.seconds_per_request = 0.95 * self.seconds_per_request + 0.05 * elapsed

    def retry_after(self) -> int:
        """Seconds in which the requests waiting now should have been served (at least 1)."""
        return max(1, math.ceil(self.waiting * self.seconds_per_request / self.concurrent))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, why: str) -> None:
        from starlette.responses import JSONResponse, PlainTextResponse, Response

        message = f"the store is at capacity ({why}); try again shortly"
        headers = {"Retry-After": str(self.retry_after())}
        response: Response
        if scope["path"].startswith("/api"):
            response = JSONResponse({"detail": message}, 503, headers=headers)
        else:
            response = PlainTextResponse(message, 503, headers=headers)
        await response(scope, receive, send)
