"""The non-batchlake contenders of the capture benchmark, one per child process.

Run by ``sources_capture.py`` (through ``core_pipeline._script``)::

    python bench/_capture_contenders.py SPEC.json RESULT.json

SPEC says which contender (``floor``, ``duckdb``, ``pandas``, ``cursor``, ``dlt``), which
database (``pg`` or ``my``), the table and an output folder. Each contender imports only
what it needs, so its memory and time are its own, and writes the table as usual code of
its kind would:

* ``floor``: ConnectorX ``read_sql(return_type="arrow_stream")``, 2 partitions on ``id``,
  batches of 100,000 rows (ConnectorX's default, 10,000, was slower here), each batch
  straight into one ``pyarrow.parquet.ParquetWriter`` (zstd). No casts, no
  hashing, no metadata: the least a Python program can do to get the rows into Parquet.
* ``duckdb``: DuckDB's scanner (postgres or mysql extension, the reader batchlake uses for
  PostgreSQL) and ``COPY (SELECT * ...) TO 'x.parquet'`` (zstd): the scanner's own cost.
* ``pandas``: ``pandas.read_sql`` over a SQLAlchemy engine, then ``DataFrame.to_parquet``
  with its defaults: the common notebook/script way.
* ``cursor``: a server-side DB-API cursor (psycopg named cursor, PyMySQL ``SSCursor``)
  and one ``json.dumps`` per row to JSON Lines: what hand-written ingesters usually do.
* ``dlt``: dlt's ``sql_database`` source, ``backend="pyarrow"``, to the ``filesystem``
  destination in Parquet (extract, normalize and load: the whole ``pipeline.run``).

With ``warmup_table`` in SPEC the contender first copies that (small) table, then the
measured one, whose ``seconds_work`` then is that of a warm process: libraries imported,
lazy imports done (as batchlake's ``_capture_warm.py``).

The result JSON holds the rows written, the output size, and the seconds inside the
process from the first connection to the closed output (``seconds_work``); the floor also
splits that into time spent waiting for batches and time spent writing them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

DATABASE = "batchlake_bench"
_SA_URLS = {
    "pg": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
    "my": f"mysql+pymysql://root@127.0.0.1:3306/{DATABASE}",
}
_CX_URLS = {
    "pg": f"postgresql://postgres@127.0.0.1:5432/{DATABASE}",
    "my": f"mysql://root:@127.0.0.1:3306/{DATABASE}",
}


def _parquet_rows(paths: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


def floor(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """ConnectorX Arrow stream → ParquetWriter (zstd), nothing in between."""
    import connectorx as cx
    import pyarrow.parquet as pq

    path = out / "floor.parquet"
    waited = written = 0.0
    rows = 0
    clock = time.perf_counter()
    stream = cx.read_sql(
        _CX_URLS[spec["db"]],
        f"SELECT * FROM {spec['table']}",
        return_type="arrow_stream",
        partition_on="id",
        partition_num=spec.get("partitions", 2),
        batch_size=spec.get("batch_rows", 100_000),
    )
    waited += time.perf_counter() - clock
    writer = None
    batches = iter(stream)
    while True:
        mark = time.perf_counter()
        batch = next(batches, None)
        waited += time.perf_counter() - mark
        if batch is None:
            break
        mark = time.perf_counter()
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
        writer.write_batch(batch)
        rows += batch.num_rows
        written += time.perf_counter() - mark
    if writer is not None:
        mark = time.perf_counter()
        writer.close()
        written += time.perf_counter() - mark
    return {
        "rows": rows,
        "seconds_work": time.perf_counter() - clock,
        "seconds_reading": waited,
        "seconds_writing": written,
        "schema": [f"{f.name}: {f.type}" for f in pq.read_schema(path)],
        "files": [str(path)],
    }


def duckdb_copy(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """DuckDB's scanner and COPY TO Parquet, as a plain DuckDB user would do it."""
    import duckdb
    import duckdb_ext

    path = out / "duckdb.parquet"
    clock = time.perf_counter()
    con = duckdb.connect(
        config={
            "extension_directory": duckdb_ext.get_extension_dir(),
            "autoinstall_known_extensions": False,
        }
    )
    if spec["db"] == "pg":
        target, kind, schema = _CX_URLS["pg"], "postgres", "public"
    else:
        target = f"host=127.0.0.1 port=3306 user=root database={DATABASE}"
        kind, schema = "mysql", DATABASE
    con.execute(f"ATTACH '{target}' AS src (TYPE {kind}, READ_ONLY)")
    con.execute(
        f"COPY (SELECT * FROM src.{schema}.{spec['table']}) TO '{path}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    return {"rows": _parquet_rows([path]), "seconds_work": time.perf_counter() - clock,
            "files": [str(path)]}  # fmt: skip


def pandas_read_sql(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """``pd.read_sql`` of the whole table, then ``to_parquet`` with pandas' defaults."""
    import pandas as pd
    import sqlalchemy

    path = out / "pandas.parquet"
    clock = time.perf_counter()
    engine = sqlalchemy.create_engine(_SA_URLS[spec["db"]])
    frame = pd.read_sql(f"SELECT * FROM {spec['table']}", engine)
    loaded = time.perf_counter() - clock
    frame.to_parquet(path)
    engine.dispose()
    return {
        "rows": len(frame),
        "seconds_work": time.perf_counter() - clock,
        "seconds_reading": loaded,
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "files": [str(path)],
    }


def cursor_jsonl(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """A streaming DB-API cursor, one JSON object per row (``default=str`` for the rest)."""
    path = out / "cursor.jsonl"
    clock = time.perf_counter()
    if spec["db"] == "pg":
        import psycopg

        conn = psycopg.connect(_CX_URLS["pg"])
        cursor = conn.cursor(name="capture")  # server-side: rows arrive in itersize chunks
        cursor.itersize = 10_000
    else:
        import pymysql
        import pymysql.cursors

        conn = pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", database=DATABASE
        )
        cursor = conn.cursor(pymysql.cursors.SSCursor)  # unbuffered: streams the result
    cursor.execute(f"SELECT * FROM {spec['table']}")
    columns = [d[0] for d in cursor.description or ()]
    rows = 0
    with open(path, "w", encoding="utf-8") as sink:
        for row in cursor:
            sink.write(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n")
            rows += 1
    cursor.close()
    conn.close()
    return {"rows": rows, "seconds_work": time.perf_counter() - clock, "files": [str(path)]}


def dlt_pipeline(spec: dict[str, Any], out: Path) -> dict[str, Any]:
    """dlt ``sql_database(backend="pyarrow")`` → filesystem destination, Parquet files."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    clock = time.perf_counter()
    import dlt
    from dlt.sources.sql_database import sql_database

    imported = time.perf_counter() - clock
    source = sql_database(_SA_URLS[spec["db"]], table_names=[spec["table"]], backend="pyarrow")
    pipeline = dlt.pipeline(
        pipeline_name=f"capture_{spec['db']}",
        pipelines_dir=str(out / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="bench",
    )
    pipeline.run(source, loader_file_format="parquet")
    files = sorted((out / "lake").rglob("*.parquet"))
    return {
        "rows": _parquet_rows(files),
        "seconds_work": time.perf_counter() - clock - imported,
        "seconds_import": imported,
        "dlt_version": dlt.__version__,
        "files": [str(f) for f in files],
    }


CONTENDERS = {
    "floor": floor,
    "duckdb": duckdb_copy,
    "pandas": pandas_read_sql,
    "cursor": cursor_jsonl,
    "dlt": dlt_pipeline,
}


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    contender = CONTENDERS[spec["contender"]]
    warmup = None
    if spec.get("warmup_table"):  # a warm process: libraries and lazy imports loaded first
        scratch = out / "warmup"
        scratch.mkdir()
        warmup = contender({**spec, "table": spec["warmup_table"]}, scratch)
        shutil.rmtree(scratch)
    result = contender(spec, out)
    if warmup is not None:
        result["warmup_seconds"] = warmup["seconds_work"]
    result["output_bytes"] = sum(Path(f).stat().st_size for f in result.pop("files"))
    result["cpu_seconds_inside"] = time.process_time()
    Path(result_path).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:3])
