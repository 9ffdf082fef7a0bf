"""`batchlake serve`: the REST API, read-only SQL, metrics and the dashboard (FastAPI).

`create_app` is imported on first use, so the query worker processes
(`batchlake.api.query_worker`) start without loading FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchlake.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from batchlake.api.app import create_app

        return create_app
    raise AttributeError(name)
