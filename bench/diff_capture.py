"""Diff capture vs full capture of one table: time, peak RSS and raw bytes per capture.

    .venv/bin/python bench/diff_capture.py                 # 1,000,000 rows
    .venv/bin/python bench/diff_capture.py --rows 100000   # a quick check
    .venv/bin/python bench/diff_capture.py --smoke         # 2,000 rows: does it run? (CI)

A SQLite table of N rows (id, two texts, an integer, a double, a timestamp) is captured
by two projects, one with `mode = "full"`, one with `mode = "diff"`; then 0.5% of rows are
inserted, 0.1% updated and 0.05% deleted, and both capture again; then both capture the
unchanged table. Each capture is `batchlake ingest` in a child process (cold: imports
included), its peak RSS read from the kernel (wait4). With `--repeat N` the whole sequence
runs N times from scratch; seconds are medians, peak RSS the maximum. Prints a table and
writes JSON. ``--smoke`` (2,000 rows, in ``WORKDIR/smoke``) checks that the script runs;
its figures mean nothing (tests/integration/test_bench_smoke.py runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def make_store(path: Path, rows: int) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, category TEXT, qty INTEGER, "
        "price REAL, updated_at TIMESTAMP)"
    )
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO items SELECT i, 'item number ' || i, 'category ' || (i % 97), i % 13, "
        "(i % 10007) / 7.0, datetime('2024-01-01', '+' || (i % 86400) || ' seconds') FROM n",
        (rows,),
    )
    db.commit()
    db.close()


def change(path: Path, rows: int) -> dict[str, int]:
    inserted, updated, deleted = rows // 200, rows // 1000, rows // 2000
    db = sqlite3.connect(path)
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO items SELECT i, 'new ' || i, 'category 1', 1, 1.5, '2025-01-01' FROM n",
        (rows + 1, rows + inserted),
    )
    db.execute("UPDATE items SET qty = qty + 1 WHERE id % 1000 = 7 AND id <= ?", (rows,))
    db.execute("DELETE FROM items WHERE id % 2000 = 11 AND id <= ?", (rows,))
    db.commit()
    db.close()
    return {"inserted": inserted, "updated": updated, "deleted": deleted}


def make_project(root: Path, store: Path, mode: str) -> Path:
    root.mkdir(parents=True)
    options = 'mode = "diff"\nprimary_key = ["id"]\n' if mode == "diff" else ""
    (root / "batchlake.toml").write_text(
        f'name = "bench"\n[sources.src]\ntype = "sql"\nurl = "sqlite:///{store}"\n'
        f"[sources.src.entities.items]\n{options}"
    )
    return root


def ingest(project: Path) -> dict[str, Any]:
    """One cold `batchlake ingest`: seconds, peak RSS (MB), bytes it added to raw."""
    before = _raw_bytes(project)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "batchlake", "ingest", "src", "-p", str(project)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"ingest failed: {child.stderr.read().decode() if child.stderr else ''}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "raw_bytes_written": _raw_bytes(project) - before,
    }


def _raw_bytes(project: Path) -> int:
    raw = project / "lake" / "raw"
    return sum(p.stat().st_size for p in raw.rglob("*.parquet") if "_state" not in p.parts)


def sequence(workdir: Path, rows: int) -> dict[str, Any]:
    """Both projects: first capture, capture after the changes, capture of the same table."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    store = workdir / "store.sqlite"
    make_store(store, rows)
    projects = {m: make_project(workdir / m, store, m) for m in ("full", "diff")}
    results: dict[str, Any] = {}
    for step in ("first", "changed", "unchanged"):
        if step == "changed":
            results["changes"] = change(store, rows)
        for mode, project in projects.items():
            results[f"{mode}.{step}"] = ingest(project)
    state = projects["diff"] / "lake" / "raw" / "src" / "items" / "_state"
    results["diff.state_bytes"] = sum(p.stat().st_size for p in state.iterdir())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-diff-bench"))
    parser.add_argument("--output", type=Path, default=Path("bench/results/diff_capture.json"))
    parser.add_argument("--smoke", action="store_true", help="2,000 rows: a check, not figures")
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 2_000 if args.smoke else 1_000_000
    if args.smoke:
        args.workdir = args.workdir / "smoke"
    runs = [sequence(args.workdir, args.rows) for _ in range(args.repeat)]
    results: dict[str, Any] = {
        "rows": args.rows,
        "repeat": args.repeat,
        "smoke": args.smoke,
        "runs": runs,
    }
    print(f"{args.rows:,} rows, {args.repeat} repeat(s); changes {runs[0]['changes']}")
    print(f"{'capture':<16}{'seconds':>9}{'peak RSS MB':>13}{'raw bytes':>14}")
    for step in ("first", "changed", "unchanged"):
        for mode in ("full", "diff"):
            found = [r[f"{mode}.{step}"] for r in runs]
            summary = {
                "seconds": statistics.median(f["seconds"] for f in found),
                "peak_rss_mb": max(f["peak_rss_mb"] for f in found),
                "raw_bytes_written": found[0]["raw_bytes_written"],
            }
            results[f"{mode}.{step}"] = summary
            print(
                f"{mode + ' ' + step:<16}{summary['seconds']:>9}{summary['peak_rss_mb']:>13}"
                f"{summary['raw_bytes_written']:>14,}"
            )
    print(f"diff state file: {runs[0]['diff.state_bytes']:,} bytes")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
