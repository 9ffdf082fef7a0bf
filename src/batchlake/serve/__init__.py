"""The ways in: `batchlake serve` (the FastAPI app: REST API, read-only SQL, metrics,
dashboard), the Python API (`batchlake.open`, `python_api`) and the REST client.

Nothing here is imported until used: the Python API must not pull in FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchlake.serve.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from batchlake.serve.app import create_app

        return create_app
    raise AttributeError(name)
