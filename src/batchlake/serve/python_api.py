"""The Python API: `batchlake.open(path)` and what it returns.

    import batchlake

    lake = batchlake.open("demo-lake")
    lake.tables()                                        # every table name
    lake.table("refined.sales_by_day").to_pandas()       # a table (current snapshot)
    lake.table("refined.sales_by_day", as_of=snapshot_id).to_arrow()   # time travel
    lake.table("refined.sales_by_day", filter="sale_date >= '2024-03-01'").to_arrow()
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
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import FileScanTask, Table

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

    def table(
        self,
        name: str,
        *,
        as_of: AsOf = None,
        filter: str | BooleanExpression | None = None,
    ) -> LakeTable:
        """A table, at its current snapshot or `as_of` a snapshot (an id, or one of
        `.snapshots()`) or a time.

        `filter` keeps the rows that match it, reading only the data files whose
        partitions and column statistics can hold such rows: PyIceberg's filter syntax
        (`"day >= '2024-03-01' and kind in ('a', 'b')"`) or a `pyiceberg.expressions`
        expression. Trusted and refined tables only.
        """
        if name.startswith("raw."):
            if as_of is not None or filter is not None:
                raise QueryError(
                    f"{name} is a raw entity (append-only batches, no snapshots or "
                    "partitions); as_of= and filter= work on trusted and refined tables "
                    "(filter a raw entity in SQL: lake.sql('SELECT ... WHERE ...'))"
                )
            if name not in self.lake.table_names():
                raise NotFoundError(f"no raw entity {name}; lake.tables('raw') lists them")
            return LakeTable(self, name, None)
        row_filter = _row_filter(self.lake, name, filter) if filter is not None else None
        if as_of is None:  # NotFoundError names the fix when the table does not exist
            snapshot_id = self.lake.catalog.info(name).snapshot_id
        else:
            snapshot_id = _resolve(name, self.lake.catalog.snapshots(name), as_of)
        return LakeTable(self, name, snapshot_id, row_filter)

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
    row_filter: BooleanExpression | None = None  # rows kept (and files read): see table()

    def __repr__(self) -> str:
        where = f" where {self.row_filter}" if self.row_filter is not None else ""
        return f"<batchlake table {self.name} @ snapshot {self.snapshot_id}{where}>"

    @property
    def info(self) -> TableInfo:
        """Catalog facts: rows, columns, current snapshot, upstream, properties."""
        return self.handle.lake.catalog.info(self.name)

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot of the table, oldest first (ids for `as_of=`)."""
        return self.handle.lake.catalog.snapshots(self.name)

    def files(self) -> list[str]:
        """The data files a read of this table plans (with a filter: only those whose
        partition values and column statistics can hold a matching row)."""
        if self.name.startswith("raw."):
            return self.handle.lake.raw_source(self.name).files
        return [task.file.file_path for task in self._planned()[1]]

    def to_arrow(self) -> pa.Table:
        """The rows as a `pyarrow.Table` (those matching the filter, if one was given)."""
        lake = self.handle.lake
        if self.name.startswith("raw."):
            import sqlglot.expressions as exp

            query = exp.select("*").from_(exp.to_table(self.name)).sql(dialect="duckdb")
            return lake.query_table(query)
        table, tasks = self._planned()
        if self.snapshot_id is None:
            return table.schema().as_arrow().empty_table()
        if self.row_filter is None:
            return table.scan(snapshot_id=self.snapshot_id).to_arrow()
        from pyiceberg.io.pyarrow import ArrowScan

        projection = table.scan(snapshot_id=self.snapshot_id).projection()
        return ArrowScan(table.metadata, table.io, projection, self.row_filter).to_table(tasks)

    def _planned(self) -> tuple[Table, list[FileScanTask]]:
        """The Iceberg table and the files planned for this read (`Lake.planned_tasks`:
        PyIceberg's plan under the filter, every file where pruning would not be exact)."""
        table = self.handle.lake.catalog.load(self.name)
        if self.snapshot_id is None:
            return table, []
        tasks, _ = self.handle.lake.planned_tasks(table, self.snapshot_id, self.row_filter)
        return table, tasks

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


def _row_filter(lake: Lake, name: str, given: str | BooleanExpression) -> BooleanExpression:
    """`given` as a PyIceberg expression checked against the table's columns."""
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.expressions.parser import parse
    from pyiceberg.expressions.visitors import bind
    from pyparsing import ParseException

    example = "e.g. \"day >= '2024-03-01' and kind in ('a', 'b')\""
    if isinstance(given, str):
        try:
            expression = parse(given)
        except ParseException as exc:
            raise QueryError(
                f"filter {given!r} does not parse (at character {exc.col}): write "
                f"comparisons of a column with a literal joined by and/or, {example}"
            ) from None
    elif isinstance(given, BooleanExpression):
        expression = given
    else:
        raise QueryError(
            f"filter= takes a string ({example}) or a pyiceberg.expressions expression, "
            f"not {type(given).__name__}"
        )
    schema = lake.catalog.load(name).schema()
    try:
        bind(schema, expression, case_sensitive=True)
    except (ValueError, TypeError) as exc:
        hint = ""
        if "Could not find field" in str(exc):
            hint = f" (its columns: {', '.join(f.name for f in schema.fields)})"
        raise QueryError(f"filter on {name}: {exc}{hint}") from None
    return expression
