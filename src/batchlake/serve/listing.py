"""Every table of the lake with its summary and lineage, refreshed at most once a second."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from batchlake.serve.refresh import Refreshing

if TYPE_CHECKING:
    from batchlake.lake import Lake

_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class Entry:
    zone: str
    name: str
    rows: int
    columns: list[tuple[str, str]]
    snapshot: str | None
    updated_at: datetime | None
    upstream: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.zone}.{self.name}"


class Listing:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._entries = Refreshing(self._read, _TTL_SECONDS)

    def entries(self) -> list[Entry]:
        return self._entries.get()

    def _read(self) -> list[Entry]:
        found = [
            Entry(
                "raw",
                f"{r.source}.{r.entity}",
                r.rows,
                r.columns,
                r.last_batch_id,
                r.updated_at,
                [f"source {r.source}"],
            )
            for r in self.lake.raw_info()
        ]
        for name in self.lake.catalog.table_names():
            info = self.lake.catalog.info(name)
            found.append(
                Entry(
                    info.zone,
                    info.name,
                    info.rows,
                    info.columns,
                    str(info.snapshot_id) if info.snapshot_id else None,
                    info.updated_at,
                    info.upstream,
                )
            )
        return found

    def find(self, full_name: str) -> Entry | None:
        return next((e for e in self.entries() if e.full_name == full_name), None)

    def downstream(self, full_name: str) -> list[str]:
        return sorted(e.full_name for e in self.entries() if full_name in e.upstream)
