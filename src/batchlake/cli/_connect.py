"""`batchlake catalog --connect duckdb|pyiceberg|spark`: a snippet that reads THIS lake.

Each snippet is a Python script with the project's real catalog URI, warehouse and table
names, to paste into a notebook or a file. It reads the trusted and refined tables
without batchlake (docs/readers.md says why each reader needs what it gets here), and
leaves the table it was asked for (or the first one) in `result` as an Arrow table.

Secrets are never printed: credentials that batchlake reads from named environment
variables are read from those same variables by the snippet, and a password in the
catalog URI or a credential in `[catalog] properties` is left as a placeholder.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

from batchlake.catalog.loader import CATALOG_NAME, catalog_properties
from batchlake.errors import NotFoundError

if TYPE_CHECKING:
    from batchlake.lake import Lake
    from batchlake.storage.s3 import S3Options


class Reader(enum.StrEnum):
    duckdb = "duckdb"
    pyiceberg = "pyiceberg"
    spark = "spark"


# Properties whose values are secrets: shown as a placeholder, never printed.
_SECRET_WORDS = ("secret", "credential", "token", "password", "access-key")

_NAME_NOTE = (
    f'# The catalog name must be "{CATALOG_NAME}": a SQL catalog stores it in every row of\n'
    "# its iceberg_tables table, and a catalog opened under another name lists no tables.\n"
)


def snippet(lake: Lake, reader: Reader, table: str | None = None) -> str:
    """The ready-to-paste script for `reader` over this lake's catalog."""
    names = lake.catalog.table_names()
    if table is not None and table not in names:
        raise NotFoundError(
            f"table {table} is not in the catalog; 'batchlake catalog' lists the trusted and "
            "refined tables (raw entities are read with read_parquet, see docs/readers.md)"
        )
    if not names:
        raise NotFoundError(
            "the catalog has no tables yet: run 'batchlake run' first, then ask for a snippet"
        )
    chosen = table or next((n for n in names if n.startswith("refined.")), names[0])
    render = {Reader.duckdb: _duckdb, Reader.pyiceberg: _pyiceberg, Reader.spark: _spark}
    return render[reader](lake, names, chosen)


# -- the catalog, as PyIceberg opens it ---------------------------------------------------------


def _catalog_lines(lake: Lake) -> list[str]:
    """Python lines defining `catalog`: PyIceberg's `load_catalog` with this project's props."""
    settings = lake.settings.catalog
    s3 = _without_keys(lake.s3) if lake.uses_s3 else None
    props = catalog_properties(
        settings,
        uri=lake.catalog.uri,
        warehouse=lake.catalog.warehouse,
        s3=s3,
    )
    lines = ["from pyiceberg.catalog import load_catalog", "", _NAME_NOTE.rstrip("\n")]
    lines.append(f"catalog = load_catalog({CATALOG_NAME!r}, **{{")
    lines.append(f"    'type': {settings.type!r},")
    for key, value in props.items():
        lines.append(f"    {key!r}: {_value(key, value)},")
    for key, env in _named_credentials(lake.s3 if lake.uses_s3 else None, settings.type):
        lines.append(f"    {key!r}: os.environ[{env!r}],")
    lines.append("})")
    return lines


def _without_keys(s3: S3Options) -> S3Options:
    """The S3 options without named credentials (the snippet reads the variables itself)."""
    return dataclasses.replace(
        s3, access_key_id_env=None, secret_access_key_env=None, session_token_env=None
    )


def _named_credentials(s3: S3Options | None, kind: str) -> list[tuple[str, str]]:
    """(property, environment variable) for credentials batchlake reads from named variables."""
    if s3 is None or not s3.access_key_id_env or not s3.secret_access_key_env:
        return []
    pairs = [
        ("s3.access-key-id", s3.access_key_id_env),
        ("s3.secret-access-key", s3.secret_access_key_env),
    ]
    if s3.session_token_env:
        pairs.append(("s3.session-token", s3.session_token_env))
    if kind == "glue":
        pairs += [("glue" + key[2:], env) for key, env in pairs]
    return pairs


def _value(key: str, value: str) -> str:
    """A property value as Python source, with secrets left as placeholders."""
    if any(word in key.lower() for word in _SECRET_WORDS):
        return repr(f"<your {key}>")
    if key == "uri" and "://" in value and "@" in value.split("://", 1)[1].split("/", 1)[0]:
        from sqlalchemy.engine import make_url

        try:  # a database URL: hide its password
            return repr(make_url(value).render_as_string(hide_password=True))
        except Exception:
            return repr(value)
    return repr(value)


# -- the three readers --------------------------------------------------------------------------


def _header(lake: Lake, reader: str, needs: str) -> list[str]:
    lines = [
        f"# Read the lake '{lake.settings.name}' ({lake.project.root}) with {reader},",
        f"# as printed by 'batchlake catalog --connect {reader}'.",
        f"# Needs: {needs}.",
    ]
    if _named_credentials(lake.s3 if lake.uses_s3 else None, lake.settings.catalog.type):
        lines.append("import os")
    return [*lines, ""]


def _pyiceberg(lake: Lake, names: list[str], chosen: str) -> str:
    lines = _header(lake, "pyiceberg", "pip install 'pyiceberg[pyarrow,sql-sqlite]'")
    lines += _catalog_lines(lake)
    lines += [
        "",
        "# Tables: " + ", ".join(names),
        f"table = catalog.load_table({chosen!r})",
        "result = table.scan().to_arrow()  # current snapshot; scan(snapshot_id=...) for others",
        "print(result)",
    ]
    return "\n".join(lines) + "\n"


def _duckdb(lake: Lake, names: list[str], chosen: str) -> str:
    """DuckDB views named like batchlake's tables, each an `iceberg_scan` of its metadata file.

    A SQLite catalog is read by DuckDB itself (ATTACH ... TYPE sqlite); any other catalog
    is asked through PyIceberg. Either way the views read the metadata file current when
    they were created: run the snippet again after `batchlake run` to see the new snapshot.
    """
    lines = _header(
        lake,
        "duckdb",
        "pip install 'batchlake[iceberg-scan]' (duckdb 1.4.4 and the offline\n"
        "# duckdb-ext-iceberg/avro wheels)",
    )
    lines += [
        "import duckdb",
        "import duckdb_ext",
        "",
        "# Extensions come from the pip wheels: DuckDB must look in their folder, and not",
        "# download anything.",
        "con = duckdb.connect(config={",
        '    "extension_directory": duckdb_ext.get_extension_dir(),',
        '    "autoinstall_known_extensions": False,',
        "})",
        'con.execute("LOAD iceberg")',
        "",
        "",
        "def sql_literal(text):",
        '    return "\'" + text.replace("\'", "\'\'") + "\'"',
        "",
        "",
    ]
    if lake.uses_s3:
        lines += [
            "# The warehouse is on S3: give DuckDB's httpfs the keys (pip install",
            "# 'batchlake[s3]'), e.g. CREATE SECRET (TYPE s3, KEY_ID ..., SECRET ..., REGION ...).",
            f"# Region: {lake.s3.resolved_region}; endpoint: {lake.s3.endpoint or 'AWS'}.",
            "",
        ]
    uri = lake.catalog.uri
    if lake.settings.catalog.type == "sql" and uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]
        lines += [
            "# iceberg_scan needs a table's CURRENT metadata file (not its folder: there is no",
            "# version-hint), which the catalog database holds. DuckDB reads it directly.",
            f'con.execute("ATTACH " + sql_literal({path!r}) + " AS batchlake_catalog "',
            '            "(TYPE sqlite, READ_ONLY)")',
            "found = con.execute(",
            '    "SELECT table_namespace, table_name, metadata_location "',
            '    "FROM batchlake_catalog.iceberg_tables WHERE catalog_name = ?",',
            f"    [{CATALOG_NAME!r}],",
            ").fetchall()",
        ]
    else:
        lines += [
            "# iceberg_scan needs a table's CURRENT metadata file: the catalog knows it.",
            *_catalog_lines(lake),
            "found = [",
            "    (zone, name, catalog.load_table((zone, name)).metadata_location)",
            '    for zone in ("trusted", "refined")',
            "    for _, name in catalog.list_tables(zone)",
            "]",
        ]
    lines += [
        "for zone, name, metadata in found:  # a view per table: trusted.x, refined.y",
        '    con.execute(f"CREATE SCHEMA IF NOT EXISTS {zone}")',
        "    con.execute(",
        '        f"CREATE OR REPLACE VIEW {zone}.{name} AS "',
        '        f"SELECT * FROM iceberg_scan({sql_literal(metadata)})"',
        "    )",
        "",
        "# Tables: " + ", ".join(names),
        f'result = con.execute("SELECT * FROM {chosen}").fetch_arrow_table()',
        "print(result)",
    ]
    return "\n".join(lines) + "\n"


def _spark(lake: Lake, names: list[str], chosen: str) -> str:
    """Spark over the Parquet files PyIceberg plans (no Iceberg Spark runtime needed)."""
    lines = _header(
        lake, "spark", "pip install pyspark 'pyiceberg[pyarrow,sql-sqlite]' and Java 17"
    )
    lines += ["from pyspark.sql import SparkSession", ""]
    lines += _catalog_lines(lake)
    lines += [
        "",
        'spark = SparkSession.builder.master("local[*]").appName("read-batchlake").getOrCreate()',
        "",
        "",
        "def read(name):",
        '    """A table\'s current snapshot: only the files PyIceberg plans for it (the',
        '    table\'s data/ folder also holds the files of older snapshots)."""',
        "    table = catalog.load_table(name)",
        "    columns = [field.name for field in table.schema().fields]",
        "    files = [",
        '        task.file.file_path.replace("s3://", "s3a://", 1)',
        "        for task in table.scan().plan_files()",
        "    ]",
        "    if not files:  # a table with no snapshot yet",
        "        return spark.createDataFrame(table.scan().to_arrow())",
        '    frame = spark.read.option("mergeSchema", "true").parquet(*files)',
        "    return frame.select(*columns)",
        "",
        "",
        "# Temporary views named zone_table (Spark views cannot have a dot in their name).",
        "# Tables: " + ", ".join(names),
        "for name in " + repr(names) + ":",
        '    read(name).createOrReplaceTempView(name.replace(".", "_"))',
        "",
        f'result = spark.sql("SELECT * FROM {chosen.replace(".", "_")}").toArrow()',
        "print(result)",
        "",
        *_runtime_comment(lake),
    ]
    return "\n".join(lines) + "\n"


def _runtime_comment(lake: Lake) -> list[str]:
    """The other path, as comments: the Iceberg Spark runtime built for the installed Spark."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        spark_version = version("pyspark")
    except PackageNotFoundError:
        spark_version = "4.x"
    minor = ".".join(spark_version.split(".")[:2])
    settings = lake.settings.catalog
    prefix = f"spark.sql.catalog.{CATALOG_NAME}"
    conf = [
        "spark.jars.packages = org.apache.iceberg:iceberg-spark-runtime-"
        f"{minor}_2.13:<iceberg version>",
        "spark.sql.extensions = org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        f"{prefix} = org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.warehouse = {lake.catalog.warehouse}",
    ]
    if settings.type == "sql":
        conf += [
            f"{prefix}.type = jdbc   # plus the JDBC driver of the database on the classpath",
            f"{prefix}.uri = jdbc:{_jdbc_url(lake.catalog.uri)}",
        ]
    elif settings.type == "glue":
        conf += [f"{prefix}.type = glue", f"{prefix}.io-impl = org.apache.iceberg.aws.s3.S3FileIO"]
    else:
        conf += [f"{prefix}.type = rest", f"{prefix}.uri = {lake.catalog.uri}"]
    return [
        f"# Or, with the Iceberg Spark runtime built for this Spark ({spark_version}: the",
        f"# artifact for Spark {minor}, if Iceberg publishes one) instead of PyIceberg's",
        f"# planning (untested here), name the catalog {CATALOG_NAME!r} as batchlake does and",
        f"# SELECT * FROM {CATALOG_NAME}.<zone>.<table>:",
        *[f"#   {line}" for line in conf],
    ]


def _jdbc_url(uri: str) -> str:
    """A SQLAlchemy URL as a JDBC one (sqlite:///p → sqlite:/p; the driver part dropped)."""
    if uri.startswith("sqlite:///"):
        return "sqlite:" + uri[len("sqlite:///") :]
    scheme, _, rest = uri.partition("://")
    host = rest.rsplit("@", 1)[-1]  # credentials go in the jdbc.user / jdbc.password props
    return f"{scheme.split('+', 1)[0]}://{host}"
