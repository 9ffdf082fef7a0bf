"""`schemas.toml`: the columns of the tables a project reads but does not build in SQL.

`batchlake check` and `batchlake test` compile every SQL model against empty tables of
the right columns, without reading any data. Models' own columns come from compiling
them in DAG order; the others come from this file at the project's root:

```toml
# raw entities (as captured: lake names, with _batch_id and _loaded_at)
["raw.chinook.invoice"]
invoice_id = "BIGINT"
invoice_date = "TIMESTAMP"
total = "DECIMAL(10,2)"

# outputs of Python steps that SQL models read
["refined.sales_forecast"]
month = "VARCHAR"
forecast_amount = "DOUBLE"
```

Types are DuckDB type names. `batchlake check --write-schemas` writes the file from a lake
that has captured its sources (the raw files' footers and the catalog: no rows are read
except for JSON sources, whose columns DuckDB infers); commit it so CI has it.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from batchlake.catalog import ZONES
from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from batchlake.lake import Lake

SCHEMAS_FILE = "schemas.toml"
Columns = list[tuple[str, str]]  # (column, DuckDB type) in table order

_HEADER = """\
# The columns of the tables this project reads but does not build in SQL: raw entities
# and the outputs of Python steps. `batchlake check` and `batchlake test` compile the SQL
# models against empty tables of these columns. Types are DuckDB type names.
# Written by `batchlake check --write-schemas` from a lake that captured its sources;
# edit by hand for a source not captured yet, and commit it (CI reads it).
"""


def load_schemas(root: Path) -> dict[str, Columns]:
    """The tables declared in `<root>/schemas.toml` ({} without the file)."""
    path = root / SCHEMAS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{SCHEMAS_FILE} is not valid TOML: {exc}") from exc
    found: dict[str, Columns] = {}
    for table, columns in data.items():
        zone, _, rest = table.partition(".")
        parts = rest.split(".")
        if not ((zone == "raw" and len(parts) == 2) or (zone in ZONES and len(parts) == 1)):
            raise ConfigError(
                f"{SCHEMAS_FILE}: table '{table}' must be named raw.<source>.<entity> or "
                f'<zone>.<table>, as a quoted key: ["raw.shop.orders"]'
            )
        if not isinstance(columns, dict) or not columns:
            raise ConfigError(f'{SCHEMAS_FILE}: ["{table}"] must list its columns: column = "TYPE"')
        found[table] = []
        for column, type_name in columns.items():
            if not isinstance(type_name, str):
                raise ConfigError(
                    f'{SCHEMAS_FILE}: ["{table}"] {column} must be a DuckDB type name '
                    f'in quotes, e.g. {column} = "BIGINT"'
                )
            found[table].append((column, _checked_type(table, column, type_name)))
    return found


def _checked_type(table: str, column: str, type_name: str) -> str:
    import sqlglot
    from sqlglot import exp

    try:
        return exp.DataType.build(type_name, dialect="duckdb").sql(dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError) as exc:
        raise ConfigError(
            f'{SCHEMAS_FILE}: ["{table}"] {column} = "{type_name}" is not a DuckDB type '
            "(e.g. BIGINT, VARCHAR, DECIMAL(10,2), TIMESTAMP, DATE)"
        ) from exc


def render_schemas(schemas: dict[str, Columns]) -> str:
    """The text of a `schemas.toml` declaring `schemas` (tables sorted by name)."""
    lines = [_HEADER]
    for table in sorted(schemas):
        lines.append(f"[{json.dumps(table)}]")
        lines += [
            f"{_key(column)} = {json.dumps(type_name)}" for column, type_name in schemas[table]
        ]
        lines.append("")
    return "\n".join(lines)


def _key(name: str) -> str:
    bare = name.replace("_", "").replace("-", "").isalnum() and name.isascii()
    return name if bare else json.dumps(name)


def describe(con: duckdb.DuckDBPyConnection, select: str) -> Columns:
    """The columns of a SELECT as DuckDB types, without running it."""
    return [(str(row[0]), str(row[1])) for row in con.execute(f"DESCRIBE {select}").fetchall()]


def lake_schemas(lake: Lake, tables: list[str]) -> dict[str, Columns]:
    """The columns of `tables` (raw entities, Python steps' outputs) as the lake has them:
    raw entities from their newest batch file, Iceberg tables from the catalog."""
    from batchlake.engines import TableSource
    from batchlake.engines.duckdb import DuckDBEngine
    from batchlake.errors import NotFoundError

    engine = DuckDBEngine(lake.settings.engine, s3=lake.s3 if lake.uses_s3 else None)
    found: dict[str, Columns] = {}
    try:
        for name in tables:
            try:
                if name.startswith("raw."):
                    source = lake.raw_source(name)  # Parquet: its files' footers only
                else:
                    schema = lake.catalog.load(name).schema().as_arrow()
                    source = TableSource(name, [], schema)
            except NotFoundError:
                continue  # never captured or built: not declared
            found[name] = describe(engine.con, engine.scan_sql(source))
    finally:
        engine.close()
    return found
