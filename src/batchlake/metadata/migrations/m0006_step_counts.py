"""Rows an incremental model inserted, updated and deleted, per step run."""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(connection: sa.Connection) -> None:
    for column in ("rows_inserted", "rows_updated", "rows_deleted"):
        connection.execute(sa.text(f"ALTER TABLE step_runs ADD COLUMN {column} BIGINT"))
