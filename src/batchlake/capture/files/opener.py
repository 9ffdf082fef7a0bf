"""One local file of a capture: its format and compression, and how to open its data."""

from __future__ import annotations

import gzip
import io
import posixpath
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast
from urllib.parse import urlsplit

from batchlake.errors import SourceError

if TYPE_CHECKING:
    from batchlake.config import FileEntitySettings

_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zip": "zip"}
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
}


@dataclass
class FileInput:
    """A local file to read (the original, or a download) and what is in it."""

    path: str
    name: str  # as the user wrote it: path, URL or s3:// URL
    format: str
    compression: str
    member: str | None = None  # the zip member read
    temporary: bool = False

    def open_binary(self) -> IO[bytes]:
        """The file's data, decompressed, as a stream (memory stays bounded)."""
        if self.compression == "gzip":
            return cast("IO[bytes]", gzip.GzipFile(self.path, "rb"))
        if self.compression == "zip":
            assert self.member is not None
            archive = zipfile.ZipFile(self.path)
            stream = archive.open(self.member)
            archive.close()  # the file stays open until the member stream is closed
            return stream
        return open(self.path, "rb")

    def open_text(self) -> IO[str]:
        """The data as text with line ends kept, as the `csv` module wants it."""
        return io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="replace", newline=""
        )

    def local_copy(self, scratch: Path) -> str:
        """A plain file with the decompressed data (Parquet needs random access)."""
        if self.compression == "none":
            return self.path
        handle, copy = tempfile.mkstemp(dir=scratch, suffix=".parquet")
        with self.open_binary() as source, open(handle, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        return copy

    def discard(self) -> None:
        if self.temporary:
            Path(self.path).unlink(missing_ok=True)


def describe_input(
    path: str,
    name: str,
    options: FileEntitySettings,
    entity: str,
    key: str,
    *,
    content_type: str | None = None,
    temporary: bool = False,
) -> FileInput:
    """Work out format, compression and zip member of a local file named `name`."""
    basename = posixpath.basename(urlsplit(name).path if "://" in name else name).lower()
    suffix = _suffix(basename)
    compression: str = options.compression
    if compression == "auto":
        compression = _COMPRESSIONS.get(suffix) or _sniff_compression(path)
    member = None
    inner = basename
    if compression == "zip":
        member = _choose_member(path, name, options.member, entity, key)
        inner = posixpath.basename(member).lower()
    elif compression == "gzip" and suffix in (".gz", ".gzip"):
        inner = basename[: -len(suffix)]
    found = FileInput(path, name, options.format, compression, member, temporary)
    if found.format == "auto":
        mime = (content_type or "").split(";", 1)[0].strip().lower()
        found.format = _FORMATS.get(_suffix(inner)) or _CONTENT_TYPES.get(mime) or _sniff(found)
    return found


def _suffix(basename: str) -> str:
    return posixpath.splitext(basename)[1]


def _sniff_compression(path: str) -> str:
    with open(path, "rb") as stream:
        head = stream.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head == b"PK\x03\x04":
        return "zip"
    return "none"


def _sniff(found: FileInput) -> str:
    """Parquet can be told by its magic bytes; text formats need a name or a setting."""
    try:
        with found.open_binary() as stream:
            head = stream.read(4)
    except (OSError, EOFError, zipfile.BadZipFile):
        head = b""
    if head == b"PAR1":
        return "parquet"
    raise SourceError(
        f"cannot tell the format of {found.name} from its name; set format = 'csv' "
        "(or 'tsv', 'json', 'jsonl', 'parquet') for this entity"
    )


def _choose_member(path: str, name: str, wanted: str | None, entity: str, key: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and not posixpath.basename(info.filename).startswith(".")
                and not info.filename.startswith("__MACOSX/")
            ]
    except zipfile.BadZipFile as exc:
        raise SourceError(
            f"{name} is not a readable zip file ({exc}); check the file, or set {key}.compression"
        ) from None
    listing = ", ".join(members) or "nothing"
    if wanted is not None:
        if wanted not in members:
            raise SourceError(
                f"{name} has no member '{wanted}' (it holds {listing}); fix {key}.member"
            )
        return wanted
    if len(members) == 1:
        return members[0]
    by_entity = [m for m in members if posixpath.basename(m).split(".", 1)[0] == entity]
    if len(by_entity) == 1:
        return by_entity[0]
    raise SourceError(
        f"{name} holds {len(members)} files ({listing}); set {key}.member to the one to read"
    )
