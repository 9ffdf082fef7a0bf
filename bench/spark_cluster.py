"""The Chinook pipeline on a Spark standalone cluster (master + workers on 127.0.0.1).

    python bench/spark_cluster.py [--invoices 300] [--seed 7] [--workers 2]
                                  [--narrow] [--workdir /tmp/batchlake-spark-cluster]
                                  [--output FILE] [--smoke]

Starts the cluster from pyspark's own launcher classes (as
tests/integration/test_spark_cluster.py does), builds the generated Chinook project on
DuckDB and on the cluster (`master = "spark://127.0.0.1:PORT"`), compares the 26 tables
(columns, types, rows, content hashes) and prints the times: cluster start, each build,
the slowest steps, and the load average, since the figures mean little on a busy machine.
`--narrow` uses the test's narrowed KMeans search (k 2..3, 2 starts) instead of the
example's (k 2..8, 10 starts). Results: bench/results/spark_cluster.json (`--output`).
`--select` builds only some steps on both engines (runner selectors, repeatable) and
compares the tables they wrote. `--smoke`: 100 invoices, one worker, only
`+trusted.albums` and `+trusted.artists` (2 captures, 2 models): a check that the script
and the cluster run (it needs Java), in a few minutes at most; not figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results" / "spark_cluster.json"
SMOKE_SELECT = ("+trusted.albums", "+trusted.artists")


def _differences(duck: Any, spark: Any) -> list[str]:
    """Tables of a partial build that differ (columns, rows or content hash)."""
    from tests.support.scale_helpers import table_rows_by_files

    from batchlake.catalog import PROP_CONTENT

    names = duck.catalog.table_names()
    if names != spark.catalog.table_names():
        return [f"tables: {names} vs {spark.catalog.table_names()}"]
    found = []
    for name in names:
        if table_rows_by_files(duck, name) != table_rows_by_files(spark, name):
            found.append(f"{name}: columns or rows differ")
        content = (lake.catalog.info(name).properties.get(PROP_CONTENT) for lake in (duck, spark))
        if len(set(content)) != 1:
            found.append(f"{name}: content hashes differ")
    return found


def _steps(lake: Any) -> list[tuple[str, float]]:
    run = lake.metadata.runs()[0]
    steps = [
        (s["step"], (s["finished_at"] - s["started_at"]).total_seconds())
        for s in lake.metadata.steps(run["run_id"])
    ]
    return sorted(steps, key=lambda s: -s[1])


def _print_table(result: dict[str, Any]) -> None:
    """The figures as a plain table (the JSON holds the same and more)."""
    rows = [
        ("invoices", f"{result['invoices']:,}"),
        ("workers", str(result["workers"])),
        ("KMeans search", result["kmeans"]),
        (
            "steps built",
            result["select"] if isinstance(result["select"], str) else ", ".join(result["select"]),
        ),
        ("DuckDB build s", f"{result['duckdb_seconds']:.1f}"),
        ("cluster start s", f"{result['cluster_start_seconds']:.1f}"),
        ("cluster build s", f"{result['cluster_seconds']:.1f}"),
        ("tables identical", "yes" if result["identical"] else "NO"),
        (
            "load average before / after",
            f"{result['load_average_before'][0]:.1f} / {result['load_average_after'][0]:.1f}",
        ),
    ] + [(f"slow step: {name}", f"{seconds:.1f} s") for name, seconds in result["slowest_steps"]]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=None, help="default 300")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=None, help="default 2")
    parser.add_argument("--narrow", action="store_true", help="the test's KMeans search")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-spark-cluster"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--select", action="append", default=None, help="steps to build (default: all)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="100 invoices, 1 worker, narrow: a check"
    )
    args = parser.parse_args(argv)
    if args.invoices is None:
        args.invoices = 100 if args.smoke else 300
    if args.workers is None:
        args.workers = 1 if args.smoke else 2
    args.narrow = args.narrow or args.smoke
    if args.smoke and args.select is None:
        args.select = list(SMOKE_SELECT)

    from tests.integration.test_engine_parity import _assert_identical
    from tests.integration.test_spark_cluster import (
        SEGMENTS,
        cluster_engine,
        standalone_cluster,
    )
    from tests.support.scale_helpers import chinook_project, generated_source

    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    os.environ["PYSPARK_PYTHON"] = sys.executable
    work = args.workdir / time.strftime("%Y%m%dT%H%M%S")
    (work / "logs").mkdir(parents=True)
    source = generated_source(work, invoices=args.invoices, seed=args.seed)
    extra = {"python.customer_segments": SEGMENTS} if args.narrow else {}
    result: dict[str, Any] = {
        "invoices": args.invoices,
        "workers": args.workers,
        "kmeans": "k 2..3, 2 starts" if args.narrow else "k 2..8, 10 starts",
        "smoke": args.smoke,
        "select": args.select or "all",
        "load_average_before": os.getloadavg(),
    }

    def build(project: Path) -> tuple[Any, float]:
        started = time.perf_counter()
        lake = Lake.open(project)
        run = Runner(lake).run(args.select)
        assert run.ok, [(s.name, s.message) for s in run.steps if s.status != "success"][:3]
        return lake, time.perf_counter() - started

    duck, result["duckdb_seconds"] = build(chinook_project(work / "duckdb", source, extra=extra))
    started = time.perf_counter()
    with standalone_cluster(work / "logs", args.workers) as cluster:
        result["cluster_start_seconds"] = time.perf_counter() - started
        project = chinook_project(
            work / "spark", source, extra={**extra, "engine": cluster_engine(cluster.master_url)}
        )
        spark, result["cluster_seconds"] = build(project)
    result["slowest_steps"] = _steps(spark)[:8]
    if args.select:
        differences = _differences(duck, spark)
        result["identical"] = not differences
        if differences:
            result["differences"] = "\n".join(differences)
    else:
        try:
            _assert_identical(duck, spark)
            result["identical"] = True
        except AssertionError as exc:
            result["identical"] = False
            result["differences"] = str(exc)
    result["load_average_after"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    _print_table(result)
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
