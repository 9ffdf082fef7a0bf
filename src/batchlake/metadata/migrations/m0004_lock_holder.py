"""Room for a scheduler's lock holder name on any machine: `scheduler-<host>-<pid>`.

64 characters did not fit a long host name (a Kubernetes pod, an EC2 private DNS name),
and PostgreSQL and MariaDB refuse what does not fit. SQLite does not check lengths.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(connection: sa.Connection) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sa.text("ALTER TABLE locks ALTER COLUMN holder TYPE VARCHAR(300)"))
    elif dialect in ("mysql", "mariadb"):
        connection.execute(sa.text("ALTER TABLE locks MODIFY holder VARCHAR(300) NOT NULL"))
