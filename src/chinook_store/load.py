"""Copying a Chinook database (e.g. the demo SQLite file) into another database.

The copy has Chinook's tables and names, with database-generated ids (AUTO_INCREMENT,
identity), so the store can sell on MySQL/MariaDB and PostgreSQL too.
"""

from __future__ import annotations

from sqlalchemy import Engine, insert, inspect, select

from chinook_store.db import restart_identity
from chinook_store.errors import StoreError
from chinook_store.models import Base

CHUNK = 5_000


def copy_database(source: Engine, target: Engine, *, replace: bool = False) -> dict[str, int]:
    """Create the Chinook tables in `target` and copy every row of `source`; rows per table."""
    tables = Base.metadata.sorted_tables
    existing = set(inspect(target).get_table_names()) & {t.name for t in tables}
    if existing and not replace:
        raise StoreError(
            f"the target database already has {', '.join(sorted(existing))}; "
            "pass --replace to drop and reload them"
        )
    if existing:
        Base.metadata.drop_all(target)
    Base.metadata.create_all(target)
    counts: dict[str, int] = {}
    with source.connect() as read, target.begin() as write:
        for table in tables:
            counts[table.name] = 0
            result = read.execution_options(yield_per=CHUNK).execute(select(table))
            for chunk in result.mappings().partitions(CHUNK):
                write.execute(insert(table), [dict(row) for row in chunk])
                counts[table.name] += len(chunk)
        if target.dialect.name == "postgresql":
            for table in tables:
                if table.autoincrement_column is not None and table.name != "PlaylistTrack":
                    restart_identity(write, table.name, table.autoincrement_column.name)
    return counts
