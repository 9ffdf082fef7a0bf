"""How a trusted or refined table is built, as the catalog shows it: its model kind, its
partition spec and its watermark (what an incremental model last consumed of each input).

Read from the table itself (Iceberg properties and spec), so `batchlake catalog TABLE`,
the API's table detail and the dashboard say the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from batchlake.catalog.partitioning import fields_of
from batchlake.transform.incremental.changes import PROP_CONSUMED, PROP_KIND

if TYPE_CHECKING:
    from pyiceberg.table import Table

FULL = "full"


@dataclass(frozen=True)
class Watermark:
    """What a table last consumed of one input: a raw batch id or an Iceberg snapshot id."""

    input: str
    consumed: str

    @property
    def type(self) -> Literal["raw_batch", "snapshot"]:
        return "raw_batch" if self.input.startswith("raw.") else "snapshot"


@dataclass(frozen=True)
class TableLayout:
    kind: str  # full (no record), incremental_by_key, incremental_by_time, append
    partition_by: list[str] = field(default_factory=list)  # as declared: month(day), ...
    watermark: list[Watermark] = field(default_factory=list)

    @property
    def partition_text(self) -> str:
        return ", ".join(self.partition_by) or "unpartitioned"


def table_layout(table: Table) -> TableLayout:
    """The kind (`full` when the table records none), spec and watermark of a table."""
    properties = table.properties
    partition_by = [
        f.column if f.transform == "identity" else f.text
        for f in fields_of(table.spec(), table.schema())
        if f.transform != "void"  # a field dropped from a v1 spec
    ]
    return TableLayout(
        properties.get(PROP_KIND) or FULL, partition_by, _watermark(properties.get(PROP_CONSUMED))
    )


def _watermark(recorded: str | None) -> list[Watermark]:
    if not recorded:
        return []
    try:
        consumed = json.loads(recorded)
    except ValueError:
        return []
    if not isinstance(consumed, dict):
        return []
    return [Watermark(str(name), str(token)) for name, token in sorted(consumed.items())]
