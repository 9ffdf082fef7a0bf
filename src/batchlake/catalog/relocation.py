"""A local project keeps working when moved or copied, and never uses another project's lake.

A project stores absolute locations in two places: its Iceberg catalog (each table's
metadata file, and inside the metadata tree the table's folder, manifests and data
files) and its metadata database (each raw batch file). After `cp -r`, `mv`, a
`git clone` of a project with its lake, or a new mount point, the files are all under
the new folder but those names still point at the old one: every table fails, or — while
the original still exists — the copy silently reads the original's tables and its runs
would commit into the original's warehouse.

So when a project is opened, every stored location outside the project's own lake is
looked at:

- its copy is in this project's lake, and the catalog (or metadata database) lives in
  the project (`.batchlake/`): the stored names are *rebased* — each table's metadata
  tree is written anew under this project's warehouse (`catalog.rebase`) and the catalog
  rows switched in one transaction; raw batch paths are updated in one transaction.
  Reads then come from the project's own files and new files go there; the original,
  if it still exists, is never read nor written;
- otherwise, when the old location still exists, it belongs to another lake: the
  project is refused with an error naming both places and the fix;
- otherwise (the files are nowhere) nothing is rebased: those tables fail on their own
  and `batchlake doctor` names them.

Object-store (`s3://`) lakes and Glue/REST catalogs keep their locations when a project
folder moves, so nothing is done for them.

A lake folder that does not move with the project (an absolute `[storage] root`) can
still be reached by two projects, say a copy of a project folder: two catalogs (or two
metadata databases) writing one warehouse would each see the other's files as orphans
and delete them. So a local warehouse and lake folder are *claimed*: a small file in
them (`.batchlake-owner.json`) names the SQLite catalog (or metadata database) they
belong to, and another one is refused while that one exists. A folder that moved (the file
names another folder) or whose owner is gone is claimed anew.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.errors import ConfigError
from batchlake.storage import path_of

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from batchlake.metadata import MetadataStore
    from batchlake.storage import Storage

PROJECT_FILE = "batchlake.toml"
OWNER_FILE = ".batchlake-owner.json"


@dataclass(frozen=True)
class Stored:
    """One stored location outside this project's lake."""

    name: str  # trusted.albums, raw.shop.orders
    stored: str  # where the catalog or metadata database says it is
    here: str  # where it is in this project's lake


def rebase_catalog(catalog: Catalog, warehouse: str, *, owned: bool) -> list[str]:
    """Rebase the tables of a moved or copied project's SQL catalog; their names.

    `owned`: the catalog database is inside the project (a copy of it moved with it), so
    rewriting it cannot affect another project.
    """
    from pyiceberg.catalog.sql import SqlCatalog

    if not isinstance(catalog, SqlCatalog) or not warehouse.startswith("file://"):
        return []
    root = warehouse.rstrip("/")
    movable: list[tuple[Stored, str, str]] = []
    foreign: list[Stored] = []
    for namespace, name, metadata_location in _table_rows(catalog):
        if not metadata_location.startswith("file://") or metadata_location.startswith(root + "/"):
            continue
        old = metadata_location.rsplit("/metadata/", 1)[0]
        stored = Stored(f"{namespace}.{name}", old, f"{root}/{namespace}/{name}")
        if owned and _exists(stored.here + metadata_location[len(old) :]):
            movable.append((stored, namespace, metadata_location))
        elif _exists(metadata_location):
            foreign.append(stored)
    if foreign:
        raise ConfigError(_refusal("catalog", _where(catalog), "[catalog] uri", foreign, root))
    if not movable:
        return []
    from pyiceberg.io import load_file_io

    from batchlake.catalog.rebase import rebase_table

    io = load_file_io(catalog.properties, warehouse)
    switched = [
        (namespace, stored, location, rebase_table(io, location, stored.stored, stored.here))
        for stored, namespace, location in movable
    ]
    _switch(catalog, switched)
    return [stored.name for _, stored, _, _ in switched]


def rebase_raw(metadata: MetadataStore, storage: Storage, *, owned: bool) -> int:
    """Rebase the raw batch files a moved or copied project's metadata database names.

    Returns how many batches were rebased.
    """
    if not storage.is_local:
        return 0
    import sqlalchemy as sa

    from batchlake.metadata import tables as t

    batches = t.batches
    ours = storage.raw_root.rstrip("/") + "/"
    outside = sa.or_(
        sa.and_(
            batches.c.path.is_not(None), sa.not_(batches.c.path.startswith(ours, autoescape=True))
        ),
        sa.and_(
            batches.c.quarantine_path.is_not(None),
            sa.not_(batches.c.quarantine_path.startswith(ours, autoescape=True)),
        ),
    )
    columns = (batches.c.batch_id, batches.c.source, batches.c.entity)
    paths = (batches.c.path, batches.c.quarantine_path)
    with metadata.engine.connect() as conn:
        rows = conn.execute(sa.select(*columns, *paths).where(outside)).all()
    if not rows:
        return 0
    updates: dict[str, dict[str, str]] = {}
    foreign: list[Stored] = []
    for batch_id, source, entity, *locations in rows:
        folder = storage.join("raw", source, entity)
        for column, location in zip(("path", "quarantine_path"), locations, strict=True):
            if location is None or location.startswith(ours) or "://" in location:
                continue
            marker = f"/raw/{source}/{entity}/"
            if marker not in location:
                continue  # not laid out as batchlake writes raw batches: leave it
            here = folder + "/" + location[location.rindex(marker) + len(marker) :]
            stored = Stored(f"raw.{source}.{entity}", location, here)
            if owned and (_exists(here) or not _exists(location)):
                updates.setdefault(batch_id, {})[column] = here
            elif _exists(location):
                foreign.append(stored)
    if foreign:
        where = metadata.url.split("///", 1)[-1] if metadata.url.startswith("sqlite") else "it"
        refusal = _refusal("metadata database", where, "[metadata] url", foreign, ours)
        raise ConfigError(refusal)
    with metadata.engine.begin() as conn:
        for batch_id, values in updates.items():
            conn.execute(batches.update().where(batches.c.batch_id == batch_id).values(**values))
    return len(updates)


def claim(folder: str, owner: str, *, kind: str, key: str) -> None:
    """Record that a local lake folder belongs to `owner` (a SQLite URL); refuse when it
    belongs to another SQLite database that still exists. Other owners (PostgreSQL: one
    database shared by several machines on purpose) and object stores are not checked."""
    import json

    if "://" in folder and not folder.startswith("file://"):
        return
    if not owner.startswith("sqlite:///"):
        return
    here = Path(path_of(folder))
    mine = str(Path(owner[len("sqlite:///") :]).resolve())
    record = {"folder": str(here), "owner": mine}
    marker = here / OWNER_FILE
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = None
    if found == record:
        return
    if (
        isinstance(found, dict)
        and found.get("folder") == str(here)
        and found.get("owner") != mine
        and Path(str(found.get("owner"))).is_file()
    ):
        theirs = str(found["owner"])
        project = _project_of(theirs)
        whose = f" (the project at {project})" if project else ""
        raise ConfigError(
            f"{here} is the lake of another {kind}, {theirs}{whose}; this project's {kind} "
            f"is {mine}. Two of them on one lake would each delete the other's files as "
            f"orphans: give this project its own [storage] root, or set {key} to "
            f"'sqlite:///{theirs}' to share that lake"
        )
    # Claimed from the first open, before anything is written there. A folder that cannot
    # be made (a file in the way) or written (a read-only copy) is left to the storage check.
    with contextlib.suppress(OSError):
        here.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(record), encoding="utf-8")


def _table_rows(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(namespace, table, metadata location) of every table of a SQL catalog."""
    import sqlalchemy as sa
    from pyiceberg.catalog.sql import IcebergTables

    query = sa.select(
        IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location
    ).where(IcebergTables.catalog_name == catalog.name)
    with catalog.engine.connect() as conn:  # type: ignore[attr-defined]
        return [(ns, name, loc) for ns, name, loc in conn.execute(query) if loc]


def _switch(catalog: Catalog, switched: list[tuple[str, Stored, str, str]]) -> None:
    """Point every rebased table at its new metadata, in one transaction.

    A row is switched only if it still names the metadata that was rebased: a process
    that rebased it first (or committed since) wins, and this one's files become orphans.
    """
    import sqlalchemy as sa
    from pyiceberg.catalog.sql import IcebergTables

    with catalog.engine.begin() as conn:  # type: ignore[attr-defined]
        for namespace, stored, old, new in switched:
            conn.execute(
                sa.update(IcebergTables)
                .where(
                    IcebergTables.catalog_name == catalog.name,
                    IcebergTables.table_namespace == namespace,
                    IcebergTables.table_name == stored.name.split(".", 1)[1],
                    IcebergTables.metadata_location == old,
                )
                .values(metadata_location=new, previous_metadata_location=old)
            )


def _refusal(kind: str, where: str, key: str, foreign: list[Stored], ours: str) -> str:
    first = foreign[0]
    more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
    owner = _project_of(path_of(first.stored))
    whose = f"the lake of the project at {owner}" if owner else "a folder outside this project"
    return (
        f"this project's {kind} ({where}) points into another lake: {first.name}{more} is "
        f"stored in {path_of(first.stored)}, {whose}, not under this project's lake "
        f"({path_of(ours).rstrip('/')}); "
        "batchlake will not read or write another project's files. Copy the whole "
        "project folder (batchlake.toml with .batchlake/ and the lake) to move it, or give "
        f"this project its own {kind} ({key})"
    )


def _project_of(location: str) -> str | None:
    """The project folder (the one holding batchlake.toml) a location lies in, if any."""
    for folder in Path(location).parents:
        if (folder / PROJECT_FILE).is_file():
            return str(folder)
    return None


def _where(catalog: Catalog) -> str:
    uri = str(catalog.properties.get("uri", catalog.name))
    return uri.split("///", 1)[-1] if uri.startswith("sqlite") else uri


def _exists(location: str) -> bool:
    return Path(path_of(location)).exists()
