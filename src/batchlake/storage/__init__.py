"""One filesystem interface for every storage scheme, and the paths of the zones.

Callers pass URLs or absolute paths; the scheme (`file://`, `s3://`, `abfs://`, ...) picks
the implementation here and nowhere else, so the rest of batchlake is storage-agnostic.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options


def scheme_of(location: str) -> str:
    """`s3` for `s3://bucket/x`, `file` for a local path or `file://` URL."""
    return location.split("://", 1)[0] if "://" in location else "file"


def to_url(location: str) -> str:
    """A URL for any location: local paths become `file:///abs/path`."""
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


def to_engine_path(location: str) -> str:
    """What query engines accept: a plain path for local files, the URL otherwise."""
    if location.startswith("file://"):
        return location[len("file://") :]
    return location


def duckdb_path(location: str) -> str:
    """What DuckDB reads and writes: `to_engine_path`, with Azure's `abfs://` as `az://`.

    DuckDB's azure extension takes `abfss://` through the data-lake (dfs) API only, which
    Azurite and flat-namespace accounts lack; `az://` is the blob API every account has.
    """
    from batchlake.storage.azure import duckdb_location

    return duckdb_location(to_engine_path(location))


@dataclass(frozen=True)
class Storage:
    """The lake's root location and the layout of its zones."""

    root: str
    s3: S3Options | None = field(default=None, compare=False)  # how to reach s3:// roots
    azure: AzureOptions | None = field(default=None, compare=False)  # ... and abfs:// roots

    @property
    def scheme(self) -> str:
        return scheme_of(self.root)

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def join(self, *parts: str) -> str:
        return posixpath.join(to_engine_path(self.root), *parts)

    @property
    def raw_root(self) -> str:
        return self.join("raw")

    @property
    def warehouse(self) -> str:
        """Where Iceberg tables are created (a URL, as catalogs expect)."""
        return to_url(self.join("warehouse"))

    def raw_batch_path(
        self, source: str, entity: str, ingest_date: date, batch_id: str, ext: str
    ) -> str:
        return self.join(
            "raw", source, entity, f"ingest_date={ingest_date.isoformat()}", f"{batch_id}.{ext}"
        )

    @cached_property
    def filesystem(self) -> pafs.FileSystem:
        return filesystem_for(self.root, self.s3, self.azure)

    def makedirs(self, location: str) -> None:
        """Create a local folder; object stores have no folders, so nothing to do there."""
        if self.is_local:
            Path(to_engine_path(location)).mkdir(parents=True, exist_ok=True)

    def move(self, src: str, dst: str) -> None:
        """Rename a file within the lake (atomic on local disks).

        Where the store has no rename (Azure accounts without a hierarchical namespace,
        Azurite: pyarrow raises NotImplementedError), the file is copied on the server
        and the source deleted, as S3 does.
        """
        try:
            self.filesystem.move(path_of(src), path_of(dst))
        except NotImplementedError:
            self.filesystem.copy_file(path_of(src), path_of(dst))
            self.filesystem.delete_file(path_of(src))

    def delete(self, location: str) -> None:
        from pyarrow.fs import FileType

        path = path_of(location)
        info = self.filesystem.get_file_info(path)
        if info.type == FileType.Directory:
            self.filesystem.delete_dir(path)
        elif info.type == FileType.File:
            self.filesystem.delete_file(path)

    def size(self, location: str) -> int:
        return int(self.filesystem.get_file_info(path_of(location)).size or 0)

    def file_infos(self, location: str) -> list[pafs.FileInfo]:
        """Every file under a folder (path without scheme, size, mtime), recursively."""
        from pyarrow.fs import FileSelector, FileType

        infos = self.filesystem.get_file_info(
            FileSelector(path_of(location), recursive=True, allow_not_found=True)
        )
        return [i for i in infos if i.type == FileType.File]


def path_of(location: str) -> str:
    """The location without its scheme, as pyarrow filesystems take it."""
    return location.split("://", 1)[1] if "://" in location else location


def filesystem_for(
    location: str, s3: S3Options | None = None, azure: AzureOptions | None = None
) -> pafs.FileSystem:
    """A pyarrow filesystem for a location's scheme (`s3`/`azure` say how to reach them)."""
    import pyarrow.fs as pafs

    from batchlake.storage.azure import AZURE_SCHEMES, AzureOptions

    scheme = scheme_of(location)
    if scheme == "file":
        return pafs.LocalFileSystem()
    if scheme in ("s3", "s3a") and s3 is not None:
        return s3.pyarrow_filesystem()
    if scheme in AZURE_SCHEMES:  # pyarrow's from_uri needs the account in the URL
        return (azure or AzureOptions()).pyarrow_filesystem()
    fs, _ = pafs.FileSystem.from_uri(location)
    return fs
