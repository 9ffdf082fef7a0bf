"""Capture state for every kind of source: raw format, rejected rows, file validators."""

from __future__ import annotations

import sqlalchemy as sa

_COLUMNS = [
    ("batches", "format", "VARCHAR(20)"),
    ("batches", "rejected", "BIGINT"),
    ("batches", "skipped", "BIGINT"),
    ("batches", "quarantine_path", "TEXT"),
    ("cursors", "validators", "TEXT"),
]


def upgrade(connection: sa.Connection) -> None:
    for table, column, kind in _COLUMNS:
        connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
