"""Raw retention: expire raw batches past `raw_retention` or beyond `raw_keep_batches`.

Configured per source or per entity (an entity's key overrides its source's):

    raw_retention = "30d"     # a batch older than this (by capture time) may expire ...
    raw_keep_batches = 10     # ... unless it is among the 10 newest written batches

With one key only, that rule alone decides. Whatever the keys say, a batch is kept when

* it is the entity's newest written batch (the current snapshot of a full-mode entity);
* an incremental model has not consumed it yet. Incremental models record what they
  consumed in the table property `batchlake.consumed` of their Iceberg table: a JSON
  object mapping each input name to the last thing consumed; for a raw input
  `raw.<source>.<entity>` the value is the greatest batch id consumed (batch ids sort in
  capture order). A batch may expire only if, for every trusted or refined table whose
  `batchlake.upstream` lists the entity and which has `batchlake.consumed`, its id is at
  most that table's value for the entity (a table with the property but no valid value
  for the entity holds every batch). Tables without `batchlake.consumed` are rebuilt in
  full from whatever raw holds, so they do not hold retention back: after an expiry they
  see only the retained batches (the report's notes name them).

Expiring a batch marks its manifest row `expired` (with `expired_at`) first and deletes
its file (and quarantine file) second, so a killed maintenance leaves at worst a file
that no live row references, which the orphan sweep removes. Raw readers read only
`written` batches, so an expired batch disappears from `raw.<source>.<entity>` at once.
For a `diff` entity, expired batches are old changes: the current state remains in the
tables built from them and in the entity's diff state, which retention never touches.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from batchlake.capture import snake_case
from batchlake.config import parse_duration
from batchlake.metadata import BatchRecord, utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping

    from batchlake.config import SourceSettings
    from batchlake.config.sources import RawHistorySettings
    from batchlake.lake import Lake


@dataclass(frozen=True)
class RawHistory:
    """An entity's retention: max age and/or how many newest batches to keep."""

    retention: timedelta | None = None
    keep_batches: int | None = None

    @property
    def bounded(self) -> bool:
        return self.retention is not None or self.keep_batches is not None

    def describe(self) -> str:
        parts = []
        if self.retention is not None:
            parts.append(f"older than {_days(self.retention)}")
        if self.keep_batches is not None:
            parts.append(f"beyond the {self.keep_batches} newest")
        return " and ".join(parts)


@dataclass(frozen=True)
class Consumer:
    """A table built by an incremental model from a raw entity, and what it consumed."""

    table: str
    consumed: str | None  # the greatest batch id consumed; None: nothing known (holds all)


@dataclass
class Consumption:
    """Who reads each raw entity: incremental consumers, and full rebuilds."""

    consumers: dict[str, list[Consumer]] = field(default_factory=dict)
    full: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # the catalog could not be read: expire nothing


@dataclass
class Expiry:
    """What retention did (or would do) to one entity."""

    expired: list[BatchRecord] = field(default_factory=list)
    held: int = 0  # batches the keys would expire but an incremental model still needs
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(b.bytes for b in self.expired)


def raw_history(lake: Lake, source: str, entity: str) -> RawHistory:
    """The retention configured for an entity (nothing when its source is not configured)."""
    settings = lake.settings.sources.get(source)
    if settings is None:
        return RawHistory()
    own = _entity_settings(settings, entity)
    retention = (own.raw_retention if own is not None else None) or settings.raw_retention
    keep = (own.raw_keep_batches if own is not None else None) or settings.raw_keep_batches
    return RawHistory(
        timedelta(seconds=parse_duration(retention)) if retention is not None else None, keep
    )


def _entity_settings(settings: SourceSettings, entity: str) -> RawHistorySettings | None:
    """The entity's own settings section, found by name (or its snake_case form)."""
    from batchlake.config import MongoSourceSettings, RestSourceSettings, SqlSourceSettings

    groups: list[Mapping[str, RawHistorySettings]]
    if isinstance(settings, SqlSourceSettings):
        groups = [settings.entities, settings.queries]
    elif isinstance(settings, RestSourceSettings):
        groups = [settings.endpoints]
    elif isinstance(settings, MongoSourceSettings):
        groups = [settings.collections]
    else:
        groups = [settings.entities]
    for group in groups:
        for name, options in group.items():
            if entity in (name, snake_case(name)):
                return options
    return None


def consumption(lake: Lake) -> Consumption:
    """Read every trusted and refined table's lineage and consumption properties."""
    from batchlake.catalog import PROP_CONSUMED, PROP_UPSTREAM

    found = Consumption()
    try:
        for name in lake.catalog.table_names():
            properties = dict(lake.catalog.load(name).properties)
            raw_inputs = [
                u for u in properties.get(PROP_UPSTREAM, "").split(",") if u.startswith("raw.")
            ]
            if PROP_CONSUMED not in properties:
                for upstream in raw_inputs:
                    found.full.setdefault(upstream, []).append(name)
                continue
            try:
                marks = json.loads(properties[PROP_CONSUMED])
            except ValueError:
                marks = None
            for upstream in raw_inputs:
                value = marks.get(upstream) if isinstance(marks, dict) else None
                consumed = value if isinstance(value, str) and value else None
                found.consumers.setdefault(upstream, []).append(Consumer(name, consumed))
    except Exception as exc:  # any catalog failure: refuse to guess what is consumed
        found.error = f"raw retention skipped: the catalog could not be read ({exc})"
    return found


def plan_expiry(
    batches: list[BatchRecord],
    history: RawHistory,
    consumers: list[Consumer],
    *,
    now: datetime,
) -> tuple[list[BatchRecord], int]:
    """The written batches (oldest first) to expire, and how many are held as unconsumed."""
    if not history.bounded or len(batches) < 2:
        return [], 0
    limits = [c.consumed for c in consumers]
    expire, held = [], 0
    newest_kept = len(batches) - (history.keep_batches or 0)
    for position, batch in enumerate(batches[:-1]):  # never the newest
        old = history.retention is None or batch.finished_at < now - history.retention
        beyond = history.keep_batches is None or position < newest_kept
        if not (old and beyond):
            continue
        if all(limit is not None and batch.batch_id <= limit for limit in limits):
            expire.append(batch)
        else:
            held += 1
    return expire, held


def expire_raw(
    lake: Lake, source: str, entity: str, readers: Consumption, *, dry_run: bool = False
) -> Expiry:
    """Apply the entity's retention: mark batches expired, then delete their files."""
    result = Expiry()
    history = raw_history(lake, source, entity)
    if not history.bounded:
        return result
    if readers.error is not None:
        result.notes.append(readers.error)
        return result
    name = f"raw.{source}.{entity}"
    consumers = readers.consumers.get(name, [])
    batches = lake.metadata.batches(source, entity)
    result.expired, result.held = plan_expiry(batches, history, consumers, now=utcnow())
    if result.held:
        waiting = ", ".join(
            f"{c.table} (consumed up to {c.consumed or 'nothing recorded'})" for c in consumers
        )
        result.notes.append(
            f"{result.held} batch(es) {history.describe()} kept: not yet consumed by {waiting}"
        )
    if result.expired and readers.full.get(name):
        rebuilt = ", ".join(readers.full[name])
        result.notes.append(
            f"{rebuilt} rebuild(s) in full from {name}: they see only the retained batches"
        )
    if dry_run or not result.expired:
        return result
    lake.metadata.expire_batches(source, entity, [b.batch_id for b in result.expired])
    for batch in result.expired:
        for location in (batch.path, batch.quarantine_path):
            if location:
                with contextlib.suppress(OSError):  # else the orphan sweep deletes it later
                    lake.storage.delete(location)
    return result


def _days(value: timedelta) -> str:
    seconds = value.total_seconds()
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"
