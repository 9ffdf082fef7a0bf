"""How a model is built: its kind and its table layout, from `models/<zone>/<name>.toml`.

A model without that file is `full`: every run that finds an input changed rebuilds the
whole table. The file declares another kind (and, for any kind, a partition spec):

```toml
kind = "incremental_by_key"       # full | incremental_by_key | incremental_by_time | append
unique_key = ["invoice_id"]       # by_key: what identifies an output row
order_by = "updated_at"           # by_key, optional: the latest row of a key wins by this
tombstone = "_deleted"            # by_key, optional: a true value deletes the key
time_column = "sale_date"         # by_time: the column whose intervals are recomputed
lookback = 1                      # by_time: earlier intervals recomputed too (late data)
partition_by = ["month(sale_date)"]   # Iceberg transforms, any kind
```

What each kind reads and rewrites is described in `transform/incremental.py` and the
README ("Incremental models"). Errors name the file and the key.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from batchlake.catalog.partitioning import PartitionField, parse_partition
from batchlake.errors import ModelError

KIND_SUFFIX = ".toml"
Kind = Literal["full", "incremental_by_key", "incremental_by_time", "append"]
TimeGrain = Literal["hour", "day", "month", "year"]


class ModelSettings(BaseModel):
    """The keys of `models/<zone>/<name>.toml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = "full"
    unique_key: list[str] = Field(default_factory=list)
    order_by: str | None = None
    tombstone: str | None = None
    time_column: str | None = None
    lookback: int = Field(default=0, ge=0)
    partition_by: list[str] = Field(default_factory=list)

    @field_validator("partition_by")
    @classmethod
    def _transforms(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_partition(text)
        return value

    @property
    def partitions(self) -> list[PartitionField]:
        return [parse_partition(text) for text in self.partition_by]

    @property
    def incremental(self) -> bool:
        return self.kind != "full"

    @property
    def time_grain(self) -> TimeGrain:
        """The interval recomputed by `incremental_by_time`: the time transform of its
        column in `partition_by` (e.g. month), else a day."""
        for field_ in self.partitions:
            if field_.column == self.time_column and field_.transform in (
                "hour",
                "day",
                "month",
                "year",
            ):
                grain: TimeGrain = field_.transform  # type: ignore[assignment]
                return grain
        return "day"

    @property
    def fingerprint(self) -> str:
        """What the table's content depends on besides the SQL (a change rebuilds it)."""
        relevant = self.model_dump(exclude={"partition_by"})
        return hashlib.sha256(repr(sorted(relevant.items())).encode()).hexdigest()[:16]


FULL = ModelSettings()


def load_model_settings(sql_path: Path, root: Path) -> ModelSettings:
    """The settings beside a model's SQL file (`<name>.toml`), or `full` without one."""
    path = sql_path.with_suffix(KIND_SUFFIX)
    where = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    if not path.exists():
        return FULL
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{where} is not valid TOML: {exc}") from exc
    try:
        settings = ModelSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(file)"
        message = first["msg"].removeprefix("Value error, ")
        raise ModelError(f"{where}: {key}: {message}") from None
    problem = _incoherent(settings)
    if problem:
        raise ModelError(f"{where}: {problem}")
    return settings


def _incoherent(settings: ModelSettings) -> str | None:
    """What does not fit the declared kind, as a message naming the key."""
    kind = settings.kind
    if kind == "incremental_by_key" and not settings.unique_key:
        return "kind = 'incremental_by_key' needs unique_key = ['<column>', ...]"
    if kind != "incremental_by_key":
        for key in ("order_by", "tombstone"):
            if getattr(settings, key) is not None:
                return f"{key} applies to kind = 'incremental_by_key' only (kind is '{kind}')"
        if settings.unique_key:
            return f"unique_key applies to kind = 'incremental_by_key' only (kind is '{kind}')"
    if kind == "incremental_by_time" and not settings.time_column:
        return "kind = 'incremental_by_time' needs time_column = '<column>'"
    if kind != "incremental_by_time":
        if settings.time_column is not None:
            return f"time_column applies to kind = 'incremental_by_time' only (kind is '{kind}')"
        if settings.lookback:
            return f"lookback applies to kind = 'incremental_by_time' only (kind is '{kind}')"
    return None
