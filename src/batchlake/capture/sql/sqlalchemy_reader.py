"""The slower fallback for any SQLAlchemy URL (and `reader = "sqlalchemy"`).

Rows stream with a server-side cursor (`stream_results`, `yield_per`) and become Arrow
record batches column by column, with types taken from the table's reflected columns
(DECIMAL keeps its precision and scale, timestamps their time zone). Custom queries run
in the database's own dialect; their Arrow types are inferred from the first rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from batchlake.capture import Capture, EntityState, redact_url, scrub_url_secret, snake_case
from batchlake.capture.sql.scanner import _SYSTEM_SCHEMAS, TABLE, VIEW, SqlSource
from batchlake.config import SqlQuerySettings
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.config import Project, SqlSourceSettings


class SqlAlchemySource(SqlSource):
    """A relational source read through SQLAlchemy (any dialect it has a driver for)."""

    def __init__(self, name: str, settings: SqlSourceSettings, project: Project) -> None:
        super().__init__(name, settings, project)
        try:
            self.engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"source '{name}': cannot use {redact_url(self.url)} ({exc}); "
                f"check sources.{name}.url and install the database's driver"
            ) from None

    def _connect_error(self, exc: Exception) -> SourceError:
        detail = scrub_url_secret(str(exc).splitlines()[0], self.url)
        return SourceError(
            f"source '{self.name}': cannot read {redact_url(self.url)}: {detail}; "
            f"check sources.{self.name}.url"
        )

    def _list_tables(self) -> tuple[list[tuple[str, str, str]], str]:
        try:
            inspector = sa.inspect(self.engine)
            default = inspector.default_schema_name or ""
            schemas = [s for s in inspector.get_schema_names() if s not in _SYSTEM_SCHEMAS]
            rows = [
                (schema, table, TABLE)
                for schema in sorted(schemas)
                for table in sorted(inspector.get_table_names(schema=schema))
            ]
            rows += [
                (schema, view, VIEW)
                for schema in sorted(schemas)
                for view in sorted(inspector.get_view_names(schema=schema))
            ]
        except sa.exc.SQLAlchemyError as exc:
            raise self._connect_error(exc) from None
        return rows, default

    def read(self, entity: str, state: EntityState) -> Capture:
        options = self._options(entity)
        incremental = options is not None and options.mode == "incremental"
        if isinstance(options, SqlQuerySettings):
            # A custom query, in the database's own dialect; types inferred from its rows.
            text = f"SELECT * FROM ({options.sql}) AS q"
            params: dict[str, Any] = {}
            if incremental and state.cursor is not None:
                quoted = self.engine.dialect.identifier_preparer.quote(str(options.cursor))
                text += f" WHERE {quoted} > :cursor"
                params["cursor"] = state.cursor
            statement: Any = sa.text(text).bindparams(**params)
            schema = None
            cursor_name = self._rename(str(options.cursor)) if incremental else None
        else:
            schema_name, table_name = self._discover()[self._lookup(entity)]
            try:
                table = sa.Table(
                    table_name, sa.MetaData(), schema=schema_name or None, autoload_with=self.engine
                )
            except sa.exc.SQLAlchemyError as exc:
                raise self._connect_error(exc) from None
            columns = list(table.c)
            schema = _arrow_schema([(self._rename(c.name), c.type) for c in columns])
            statement = sa.select(*[c.label(self._rename(c.name)) for c in columns])
            cursor_name = None
            if incremental:
                assert options is not None and options.cursor is not None
                wanted = options.cursor
                column = next(
                    (c for c in columns if wanted in (c.name, self._rename(c.name))), None
                )
                if column is None:
                    raise ConfigError(
                        f"source '{self.name}': cursor '{wanted}' is not a column of {entity}"
                    )
                cursor_name = self._rename(column.name)
                if state.cursor is not None:
                    statement = statement.where(column > _typed(state.cursor, column.type))
        capture = Capture(format="arrow", schema=schema, cursor=state.cursor)
        capture.batches = self._stream(statement, schema, cursor_name, capture, entity)
        capture.diff = self._diff_spec(entity)
        return capture

    def _rename(self, name: str) -> str:
        return name if self.settings.naming == "as_is" else snake_case(name)

    def _stream(
        self,
        statement: Any,
        schema: pa.Schema | None,
        cursor: str | None,
        capture: Capture,
        entity: str,
    ) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        best: Any = None
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(
                    stream_results=True, yield_per=self.settings.batch_rows
                ).execute(statement)
                # Result.keys() names the columns (iterating a Result would consume its rows).
                names = [self._rename(k) for k in result.keys()]  # noqa: SIM118
                for rows in result.partitions(self.settings.batch_rows):
                    data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
                    if schema is None:
                        schema = pa.schema([(n, _infer(values)) for n, values in data.items()])
                    arrays = [_array(data[f.name], f.type) for f in schema]
                    if cursor is not None:
                        values = [v for v in data[cursor] if v is not None]
                        if values and (best is None or max(values) > best):
                            best = max(values)
                    yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(
                f"source '{self.name}': reading {entity} failed: "
                f"{scrub_url_secret(str(exc).splitlines()[0], self.url)}"
            ) from None
        if best is not None:
            capture.cursor = best.isoformat() if hasattr(best, "isoformat") else str(best)

    def close(self) -> None:
        self.engine.dispose()


def _arrow_type(kind: sa.types.TypeEngine[Any]) -> pa.DataType:
    import pyarrow as pa

    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.SmallInteger | sa.Integer) and not isinstance(kind, sa.BigInteger):
        return pa.int32() if not isinstance(kind, sa.SmallInteger) else pa.int16()
    if isinstance(kind, sa.BigInteger):
        return pa.int64()
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        if kind.precision and kind.precision <= 38:
            return pa.decimal128(kind.precision, kind.scale or 0)
        return pa.decimal128(38, 10)
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if kind.timezone else None)
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.Time):
        return pa.time64("us")
    if isinstance(kind, sa.LargeBinary | sa.types._Binary):
        return pa.binary()
    return pa.string()


def _arrow_schema(columns: list[tuple[str, sa.types.TypeEngine[Any]]]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind in columns])


def _infer(values: list[Any]) -> pa.DataType:
    import pyarrow as pa

    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return pa.bool_()
    if isinstance(sample, int):
        return pa.int64()
    if isinstance(sample, float):
        return pa.float64()
    if isinstance(sample, Decimal):
        return pa.decimal128(38, 10)
    if isinstance(sample, datetime):
        return pa.timestamp("us", tz="UTC" if sample.tzinfo else None)
    if isinstance(sample, date):
        return pa.date32()
    if isinstance(sample, bytes | bytearray | memoryview):
        return pa.binary()
    return pa.string()


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_string(kind):
        values = [
            v
            if v is None or isinstance(v, str)
            else json.dumps(v)
            if isinstance(v, dict | list)
            else str(v)
            for v in values
        ]
    elif pa.types.is_binary(kind):
        values = [bytes(v) if v is not None else None for v in values]
    return pa.array(values, type=kind)


def _typed(text: str, kind: sa.types.TypeEngine[Any]) -> Any:
    """A stored cursor (text) as a value of the cursor column's type."""
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat(text)
    if isinstance(kind, sa.Date):
        return date.fromisoformat(text)
    if isinstance(kind, sa.Integer):
        return int(text)
    if isinstance(kind, sa.Numeric):
        return Decimal(text)
    return text
