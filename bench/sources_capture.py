"""On-demand benchmark: capturing a PostgreSQL and a MariaDB table to raw Parquet.

    python bench/sources_capture.py [--rows 1000000,5000000] [--databases pg,my]
                                    [--repeat 1] [--workdir /tmp/batchlake-bench-capture]
                                    [--quiet-wait 120] [--quiet-threshold 20]
                                    [--slow-limit 180] [--smoke]

For each size and database, a table ``bench_<rows>`` (integer, bigint, text,
numeric(12,2), timestamp, boolean) in the database ``batchlake_bench`` is made
server-side once (``_capture_db.py``) and then captured to Parquet, side by side, by:

1. batchlake: ``python -m batchlake ingest <db>.bench_<rows> -p DIR`` on a fresh project
   (a real first capture), then the same command again (unchanged data: a duplicate);
2. the floor: ConnectorX Arrow stream + ``pyarrow.parquet.ParquetWriter``;
3. DuckDB's scanner with ``COPY ... TO parquet`` (reference: batchlake's PostgreSQL reader);
4. ``pandas.read_sql`` + ``to_parquet``; 5. a DB-API cursor writing JSON Lines;
6. dlt's ``sql_database`` source (pyarrow backend) to a filesystem destination.

Every contender is a child process measured by ``_measure.run_measured`` (wall, CPU, peak
RSS of the process tree, contention). batchlake's raw Parquet is checked once per size
against the server's row count, exact sum of the numeric column and count of true
booleans. Results: ``bench/results/sources_capture.json`` and a ``.md`` beside it.
``--smoke``: 2,000-row tables, no waiting, dlt only if installed, warm runs of batchlake
and the floor only (a check that the benchmark runs, not figures). See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _capture_db, _capture_lake, _capture_report, _report
from bench import core_pipeline as core

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CONTENDERS = ("floor", "duckdb", "pandas", "cursor", "dlt")
SLOW = ("pandas", "cursor", "dlt")  # measured at a larger size only if predicted quick enough
WARMUP_ROWS = 1_000  # the warm-process runs first capture a table this small
WARM_DEFAULT = "batchlake,floor,pandas"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000,5000000", help="table sizes, comma-separated")
    parser.add_argument("--databases", default="pg,my", help="pg (PostgreSQL), my (MariaDB)")
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help="besides batchlake, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=1, help="repeats; figures are medians")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-bench-capture"))
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each measurement, wait up to this many seconds for a quiet machine",
    )
    parser.add_argument(
        "--quiet-threshold", type=float, default=20.0, help="'quiet': CPU use below this %%"
    )
    parser.add_argument(
        "--slow-limit",
        type=float,
        default=180.0,
        help="skip pandas/cursor/dlt at a size where their smaller-size run predicts more "
        "seconds than this",
    )
    parser.add_argument("--no-recapture", action="store_true", help="skip the second capture")
    parser.add_argument(
        "--warm",
        default=WARM_DEFAULT,
        help="also time these in a warm process (libraries loaded, as in the scheduler); "
        "'' for none",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "sources_capture.json")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: summarize the samples in --output again and rewrite its tables",
    )
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, no waiting: a check")
    args = parser.parse_args(argv)
    if args.smoke:
        import importlib.util

        args.rows, args.quiet_wait, args.repeat = "2000", 0.0, 1
        if args.warm == WARM_DEFAULT:  # one warm run of each kind: batchlake's, a contender's
            args.warm = "batchlake,floor"
        if importlib.util.find_spec("dlt") is None:  # an optional contender
            args.contenders = ",".join(c for c in _csv(args.contenders) if c != "dlt")
    return args


def _predicted_seconds(
    done: dict[str, list[dict[str, Any]]], who: str, rows: int
) -> tuple[float, int] | None:
    """Wall seconds `who` would take at `rows`, scaled linearly from the largest size run."""
    measured = [(int(size), s[who]) for size, samples in done.items() for s in samples if who in s]
    if not measured:
        return None
    size, figures = max(measured, key=lambda item: item[0])
    return figures["wall_seconds"] * rows / size, size


def one_repeat(
    db: str,
    rows: int,
    index: int,
    args: argparse.Namespace,
    skip: dict[str, str],
    say: Any,
) -> tuple[dict[str, Any], Path]:
    """Every contender once on one table; returns the sample and batchlake's project."""
    work = args.workdir.resolve() / f"{db}-{rows}" / f"repeat-{index}"
    logs = work / "logs"
    if work.exists():  # outputs of an earlier run would be counted again (dlt appends)
        shutil.rmtree(work)
    project = _capture_lake.fresh_project(work / "project", rows, _csv(args.databases))
    server: dict[str, float] = {}  # label -> database servers' CPU seconds meanwhile

    def measure(label: str, argv: list[str], logs: Path, env: dict[str, str] | None) -> Any:
        before = _capture_db.server_cpu_seconds()
        m = core._measured(label, argv, logs, env)
        server[label] = _capture_db.server_cpu_seconds() - before
        return m

    say(f"[{db} {rows:,} #{index}] batchlake ingest (fresh project) ...")
    sample = _capture_lake.capture(
        measure, project, db, rows, logs, recapture=not args.no_recapture
    )
    for who, label in (
        ("batchlake", f"batchlake-{db}"),
        ("batchlake_recapture", f"batchlake-{db}-again"),
    ):
        if who in sample:
            sample[who]["server_cpu_seconds"] = server[label]
    for who in _csv(args.contenders):
        if who in skip:
            continue
        say(f"[{db} {rows:,} #{index}] {who} ...")
        spec = {
            "contender": who,
            "db": db,
            "table": _capture_db.table_name(rows),
            "out_dir": str(work / f"{who}-out"),
        }
        before = _capture_db.server_cpu_seconds()  # _script waits for quiet, then measures
        sample[who] = core._script("_capture_contenders.py", who, spec, work, logs)
        sample[who]["server_cpu_seconds"] = _capture_db.server_cpu_seconds() - before
        if sample[who]["rows"] != rows:
            raise RuntimeError(f"{who} wrote {sample[who]['rows']:,} rows, expected {rows:,}")
        shutil.rmtree(work / f"{who}-out")  # up to 0.8 GB (JSON Lines at 5M rows): not kept
    for who in _csv(args.warm):
        say(f"[{db} {rows:,} #{index}] {who}, warm process ...")
        sample[f"{who}_warm"] = _warm(who, db, rows, work, logs, args)
    return sample, project


def _warm(
    who: str, db: str, rows: int, work: Path, logs: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One warm-process measurement: a warm-up on the 1,000-row table, then the real one."""
    table, warmup_table = _capture_db.table_name(rows), _capture_db.table_name(WARMUP_ROWS)
    if who == "batchlake":
        databases = _csv(args.databases)
        spec = {
            "db": db,
            "table": table,
            "warmup_table": warmup_table,
            "project": str(_capture_lake.fresh_project(work / "warm", rows, databases)),
            "warmup_project": str(
                _capture_lake.fresh_project(work / "warm-up", WARMUP_ROWS, databases)
            ),
        }
        found = core._script("_capture_warm.py", "batchlake-warm", spec, work, logs)
    else:
        spec = {"contender": who, "db": db, "table": table, "warmup_table": warmup_table,
                "out_dir": str(work / f"{who}-warm-out")}  # fmt: skip
        found = core._script("_capture_contenders.py", f"{who}-warm", spec, work, logs)
        shutil.rmtree(work / f"{who}-warm-out")
    if found["rows"] != rows:
        raise RuntimeError(f"{who} (warm) wrote {found['rows']:,} rows, expected {rows:,}")
    return found


def _src_state() -> str:
    """The git tree of src/ plus a hash of its uncommitted changes: the code children run.

    batchlake is installed editable, so an edit or a commit touching src/ during the run
    changes the code measured; comparing this at the start and the end reveals it
    (commits that touch only other folders leave it unchanged).
    """
    diff = _report._git("diff", "HEAD", "--", "src") or ""
    untracked = _report._git("ls-files", "--others", "--exclude-standard", "--", "src") or ""
    changes = hashlib.sha256((diff + untracked).encode()).hexdigest()[:12]
    tree = (_report._git("rev-parse", "HEAD:src") or "")[:12]
    return f"src tree {tree}+{changes}"


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for package in ("connectorx", "dlt", "sqlalchemy", "psycopg", "pymysql"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _publish(results: dict[str, Any], output: Path) -> int:
    """Summary, JSON, Markdown beside it, terminal tables; 2 if a verification failed."""
    results["summary"] = _capture_report.summarize(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str))
    markdown = output.with_suffix(".md")
    markdown.write_text(_capture_report.markdown(results))
    _capture_report.print_tables(results)
    print(f"wrote {output} and {markdown}", file=sys.stderr)
    verification = results["verification"]
    wrong = [f"{db} {n}" for db, v in verification.items() for n, c in v.items() if not c["equal"]]
    if wrong:
        print(f"verification FAILED for: {', '.join(wrong)}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.report_only:
        return _publish(json.loads(args.output.read_text()), args.output)
    core.QUIET.update(wait=args.quiet_wait, threshold=args.quiet_threshold)
    sizes = sorted(int(n) for n in _csv(args.rows))
    databases = _csv(args.databases)
    started = time.time()
    src_at_start = _src_state()

    def say(text: str) -> None:
        print(f"{time.time() - started:7.1f}s  {text}", file=sys.stderr, flush=True)

    _capture_db.ensure_databases()
    if _csv(args.warm):
        for db in databases:
            _capture_db.ensure_table(db, WARMUP_ROWS, say)
    tables: dict[str, dict[str, Any]] = {db: {} for db in databases}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {db: {} for db in databases}
    verification: dict[str, dict[str, Any]] = {db: {} for db in databases}
    skipped: dict[str, dict[str, dict[str, str]]] = {db: {} for db in databases}
    for rows in sizes:
        made = {db: _capture_db.ensure_table(db, rows, say) for db in databases}  # all first:
        for db in databases:  # the project names every database's table of this size
            # The checksum query scans the whole table: it also warms the server's caches
            # before the first contender, so no contender pays for a cold read alone.
            server = _capture_db.server_stats(db, rows)
            tables[db][str(rows)] = {
                **made[db], "server": server, "table_bytes": _capture_db.table_bytes(db, rows)
            }  # fmt: skip
            skip: dict[str, str] = {}
            for who in SLOW:
                predicted = _predicted_seconds(samples[db], who, rows)
                if predicted is not None and predicted[0] > args.slow_limit:
                    skip[who] = (
                        f"not run: {predicted[0]:.0f} s predicted from {predicted[1]:,} rows "
                        f"(> {args.slow_limit:.0f} s); see that size"
                    )
            if skip:
                skipped[db][str(rows)] = skip
            runs = []
            for index in range(1, args.repeat + 1):
                sample, project = one_repeat(db, rows, index, args, skip, say)
                runs.append(sample)
                if index == 1:
                    verification[db][str(rows)] = _capture_lake.verify(
                        project, db, rows, sample["batchlake"]["run_id"], server
                    )
                    verdict = "equal" if verification[db][str(rows)]["equal"] else "DIFFERENT"
                    say(f"[{db} {rows:,}] batchlake raw Parquet vs server: {verdict}")
                if index < args.repeat:  # keep the last repeat's project, for profiling
                    shutil.rmtree(project, ignore_errors=True)
            samples[db][str(rows)] = runs

    results: dict[str, Any] = {
        "benchmark": "sources_capture",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/sources_capture.py " + " ".join(sys.argv[1:]),
        "params": {**{k: str(v) for k, v in vars(args).items()}, "sizes": sizes},
        "machine": _report.machine_info(),
        "versions": _versions(),
        "tables": tables,
        "samples": samples,
        "verification": verification,
        "skipped": skipped,
    }
    results["seconds_benchmark"] = time.time() - started
    results["src_state"] = {"start": src_at_start, "end": _src_state()}
    if results["src_state"]["start"] != results["src_state"]["end"]:
        say(f"WARNING: src/ changed during the run: {results['src_state']}")
    return _publish(results, args.output)


if __name__ == "__main__":
    sys.exit(main())
