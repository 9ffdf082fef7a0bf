"""Diff captures (`mode = "diff"`): a full read, compared by primary key with the last one.

For entities with a primary key but no cursor (most REST endpoints, dimension tables,
files replaced in place), a capture reads everything, as a full capture does, but writes
to raw only the rows inserted or changed since the previous capture, plus one tombstone
row per key that disappeared. Raw rows of such an entity carry `_deleted` (false for
inserted and changed rows; true for tombstones, whose columns other than the key are
NULL). An unchanged source writes nothing (status `unchanged`); the first capture writes
every row and no tombstone.

The previous capture is remembered as a *state file*: one Parquet file per entity with
the key columns and a 64-bit hash of each row (DuckDB's `hash` over every column for
tabular captures; a BLAKE2b of the record's canonical JSON for API and document
captures). The comparison runs in DuckDB over Parquet files in a local work folder, so
it spills to disk instead of holding the table in memory:

1. the full read streams into `current.parquet` (its rows plus their hash);
2. keys are checked: no NULL, no duplicate (else the error names `primary_key`);
3. `current` FULL JOIN the previous state ON the key, where the hashes differ, gives
   `changes.parquet` (inserted, updated, deleted); its counts decide `unchanged`;
4. the batch file (changed rows + tombstones) and the new state (key + hash of
   `current`) are written.

Publishing them is ingest's job (see `ingest._ingest_diff`): both files are put in the
lake under new names (the state as `raw/<source>/<entity>/_state/<batch_id>.parquet`),
then the batch's manifest row is recorded with the state's path, which is the switch:
the state a capture compares with is the one of the entity's newest manifest row that
has one (`MetadataStore.diff_state`). A capture killed before that row is recorded
leaves two unreferenced files (deleted by `batchlake maintain`) and the old state
current, so the rerun finds the same changes again: nothing lost, nothing twice. The
superseded state file is deleted after the switch (or by maintenance, if killed).

`hash` is DuckDB's, which a DuckDB upgrade may change: the state file records the hash
of a fixed probe row, and when today's DuckDB hashes the probe differently every row
present in both captures is written as updated once (correct, only larger).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.capture import Capture, DiffSpec, snake_case
from batchlake.engines import connection
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from batchlake.storage import Storage

DELETED_COLUMN = "_deleted"
STATE_FOLDER = "_state"
# DuckDB's memory for one comparison; beyond it, DuckDB spills to the work folder.
MEMORY_LIMIT = "1GB"
_HASH = "__batchlake_row_hash"
_CHANGE = "__batchlake_change"  # 'i' inserted, 'u' updated, 'd' deleted
_KEY = "__batchlake_key"  # JSON captures: the key fields as canonical JSON
_LINE = "__batchlake_line"  # JSON captures: the record as received, with "_deleted":false
_META_KEY = b"batchlake.key"
_META_HASH = b"batchlake.row-hash"
_JSON_HASH = "blake2b-64 of sorted-key JSON"
_TOMBSTONE_TAIL = ',"' + DELETED_COLUMN + '":true}'  # closes a key object as a tombstone
# One row of common types: its hash tells whether DuckDB's `hash` is the one of the state.
_PROBE = (
    "SELECT hash(42::BIGINT, 'batchlake'::VARCHAR, 1.5::DOUBLE, 12.34::DECIMAL(10, 2), "
    "DATE '2024-02-29', TIMESTAMP '2024-02-29 12:34:56.789', true, NULL::INTEGER, "
    "'\\xAB'::BLOB, [1, 2], {'a': 1})"
)


@dataclass(frozen=True)
class Changes:
    """What a diff capture found: rows inserted, updated, and keys deleted."""

    inserted: int
    updated: int
    deleted: int

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class Compared:
    """A diff capture computed in the work folder, not yet published to the lake."""

    changes: Changes
    batch_file: Path | None  # changed rows and tombstones (Parquet, or gzip JSON Lines)
    state_file: Path | None  # key + row hash of the whole entity as read now
    schema_json: str  # the source's columns (as the manifest records them)


def compare(
    capture: Capture,
    spec: DiffSpec,
    previous: Path | None,
    *,
    batch_id: str,
    loaded_at: datetime,
    on_rows: Callable[[int], None] | None,
    resync: bool = False,
) -> Compared:
    """Read the capture in full and compare it with the `previous` state file.

    `resync` (a `--full-refresh`) writes every current row, as updated or inserted, plus
    tombstones for keys gone, whatever the hashes say; and when the primary key changed
    since the previous state, starts over from no state.
    """
    spec.work_dir.mkdir(parents=True, exist_ok=True)
    con = connection.connect(memory_limit=MEMORY_LIMIT, temp_directory=str(spec.work_dir))
    try:
        if capture.format == "arrow":
            return _ArrowDiff(con, capture, spec, batch_id, loaded_at, on_rows).run(
                previous, resync
            )
        return _JsonDiff(con, capture, spec, on_rows).run(previous, resync)
    finally:
        con.close()


# -- shared SQL ----------------------------------------------------------------------------


def _q(name: str) -> str:
    return connection.quote_ident(name)


def _file(path: Path) -> str:
    return connection.quote_literal(str(path))


class _Diff:
    """The comparison common to tabular and JSON captures, over Parquet files."""

    con: duckdb.DuckDBPyConnection
    spec: DiffSpec
    work: Path
    key: list[str]  # key columns in current.parquet and in the state
    row_hash: str  # how rows are hashed (the state records it)

    def _check_keys(self, label: str) -> None:
        """No NULL and no duplicate key in the current read (else which key to fix)."""
        current = f"read_parquet({_file(self.work / 'current.parquet')})"
        keys = ", ".join(_q(k) for k in self.key)
        nulls = " OR ".join(f"{_q(k)} IS NULL" for k in self.key)
        found = self.con.execute(f"SELECT count(*) FROM {current} WHERE {nulls}").fetchone()
        if found and found[0]:
            raise SourceError(
                f"{label}: {found[0]} row(s) have a NULL in the primary key "
                f"{list(self.spec.key)}; a diff capture needs a key on every row; fix "
                f"{self.spec.setting}"
            )
        duplicates = self.con.execute(
            f"SELECT {keys}, count(*) FROM {current} GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
        ).fetchall()
        if duplicates:
            shown = "; ".join(", ".join(str(v) for v in row[:-1]) for row in duplicates)
            raise SourceError(
                f"{label}: the primary key {list(self.spec.key)} is not unique (repeated: "
                f"{shown}); a diff capture compares rows by key; fix {self.spec.setting}"
            )

    def _usable(self, previous: Path | None, resync: bool) -> Path | None:
        """The previous state, unless it keys rows differently (then resync, or an error)."""
        if previous is None:
            return None
        import pyarrow.parquet as pq

        meta = pq.read_schema(previous).metadata or {}
        before = json.loads(meta.get(_META_KEY, b"[]"))
        if before != list(self.spec.key):
            if resync:
                return None
            raise ConfigError(
                f"{self.spec.setting} is {list(self.spec.key)} but the last capture compared "
                f"by {before}; rerun the capture with --full-refresh to start over with "
                "the new key (it writes every row again)"
            )
        return previous

    def _compare(self, previous: Path, resync: bool, rehash: bool) -> Changes:
        """current FULL JOIN previous → changes.parquet; return the counts."""
        current = f"read_parquet({_file(self.work / 'current.parquet')})"
        state = f"read_parquet({_file(previous)})"
        on = " AND ".join(f"c.{_q(k)} = p.{_q(k)}" for k in self.key)
        keys = ", ".join(f"coalesce(c.{_q(k)}, p.{_q(k)}) AS {_q(k)}" for k in self.key)
        differs = "TRUE" if resync or rehash else f"c.{_q(_HASH)} IS DISTINCT FROM p.{_q(_HASH)}"
        self.con.execute(
            f"COPY (SELECT c.* EXCLUDE ({', '.join(_q(k) for k in self.key)}), {keys}, "
            f"CASE WHEN c.{_q(_HASH)} IS NULL THEN 'd' WHEN p.{_q(_HASH)} IS NULL THEN 'i' "
            f"ELSE 'u' END AS {_q(_CHANGE)} "
            f"FROM {current} c FULL JOIN {state} p ON {on} "
            f"WHERE c.{_q(_HASH)} IS NULL OR p.{_q(_HASH)} IS NULL OR {differs}) "
            f"TO {_file(self.work / 'changes.parquet')} (FORMAT parquet)"
        )
        counts = dict(
            self.con.execute(
                f"SELECT {_q(_CHANGE)}, count(*) "
                f"FROM read_parquet({_file(self.work / 'changes.parquet')}) GROUP BY 1"
            ).fetchall()
        )
        return Changes(counts.get("i", 0), counts.get("u", 0), counts.get("d", 0))

    def _write_state(self) -> Path:
        """Key + row hash of the current read, with how they were made."""
        target = self.work / "state.parquet"
        keys = ", ".join(_q(k) for k in self.key)
        meta = (
            f"{{{connection.quote_literal(_META_KEY.decode())}: "
            f"{connection.quote_literal(json.dumps(list(self.spec.key)))}, "
            f"{connection.quote_literal(_META_HASH.decode())}: "
            f"{connection.quote_literal(self.row_hash)}}}"
        )
        self.con.execute(
            f"COPY (SELECT {keys}, {_q(_HASH)} "
            f"FROM read_parquet({_file(self.work / 'current.parquet')})) "
            f"TO {_file(target)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA {meta})"
        )
        return target

    def _rehash(self, previous: Path) -> bool:
        """Whether the previous state's row hashes were made differently from today's."""
        import pyarrow.parquet as pq

        meta = pq.read_schema(previous).metadata or {}
        return meta.get(_META_HASH, b"").decode() != self.row_hash


# -- tabular captures (Arrow) --------------------------------------------------------------


class _ArrowDiff(_Diff):
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        capture: Capture,
        spec: DiffSpec,
        batch_id: str,
        loaded_at: datetime,
        on_rows: Callable[[int], None] | None,
    ) -> None:
        self.con, self.capture, self.spec, self.work = con, capture, spec, spec.work_dir
        self.batch_id, self.loaded_at, self.on_rows = batch_id, loaded_at, on_rows
        probe = con.execute(_PROBE).fetchone()
        self.row_hash = f"duckdb-hash {probe[0] if probe else ''}"

    def run(self, previous: Path | None, resync: bool) -> Compared:
        from batchlake.capture.raw_writer import schema_json

        schema = self._stage()
        self.key = _resolve_key(self.spec, [f.name for f in schema])
        previous = self._usable(previous, resync)
        self._check_keys(self.spec.setting.rsplit(".", 1)[0])
        columns = [f.name for f in schema]
        if previous is None:
            rows = self.con.execute(
                f"SELECT count(*) FROM read_parquet({_file(self.work / 'current.parquet')})"
            ).fetchone()
            changes = Changes(int(rows[0]) if rows else 0, 0, 0)
            source = f"read_parquet({_file(self.work / 'current.parquet')})"
            select = ", ".join(_q(c) for c in columns) + f", FALSE AS {_q(DELETED_COLUMN)}"
            order = ""
        else:
            changes = self._compare(previous, resync, self._rehash(previous))
            source = f"read_parquet({_file(self.work / 'changes.parquet')})"
            select = ", ".join(_q(c) for c in columns) + (
                f", {_q(_CHANGE)} = 'd' AS {_q(DELETED_COLUMN)}"
            )
            order = " ORDER BY " + ", ".join(_q(k) for k in self.key)
        if not (previous is None or changes.rows or resync):
            return Compared(changes, None, None, schema_json(schema))
        batch_file = self.work / "batch.parquet"
        lineage = (
            f"{connection.quote_literal(self.batch_id)} AS _batch_id, "
            f"CAST({connection.quote_literal(self.loaded_at.isoformat())} AS TIMESTAMPTZ) "
            "AS _loaded_at"
        )
        self.con.execute(
            f"COPY (SELECT {select}, {lineage} FROM {source}{order}) "
            f"TO {_file(batch_file)} (FORMAT parquet, COMPRESSION zstd)"
        )
        return Compared(changes, batch_file, self._write_state(), schema_json(schema))

    def _stage(self) -> pa.Schema:
        """Stream the capture into current.parquet with each row's hash; its schema."""
        import duckdb
        import pyarrow as pa

        batches = iter(self.capture.batches)
        schema = self.capture.schema
        first = None
        if schema is None:
            first = next(batches, None)
            if first is None:
                raise SourceError(
                    f"{self.spec.setting.rsplit('.', 1)[0]}: the read returned no columns; "
                    "a diff capture needs the primary key's columns"
                )
            schema = first.schema
        failure: list[BaseException] = []

        def observed() -> Iterator[pa.RecordBatch]:
            try:
                for batch in _chain(first, batches):
                    if batch.num_rows:
                        if self.on_rows is not None:
                            self.on_rows(batch.num_rows)
                        yield batch
            except BaseException as exc:  # handed back as itself, not as DuckDB's error
                failure.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(schema, observed())
        self.con.register("capture_stream", reader)
        columns = ", ".join(_q(f.name) for f in schema)
        try:
            self.con.execute(
                f"COPY (SELECT *, hash({columns}) AS {_q(_HASH)} FROM capture_stream) "
                f"TO {_file(self.work / 'current.parquet')} (FORMAT parquet)"
            )
        except duckdb.Error:
            if failure:
                raise failure[0] from None
            raise
        finally:
            self.con.unregister("capture_stream")
        if failure:
            raise failure[0]
        return schema


def _chain(
    first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from rest


def _resolve_key(spec: DiffSpec, columns: list[str]) -> list[str]:
    """The key's columns as named in the read (written as in the source or snake_case)."""
    found = []
    for wanted in spec.key:
        if wanted in columns:
            found.append(wanted)
        elif snake_case(wanted) in columns:
            found.append(snake_case(wanted))
        else:
            raise ConfigError(
                f"{spec.setting} names '{wanted}', which is not a column of "
                f"{spec.setting.rsplit('.', 1)[0]} (columns: {', '.join(columns)}); fix "
                f"{spec.setting}"
            )
    return found


# -- API and document captures (JSON records) ----------------------------------------------


class _JsonDiff(_Diff):
    """Records as received; compared by their key fields and a hash of their content."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        capture: Capture,
        spec: DiffSpec,
        on_rows: Callable[[int], None] | None,
    ) -> None:
        self.con, self.capture, self.spec, self.work = con, capture, spec, spec.work_dir
        self.on_rows = on_rows
        self.key = [_KEY]
        self.row_hash = _JSON_HASH

    def run(self, previous: Path | None, resync: bool) -> Compared:
        fields = self._stage()
        previous = self._usable(previous, resync)
        self._check_keys(self.spec.setting.rsplit(".", 1)[0])
        current = f"read_parquet({_file(self.work / 'current.parquet')})"
        if previous is None:
            rows = self.con.execute(f"SELECT count(*) FROM {current}").fetchone()
            changes = Changes(int(rows[0]) if rows else 0, 0, 0)
            lines = f"SELECT {_q(_LINE)} FROM {current}"
        else:
            changes = self._compare(previous, resync, self._rehash(previous))
            tombstone = (
                f"substr({_q(_KEY)}, 1, length({_q(_KEY)}) - 1) || "
                f"{connection.quote_literal(_TOMBSTONE_TAIL)}"
            )
            lines = (
                f"SELECT CASE WHEN {_q(_CHANGE)} = 'd' THEN {tombstone} ELSE {_q(_LINE)} END "
                f"FROM read_parquet({_file(self.work / 'changes.parquet')}) ORDER BY {_q(_KEY)}"
            )
        if DELETED_COLUMN not in fields:
            fields[DELETED_COLUMN] = None
        schema = json.dumps([{"name": k, "type": "json"} for k in fields])
        if not (previous is None or changes.rows or resync):
            return Compared(changes, None, None, schema)
        batch_file = self.work / "batch.jsonl.gz"
        _write_lines(self.con.execute(lines).fetch_record_batch(10_000), batch_file)
        return Compared(changes, batch_file, self._write_state(), schema)

    def _stage(self) -> dict[str, None]:
        """Pages → current.parquet (key JSON, content hash, line); the record keys seen."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(_KEY, pa.string()), (_HASH, pa.uint64()), (_LINE, pa.string())])
        fields: dict[str, None] = {}
        with pq.ParquetWriter(self.work / "current.parquet", schema) as writer:
            for page in self.capture.records:
                if not page:
                    continue
                keys, hashes, lines = [], [], []
                for record in page:
                    if not isinstance(record, dict):
                        raise SourceError(
                            f"expected JSON objects as records, got {type(record).__name__}"
                        )
                    fields.update(dict.fromkeys(record))
                    keys.append(self._key_of(record))
                    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"))
                    digest = hashlib.blake2b(canonical.encode(), digest_size=8).digest()
                    hashes.append(int.from_bytes(digest, "little"))
                    lines.append(
                        json.dumps(
                            {**record, DELETED_COLUMN: False},
                            ensure_ascii=False,
                            separators=(",", ":"),
                        )
                    )
                writer.write_table(
                    pa.table(
                        [pa.array(keys), pa.array(hashes, pa.uint64()), pa.array(lines)],
                        schema=schema,
                    )
                )
                if self.on_rows is not None:
                    self.on_rows(len(page))
        return fields

    def _key_of(self, record: dict[str, Any]) -> str:
        """The key fields as a canonical JSON object (nested for dotted paths)."""
        key: dict[str, Any] = {}
        for path in self.spec.key:
            value: Any = record
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                shown = ", ".join(list(record)[:20])
                raise SourceError(
                    f"{self.spec.setting.rsplit('.', 1)[0]}: a record has no value for the "
                    f"primary key field '{path}' (its fields: {shown}); fix {self.spec.setting}"
                )
            parts = path.split(".")
            node = key
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return json.dumps(key, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _write_lines(reader: Iterable[pa.RecordBatch], target: Path) -> None:
    """One JSON document per line, gzip (as raw JSON captures are kept)."""
    with open(target, "wb") as sink, gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as out:
        for batch in reader:
            if batch.num_rows:
                out.write(("\n".join(batch.column(0).to_pylist()) + "\n").encode())


# -- publishing ----------------------------------------------------------------------------


def state_location(storage: Storage, source: str, entity: str, batch_id: str) -> str:
    return storage.join("raw", source, entity, STATE_FOLDER, f"{batch_id}.parquet")


def fetch_state(storage: Storage, location: str, work_dir: Path) -> Path:
    """A local path to read a state file from: itself when local, else a downloaded copy."""
    from batchlake.storage import path_of

    if storage.is_local:
        return Path(path_of(location))
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "previous-state.parquet"
    with storage.filesystem.open_input_stream(path_of(location)) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return target


def publish(storage: Storage, local: Path, final: str) -> tuple[int, str]:
    """Put a local file at `final` in the lake (a temporary name, then a rename).

    Returns its size and sha256.
    """
    from batchlake.storage import path_of

    folder, _, name = final.rpartition("/")
    temporary = f"{folder}/.{name}.tmp"
    storage.makedirs(folder)
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            open(local, "rb") as src,
            storage.filesystem.open_output_stream(path_of(temporary)) as out,
        ):
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        storage.move(temporary, final)
    except BaseException:
        storage.delete(temporary)
        raise
    return size, digest.hexdigest()


def retire_state(storage: Storage, location: str) -> None:
    """Delete a superseded state file; left for `batchlake maintain` if that fails."""
    import contextlib

    with contextlib.suppress(OSError):
        storage.delete(location)
