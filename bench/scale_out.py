"""Scale-out benchmark: the Chinook project on DuckDB and Spark, local disk and S3.

    .venv/bin/python bench/scale_out.py                    # 200,000 invoices ≈ 1M lines
    .venv/bin/python bench/scale_out.py --invoices 20000   # a quick check
    .venv/bin/python bench/scale_out.py --smoke --workdir DIR   # does it run? (CI)

Measures, on one generated store:
- the project on DuckDB (local disk), on Spark (`local[2]`), and on DuckDB with the lake
  in S3 (a moto server on loopback, so "S3" costs are moto's, not a network's);
- the same model SQL hand-run in plain PySpark (transpiled SQL, temp views over the raw
  Parquet, results written as Parquet; no catalog, no hashing): the floor the Spark
  engine is compared with.
Spark's cold start is timed apart. Prints a Markdown table and writes JSON
(bench/results/scale_out.json). ``--smoke``: 300 invoices, and only the steps of
``+trusted.albums`` and ``+trusted.artists`` (2 captures, 2 models) on every side, no
warm-up pass: every path of the script in a few minutes; not figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

SMOKE_SELECT = ["+trusted.albums", "+trusted.artists"]
SPARK = '[engine]\ntype = "spark"\nmaster = "local[2]"\nconf = { "spark.driver.memory" = "2g" }\n'


def _project(directory: Path, store: Path, blocks: dict[str, str]) -> Path:
    from batchlake.demo.scaffold import create_project

    shutil.rmtree(directory, ignore_errors=True)
    create_project(directory, example="chinook")
    (directory / "data").mkdir(exist_ok=True)
    os.link(store, directory / "data" / "chinook.sqlite")
    config = directory / "batchlake.toml"
    text = config.read_text()
    for table, block in blocks.items():
        pattern = re.compile(rf"^\[{table}\]\n(?:(?!\[).*\n)*", re.MULTILINE)
        text = pattern.sub(block.rstrip("\n") + "\n\n", text, count=1)
    config.write_text(text)
    return directory


def _run(project: Path, select: list[str] | None) -> dict[str, Any]:
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    runner = Runner(Lake.open(project))
    # Captures and SQL models: plain PySpark runs only the SQL, and the Python steps
    # (KMeans over every customer, the forecast) are measured by the analytics tests.
    dag = runner.build_dag()
    steps = [name for name in dag.select(select) if not name.startswith("python.")]
    clock = time.perf_counter()
    result = runner.run(steps)
    total = time.perf_counter() - clock
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status != "success"][:3]
    return {
        "run_seconds": total,
        "ingest_seconds": sum(s.seconds for s in result.steps if s.kind == "ingest"),
        # SQL models only: plain PySpark runs the same SQL; Python steps are timed apart.
        "models_seconds": sum(s.seconds for s in result.steps if _is_sql_model(s)),
        "python_steps_seconds": sum(
            s.seconds for s in result.steps if s.kind == "model" and not _is_sql_model(s)
        ),
        "per_model": {s.name: s.seconds for s in result.steps if s.kind == "model"},
        "engines": {s.name: s.engine for s in result.steps if s.kind == "model"},
    }


def _is_sql_model(step: Any) -> bool:
    return bool(step.kind == "model" and not step.name.startswith("python."))


def _plain_pyspark(project: Path, out: Path, select: list[str] | None) -> dict[str, Any]:
    """The models' SQL run by hand on the shared session: no catalog, no hashing."""
    from batchlake.config import EngineSettings
    from batchlake.engines.spark import spark_session
    from batchlake.engines.spark_sql import to_spark_sql, view_name
    from batchlake.lake import Lake
    from batchlake.run.runner import Runner
    from batchlake.transform.models import Model

    lake = Lake.open(project)
    spark = spark_session(EngineSettings(type="spark", master="local[2]"))
    dag = Runner(lake).build_dag()
    views: dict[str, str] = {}
    for source, entity in lake.metadata.raw_entities():
        name = f"raw.{source}.{entity}"
        files = [b.path for b in lake.metadata.batches(source, entity) if b.path]
        spark.read.parquet(*files).createOrReplaceTempView(view_name(name))
        views[name] = view_name(name)
    shutil.rmtree(out, ignore_errors=True)
    per_model = {}
    clock = time.perf_counter()
    for name in dag.select(select):
        node = dag.nodes[name]
        if node.kind != "model" or not isinstance(node.model, Model):
            continue  # captures, and Python steps (timed apart)
        start = time.perf_counter()
        target = str(out / name)
        spark.sql(to_spark_sql(node.model.sql, views)).write.parquet(target)
        spark.read.parquet(target).createOrReplaceTempView(view_name(name))
        views[name] = view_name(name)
        per_model[name] = time.perf_counter() - start
    return {"models_seconds": time.perf_counter() - clock, "per_model": per_model}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=None, help="default 200,000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-scale-bench"))
    parser.add_argument("--output", type=Path, default=Path("bench/results/scale_out.json"))
    parser.add_argument("--smoke", action="store_true", help="300 invoices: a check, not figures")
    args = parser.parse_args(argv)
    if args.invoices is None:
        args.invoices = 300 if args.smoke else 200_000
    select = SMOKE_SELECT if args.smoke else None

    from batchlake.demo.generator import generate

    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    store = work / f"chinook-{args.invoices}-{args.seed}.sqlite"
    if not store.exists():
        stats = generate(store, invoices=args.invoices, seed=args.seed)
        print(f"generated {stats.invoice_lines:,} invoice lines in {stats.seconds:.1f}s")
    import sqlite3

    with sqlite3.connect(store) as db:
        lines = db.execute("SELECT count(*) FROM InvoiceLine").fetchone()[0]

    results: dict[str, Any] = {
        "invoices": args.invoices,
        "invoice_lines": lines,
        "smoke": args.smoke,
        "select": select or "all",
    }
    print(f"store: {args.invoices:,} invoices, {lines:,} invoice lines")

    results["duckdb_local"] = _run(_project(work / "duckdb", store, {}), select)
    print(f"duckdb local: {results['duckdb_local']['run_seconds']:.1f}s")

    from batchlake.config import EngineSettings
    from batchlake.engines.spark import spark_session

    clock = time.perf_counter()
    spark_session(EngineSettings(type="spark", master="local[2]"))
    results["spark_cold_start_seconds"] = time.perf_counter() - clock
    # A first plain run warms the JVM (JIT, class loading), so neither side pays for it.
    results["plain_pyspark_warmup_seconds"] = 0.0
    if not args.smoke:
        warm = _plain_pyspark(work / "duckdb", work / "plain-pyspark", select)
        results["plain_pyspark_warmup_seconds"] = warm["models_seconds"]
        print(f"plain pyspark (warm-up): {warm['models_seconds']:.1f}s")
    spark_project = _project(work / "spark", store, {"engine": SPARK})
    results["spark_engine"] = _run(spark_project, select)
    print(f"spark engine: {results['spark_engine']['run_seconds']:.1f}s")
    results["plain_pyspark"] = _plain_pyspark(spark_project, work / "plain-pyspark", select)
    print(f"plain pyspark: {results['plain_pyspark']['models_seconds']:.1f}s")

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["BENCH_S3_KEY"], os.environ["BENCH_S3_SECRET"] = "bench", "bench"
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench-lake")
        storage = (
            '[storage]\nroot = "s3://bench-lake/chinook"\n'
            f'endpoint = "{endpoint}"\nregion = "us-east-1"\npath_style = true\n'
            'access_key_id_env = "BENCH_S3_KEY"\nsecret_access_key_env = "BENCH_S3_SECRET"\n'
        )
        results["duckdb_s3"] = _run(
            _project(work / "duckdb-s3", store, {"storage": storage}), select
        )
        print(f"duckdb on s3 (moto): {results['duckdb_s3']['run_seconds']:.1f}s")
    finally:
        server.stop()

    d, sp, pl, s3 = (
        results["duckdb_local"],
        results["spark_engine"],
        results["plain_pyspark"],
        results["duckdb_s3"],
    )
    rows = [
        ["DuckDB engine, local disk", d["run_seconds"], d["ingest_seconds"], d["models_seconds"],
         d["python_steps_seconds"]],
        ["DuckDB engine, S3 (moto)", s3["run_seconds"], s3["ingest_seconds"], s3["models_seconds"],
         s3["python_steps_seconds"]],
        ["Spark engine local[2], local disk", sp["run_seconds"], sp["ingest_seconds"],
         sp["models_seconds"], sp["python_steps_seconds"]],
        ["plain PySpark, same SQL (no catalog)", None, None, pl["models_seconds"], None],
    ]  # fmt: skip
    ratios = {
        "spark_engine_models_over_plain_pyspark": sp["models_seconds"] / pl["models_seconds"],
        "spark_engine_models_over_duckdb_models": sp["models_seconds"] / d["models_seconds"],
        "duckdb_s3_run_over_local_run": s3["run_seconds"] / d["run_seconds"],
        "duckdb_s3_models_over_local_models": s3["models_seconds"] / d["models_seconds"],
    }
    results["ratios"] = ratios
    lines_md = [
        f"Chinook generated: {args.invoices:,} invoices, {lines:,} invoice lines; "
        f"Spark cold start {results['spark_cold_start_seconds']:.1f}s and a warm-up plain "
        f"PySpark pass ({results['plain_pyspark_warmup_seconds']:.1f}s) not in the figures.",
        "",
        f"| run | whole run (s) | captures (s) | {len(pl['per_model'])} SQL models (s) "
        "| Python steps (s) |",
        "|---|---|---|---|---|",
    ]

    def cell(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}"

    for label, *values in rows:
        lines_md.append(f"| {label} | " + " | ".join(cell(v) for v in values) + " |")
    lines_md += ["", "| ratio | value |", "|---|---|"]
    lines_md += [f"| {k.replace('_', ' ')} | {v:.2f}x |" for k, v in ratios.items()]
    table = "\n".join(lines_md)
    print()
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    args.output.with_suffix(".md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
