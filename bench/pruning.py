"""Reads of one month of a table partitioned by month: pruned against every file.

    .venv/bin/python bench/pruning.py                         # 36 months × 50,000 rows
    .venv/bin/python bench/pruning.py --months 12 --rows-per-month 10000 --repeat 3
    .venv/bin/python bench/pruning.py --smoke                 # 18 months × 500 rows (CI)

Builds a lake whose `trusted.events` (id, day, amount, kind, note) is partitioned by
`month(day)` (a Parquet file captured by a `files` source, the model run by the runner),
then times, for a one-month filter, each way in with and without pruning:

- `Lake.query` (what `batchlake query` runs): `SELECT count(*), sum(amount) ... WHERE day
  in one month`; without pruning = the same SQL with the WHERE translation switched off;
- the REST rows endpoint, first request on a fresh server (the table not yet in memory):
  `day__gte=…&day__lt=…&limit=100`; without pruning = the whole table loaded (as before);
- `lake.table(..., filter=...).to_arrow()`; without = the whole table, filtered in Arrow.

Prints a table (files handed over, median seconds) and writes JSON beside it. ``--smoke``
(18 months of 500 rows, one repeat; the month read is the 18th) checks that the script
runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import machine_info

MODEL = """
SELECT id, day, amount, kind, note FROM raw.gen.events
"""


def build(folder: Path, months: int, per_month: int) -> Path:
    import duckdb

    from batchlake.lake import Lake
    from batchlake.run.runner import Runner

    root = folder / "lake"
    (root / "models" / "trusted").mkdir(parents=True)
    (root / "data").mkdir()
    rows = months * per_month
    duckdb.connect().execute(
        f"""COPY (SELECT i AS id,
                 DATE '2022-01-01' + CAST(floor(i / {per_month} * 30.4) AS INTEGER) AS day,
                 CAST((i * 37) % 100000 / 100 AS DECIMAL(10, 2)) AS amount,
                 ['a', 'b', 'c', 'd'][i % 4 + 1] AS kind,
                 'note ' || (i % 97) AS note
          FROM range({rows}) t(i)) TO '{root / "data" / "events.parquet"}' (FORMAT parquet)"""
    )
    (root / "batchlake.toml").write_text(
        'name = "bench"\n\n[sources.gen]\ntype = "files"\n'
        '[sources.gen.entities.events]\npath = "data/events.parquet"\n',
        encoding="utf-8",
    )
    (root / "models" / "trusted" / "events.sql").write_text(MODEL.strip() + "\n")
    (root / "models" / "trusted" / "events.toml").write_text('partition_by = ["month(day)"]\n')
    result = Runner(Lake.open(root)).run()
    assert result.ok, [(s.name, s.message) for s in result.steps if not s.ok]
    return root


def median_seconds(
    work: Callable[[], Any], repeat: int, context: Callable[[], AbstractContextManager[Any]]
) -> float:
    times = []
    for _ in range(repeat):
        with context():
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(root: Path, repeat: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    import batchlake
    from batchlake.config import ServeSettings
    from batchlake.lake import Lake
    from batchlake.serve import create_app
    from batchlake.serve.reader import TableCache

    lake = Lake.open(root)
    table = lake.catalog.load("trusted.events")
    total_files = len(lake.catalog.data_files(table))
    where = "day >= '2023-06-01' AND day < '2023-07-01'"
    sql = f"SELECT count(*), sum(amount) FROM trusted.events WHERE {where}"
    unpruned_sql = mock.patch("batchlake.lake.pruning.sql_row_filters", lambda s, t: {})
    results: dict[str, Any] = {
        "files_total": total_files,
        "rows": lake.catalog.info("trusted.events").rows,
    }

    (planned,) = lake.plan_query(sql)
    pruned_answer = lake.query_table(sql).to_pylist()
    with unpruned_sql:
        assert lake.query_table(sql).to_pylist() == pruned_answer
    results["query"] = {
        "files_pruned": planned.files_planned,
        "seconds_pruned": median_seconds(lambda: lake.query_table(sql), repeat, nullcontext),
        "seconds_unpruned": median_seconds(
            lambda: lake.query_table(sql), repeat, lambda: unpruned_sql
        ),
        "plan_seconds": median_seconds(lambda: lake.plan_query(sql), repeat, nullcontext),
    }

    url = "/api/v1/tables/trusted/events/rows?day__gte=2023-06-01&day__lt=2023-07-01&limit=100"

    def first_request() -> None:
        app = create_app(root, ServeSettings(), env_keys="reader:bench-key-0123456789abcdef")
        client = TestClient(app, headers={"Authorization": "Bearer bench-key-0123456789abcdef"})
        response = client.get(url)
        assert response.status_code == 200, response.text

    no_pruning = mock.patch.object(TableCache, "pruned", lambda self, version, wanted: version)
    results["rows_endpoint"] = {
        "seconds_pruned": median_seconds(first_request, repeat, nullcontext),
        "seconds_unpruned": median_seconds(first_request, repeat, lambda: no_pruning),
    }

    handle = batchlake.open(root)
    month = handle.table("trusted.events", filter=where.replace("AND", "and"))

    def whole_then_filter() -> None:
        import pyarrow.compute as pc

        data = handle.table("trusted.events").to_arrow()
        day = data.column("day")
        data.filter(
            pc.and_(pc.greater_equal(day, date(2023, 6, 1)), pc.less(day, date(2023, 7, 1)))
        )

    results["python_table"] = {
        "files_pruned": len(month.files()),
        "seconds_pruned": median_seconds(month.to_arrow, repeat, nullcontext),
        "seconds_unpruned": median_seconds(whole_then_filter, repeat, nullcontext),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=None, help="default 36")
    parser.add_argument("--rows-per-month", type=int, default=None, help="default 50,000")
    parser.add_argument("--repeat", type=int, default=None, help="default 5")
    parser.add_argument("--output", type=Path, default=Path("bench/results/pruning.json"))
    parser.add_argument(
        "--smoke", action="store_true", help="18 months × 500 rows, once: a check, not figures"
    )
    args = parser.parse_args(argv)
    smoke = {"months": 18, "rows_per_month": 500, "repeat": 1}
    full = {"months": 36, "rows_per_month": 50_000, "repeat": 5}
    for name, value in (smoke if args.smoke else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    with tempfile.TemporaryDirectory(prefix="batchlake-pruning-") as folder:
        start = time.perf_counter()
        root = build(Path(folder), args.months, args.rows_per_month)
        built = time.perf_counter() - start
        results = measure(root, args.repeat)
    results.update(
        months=args.months,
        rows_per_month=args.rows_per_month,
        repeat=args.repeat,
        smoke=args.smoke,
        build_seconds=round(built, 1),
        machine=machine_info(),
    )
    print(
        f"trusted.events: {results['rows']:,} rows in {results['files_total']} files "
        f"({args.months} months); one month, medians of {args.repeat}:"
    )
    print(f"{'way in':<28}{'files':>10}{'pruned s':>12}{'all files s':>14}{'speed-up':>10}")
    for key, label in (
        ("query", "Lake.query / batchlake query"),
        ("rows_endpoint", "REST rows (first request)"),
        ("python_table", "lake.table(filter=...)"),
    ):
        r = results[key]
        files = r.get("files_pruned", results["query"]["files_pruned"])
        print(
            f"{label:<28}{files:>4} / {results['files_total']:<3}"
            f"{r['seconds_pruned']:>12.3f}{r['seconds_unpruned']:>14.3f}"
            f"{r['seconds_unpruned'] / r['seconds_pruned']:>9.1f}×"
        )
    print(f"planning the query alone: {results['query']['plan_seconds']:.3f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
