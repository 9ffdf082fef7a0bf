"""What changed in a model's inputs since its table recorded what it consumed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from batchlake.catalog import PROP_CONSUMED, changed_row_files
from batchlake.catalog.partitioning import fields_of
from batchlake.engines import TableSource

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from batchlake.lake import Lake
    from batchlake.transform.models import Model

PROP_KIND = "batchlake.kind"
PROP_DEFINITION = "batchlake.definition"
PROP_DIGEST = "batchlake.row-digest"

InputOf = Callable[[str], tuple[str, TableSource]]


@dataclass
class Change:
    """How one input changed since the table's last commit."""

    name: str
    token: str  # what the table will have consumed after this run
    changed: bool
    delta: list[str] = field(default_factory=list)  # raw: new batch files; Iceberg: added
    removed: list[str] = field(default_factory=list)  # Iceberg: files no longer current
    columns: list[str] = field(default_factory=list)
    raw: bool = False
    schema: Any = None  # the input's Arrow schema
    rows: int = 0  # Iceberg: the input's rows now
    replaced_rows: int = 0  # Iceberg: rows of the files no longer current
    # Iceberg: the change feed since the consumed snapshot (files holding the before and
    # after images of every row that may have changed); None when a commit has none.
    feed: list[str] | None = None


class FullRebuild(Exception):
    """Raised inside the incremental path when only a full rebuild is exact."""


def read_changes(
    lake: Lake, model: Model, input_of: InputOf
) -> tuple[str | None, Table | None, dict[str, Change]]:
    """Why only a full rebuild is exact now (None when an increment is), the table, and
    how each input changed since the table's recorded `batchlake.consumed`."""
    changes: dict[str, Change] = {}
    settings = model.settings
    catalog = lake.catalog
    if not settings.incremental:
        return None, None, changes
    if not catalog.exists(model.full_name):
        return "first build", None, changes
    table = catalog.load(model.full_name)
    props = table.properties
    if table.current_snapshot() is None or PROP_CONSUMED not in props:
        return "no record of what it consumed", table, changes
    if props.get(PROP_DIGEST) is None:
        return "no row digest recorded", table, changes
    wanted = settings.partitions
    if fields_of(table.spec(), table.schema()) != wanted:
        spec = ", ".join(f.text for f in wanted) or "unpartitioned"
        return f"partition_by changed: the spec evolves to {spec}", table, changes
    if props.get(PROP_DEFINITION) != model.definition_hash:
        return "its SQL, kind, keys or quality checks changed", table, changes
    consumed: dict[str, str] = json.loads(props[PROP_CONSUMED])
    for dep in sorted(model.depends_on):
        change = _change(lake, dep, consumed.get(dep), input_of)
        if isinstance(change, str):
            return change, table, changes
        changes[dep] = change
    return None, table, changes


def _change(lake: Lake, dep: str, consumed: str | None, input_of: InputOf) -> Change | str:
    _, source = input_of(dep)
    columns = [f.name for f in source.schema]
    if dep.startswith("raw."):
        batches = sorted(PurePosixPath(f).stem for f in source.files)
        last = batches[-1] if batches else ""
        if consumed is None:
            return f"{dep} is a new input"
        delta = [f for f in source.files if PurePosixPath(f).stem > consumed]
        if consumed not in batches and consumed > last:
            return f"batches of {dep} it consumed are gone"
        return Change(dep, last or consumed, bool(delta), delta, [], columns, True, source.schema)
    table = lake.catalog.load(dep)
    snapshot = table.current_snapshot()
    now = str(snapshot.snapshot_id) if snapshot else ""
    if consumed is None:
        return f"{dep} is a new input"
    if consumed == now:
        return Change(dep, now, False, columns=columns, schema=source.schema)
    if not consumed or table.snapshot_by_id(int(consumed)) is None:
        return f"the snapshot of {dep} it consumed has expired"
    before = {
        f.file_path: f.record_count for f in lake.catalog.data_file_entries(table, int(consumed))
    }
    after = set(source.files)
    removed = sorted(set(before) - after)
    return Change(
        dep,
        now,
        True,
        sorted(after - set(before)),
        removed,
        columns,
        False,
        source.schema,
        rows=sum(f.record_count for f in lake.catalog.data_file_entries(table)),
        replaced_rows=sum(before[f] for f in removed),
        feed=feed_since(table, int(consumed)),
    )


def feed_since(table: Table, consumed: int) -> list[str] | None:
    """The change feed files of every commit after snapshot `consumed`, up to the current.

    A merge rewrites whole data files to change a few rows (copy-on-write), so the files
    a commit added and removed hold many rows it did not change; its feed holds only the
    rows of its touched scope, before and after. Over several commits the union of their
    feeds holds, for every row that differs between `consumed` and now, its image at
    `consumed` (the first feed that touched it) and its image now (the last). None when a
    commit in between has no feed (a full rebuild) or `consumed` is not an ancestor.
    """
    files: list[str] = []
    snapshot = table.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != consumed:
        feed = changed_row_files(snapshot.summary)
        if feed is None:
            return None
        files += feed
        parent = snapshot.parent_snapshot_id
        snapshot = None if parent is None else table.snapshot_by_id(parent)
    return None if snapshot is None else files


def consumed_token(lake: Lake, dep: str, input_of: InputOf) -> str:
    """What a full build consumes of an input: its last batch id, or its snapshot."""
    _, source = input_of(dep)
    if dep.startswith("raw."):
        return max((PurePosixPath(f).stem for f in source.files), default="")
    snapshot = lake.catalog.load(dep).current_snapshot()
    return str(snapshot.snapshot_id) if snapshot else ""
