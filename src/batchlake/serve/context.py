"""What every request of one server shares: the lake, settings, keys, caches, runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.serve.auth import KeyRing
from batchlake.serve.background import RunManager
from batchlake.serve.listing import Listing
from batchlake.serve.metrics import ServeMetrics
from batchlake.serve.pages import PageCache
from batchlake.serve.query_pool import QueryRunner
from batchlake.serve.reader import TableCache

if TYPE_CHECKING:
    from batchlake.config import ServeSettings
    from batchlake.lake import Lake


@dataclass
class ServeContext:
    lake: Lake
    settings: ServeSettings
    keys: KeyRing
    cache: TableCache
    runs: RunManager
    metrics: ServeMetrics
    listing: Listing
    pages: PageCache
    queries: QueryRunner

    @classmethod
    def build(
        cls, lake: Lake, settings: ServeSettings, env_keys: str | None = None
    ) -> ServeContext:
        keys_file = Path(settings.keys_file)
        if not keys_file.is_absolute():
            keys_file = lake.project.root / keys_file
        metrics = ServeMetrics(lake)
        cache = TableCache(lake, settings.cache_mb * 1024 * 1024)
        return cls(
            lake,
            settings,
            KeyRing(keys_file, env_keys),
            cache,
            RunManager(lake, metrics),
            metrics,
            Listing(lake),
            PageCache(),
            QueryRunner(cache, settings),
        )


def quality_results(lake: Lake, table: str) -> list[dict[str, Any]]:
    """The table's data-quality results (newest first), as `batchlake quality` lists them."""
    found = lake.metadata.quality_results(table)
    return [dict(r) if not isinstance(r, dict) else r for r in found or []]
