"""The Python API: `batchlake.open(path)` and what it returns.

    import batchlake

    lake = batchlake.open("demo-lake")
    lake.tables()                                        # every table name
    lake.table("refined.sales_by_day").to_pandas()       # a table (current snapshot)
    lake.table("refined.sales_by_day", as_of=snapshot_id).to_arrow()   # time travel
    lake.sql("SELECT year, sum(total_amount) FROM refined.sales_by_day GROUP BY 1")
    lake.run(select="refined.sales_by_day+")             # build, like `batchlake run`
    lake.runs()                                          # run history

It is a thin facade over `batchlake.lake.Lake` (kept as `.lake` for everything else):
Arrow in and out, pandas only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.catalog import Snapshot
from batchlake.errors import ConfigError, NotFoundError, QueryError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from batchlake.catalog import TableInfo
    from batchlake.lake import Lake
    from batchlake.run.runner import RunResult

AsOf = int | str | datetime | Snapshot | None


class LakeHandle:
    """A lake project opened from Python."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    @classmethod
    def open(cls, path: str | Path = ".") -> LakeHandle:
        from batchlake.lake import Lake

        return cls(Lake.open(path))

    @property
    def path(self) -> Path:
        return self.lake.project.root

    def __repr__(self) -> str:
        return f"<batchlake lake '{self.lake.settings.name}' at {self.path}>"

    def __getattr__(self, name: str) -> Any:
        # Everything else is the underlying Lake's (catalog, metadata, query_table, ...).
        if name == "lake":
            raise AttributeError(name)
        return getattr(self.lake, name)

    def tables(self, zone: str | None = None) -> list[str]:
        """Table names: raw.<source>.<entity>, trusted.<name>, refined.<name> (or one zone)."""
        names = self.lake.table_names()
        return [n for n in names if zone is None or n.split(".")[0] == zone]

    def table(self, name: str, *, as_of: AsOf = None) -> LakeTable:
        """A table, at its current snapshot or `as_of` a snapshot (an id, or one of
        `.snapshots()`) or a time."""
        if name.startswith("raw."):
            if as_of is not None:
                raise QueryError(
                    f"{name} is a raw entity (append-only batches, no snapshots); "
                    "as_of= works on trusted and refined tables"
                )
            if name not in self.lake.table_names():
                raise NotFoundError(f"no raw entity {name}; lake.tables('raw') lists them")
            return LakeTable(self, name, None)
        if as_of is None:  # NotFoundError names the fix when the table does not exist
            return LakeTable(self, name, self.lake.catalog.info(name).snapshot_id)
        return LakeTable(self, name, _resolve(name, self.lake.catalog.snapshots(name), as_of))

    def sql(self, query: str) -> pa.Table:
        """Answer a SELECT (DuckDB dialect) over the lake's tables, as an Arrow table."""
        return self.lake.query_table(query)

    def run(
        self,
        select: str | list[str] | None = None,
        *,
        full_refresh: bool = False,
        wait_seconds: float | None = None,
    ) -> RunResult:
        """Capture and build like `batchlake run` (`select` takes the same selectors)."""
        from batchlake.run.runner import Runner

        selectors = [select] if isinstance(select, str) else select
        return Runner(self.lake).run(
            selectors, full_refresh=full_refresh, command="python", wait_seconds=wait_seconds
        )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs, newest first: run_id, command, status, started_at, finished_at, error."""
        return self.lake.metadata.runs(limit)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The steps of one run (its id or a unique prefix)."""
        found = self.lake.metadata.run(run_id)
        if found is None:
            raise NotFoundError(f"no run '{run_id}'; lake.runs() lists them")
        return self.lake.metadata.steps(found["run_id"])

    def report(self, out: str | Path = "report") -> Path:
        """Render the project's `[[charts]]` to PNGs and report.html in `out`; return it."""
        from batchlake.analytics.report import render_report

        return render_report(self.lake, Path(out)).html


@dataclass(frozen=True)
class LakeTable:
    """One table of the lake, pinned to a snapshot (None: raw, or an empty table)."""

    handle: LakeHandle
    name: str
    snapshot_id: int | None

    def __repr__(self) -> str:
        return f"<batchlake table {self.name} @ snapshot {self.snapshot_id}>"

    @property
    def info(self) -> TableInfo:
        """Catalog facts: rows, columns, current snapshot, upstream, properties."""
        return self.handle.lake.catalog.info(self.name)

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot of the table, oldest first (ids for `as_of=`)."""
        return self.handle.lake.catalog.snapshots(self.name)

    def to_arrow(self) -> pa.Table:
        """The rows as a `pyarrow.Table`."""
        lake = self.handle.lake
        if self.name.startswith("raw."):
            import sqlglot.expressions as exp

            query = exp.select("*").from_(exp.to_table(self.name)).sql(dialect="duckdb")
            return lake.query_table(query)
        table = lake.catalog.load(self.name)
        if self.snapshot_id is None:
            return table.schema().as_arrow().empty_table()
        return table.scan(snapshot_id=self.snapshot_id).to_arrow()

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (needs pandas installed)."""
        try:
            import pandas  # noqa: F401
        except ImportError as exc:
            raise ConfigError("to_pandas() needs pandas: pip install pandas") from exc
        return self.to_arrow().to_pandas()


def _resolve(name: str, snapshots: list[Snapshot], as_of: int | str | datetime | Snapshot) -> int:
    """The snapshot id given, or the last one committed at or before a time."""
    if isinstance(as_of, Snapshot):
        as_of = as_of.snapshot_id
    if isinstance(as_of, int):
        if any(s.snapshot_id == as_of for s in snapshots):
            return as_of
        raise NotFoundError(
            f"{name} has no snapshot {as_of}; lake.table('{name}').snapshots() lists them"
        )
    when = datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    before = [s for s in snapshots if s.committed_at <= when]
    if not before:
        first = f"; the first is from {snapshots[0].committed_at:%Y-%m-%d %H:%M:%S} UTC"
        raise NotFoundError(
            f"{name} has no snapshot at or before {when:%Y-%m-%d %H:%M:%S} UTC"
            + (first if snapshots else "")
        )
    return max(before, key=lambda s: s.committed_at).snapshot_id
