"""Unattended operation: quality results, schedule state, alert state, richer run history."""

from __future__ import annotations

import sqlalchemy as sa

_COLUMNS = [
    ("runs", "pipeline", "VARCHAR(200)"),
    ("runs", "selection", "TEXT"),  # JSON list of the step names the run planned
    ("runs", "resumed_from", "VARCHAR(64)"),
    ("step_runs", "attempts", "INTEGER"),
    ("step_runs", "traceback", "TEXT"),
]


def upgrade(connection: sa.Connection) -> None:
    for table, column, kind in _COLUMNS:
        connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
    meta = sa.MetaData()
    tz = sa.DateTime(timezone=True)
    sa.Table(
        "quality_results",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), index=True),
        sa.Column("table_name", sa.String(300), nullable=False, index=True),
        sa.Column("check_name", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("failing_rows", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("checked_at", tz, nullable=False),
    )
    sa.Table(
        "schedule_state",
        meta,
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("last_fire_at", tz),
        sa.Column("updated_at", tz, nullable=False),
    )
    sa.Table(
        "pipeline_runs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(200), nullable=False, index=True),
        sa.Column("scheduled_for", tz, nullable=False),
        sa.Column("started_at", tz),
        sa.Column("run_id", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
    )
    sa.Table(
        "alert_state",
        meta,
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("changed_at", tz, nullable=False),
        sa.Column("last_sent_at", tz),
        sa.Column("sent", sa.Integer, nullable=False),
    )
    meta.create_all(connection)
