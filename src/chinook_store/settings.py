"""The store's settings: database URL and session secret, from arguments or environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

# What `batchlake demo` generates (batchlake.demo.DEMO_DB, inside the demo-lake project).
DEFAULT_DB = Path("demo-lake") / "data" / "chinook.sqlite"


def default_db_url() -> str:
    """CHINOOK_STORE_DB when set, else the demo SQLite file under the current folder."""
    return os.environ.get("CHINOOK_STORE_DB") or f"sqlite:///{DEFAULT_DB}"


def _secret() -> str:
    # A fixed secret (CHINOOK_STORE_SECRET) is needed when several workers serve the app,
    # so that a cookie signed by one worker is accepted by another.
    return os.environ.get("CHINOOK_STORE_SECRET") or secrets.token_urlsafe(32)


@dataclass(frozen=True)
class StoreSettings:
    """How the app is configured: which database, and the key that signs the session."""

    db_url: str = field(default_factory=default_db_url)
    secret_key: str = field(default_factory=_secret)
    page_size: int = 25
    max_cart_lines: int = 50
    max_quantity: int = 100
    https_only_cookie: bool = False
    # Capacity, per server process: at most `max_concurrent_requests` in the app (also the
    # size of a server database's connection pool), `max_queued_requests` waiting for a
    # turn, each at most `queue_wait_seconds`; on SQLite a write waits at most
    # `write_wait_seconds` for its turn. Past any of these: 503 with Retry-After.
    max_concurrent_requests: int = 20
    max_queued_requests: int = 1000
    queue_wait_seconds: float = 30.0
    write_wait_seconds: float = 10.0
