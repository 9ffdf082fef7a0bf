"""Capture a source entity into the raw zone: one batch file plus a manifest row.

Tabular captures become Parquet; JSON captures (APIs, documents) become gzip JSON Lines
with the records as received. The batch streams to a temporary file next to its final
place while a sha256 of the data is computed. If an earlier batch of the same entity has
the same hash, the new file is dropped and the batch is recorded as a duplicate; otherwise
the file is renamed into place and then recorded, and only then is the entity's new
cursor stored. Raw views read only recorded batches, so a killed capture leaves at most an
unreferenced file behind, never a half batch in the lake, and never a cursor past data
that was not kept.

Entities in `mode = "diff"` are compared with their previous capture first and only the
changes are written (see `batchlake.capture.diff`); their manifest row also records the
counts and the new comparison state, and recording it is what switches to that state.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from batchlake.capture import BadRow, Capture, DiffSpec, EntityState
from batchlake.capture.raw_writer import ValueDigest, check_drift, write_parquet
from batchlake.errors import SourceError
from batchlake.metadata import BatchRecord, BatchStatus, MetadataStore, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from batchlake.capture import Source
    from batchlake.capture.diff import Changes
    from batchlake.storage import Storage

__all__ = ["IngestResult", "ValueDigest", "ingest_entity", "new_batch_id"]


@dataclass(frozen=True)
class IngestResult:
    source: str
    entity: str
    batch_id: str
    status: BatchStatus
    rows: int
    bytes: int
    seconds: float
    duplicate_of: str | None = None
    rejected: int = 0
    skipped: int = 0
    note: str | None = None
    changes: Changes | None = None  # diff captures: rows inserted, updated, deleted

    @property
    def name(self) -> str:
        return f"raw.{self.source}.{self.entity}"


def new_batch_id(now: datetime) -> str:
    """Sortable by time, unique across processes: `20260101T120000123456-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


class _Quarantine:
    """Bad rows of one batch, written lazily to `_quarantine/.../<batch>.jsonl`."""

    def __init__(self, storage: Storage, location: str) -> None:
        self.storage = storage
        self.location = location
        self._stream: Any = None

    def write(self, row: BadRow) -> None:
        if self._stream is None:
            self.storage.makedirs(self.location.rsplit("/", 1)[0])
            self._stream = self.storage.filesystem.open_output_stream(_path(self.location))
        line = json.dumps(
            {"line": row.line, "reason": row.reason, "raw": row.raw}, ensure_ascii=False
        )
        self._stream.write((line + "\n").encode())

    def close(self) -> str | None:
        if self._stream is None:
            return None
        self._stream.close()
        return self.location


def ingest_entity(
    source: Source,
    entity: str,
    *,
    storage: Storage,
    metadata: MetadataStore,
    run_id: str | None = None,
    on_rows: Callable[[int], None] | None = None,
    full_refresh: bool = False,
    window: tuple[str, str] | None = None,
) -> IngestResult:
    """Capture one entity of `source` into a new raw batch (or record why there is none).

    `window` (from, to) re-captures the rows whose cursor is in [from, to] (a backfill);
    the entity's stored cursor is left where it is.
    """
    started = utcnow()
    clock = time.perf_counter()
    batch_id = new_batch_id(started)
    cursor, validators = (None, {}) if full_refresh else metadata.entity_state(source.name, entity)
    if window is not None:
        cursor, validators = window[0], {}
    capture = source.read(
        entity, EntityState(cursor, validators, until=window[1] if window else None)
    )

    def save_state() -> None:
        if window is None:  # a backfill leaves the entity's cursor where it is
            metadata.save_entity_state(
                source.name, entity, capture.cursor or cursor, capture.validators or validators
            )

    earlier = metadata.batches(source.name, entity)

    def record(
        status: BatchStatus,
        rows: int,
        path: str | None,
        size: int,
        digest: str,
        columns: str,
        quarantine: str | None = None,
        changes: Changes | None = None,
        state_path: str | None = None,
    ) -> None:
        metadata.record_batch(
            BatchRecord(
                batch_id=batch_id,
                source=source.name,
                entity=entity,
                status=status,
                path=path,
                rows=rows,
                bytes=size,
                schema_json=columns,
                content_hash=digest,
                started_at=started,
                finished_at=utcnow(),
                run_id=run_id,
                cursor_from=cursor,
                cursor_to=capture.cursor or cursor,
                format="parquet" if capture.format == "arrow" else "jsonl",
                rejected=capture.rejected,
                skipped=capture.skipped,
                quarantine_path=quarantine,
                inserted=changes.inserted if changes else None,
                updated=changes.updated if changes else None,
                deleted=changes.deleted if changes else None,
                state_path=state_path,
            )
        )

    def result(
        status: BatchStatus,
        rows: int,
        size: int,
        duplicate_of: str | None = None,
        changes: Changes | None = None,
    ) -> IngestResult:
        return IngestResult(
            source.name,
            entity,
            batch_id,
            status,
            rows,
            size,
            time.perf_counter() - clock,
            duplicate_of,
            capture.rejected,
            capture.skipped,
            capture.note,
            changes,
        )

    if capture.unchanged:
        record("unchanged", 0, None, 0, "", "[]")
        save_state()
        return result("unchanged", 0, 0)

    ext = "parquet" if capture.format == "arrow" else "jsonl.gz"
    final = storage.raw_batch_path(source.name, entity, started.date(), batch_id, ext)
    folder, _, filename = final.rpartition("/")
    temporary = f"{folder}/.{filename}.tmp"
    quarantine = _Quarantine(
        storage,
        storage.join(
            "raw",
            source.name,
            entity,
            "_quarantine",
            f"ingest_date={started.date().isoformat()}",
            f"{batch_id}.jsonl",
        ),
    )
    capture.on_reject = quarantine.write
    if capture.diff is not None:
        if capture.schema is not None and earlier:
            check_drift(source.name, entity, earlier[-1].schema_json, capture.schema)
        spec = capture.diff

        def record_diff(
            status: BatchStatus,
            rows: int,
            path: str | None,
            size: int,
            digest: str,
            columns: str,
            changes: Changes,
            state_path: str | None,
        ) -> None:
            record(
                status, rows, path, size, digest, columns, quarantine.close(), changes, state_path
            )

        try:
            diff_status, changes, size = _ingest_diff(
                capture,
                spec,
                storage=storage,
                metadata=metadata,
                where=(source.name, entity, batch_id, final),
                started=started,
                on_rows=on_rows,
                full_refresh=full_refresh,
                record=record_diff,
            )
        except BaseException:
            quarantine.close()
            raise
        save_state()
        return result(diff_status, changes.rows, size, changes=changes)
    storage.makedirs(folder)
    try:
        if capture.format == "arrow":
            if capture.schema is not None and earlier:
                check_drift(source.name, entity, earlier[-1].schema_json, capture.schema)
            written = write_parquet(capture, storage, temporary, batch_id, started, on_rows)
        else:
            written = _write_jsonl(capture, storage, temporary, on_rows)
    except BaseException:
        storage.delete(temporary)
        quarantine.close()
        raise
    quarantined = quarantine.close()
    rows, digest, columns = written
    if rows == 0 and earlier:  # nothing new since the last capture
        storage.delete(temporary)
        record("empty", 0, None, 0, digest, columns, quarantined)
        save_state()
        return result("empty", 0, 0)
    duplicate_of = metadata.find_batch_by_hash(source.name, entity, digest)
    if duplicate_of is not None:
        storage.delete(temporary)
        record("duplicate", rows, None, 0, digest, columns, quarantined)
        status: BatchStatus = "duplicate"
        size = 0
    else:
        storage.move(temporary, final)
        size = storage.size(final)
        record("written", rows, final, size, digest, columns, quarantined)
        status = "written"
    # The cursor moves only once the batch it covers is recorded.
    save_state()
    return result(status, rows, size, duplicate_of)


def _ingest_diff(
    capture: Capture,
    spec: DiffSpec,
    *,
    storage: Storage,
    metadata: MetadataStore,
    where: tuple[str, str, str, str],
    started: datetime,
    on_rows: Callable[[int], None] | None,
    full_refresh: bool,
    record: Callable[[BatchStatus, int, str | None, int, str, str, Changes, str | None], None],
) -> tuple[BatchStatus, Changes, int]:
    """Compare, publish the batch file and the new state, record (the switch), retire.

    `where` is (source, entity, batch id, the batch file's final location). Returns the
    status (`written` or `unchanged`), the changes and the bytes written.
    """
    import shutil

    from batchlake.capture import diff

    source, entity, batch_id, final = where
    work = spec.work_dir / f"diff-{batch_id}"
    try:
        previous = metadata.diff_state(source, entity)
        compared = diff.compare(
            capture,
            DiffSpec(spec.key, spec.setting, work),
            diff.fetch_state(storage, previous, work) if previous else None,
            batch_id=batch_id,
            loaded_at=started,
            on_rows=on_rows,
            resync=full_refresh,
        )
        if compared.batch_file is None or compared.state_file is None:
            capture.note = "no row inserted, changed or deleted since the last capture"
            record("unchanged", 0, None, 0, "", compared.schema_json, compared.changes, previous)
            return "unchanged", compared.changes, 0
        size, digest = diff.publish(storage, compared.batch_file, final)
        state = diff.state_location(storage, source, entity, batch_id)
        diff.publish(storage, compared.state_file, state)
        rows = compared.changes.rows
        record("written", rows, final, size, digest, compared.schema_json, compared.changes, state)
        if previous is not None and previous != state:
            diff.retire_state(storage, previous)
        return "written", compared.changes, size
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_jsonl(
    capture: Capture, storage: Storage, location: str, on_rows: Callable[[int], None] | None
) -> tuple[int, str, str]:
    """Records as received, one JSON document per line, gzip; returns rows, hash, keys."""
    digest = hashlib.sha256()
    keys: dict[str, None] = {}
    rows = 0
    with (
        storage.filesystem.open_output_stream(_path(location)) as sink,
        gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as out,
    ):
        for page in capture.records:
            if not page:
                continue
            lines = []
            for record in page:
                if not isinstance(record, dict):
                    raise SourceError(
                        f"expected JSON objects as records, got {type(record).__name__}"
                    )
                keys.update(dict.fromkeys(record))
                lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            chunk = ("\n".join(lines) + "\n").encode()
            digest.update(chunk)
            out.write(chunk)
            rows += len(page)
            if on_rows is not None:
                on_rows(len(page))
    return rows, digest.hexdigest(), json.dumps([{"name": k, "type": "json"} for k in keys])


def _path(location: str) -> str:
    return location.split("://", 1)[1] if "://" in location else location
