"""The metadata database's current schema (SQLAlchemy Core).

The migrations in `migrations/` build exactly this schema; a test checks they agree.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("command", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # statuses.RunRecordStatus
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("pipeline", sa.String(200)),  # 0003
    sa.Column("selection", sa.Text),  # 0003: JSON list of the planned step names
    sa.Column("resumed_from", sa.String(64)),  # 0003
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False, index=True),
    sa.Column("step", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # statuses.StepRecordStatus
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_out", sa.BigInteger),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("snapshot_id", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("attempts", sa.Integer),  # 0003
    sa.Column("traceback", sa.Text),  # 0003: for operators
    sa.Column("rows_inserted", sa.BigInteger),  # 0006: incremental models
    sa.Column("rows_updated", sa.BigInteger),  # 0006
    sa.Column("rows_deleted", sa.BigInteger),  # 0006
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("run_id", sa.String(64)),
    # written | duplicate | empty | unchanged | expired (0005: its file deleted by retention)
    sa.Column("status", sa.String(20), nullable=False),  # statuses.BatchStatus
    sa.Column("path", sa.Text),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("schema_json", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("cursor_from", sa.Text),
    sa.Column("cursor_to", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("format", sa.String(20)),  # parquet | jsonl (NULL: parquet, before 0002)
    sa.Column("rejected", sa.BigInteger),
    sa.Column("skipped", sa.BigInteger),
    sa.Column("quarantine_path", sa.Text),
    sa.Column("inserted", sa.BigInteger),  # 0005: diff captures' change counts
    sa.Column("updated", sa.BigInteger),  # 0005
    sa.Column("deleted", sa.BigInteger),  # 0005
    sa.Column("state_path", sa.Text),  # 0005: a diff entity's key + row-hash state file
    sa.Column("expired_at", sa.DateTime(timezone=True)),  # 0005: raw retention deleted it
    sa.Index("ix_batches_entity", "source", "entity", "status"),
    sa.Index("ix_batches_hash", "source", "entity", "content_hash"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("entity", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("validators", sa.Text),  # JSON: ETag, Last-Modified, content hash of files
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(300), nullable=False),  # 0004: was 64
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# -- 0003: unattended operation ----------------------------------------------------------

quality_results = sa.Table(
    "quality_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), index=True),
    sa.Column("table_name", sa.String(300), nullable=False, index=True),
    sa.Column("check_name", sa.String(300), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),  # error | warn
    sa.Column("status", sa.String(20), nullable=False),  # pass | fail | warn | quarantined (0007)
    sa.Column("failing_rows", sa.BigInteger),
    sa.Column("message", sa.Text),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

schedule_state = sa.Table(
    "schedule_state",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("last_fire_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False, index=True),
    sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False),  # statuses.PipelineRunStatus
    sa.Column("reason", sa.Text),
)

alert_state = sa.Table(
    "alert_state",
    metadata,
    sa.Column("subject", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),  # statuses.AlertState: ok | failing
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_sent_at", sa.DateTime(timezone=True)),
    sa.Column("sent", sa.Integer, nullable=False),
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
