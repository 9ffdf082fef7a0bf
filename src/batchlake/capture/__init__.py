"""Sources: where data is captured from.

A source kind registers here by the `type` it has in `batchlake.toml`; `open_source`
builds one from its settings, importing its module only then (a missing optional
dependency names the `pip install 'batchlake[extra]'` to run).

Every source answers `entities()` and `read(entity, state) -> Capture`. A `Capture` is
either Arrow record batches (tabular sources: written to raw as Parquet) or pages of JSON
records as received (APIs, documents: written to raw as compressed JSON Lines). While the
capture is consumed the source sets the new incremental cursor and, for files and URLs,
the validators (ETag, Last-Modified, content hash) that let the next capture skip an
unchanged file. Rows that cannot be read are handed to `Capture.reject`, which the ingest
layer turns into a quarantine file. An entity in `mode = "diff"` is read in full with a
`DiffSpec`; ingest then writes only what changed since its last capture (`capture.diff`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.config import Project


@dataclass(frozen=True)
class EntityState:
    """What the metadata database remembers of an entity between captures."""

    cursor: str | None = None
    validators: dict[str, str] = field(default_factory=dict)
    # A backfill window (sql sources): rows with cursor >= `cursor` and <= `until`.
    until: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A row that could not be captured, with where it was and why."""

    line: int | None
    reason: str
    raw: str


@dataclass(frozen=True)
class DiffSpec:
    """A full read to be compared with the previous capture by key (`mode = "diff"`).

    `key`: the primary key as configured (columns, or record fields with dotted paths);
    `setting`: where it is configured, for messages; `work_dir`: a local folder for the
    comparison's temporary files (DuckDB spills there).
    """

    key: tuple[str, ...]
    setting: str
    work_dir: Path


@dataclass
class Capture:
    """One entity's data as a source hands it to ingest.

    `format="arrow"`: `batches` (with `schema`) stream Arrow record batches.
    `format="json"`: `records` streams pages (lists) of JSON-able dicts, kept as received.
    `unchanged=True`: the source knows nothing changed (HTTP 304, same ETag); no batch.
    """

    format: Literal["arrow", "json"]
    batches: Iterable[pa.RecordBatch] = ()
    schema: pa.Schema | None = None
    records: Iterable[list[dict[str, Any]]] = ()
    unchanged: bool = False
    note: str | None = None
    # Set by the source while or after the data is consumed:
    cursor: str | None = None
    validators: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    rejected: int = 0
    on_reject: Callable[[BadRow], None] | None = None
    # A read split into parallel streams (partitions): which stream a batch came from.
    # Each stream's rows come in a stable order, their interleaving does not, so ingest
    # hashes each stream apart and an unchanged table still hashes the same.
    stream_of: Callable[[pa.RecordBatch], int] | None = None
    # Set for a diff capture: ingest writes only the changes (batchlake.capture.diff).
    diff: DiffSpec | None = None

    def reject(self, row: BadRow) -> None:
        """Quarantine a bad row (the ingest layer writes it down with its reason)."""
        self.rejected += 1
        if self.on_reject is not None:
            self.on_reject(row)


class Source(Protocol):
    """A configured source: lists its entities and captures each one."""

    name: str

    def entities(self) -> list[str]:
        """Entity names as they appear in the lake (`raw.<source>.<entity>`)."""

    def read(self, entity: str, state: EntityState) -> Capture:
        """Capture one entity (since `state.cursor` when incremental), memory-bounded."""

    def describe(self, entity: str) -> dict[str, str]:
        """How an entity is captured (mode, cursor, primary key...), for `batchlake sources`."""

    def windowed_entities(self) -> list[str] | None:
        """Entities whose capture can re-read a cursor window (`batchlake backfill`).

        None when the kind of source cannot (re-capture it in full instead).
        """

    def interrupt(self) -> None:
        """Stop a capture running in another thread at once, where the source can."""

    def close(self) -> None: ...


class SourceBase:
    """Defaults of the optional parts of `Source`: no cursor windows, nothing to interrupt."""

    def windowed_entities(self) -> list[str] | None:
        return None

    def interrupt(self) -> None:
        return None


# type in batchlake.toml -> (module, class, extra that provides its dependencies)
_KINDS: dict[str, tuple[str, str, str | None]] = {
    "sql": ("batchlake.capture.sql", "sql_source", None),
    "rest": ("batchlake.capture.rest", "RestSource", None),
    "files": ("batchlake.capture.files", "FilesSource", None),
    "mongo": ("batchlake.capture.mongo", "MongoSource", "mongo"),
}


def open_source(project: Project, name: str) -> Source:
    settings = project.settings.sources.get(name)
    if settings is None:
        known = ", ".join(sorted(project.settings.sources)) or "none"
        raise ConfigError(
            f"no source named '{name}' in batchlake.toml (sources: {known}); "
            f"add a [sources.{name}] section"
        )
    module_name, class_name, extra = _KINDS[settings.type]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'batchlake[{extra}]'" if extra else "reinstall batchlake"
        raise ConfigError(
            f"source '{name}' (type {settings.type}) needs a missing package ({exc}); run {hint}"
        ) from exc
    source: Source = getattr(module, class_name)(name, settings, project)
    return source


def url_password(url: str) -> str | None:
    """The password of a URL as written (URLs may list several hosts, as MongoDB's do)."""
    rest = url.split("://", 1)[-1]
    userinfo, at, _ = rest.split("/", 1)[0].rpartition("@")
    if not at or ":" not in userinfo:
        return None
    return userinfo.split(":", 1)[1] or None


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    password = url_password(url)
    if password is None:
        return url
    scheme, rest = url.split("://", 1)
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    after = rest[len(userinfo) + 1 :]
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{after}"


def scrub_url_secret(text: str, url: str) -> str:
    """`text` (say, a driver's error) with the URL's password, as written or decoded, as ***."""
    from urllib.parse import unquote

    password = url_password(url)
    if password:
        for secret in {password, unquote(password)}:
            text = text.replace(secret, "***")
    return text


_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """`InvoiceLineId` → `invoice_line_id`, `HTTPStatus` → `http_status`."""
    spaced = _BOUNDARY.sub("_", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower() or "column"
