"""Rewrite one Iceberg table's metadata tree under a new location (a moved or copied lake).

Iceberg names every file by its absolute location: the table's `location`, each
snapshot's manifest list, each manifest, each data file. When a local lake is moved or
copied, the files are all there under the new folder but every one of those names still
points at the old one. `rebase_table` reads the tree from the new place and writes a new
one there with the old prefix replaced: a manifest for each manifest, a manifest list for
each snapshot, and a new metadata JSON. Snapshot ids, sequence numbers, schemas, specs,
refs and properties are kept, so time travel and the snapshot ids models recorded as
consumed still mean the same thing. Nothing is written outside the new location, and the
old files are left alone (the previous metadata files of the copy become orphans that
`batchlake maintain` removes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import ManifestFile
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.typedef import Record
    from pyiceberg.types import StructType

Move = Callable[[str], str]


def prefix_mover(old: str, new: str) -> Move:
    """`old/...` → `new/...`; a location outside `old` cannot be moved (ConfigError)."""
    old, new = old.rstrip("/"), new.rstrip("/")

    def move(location: str) -> str:
        if location == old or location.startswith(old + "/"):
            return new + location[len(old) :]
        raise ConfigError(
            f"{location} is outside the table's folder {old}: this table cannot be moved "
            "with its project; rebuild it with 'batchlake run --full-refresh'"
        )

    return move


def rebase_table(io: FileIO, metadata_location: str, old: str, new: str) -> str:
    """Write the table whose metadata is `metadata_location` (under `old`) anew under `new`.

    Reads the copy under `new`; returns the location of the new metadata JSON.
    """
    from pyiceberg.serializers import FromInputFile, ToOutputFile

    move = prefix_mover(old, new)
    metadata = FromInputFile.table_metadata(io.new_input(move(metadata_location)))
    if metadata.location.rstrip("/") != old.rstrip("/"):
        raise ConfigError(
            f"{metadata_location} describes a table at {metadata.location}, not {old}; "
            "rebuild it with 'batchlake run --full-refresh'"
        )
    writer = _TreeWriter(io, metadata, move, new.rstrip("/"))
    snapshots = [
        snapshot.model_copy(update={"manifest_list": writer.manifest_list(snapshot)})
        for snapshot in metadata.snapshots
    ]
    rebased = metadata.model_copy(
        update={
            "location": new.rstrip("/"),
            "snapshots": snapshots,
            "metadata_log": [],  # older metadata files name the old place
            "properties": {
                key: move(value) if value.startswith(old.rstrip("/") + "/") else value
                for key, value in metadata.properties.items()
            },
            "statistics": [
                s.model_copy(update={"statistics_path": move(s.statistics_path)})
                for s in metadata.statistics
            ],
            "partition_statistics": [
                s.model_copy(update={"statistics_path": move(s.statistics_path)})
                for s in metadata.partition_statistics
            ],
        }
    )
    location = f"{new.rstrip('/')}/metadata/{_version(metadata_location) + 1:05d}-{uuid.uuid4()}"
    location += ".metadata.json"
    ToOutputFile.table_metadata(rebased, io.new_output(location))
    return location


class _TreeWriter:
    """Writes the rebased manifests (each once) and manifest lists of one table."""

    def __init__(self, io: FileIO, metadata: TableMetadata, move: Move, new: str) -> None:
        self.io = io
        self.metadata = metadata
        self.move = move
        self.folder = f"{new}/metadata"
        self.tag = uuid.uuid4()
        self.manifests: dict[str, ManifestFile] = {}  # old manifest path -> rebased record

    def manifest_list(self, snapshot: Any) -> str:
        from pyiceberg.manifest import read_manifest_list, write_manifest_list

        listed = list(read_manifest_list(self.io.new_input(self.move(snapshot.manifest_list))))
        rebased = [self._manifest(m) for m in listed]
        location = f"{self.folder}/snap-{snapshot.snapshot_id}-0-{self.tag}.avro"
        with write_manifest_list(
            self.metadata.format_version,
            self.io.new_output(location),
            snapshot.snapshot_id,
            snapshot.parent_snapshot_id,
            snapshot.sequence_number,
            _codec(self.io, self.move(snapshot.manifest_list)),
        ) as out:
            out.add_manifests(rebased)
        return location

    def _manifest(self, manifest: ManifestFile) -> ManifestFile:
        from pyiceberg.manifest import (
            DATA_FILE_TYPE,
            DEFAULT_READ_VERSION,
            MANIFEST_LIST_FILE_SCHEMAS,
            ManifestContent,
            write_manifest,
        )
        from pyiceberg.schema import Schema

        old_path = manifest.manifest_path
        if old_path in self.manifests:
            return self.manifests[old_path]
        if manifest.content != ManifestContent.DATA:
            raise ConfigError(
                f"{old_path} lists delete files, which batchlake does not move; "
                "rebuild the table with 'batchlake run --full-refresh'"
            )
        source = self.move(old_path)
        listing = MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION].as_struct()
        _set(manifest, listing, manifest_path=source)
        entries = manifest.fetch_manifest_entry(self.io, discard_deleted=False)
        header = _header(self.io, source)
        schema = (
            Schema.model_validate_json(header["schema"])
            if "schema" in header
            else self.metadata.schema()
        )
        location = f"{self.folder}/{self.tag}-m{len(self.manifests)}.avro"
        data_file_type = DATA_FILE_TYPE[DEFAULT_READ_VERSION]
        with write_manifest(
            self.metadata.format_version,
            self.metadata.specs()[manifest.partition_spec_id],
            schema,
            self.io.new_output(location),
            manifest.added_snapshot_id or 0,  # always set by PyIceberg's own writers
            header.get("avro.codec", "null"),  # type: ignore[arg-type]
        ) as out:
            for entry in entries:
                _set(
                    entry.data_file, data_file_type, file_path=self.move(entry.data_file.file_path)
                )
                out.add_entry(entry)
        length = len(self.io.new_input(location))
        _set(manifest, listing, manifest_path=location, manifest_length=length)
        self.manifests[old_path] = manifest
        return manifest


def _set(record: Record, struct: StructType, **values: object) -> None:
    """Set fields of a PyIceberg record by name (its classes expose no setters for them)."""
    names = [f.name for f in struct.fields]
    for name, value in values.items():
        record[names.index(name)] = value


def _header(io: FileIO, location: str) -> dict[str, str]:
    """The key-value metadata of an Avro file's header (schema, spec, codec)."""
    from pyiceberg.avro.file import AvroFile

    with AvroFile[Any](io.new_input(location)) as reader:
        return dict(reader.header.meta)


def _codec(io: FileIO, location: str) -> Any:
    return _header(io, location).get("avro.codec", "null")


def _version(metadata_location: str) -> int:
    """The number PyIceberg puts first in a metadata file name (`00003-<uuid>...` → 3)."""
    name = metadata_location.rsplit("/", 1)[-1]
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0
