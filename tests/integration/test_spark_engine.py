"""The Spark engine runs DuckDB-dialect SQL with DuckDB's answers where the two differ.

Each construct STACK.md lists as silently different (weekday numbering, isodow, day and
month names, date_diff, date_trunc's type, quantiles, ordered lists) runs on both
engines over the same Parquet file; answers must agree with each other and with values
computed in Python. Constructs that cannot be made portable fail naming themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from batchlake.config import EngineSettings
from batchlake.engines import Engine, TableSource, create_engine
from batchlake.errors import ModelError, QueryError
from tests.conftest import require_java

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = date(2023, 12, 25)
DAYS = [START + timedelta(days=n * 9) for n in range(40)]  # every weekday, month, 3 years


@pytest.fixture(autouse=True, scope="module")
def _java() -> None:
    require_java()


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> TableSource:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = pa.table(
        {
            "k": pa.array(range(len(DAYS)), pa.int64()),
            "g": pa.array([n % 3 for n in range(len(DAYS))], pa.int32()),
            "d": pa.array(DAYS, pa.date32()),
            "ts": pa.array(
                [datetime(d.year, d.month, d.day, 23 - n % 24) for n, d in enumerate(DAYS)],
                pa.timestamp("us"),
            ),
            "x": pa.array([float((n * 7) % 11) for n in range(len(DAYS))], pa.float64()),
            "s": pa.array([f"s{(n * 5) % 13:02d}" for n in range(len(DAYS))]),
        }
    )
    path = tmp_path_factory.mktemp("spark-fn") / "t.parquet"
    pq.write_table(data, path)
    return TableSource("trusted.t", [str(path)], data.schema)


@pytest.fixture(scope="module")
def engines(table: TableSource) -> Iterator[dict[str, Engine]]:
    found = {
        "duckdb": create_engine(EngineSettings(memory_limit="512MB", threads=1)),
        "spark": create_engine(
            EngineSettings.model_validate(
                {
                    "type": "spark",
                    "master": "local[2]",
                    "conf": {"spark.sql.shuffle.partitions": "2"},
                }
            )
        ),
    }
    for engine in found.values():
        engine.register([table])
    yield found
    for engine in found.values():
        engine.close()


def _rows(engine: Engine, sql: str) -> list[dict[str, object]]:
    return engine.query(sql).read_all().to_pylist()


DATE_SQL = """
SELECT
    k,
    dayofweek(d) AS dow,
    weekday(d) AS wd,
    isodow(d) AS iso,
    date_part('isodow', d) AS iso_part,
    extract(isodow FROM d) AS iso_extract,
    dayname(d) AS day_name,
    monthname(d) AS month_name,
    date_diff('month', DATE '2023-12-31', d) AS months,
    date_diff('quarter', DATE '2023-12-31', d) AS quarters,
    date_diff('year', DATE '2023-12-31', d) AS years,
    date_diff('day', TIMESTAMP '2023-12-24 23:59:00', ts) AS days,
    date_trunc('month', d) AS month_start
FROM trusted.t
ORDER BY k
"""


def test_date_functions_give_duckdb_answers_on_spark(engines: dict[str, Engine]) -> None:
    duck = _rows(engines["duckdb"], DATE_SQL)
    spark = _rows(engines["spark"], DATE_SQL)
    # Independent expectations, from Python's calendar.
    expected = []
    for k, d in enumerate(DAYS):
        expected.append(
            {
                "k": k,
                "dow": d.isoweekday() % 7,
                "wd": d.isoweekday() % 7,
                "iso": d.isoweekday(),
                "iso_part": d.isoweekday(),
                "iso_extract": d.isoweekday(),
                "day_name": d.strftime("%A"),
                "month_name": d.strftime("%B"),
                "months": (d.year - 2023) * 12 + d.month - 12,
                "quarters": (d.year - 2023) * 4 + (d.month - 1) // 3 - 3,
                "years": d.year - 2023,
                "days": (d - date(2023, 12, 24)).days,
                "month_start": d.replace(day=1),
            }
        )
    assert duck == expected
    assert spark == expected
    month_start = engines["spark"].query(DATE_SQL).schema.field("month_start").type
    assert str(month_start) == "date32[day]", "date_trunc of a DATE must stay a DATE"


AGG_SQL = """
SELECT
    g,
    quantile_cont(x, 0.25) AS q_cont,
    quantile_disc(x, 0.25) AS q_disc,
    quantile(x, 0.75) AS q_plain,
    median(x) AS med,
    list(s ORDER BY s) AS ordered,
    string_agg(s, ',' ORDER BY k) AS joined,
    count(*) FILTER (WHERE x > 4) AS big
FROM trusted.t
GROUP BY g
ORDER BY g
"""


def test_aggregates_give_duckdb_answers_on_spark(engines: dict[str, Engine]) -> None:
    duck = _rows(engines["duckdb"], AGG_SQL)
    spark = _rows(engines["spark"], AGG_SQL)
    assert duck == spark
    # Independent check of the ordered aggregates.
    for row in duck:
        members = [n for n in range(len(DAYS)) if n % 3 == row["g"]]
        strings = [f"s{(n * 5) % 13:02d}" for n in members]
        assert row["ordered"] == sorted(strings)
        assert row["joined"] == ",".join(strings)
        values = sorted(float((n * 7) % 11) for n in members)
        assert row["q_plain"] in values, "quantile() is discrete: one of the values"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT list(s ORDER BY k DESC) AS l FROM trusted.t", "list(... ORDER BY ... DESC)"),
        ("SELECT date_diff('hour', ts, ts) AS h FROM trusted.t", "date_diff('hour'"),
        ("SELECT list_reverse([1, 2]) AS r FROM trusted.t", "list_reverse"),
    ],
)
def test_unportable_constructs_fail_naming_them(
    engines: dict[str, Engine], sql: str, named: str
) -> None:
    with pytest.raises((ModelError, QueryError)) as caught:
        engines["spark"].query(sql)
    assert named.lower() in str(caught.value).lower()
    assert "\n" not in str(caught.value)


def test_materialize_writes_parquet_pyiceberg_accepts(
    engines: dict[str, Engine], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    sql = "SELECT k, ts, CAST(x AS DECIMAL(10, 2)) AS amount FROM trusted.t"
    written = engines["spark"].materialize(sql, str(tmp_path / "out"))
    assert written.rows == len(DAYS)
    assert [p.rsplit("/", 1)[-1].endswith(".parquet") for p in written.files] == [True] * len(
        written.files
    )
    assert not [p for p in (tmp_path / "out").iterdir() if not p.name.endswith(".parquet")]
    assert pq.ParquetFile(written.files[0]).schema_arrow.field("ts").type.unit == "us"
    catalog = SqlCatalog(
        "t", uri=f"sqlite:///{tmp_path}/c.sqlite", warehouse=(tmp_path / "w").as_uri()
    )
    catalog.create_namespace("n")
    iceberg = catalog.create_table("n.t", schema=written.schema)
    iceberg.add_files(written.files)
    assert iceberg.scan().to_arrow().num_rows == len(DAYS)
    duck_hash = engines["duckdb"].materialize(sql, str(tmp_path / "duck")).content_hash
    assert written.content_hash == duck_hash


def test_s3_without_hadoop_aws_is_a_clear_error(engines: dict[str, Engine]) -> None:
    import pyarrow as pa

    from batchlake.engines.spark import SparkEngine

    spark = engines["spark"]
    assert isinstance(spark, SparkEngine)
    jvm = spark.spark.sparkContext._jvm
    try:
        jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")
        pytest.skip("hadoop-aws is on this Spark's classpath")
    except Exception:
        pass
    source = TableSource("trusted.on_s3", ["s3://bucket/t.parquet"], pa.schema([("a", pa.int64())]))
    with pytest.raises(
        ModelError, match=r"hadoop-aws is not on its classpath.*spark\.jars\.packages"
    ):
        spark.register([source])


def test_an_empty_table_keeps_its_columns(engines: dict[str, Engine]) -> None:
    import pyarrow as pa

    schema = pa.schema([("id", pa.int32()), ("amount", pa.decimal128(10, 2))])
    empty = TableSource("trusted.nothing_yet", [], schema)
    sql = "SELECT count(*) AS n, sum(amount) AS total FROM trusted.nothing_yet"
    for engine in engines.values():
        engine.register([empty])
        assert engine.query(sql).read_all().to_pylist() == [{"n": 0, "total": None}]
