"""The store's errors: messages for people, naming what to fix. The web layer maps them to
HTTP statuses (NotFound → 404, InvalidRequest → 400/422, Busy → 503 with Retry-After) as
JSON or as an error page."""

from __future__ import annotations


class StoreError(Exception):
    """Bad configuration or a database the store cannot use."""


class NotFound(StoreError):
    """An id that is not in the database."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class InvalidRequest(StoreError):
    """A request the store refuses: bad quantity, empty cart, missing sign-up field."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Busy(StoreError):
    """The store is at capacity for writes: the client should retry after `retry_after` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
