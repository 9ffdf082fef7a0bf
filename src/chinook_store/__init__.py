"""The Chinook music store: a FastAPI web shop on the Chinook database.

A transactional seed system for the lake, separate from batchlake (neither imports the
other): batchlake captures the store's database like any other SQL source.
"""

from __future__ import annotations

from chinook_store.app import create_app
from chinook_store.settings import StoreSettings

__version__ = "0.1.0"
__all__ = ["StoreSettings", "__version__", "create_app"]
