"""Running Python steps: inputs in as Arrow, outputs committed to Iceberg like SQL models.

A step (declared with `batchlake.step` in a project's `python/*.py`, loaded by
`batchlake.transform.models`) is called with a `StepContext`. It returns a dict of output tables;
each is written as Parquet to the table's staging folder and committed with
`LakeCatalog.replace`, with the same properties as a SQL model's result (upstream,
inputs hash, content hash). A step is skipped when its source file, its parameters and
its inputs' snapshots are all unchanged, and an output whose rows did not change gets no
new snapshot.

`ctx.table(name)` is a `pyarrow.Table` on every engine. On Spark (`ctx.engine ==
"spark"`: engine type "spark", or "auto" when the step's inputs reach `spark_above`)
`ctx.dataframe(name)` is the same input as a Spark DataFrame, and a step may return
Spark DataFrames, which Spark writes itself (nothing is collected to the driver). A
step picks its backend from `ctx.engine` (see `batchlake.analytics.segmentation`).

An output's content hash is DuckDB's order-independent fingerprint of the rows written
(`Engine.content_hash`, the one SQL models use), so equal rows give equal hashes whatever
the engine, the row order, or whether the step returned Arrow or a Spark DataFrame.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batchlake.catalog import PROP_INPUTS, PROP_UPSTREAM
from batchlake.errors import ModelError
from batchlake.storage import filesystem_for, path_of
from batchlake.transform.promote import (
    Promotion,
    Staged,
    built_from,
    inputs_fingerprint,
    promote,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from batchlake.engines import Engine, TableSource
    from batchlake.lake import Lake
    from batchlake.transform.models import PythonModel

PROP_STEP = "batchlake.python-step"


@dataclass
class StepContext:
    """What a Python step receives: its inputs, its parameters and the engine's name."""

    step: str
    params: Mapping[str, Any]
    engine: str
    _read: Callable[[str], pa.Table] = field(repr=False)
    _inputs: tuple[str, ...] = ()
    _cache: dict[str, pa.Table] = field(default_factory=dict, repr=False)
    # Spark only: a declared input as a Spark DataFrame.
    _frame: Callable[[str], DataFrame] | None = field(default=None, repr=False)

    def table(self, name: str) -> pa.Table:
        """A declared input table, read whole as a `pyarrow.Table`.

        Rows come in no particular order (engines read files in parallel): sort them when
        the result depends on it, so the same data always gives the same output.
        """
        self._check_input(name)
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def dataframe(self, name: str) -> DataFrame:
        """A declared input as a Spark DataFrame (only when `ctx.engine == "spark"`).

        Lazy, like any DataFrame: nothing is read until the step runs an action. Rows
        have no order; sort when the result depends on it.
        """
        self._check_input(name)
        if self._frame is None:
            raise ModelError(
                f"step {self.step} asked for {name} as a Spark DataFrame, but it runs on "
                f"{self.engine}; use ctx.table('{name}') (a pyarrow.Table, every engine) or "
                'set [engine] type = "spark" in batchlake.toml (under "auto", a step runs on '
                "Spark when its inputs reach spark_above; check ctx.engine)"
            )
        return self._frame(name)

    def _check_input(self, name: str) -> None:
        if name not in self._inputs:
            raise ModelError(
                f"step {self.step} reads {name}, which is not in its inputs; "
                f"add it to @step(inputs=[...]) (declared: {', '.join(self._inputs) or 'none'})"
            )

    @property
    def inputs(self) -> dict[str, pa.Table]:
        """Every declared input by name (read on first use)."""
        return {name: self.table(name) for name in self._inputs}


def run_python_model(
    lake: Lake,
    engine: Engine,
    model: PythonModel,
    run_id: str,
    full_refresh: bool,
    input_of: Callable[[str], tuple[str, TableSource]],
) -> Promotion:
    """Run one Python step and promote its outputs; the step's summary (first snapshot)."""
    params = dict(lake.settings.python.get(model.name, {}))
    definition = model.source_hash + json.dumps(params, sort_keys=True, default=str)
    fingerprint = inputs_fingerprint(definition, {d: input_of(d)[0] for d in model.inputs})
    current = None if full_refresh else built_from(lake, list(model.outputs), fingerprint)
    if current:
        return Promotion(
            model.full_name,
            "unchanged",
            sum(i.rows for i in current),
            current[0].snapshot_id,
            message="inputs unchanged",
        )

    engine.register(input_of(name)[1] for name in model.inputs)
    runs_on, why = engine.route(model.inputs)
    ctx = _context(model, params, runs_on, input_of)
    staged = _stage(lake, runs_on, model, _call(model, ctx), run_id)
    properties = {
        PROP_UPSTREAM: ",".join(sorted(model.inputs)),
        PROP_INPUTS: fingerprint,
        PROP_STEP: model.where,
    }
    done = _promote_all(lake, staged, properties, full_refresh=full_refresh, run_id=run_id)
    notes = [
        f"{p.table}: {p.rows} rows{', unchanged' if p.status == 'unchanged' else ''}" for p in done
    ]
    return Promotion(
        model.full_name,
        "success" if any(p.status == "success" for p in done) else "unchanged",
        sum(s.rows for s in staged),
        done[0].snapshot_id,
        bytes=sum(s.bytes for s in staged),
        message="; ".join([*([why] if why else []), *notes]),
        engine=runs_on.name,
    )


def _context(
    model: PythonModel,
    params: dict[str, Any],
    runs_on: Engine,
    input_of: Callable[[str], tuple[str, TableSource]],
) -> StepContext:
    """What the step receives: inputs read on the engine it runs on (and its DataFrames)."""

    def read(name: str) -> pa.Table:
        import sqlglot.expressions as exp

        runs_on.register([input_of(name)[1]])
        query = exp.select("*").from_(exp.to_table(name)).sql(dialect="duckdb")
        return runs_on.query(query).read_all()

    frame: Callable[[str], DataFrame] | None = None
    if runs_on.dataframes:

        def frame(name: str) -> DataFrame:
            return runs_on.frame(input_of(name)[1])

    return StepContext(model.name, params, runs_on.name, read, model.inputs, _frame=frame)


def _stage(
    lake: Lake,
    engine: Engine,
    model: PythonModel,
    outputs: dict[str, pa.Table | DataFrame],
    run_id: str,
) -> list[Staged]:
    """Every output written to its table's staging folder (all deleted if one fails)."""
    staged: list[Staged] = []
    try:
        for name in model.outputs:
            staged.append(_write(lake, engine, name, outputs[name], run_id))
    except BaseException:
        for item in staged:
            lake.storage.delete(item.location)
        raise
    return staged


def _promote_all(
    lake: Lake, staged: list[Staged], properties: dict[str, str], *, full_refresh: bool, run_id: str
) -> list[Promotion]:
    """Promote each output (atomic per table); outputs not reached are deleted on failure."""
    done: list[Promotion] = []
    for position, item in enumerate(staged):
        try:
            done.append(promote(lake, item, properties, full_refresh=full_refresh, run_id=run_id))
        except BaseException:
            for left in staged[position + 1 :]:
                lake.storage.delete(left.location)
            raise
    return done


def _call(model: PythonModel, ctx: StepContext) -> dict[str, pa.Table | DataFrame]:
    """Call the step; check it returned one table per declared output.

    Arrow tables (or record batches) on every engine; Spark DataFrames on Spark.
    """
    import pyarrow as pa

    where = model.where
    try:
        result = model.function(ctx)
    except ModelError:
        raise
    except Exception as exc:
        # One line for people; the runner keeps the chained traceback in the step record.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelError(f"{where} raised {type(exc).__name__}: {first}") from exc
    if not isinstance(result, Mapping):
        raise ModelError(
            f"{where} returned {type(result).__name__}; return a dict of "
            f"{{table name: pyarrow.Table}} for {', '.join(model.outputs)}"
        )
    missing = [name for name in model.outputs if name not in result]
    if missing:
        raise ModelError(f"{where} did not return {', '.join(missing)} (declared in outputs=[...])")
    extra = sorted(set(result) - set(model.outputs))
    if extra:
        raise ModelError(
            f"{where} returned {', '.join(map(str, extra))}, not declared in outputs=[...]; "
            "declare it or leave it out"
        )
    tables: dict[str, pa.Table | DataFrame] = {}
    for name in model.outputs:
        value = result[name]
        if _is_spark_frame(value):
            if ctx.engine != "spark":
                raise ModelError(
                    f"{where} returned a Spark DataFrame for {name} on engine {ctx.engine}; "
                    "return a pyarrow.Table (DataFrame.toArrow() converts one), or run the "
                    'step on Spark ([engine] type = "spark")'
                )
            if not value.columns:
                raise ModelError(f"{where} returned a table without columns for {name}")
            tables[name] = value
            continue
        if isinstance(value, pa.RecordBatch):
            value = pa.Table.from_batches([value])
        if not isinstance(value, pa.Table):
            raise ModelError(
                f"{where} returned {type(value).__name__} for {name}; return a pyarrow.Table "
                "(pyarrow.Table.from_pandas(df, preserve_index=False) converts a DataFrame)"
            )
        if not value.num_columns:
            raise ModelError(f"{where} returned a table without columns for {name}")
        tables[name] = portable(value)
    return tables


def _is_spark_frame(value: object) -> bool:
    """Whether `value` is a Spark DataFrame (without importing pyspark when it is absent)."""
    import sys

    if "pyspark.sql" not in sys.modules:
        return False
    from pyspark.sql import DataFrame

    return isinstance(value, DataFrame)


def portable(table: pa.Table) -> pa.Table:
    """The table with types Iceberg takes: small and unsigned ints widened, µs timestamps."""
    import pyarrow as pa
    import pyarrow.types as t

    def wanted(kind: pa.DataType) -> pa.DataType:
        if t.is_dictionary(kind):
            return wanted(kind.value_type)
        if t.is_int8(kind) or t.is_int16(kind) or t.is_uint8(kind) or t.is_uint16(kind):
            return pa.int32()
        if t.is_uint32(kind) or t.is_uint64(kind):
            return pa.int64()
        if t.is_float16(kind):
            return pa.float32()
        if t.is_timestamp(kind) and kind.unit != "us":
            return pa.timestamp("us", tz=kind.tz)
        if t.is_large_string(kind) or t.is_null(kind):
            return pa.string()
        if t.is_large_binary(kind):
            return pa.binary()
        return kind

    columns = []
    for column, field_ in zip(table.columns, table.schema, strict=True):
        kind = wanted(field_.type)
        # Nanoseconds are truncated to microseconds (Iceberg's unit); other casts are exact.
        columns.append(
            column if kind == field_.type else column.cast(kind, safe=not t.is_timestamp(kind))
        )
    return pa.Table.from_arrays(columns, names=table.column_names)


def _write(
    lake: Lake, engine: Engine, name: str, table: pa.Table | DataFrame, run_id: str
) -> Staged:
    """One output as Parquet in a fresh staging folder of its table, and its content hash.

    Arrow tables are written here (one file); Spark DataFrames by Spark. The hash is the
    engine's order-independent `content_hash` of the files, so it does not depend on the
    engine, the row order or the kind of table the step returned.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    location = lake.catalog.staging_location(name, run_id)
    if not isinstance(table, pa.Table):
        # _call accepts DataFrames only from engines with the `dataframes` capability.
        try:
            done = engine.write_frame(table, location)
        except BaseException:
            lake.storage.delete(location)
            raise
        return Staged(
            name, location, done.files, done.schema, done.rows, done.bytes, done.content_hash
        )
    lake.storage.makedirs(location)
    files: list[str] = []
    size = 0
    try:
        if table.num_rows:
            target = f"{location}/part-00000.parquet"
            fs = filesystem_for(location, lake.s3, lake.azure)
            pq.write_table(table, path_of(target), filesystem=fs, compression="zstd")
            files.append(target)
            size = int(fs.get_file_info(path_of(target)).size or 0)
        # Hashed as Spark's files are: every column nullable, no schema metadata.
        plain = pa.schema([pa.field(f.name, f.type, nullable=True) for f in table.schema])
        content_hash = engine.content_hash(files, plain)
    except BaseException:
        lake.storage.delete(location)
        raise
    return Staged(name, location, files, table.schema, table.num_rows, size, content_hash)
