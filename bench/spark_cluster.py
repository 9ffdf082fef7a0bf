"""The Chinook pipeline on a Spark standalone cluster (master + workers on 127.0.0.1).

    python bench/spark_cluster.py [--invoices 300] [--seed 7] [--workers 2]
                                  [--narrow] [--workdir /tmp/batchlake-spark-cluster]

Starts the cluster from pyspark's own launcher classes (as
tests/integration/test_spark_cluster.py does), builds the generated Chinook project on
DuckDB and on the cluster (`master = "spark://127.0.0.1:PORT"`), compares the 26 tables
(columns, types, rows, content hashes) and prints the times: cluster start, each build,
the slowest steps, and the load average, since the figures mean little on a busy machine.
`--narrow` uses the test's narrowed KMeans search (k 2..3, 2 starts) instead of the
example's (k 2..8, 10 starts). Results: bench/results/spark_cluster.json.
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


def _steps(lake: Any) -> list[tuple[str, float]]:
    run = lake.metadata.runs()[0]
    steps = [
        (s["step"], (s["finished_at"] - s["started_at"]).total_seconds())
        for s in lake.metadata.steps(run["run_id"])
    ]
    return sorted(steps, key=lambda s: -s[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--narrow", action="store_true", help="the test's KMeans search")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-spark-cluster"))
    args = parser.parse_args()

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
        "load_average_before": os.getloadavg(),
    }

    def build(project: Path) -> tuple[Any, float]:
        started = time.perf_counter()
        lake = Lake.open(project)
        run = Runner(lake).run()
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
    try:
        _assert_identical(duck, spark)
        result["identical"] = True
    except AssertionError as exc:
        result["identical"] = False
        result["differences"] = str(exc)
    result["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
