"""`batchlake serve`: the REST API, read-only SQL, metrics and the dashboard (FastAPI)."""

from __future__ import annotations

from batchlake.api.app import create_app

__all__ = ["create_app"]
