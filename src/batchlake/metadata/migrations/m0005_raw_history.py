"""Bounded raw history: diff captures' change counts and state, expired batches."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_COLUMNS: list[tuple[str, str, sa.types.TypeEngine[Any]]] = [
    ("batches", "inserted", sa.BigInteger()),  # diff captures: rows new since the last one
    ("batches", "updated", sa.BigInteger()),  # ... rows whose values changed
    ("batches", "deleted", sa.BigInteger()),  # ... keys gone (tombstone rows)
    ("batches", "state_path", sa.Text()),  # diff captures: key + row hash after this batch
    ("batches", "expired_at", sa.DateTime(timezone=True)),  # retention deleted the file
]


def upgrade(connection: sa.Connection) -> None:
    for table, column, kind in _COLUMNS:
        type_sql = kind.compile(dialect=connection.dialect)
        connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {type_sql}"))
