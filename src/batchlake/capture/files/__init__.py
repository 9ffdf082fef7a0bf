"""Files and URLs: CSV, TSV, JSON, JSON Lines and Parquet; plain, gzip or zip.

An entity's `path` is a local file or glob (relative to the project folder; the files a
glob matches are read in sorted order as one capture), an http(s):// URL, or an s3:// URL
or glob (needs `pip install 'batchlake[s3]'`). `format` and `compression` default to
"auto": told by the name (`.csv.gz`, `.tsv`, `.jsonl`, `.ndjson`, `.json`, `.parquet`,
`.zip`), then by the HTTP Content-Type, then by magic bytes. A zip is read through its one
data file, or the member named like the entity, or the configured `member`.

Unchanged files are not read again: the capture leaves validators (see `files.fetch`)
and the next one answers `unchanged` when a URL says 304, or when the files' size and
modification time, or else their sha256, are those of the last capture.

Types. CSV/TSV column types are inferred from the first block (4 MiB) of the first file:
BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, TIMESTAMPTZ, else VARCHAR; JSON keeps JSON's
types; Parquet its own. `columns = {amount = "DECIMAL(10,2)", day = "DATE"}` overrides a
column's type with a DuckDB/SQL type name (see `column_types.parse_type`). Every file of a
glob is conformed to the first one's columns: a column it lacks reads as NULL, a column
the first file has not is an error.

Bad rows. A row is bad when a CSV/TSV line has the wrong number of fields, when a value
does not convert exactly to its column's type (inferred or declared), when a JSON Lines
line is not valid JSON or not an object, or when a JSON array element is not an object.
The design keeps reading streaming and memory-bounded:

* CSV/TSV go through pyarrow's streaming reader with every column read as bytes, so no
  value can stop the reader; rows with a wrong field count are handed to an
  `invalid_row_handler` and left out. Each batch is then decoded (UTF-8) and cast column
  by column with `safe=True`; a failing cast is bisected to find the exact values that
  fail, and their rows are left out of the batch. Good rows of the batch are kept.
* Physical line numbers (1-based, the header is line 1) come from counting: the reader
  tracks each good row's record number, interleaving the invalid records it was told of,
  and a forward-only `csv` module pass over the same data maps record numbers to lines
  (blank lines and quoted line breaks included) and gives each bad row its exact text.
  That pass runs only when there are bad rows, and only up to the last of them.
* JSON Lines are read line by line (twice: keys and kinds first, then batches of 10,000
  lines), so their line numbers are direct. A JSON document is parsed whole; its bad rows
  have no line and their reason names the element. Parquet bad values name the row.

Then `on_bad_rows` decides: "quarantine" (default) hands the row to `Capture.reject`
(ingest writes it with line, reason and text to the quarantine file), "skip" counts it in
`Capture.skipped`, "fail" stops the capture with a `SourceError` naming file, line and
reason (and no batch is kept). When a capture reads several files, quarantined reasons
end with "(in <file>)".
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from batchlake.capture import BadRow, Capture, DiffSpec, EntityState, SourceBase
from batchlake.capture.files.column_types import parse_type
from batchlake.capture.files.csv_reader import CsvTable
from batchlake.capture.files.fetch import (
    Fetched,
    fetch_http,
    fetch_local,
    fetch_remote,
    open_filesystem,
)
from batchlake.capture.files.opener import FileInput, describe_input
from batchlake.capture.files.tables import JsonLinesTable, JsonTable, ParquetTable
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import httpx
    import pyarrow as pa

    from batchlake.config import FileEntitySettings, FilesSourceSettings, Project

__all__ = ["FilesSource"]

_REMOTE_SCHEMES = {"s3", "s3a"}


class _Table(Protocol):
    columns: list[str]

    def schema(self) -> pa.Schema: ...

    def batches(
        self, target: pa.Schema, labels: dict[str, str]
    ) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]: ...

    def close(self) -> None: ...


class FilesSource(SourceBase):
    """Local files and globs, http(s):// URLs and s3:// objects, captured as Arrow."""

    def __init__(
        self,
        name: str,
        settings: FilesSourceSettings,
        project: Project,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.project = project
        self._transport = transport  # tests fake HTTP here
        self._client: httpx.Client | None = None
        self._scratch: Path | None = None
        self._tables: list[_Table] = []
        self._filesystems: dict[str, Any] = {}

    # -- the Source protocol ----------------------------------------------------------

    def entities(self) -> list[str]:
        return list(self.settings.entities)

    def describe(self, entity: str) -> dict[str, str]:
        options = self._options(entity)
        return {
            "reads": options.path,
            "mode": options.mode,
            "format": options.format,
            "compression": options.compression,
            "on_bad_rows": options.on_bad_rows,
            "primary_key": ",".join(options.primary_key),
        }

    def read(self, entity: str, state: EntityState) -> Capture:
        options = self._options(entity)
        key = f"sources.{self.name}.entities.{entity}"
        fetched = self._fetch(options, state.validators, key)
        if fetched.unchanged:
            return Capture(
                format="arrow",
                unchanged=True,
                note=fetched.note,
                validators=fetched.validators,
            )
        capture = Capture(format="arrow", validators=fetched.validators)
        if options.mode == "diff":
            capture.diff = DiffSpec(
                tuple(options.primary_key), f"{key}.primary_key", self.project.state_dir / "tmp"
            )
        inputs: list[FileInput] = []
        try:
            for found in fetched.files:
                inputs.append(
                    describe_input(
                        found.path,
                        found.name,
                        options,
                        entity,
                        key,
                        content_type=found.content_type,
                        temporary=found.temporary,
                    )
                )
            capture.schema, capture.batches = self._stream(inputs, options, entity, key, capture)
        except BaseException:
            for found in fetched.files:
                if found.temporary:
                    Path(found.path).unlink(missing_ok=True)
            raise
        return capture

    def close(self) -> None:
        for table in self._tables:
            table.close()
        self._tables.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- getting the files ------------------------------------------------------------

    def _options(self, entity: str) -> FileEntitySettings:
        options = self.settings.entities.get(entity)
        if options is None:
            known = ", ".join(self.settings.entities) or "none"
            raise SourceError(
                f"source '{self.name}' has no entity '{entity}' (it has: {known}); "
                f"add [sources.{self.name}.entities.{entity}] with a path"
            )
        return options

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"batchlake-{self.name}-"))
        return self._scratch

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                follow_redirects=True,
                transport=self._transport,
                headers={"User-Agent": "batchlake"},
            )
        return self._client

    def filesystem(self, url: str) -> Any:
        """The fsspec filesystem for a remote URL's scheme (one per scheme)."""
        scheme = url.split("://", 1)[0]
        if scheme not in self._filesystems:
            self._filesystems[scheme] = open_filesystem(url, self.settings.storage_options)
        return self._filesystems[scheme]

    def _fetch(self, options: FileEntitySettings, validators: dict[str, str], key: str) -> Fetched:
        location = options.path
        scheme = location.split("://", 1)[0].lower() if "://" in location else "file"
        fingerprint = _options_key(options)
        where = f"{key}.path"
        if scheme in ("http", "https"):
            return fetch_http(
                self._http(),
                location,
                self._scratch_dir(),
                validators,
                fingerprint,
                where,
                retries=self.settings.max_retries,
                backoff=self.settings.backoff_seconds,
            )
        if scheme == "file":
            local = location[len("file://") :] if "://" in location else location
            local = self.project.resolve_location(local)
            return fetch_local(local, self.project.root, validators, fingerprint, where)
        if scheme in _REMOTE_SCHEMES:
            return fetch_remote(
                self.filesystem(location),
                location,
                self._scratch_dir(),
                validators,
                fingerprint,
                where,
            )
        raise ConfigError(
            f"{where}: scheme '{scheme}://' is not supported; use a local path or glob, "
            "an http(s):// URL or an s3:// URL"
        )

    # -- reading them -----------------------------------------------------------------

    def _table(self, file: FileInput, options: FileEntitySettings, entity: str, key: str) -> _Table:
        table: _Table
        with _reading(file):
            if file.format in ("csv", "tsv"):
                table = CsvTable(file, options, key, locate=options.on_bad_rows != "skip")
            elif file.format == "jsonl":
                table = JsonLinesTable(file)
            elif file.format == "json":
                table = JsonTable(file, entity)
            else:
                table = ParquetTable(file, self._scratch_dir())
        self._tables.append(table)
        return table

    def _stream(
        self,
        inputs: list[FileInput],
        options: FileEntitySettings,
        entity: str,
        key: str,
        capture: Capture,
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """The capture's schema (from the first file) and its batches, read lazily."""
        import pyarrow as pa

        overrides = {c: parse_type(t, f"{key}.columns.{c}") for c, t in options.columns.items()}
        labels = {c: " ".join(t.upper().split()) for c, t in options.columns.items()}
        first = self._table(inputs[0], options, entity, key)
        with _reading(inputs[0]):
            own = first.schema()
        missing = [c for c in overrides if c not in own.names]
        if missing:
            raise ConfigError(
                f"{key}.columns names {', '.join(missing)}, but {inputs[0].name} has no such "
                f"column (it has: {', '.join(own.names)})"
            )
        target = pa.schema([pa.field(f.name, overrides.get(f.name, f.type)) for f in own])
        policy = _Policy(options.on_bad_rows, capture, several=len(inputs) > 1, key=key)
        batches = self._batches(inputs, first, target, labels, policy, options, entity, key)
        return target, batches

    def _batches(
        self,
        inputs: list[FileInput],
        first: _Table,
        target: pa.Schema,
        labels: dict[str, str],
        policy: _Policy,
        options: FileEntitySettings,
        entity: str,
        key: str,
    ) -> Iterator[pa.RecordBatch]:
        try:
            for index, file in enumerate(inputs):
                table = first if index == 0 else self._table(file, options, entity, key)
                try:
                    extra = [c for c in table.columns if c not in target.names]
                    if extra:
                        raise SourceError(
                            f"{file.name} has columns {', '.join(extra)} that {inputs[0].name} "
                            "has not; capture files with different columns as separate entities"
                        )
                    for batch, bad in _guarded(file, table.batches(target, labels)):
                        for row in bad:
                            policy(row, file.name)
                        if batch.num_rows:
                            yield batch
                finally:
                    table.close()
                    file.discard()
        finally:
            for file in inputs:
                file.discard()


class _Policy:
    """What `on_bad_rows` does with one bad row."""

    def __init__(self, mode: str, capture: Capture, *, several: bool, key: str) -> None:
        self.mode = mode
        self.capture = capture
        self.several = several
        self.key = key

    def __call__(self, row: BadRow, name: str) -> None:
        if self.mode == "fail":
            where = f"line {row.line}" if row.line is not None else "a row"
            raise SourceError(
                f"{name}, {where}: {row.reason}; fix the file, or set "
                f"{self.key}.on_bad_rows = 'quarantine' to set such rows aside"
            )
        if self.mode == "skip":
            self.capture.skipped += 1
            return
        reason = f"{row.reason} (in {name})" if self.several else row.reason
        self.capture.reject(BadRow(row.line, reason, row.raw))


@contextmanager
def _reading(file: FileInput) -> Iterator[None]:
    """Low-level read errors of a file as one clear `SourceError` naming it."""
    import pyarrow as pa

    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if file.compression == "gzip":
            raise SourceError(
                f"{file.name} is not readable gzip data ({exc}); check the file, "
                "or set compression = 'none' if it is not compressed"
            ) from None
        raise SourceError(f"cannot read {file.name}: {exc}") from None
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{file.name} is not a readable zip file ({exc})") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise SourceError(f"cannot read {file.name}: {exc}") from None


def _guarded(
    file: FileInput, items: Iterator[tuple[pa.RecordBatch, list[BadRow]]]
) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]:
    """`items`, with read errors raised while producing them made clear (see `_reading`)."""
    while True:
        with _reading(file):
            item = next(items, None)
        if item is None:
            return
        yield item


def _options_key(options: FileEntitySettings) -> str:
    """Changes when an option that shapes the captured data changes."""
    shaping = options.model_dump(exclude={"on_bad_rows", "primary_key"})
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]
