"""The Chinook example: the example lake project (`project/`), the store-data generator,
and the scaffold that creates new projects (`batchlake init`)."""

from __future__ import annotations

from pathlib import Path

DEMO_DB = Path("data") / "chinook.sqlite"  # the generated store, inside the demo project
