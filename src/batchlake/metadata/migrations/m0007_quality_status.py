"""Room for the quality status `quarantined` (11 characters in a VARCHAR(10)).

PostgreSQL and MariaDB refused to store it, so a check that quarantined rows failed its
model on a shared metadata database. SQLite does not check lengths.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(connection: sa.Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(
            sa.text("ALTER TABLE quality_results ALTER COLUMN status TYPE VARCHAR(20)")
        )
    elif dialect in ("mysql", "mariadb"):
        connection.execute(
            sa.text("ALTER TABLE quality_results MODIFY status VARCHAR(20) NOT NULL")
        )
