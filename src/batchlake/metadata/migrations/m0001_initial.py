"""Runs, step runs, raw batches, cursors, locks. Frozen: later changes go in new files."""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(connection: sa.Connection) -> None:
    meta = sa.MetaData()
    tz = sa.DateTime(timezone=True)
    sa.Table(
        "runs",
        meta,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("command", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("error", sa.Text),
    )
    sa.Table(
        "step_runs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False, index=True
        ),
        sa.Column("step", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz),
        sa.Column("rows_in", sa.BigInteger),
        sa.Column("rows_out", sa.BigInteger),
        sa.Column("bytes", sa.BigInteger),
        sa.Column("snapshot_id", sa.String(64)),
        sa.Column("message", sa.Text),
    )
    sa.Table(
        "batches",
        meta,
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("schema_json", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("cursor_from", sa.Text),
        sa.Column("cursor_to", sa.Text),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz, nullable=False),
        sa.Index("ix_batches_entity", "source", "entity", "status"),
        sa.Index("ix_batches_hash", "source", "entity", "content_hash"),
    )
    sa.Table(
        "cursors",
        meta,
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("entity", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
    )
    sa.Table(
        "locks",
        meta,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", tz, nullable=False),
        sa.Column("expires_at", tz, nullable=False),
    )
    meta.create_all(connection)
