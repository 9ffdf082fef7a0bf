"""The metadata database: runs, step runs, raw batches, cursors and locks.

SQLite under the project's `.batchlake/` folder by default; any SQLAlchemy URL (PostgreSQL
for teams) by configuration. The schema is versioned by the numbered migrations in
`batchlake.metadata.migrations`, applied automatically on open.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from batchlake.errors import ConfigError
from batchlake.metadata import tables as t
from batchlake.metadata._operations import OperationsRecords
from batchlake.metadata.migrations import all_migrations
from batchlake.metadata.statuses import (
    AlertState,
    BatchStatus,
    PipelineRunStatus,
    RunRecordStatus,
    StepRecordStatus,
)

__all__ = [
    "AlertState",
    "BatchRecord",
    "BatchStatus",
    "LockHolder",
    "MetadataStore",
    "PipelineRunStatus",
    "RunRecordStatus",
    "StepRecordStatus",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BatchRecord:
    """One captured batch of a raw entity, as recorded in the manifest."""

    batch_id: str
    source: str
    entity: str
    status: BatchStatus
    path: str | None
    rows: int
    bytes: int
    schema_json: str
    content_hash: str
    started_at: datetime
    finished_at: datetime
    run_id: str | None = None
    cursor_from: str | None = None
    cursor_to: str | None = None
    format: str | None = "parquet"
    rejected: int | None = None
    skipped: int | None = None
    quarantine_path: str | None = None
    # Diff captures: rows inserted, updated and deleted (tombstones) by this batch, and
    # the state file (key + row hash of the whole entity) the next capture compares with.
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None
    state_path: str | None = None
    expired_at: datetime | None = None  # when raw retention deleted the batch's file


@dataclass(frozen=True)
class LockHolder:
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime


class MetadataStore(OperationsRecords):
    """Access to the metadata database. Cheap to create; one per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Wait for another writer instead of failing at once with "database is locked".
            connect_args["timeout"] = 30
        try:
            self.engine = sa.create_engine(url, connect_args=connect_args, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise ConfigError(f"metadata.url '{url}' cannot be used: {exc}") from exc
        self.migrate()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet; return their versions."""
        applied: list[int] = []
        try:
            with self.engine.begin() as conn, _migration_lock(conn):
                t.schema_migrations.create(conn, checkfirst=True)
                done = {row[0] for row in conn.execute(sa.select(t.schema_migrations.c.version))}
                for migration in all_migrations():
                    if migration.version in done:
                        continue
                    migration.module.upgrade(conn)
                    conn.execute(
                        t.schema_migrations.insert().values(
                            version=migration.version, name=migration.name, applied_at=utcnow()
                        )
                    )
                    applied.append(migration.version)
        except sa.exc.OperationalError as exc:
            raise ConfigError(
                f"cannot open the metadata database ({self.url}): {exc.orig}; "
                "check metadata.url in batchlake.toml"
            ) from exc
        return applied

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(t.schema_migrations.c.version))).scalar()
        return int(value or 0)

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, run_id: str, command: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.runs.insert().values(
                    run_id=run_id,
                    command=command,
                    status="running",
                    started_at=utcnow(),
                    host=socket.gethostname(),
                    pid=os.getpid(),
                )
            )

    def finish_run(self, run_id: str, status: RunRecordStatus, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.run_id == run_id)
                .values(status=status, finished_at=utcnow(), error=error)
            )

    def abandon_stale_runs(self) -> int:
        """Mark the runs left 'running' as 'killed'; call with the run lock held.

        Every run holds the project's run lock, so while the caller holds it no other run
        is alive: its process died (the lock was taken over from a dead pid on this host)
        or its lease expired (its machine died, or lost the database for longer than the
        lock's TTL). Returns how many runs were marked.
        """
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(t.runs.c.run_id, t.runs.c.host, t.runs.c.pid).where(
                    t.runs.c.status == "running"
                )
            ).all()
            for row in rows:
                error = (
                    "the process died"
                    if row.host == socket.gethostname()
                    else f"its run lock expired (the process on {row.host} died or lost "
                    "the metadata database)"
                )
                conn.execute(
                    t.runs.update()
                    .where((t.runs.c.run_id == row.run_id) & (t.runs.c.status == "running"))
                    .values(status="killed", finished_at=utcnow(), error=error)
                )
                conn.execute(
                    t.step_runs.update()
                    .where(
                        (t.step_runs.c.run_id == row.run_id) & (t.step_runs.c.status == "running")
                    )
                    .values(status="killed", finished_at=utcnow())
                )
        return len(rows)

    def start_step(self, run_id: str, step: str, kind: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                t.step_runs.insert().values(
                    run_id=run_id, step=step, kind=kind, status="running", started_at=utcnow()
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_step(self, step_id: int, status: StepRecordStatus, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.step_runs.update()
                .where(t.step_runs.c.id == step_id)
                .values(status=status, finished_at=utcnow(), **values)
            )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.run_id == run_id)).first()
            if row is None:
                # A prefix, not a pattern: `%`, `_` and the escape character match themselves.
                prefix = t.runs.c.run_id.startswith(run_id, autoescape=True)
                matches = conn.execute(sa.select(t.runs).where(prefix).limit(2)).all()
                row = matches[0] if len(matches) == 1 else None
        return _row(row) if row is not None else None

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(t.step_runs).where(t.step_runs.c.run_id == run_id).order_by(t.step_runs.c.id)
        )
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    # -- raw batches ---------------------------------------------------------------------

    def record_batch(self, batch: BatchRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.batches.insert().values(**batch.__dict__))

    def find_batch_by_hash(self, source: str, entity: str, content_hash: str) -> str | None:
        query = sa.select(t.batches.c.batch_id).where(
            (t.batches.c.source == source)
            & (t.batches.c.entity == entity)
            & (t.batches.c.content_hash == content_hash)
            & (t.batches.c.status == "written")
        )
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).scalar()

    def batches(
        self,
        source: str | None = None,
        entity: str | None = None,
        status: BatchStatus | None = "written",
    ) -> list[BatchRecord]:
        query = sa.select(t.batches).order_by(t.batches.c.batch_id)
        if source is not None:
            query = query.where(t.batches.c.source == source)
        if entity is not None:
            query = query.where(t.batches.c.entity == entity)
        if status is not None:
            query = query.where(t.batches.c.status == status)
        with self.engine.connect() as conn:
            return [BatchRecord(**_row(r)) for r in conn.execute(query)]

    def diff_state(self, source: str, entity: str) -> str | None:
        """The state file a diff capture of the entity compares with (None: none yet).

        It is the one recorded with the entity's newest manifest row that has one: a new
        state is switched to by recording its batch, in the same transaction.
        """
        b = t.batches
        query = (
            sa.select(b.c.state_path)
            .where((b.c.source == source) & (b.c.entity == entity) & b.c.state_path.is_not(None))
            .order_by(b.c.batch_id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def expire_batches(self, source: str, entity: str, batch_ids: list[str]) -> datetime:
        """Mark written batches `expired` (before their files are deleted); return when."""
        when = utcnow()
        b = t.batches
        with self.engine.begin() as conn:
            for chunk in range(0, len(batch_ids), 500):
                conn.execute(
                    b.update()
                    .where(
                        (b.c.source == source)
                        & (b.c.entity == entity)
                        & (b.c.status == "written")
                        & b.c.batch_id.in_(batch_ids[chunk : chunk + 500])
                    )
                    .values(status="expired", expired_at=when)
                )
        return when

    def raw_entities(self) -> list[tuple[str, str]]:
        query = (
            sa.select(t.batches.c.source, t.batches.c.entity)
            .where(t.batches.c.status == "written")
            .distinct()
            .order_by(t.batches.c.source, t.batches.c.entity)
        )
        with self.engine.connect() as conn:
            return [(r.source, r.entity) for r in conn.execute(query)]

    # -- incremental state ---------------------------------------------------------------

    def entity_state(self, source: str, entity: str) -> tuple[str | None, dict[str, str]]:
        """The stored cursor (None when there is none) and file validators of an entity."""
        query = sa.select(t.cursors.c.value, t.cursors.c.validators).where(
            (t.cursors.c.source == source) & (t.cursors.c.entity == entity)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None, {}
        return (row.value or None), (json.loads(row.validators) if row.validators else {})

    def save_entity_state(
        self, source: str, entity: str, cursor: str | None, validators: dict[str, str]
    ) -> None:
        values = {
            "value": cursor or "",
            "validators": json.dumps(validators, sort_keys=True),
            "updated_at": utcnow(),
        }
        key = (t.cursors.c.source == source) & (t.cursors.c.entity == entity)
        with self.engine.begin() as conn:
            if conn.execute(t.cursors.update().where(key).values(**values)).rowcount == 0:
                conn.execute(t.cursors.insert().values(source=source, entity=entity, **values))

    def reset_entity_state(self, source: str, entity: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.cursors.delete().where(
                    (t.cursors.c.source == source) & (t.cursors.c.entity == entity)
                )
            )

    # -- locks ---------------------------------------------------------------------------

    def acquire_lock(self, name: str, holder: str, ttl: timedelta) -> LockHolder | None:
        """Take the lock `name`; return None on success, else who holds it.

        A lock whose holder died (same host, process gone) or whose lease expired is
        taken over. Races are settled by the primary key and a conditional update.
        """
        host, pid, now = socket.gethostname(), os.getpid(), utcnow()
        values = {
            "holder": holder,
            "host": host,
            "pid": pid,
            "acquired_at": now,
            "expires_at": now + ttl,
        }
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(t.locks.insert().values(name=name, **values))
                    return None
                except sa.exc.IntegrityError:
                    row = conn.execute(sa.select(t.locks).where(t.locks.c.name == name)).first()
                    assert row is not None
            current = LockHolder(
                row.holder, row.host, row.pid, _utc(row.acquired_at), _utc(row.expires_at)
            )
            dead = current.expires_at < now or (
                current.host == host and not _alive(current.host, current.pid)
            )
            if current.holder == holder or dead:
                taken = conn.execute(
                    t.locks.update()
                    .where((t.locks.c.name == name) & (t.locks.c.holder == current.holder))
                    .values(**values)
                )
                if taken.rowcount == 1:
                    return None
            return current

    def renew_lock(self, name: str, holder: str, ttl: timedelta) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                t.locks.update()
                .where((t.locks.c.name == name) & (t.locks.c.holder == holder))
                .values(expires_at=utcnow() + ttl)
            )
        return result.rowcount == 1

    def release_lock(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.locks.delete().where((t.locks.c.name == name) & (t.locks.c.holder == holder))
            )

    def dispose(self) -> None:
        self.engine.dispose()


MIGRATION_LOCK = 7_211_930_417  # any fixed number: PostgreSQL's advisory lock key


@contextmanager
def _migration_lock(conn: sa.Connection) -> Iterator[None]:
    """One process at a time migrates a shared database; the others wait, then see it done.

    Without it, two schedulers starting together on a fresh PostgreSQL database both
    create `schema_migrations` and one fails. SQLite needs none: it is one machine's file.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":  # released with the transaction, where PostgreSQL's DDL is
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        yield
    elif dialect in ("mysql", "mariadb"):  # a session lock: released explicitly
        got = conn.execute(sa.text("SELECT GET_LOCK('batchlake.migrate', 300)")).scalar()
        if got != 1:
            raise ConfigError(
                "another process has been migrating the metadata database for 5 minutes; "
                "check it (SELECT * FROM information_schema.processlist) and retry"
            )
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK('batchlake.migrate')"))
    else:
        yield


def _row(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    return {k: _aware(v) if isinstance(v, datetime) else v for k, v in data.items()}


def _alive(host: str | None, pid: int | None) -> bool:
    """Whether a process is alive; processes on other hosts are assumed alive."""
    if host != socket.gethostname() or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
