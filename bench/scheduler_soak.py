"""On-demand soak: the scheduler capturing from a PostgreSQL that fails 20% of connections.

    python bench/scheduler_soak.py [--minutes 30] [--period 60] [--failure-rate 0.2]
                                   [--workdir /tmp/batchlake-soak] [--json PATH]
                                   [--database ops_soak] [--smoke]

A table `events` in the database `ops_soak` grows by a few rows every second (a writer
thread). A project captures it incrementally (cursor `id`) through a TCP proxy that drops
each new connection with probability `--failure-rate` (so a capture attempt, which opens
one or more connections, fails somewhat more often than that). The real
`batchlake scheduler` process runs a pipeline `every = --period` seconds with retries and
a webhook alert channel pointing at a local receiver, for `--minutes`; then it gets
SIGTERM.

Reported: on-time start (lateness = start - scheduled time, p50/p99/max), fires by
outcome, runs lost (fires due but with no record: must be 0), retries, alerts received,
rows captured vs rows in the source (duplicates and losses: must be 0), and the
scheduler's RSS over time. Results: the table on stdout and JSON (bench/results/).
`--smoke`: 20 seconds, a fire every 3 s, in the database `<database>_smoke` (a check that
the soak runs, not figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make `bench` and `tests` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import psycopg
from tests.support.faults import FlakyProxy
from tests.support.receivers import webhook_receiver

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "ops_soak"  # --database
URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"


def use_database(name: str) -> None:
    """Soak in another database (the smoke run's own, so as not to disturb a real soak)."""
    global DATABASE, URL
    DATABASE, URL = name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def prepare_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (id bigserial PRIMARY KEY, payload text, "
            "created_at timestamp DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO events (payload) SELECT md5(g::text) FROM generate_series(1, 10000) g"
        )


def writer(stop: threading.Event) -> None:
    """A few new rows every second, as a live system would."""
    with psycopg.connect(URL, autocommit=True) as conn:
        while not stop.wait(1.0):
            conn.execute(
                "INSERT INTO events (payload) SELECT md5(random()::text) FROM generate_series(1, 5)"
            )


def write_project(root: Path, port: int, period: float, hook: str) -> None:
    root.mkdir(parents=True)
    (root / "models" / "trusted").mkdir(parents=True)
    (root / "batchlake.toml").write_text(
        f"""name = "soak"

[run]
retries = 3
retry_backoff_seconds = 1

[sources.pg]
type = "sql"
url = "postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
tables = ["events"]

[sources.pg.entities.events]
mode = "incremental"
cursor = "id"

[pipelines.capture]
select = ["raw.pg.*"]
every = {period}

[alerts.chat]
type = "webhook"
url = "{hook}"
reminder = "10m"
"""
    )


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--period", type=float, default=60, help="seconds between fires")
    parser.add_argument("--failure-rate", type=float, default=0.2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batchlake-soak"))
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "scheduler_soak.json"
    )
    parser.add_argument("--database", default=DATABASE, help="PostgreSQL database to soak in")
    parser.add_argument("--smoke", action="store_true", help="20 s, a fire every 3 s: a check")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.period, args.database = 20 / 60, 3.0, f"{args.database}_smoke"
    use_database(args.database)

    shutil.rmtree(args.workdir, ignore_errors=True)
    prepare_database()
    rng = random.Random(7)
    stop_writer = threading.Event()
    feeder = threading.Thread(target=writer, args=(stop_writer,), daemon=True)
    feeder.start()
    rss: list[tuple[float, float]] = []
    with (
        FlakyProxy(("127.0.0.1", 5432), fail=lambda: rng.random() < args.failure_rate) as proxy,
        webhook_receiver() as (hook, received),
    ):
        root = args.workdir / "lake"
        write_project(root, proxy.port, args.period, hook)
        log = (args.workdir / "scheduler.log").open("wb")
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "batchlake", "scheduler", "-p", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        watched = psutil.Process(process.pid)
        try:
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(5)
                rss.append((time.monotonic() - started, tree_rss(watched) / 2**20))
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(300)
            log.close()
        stop_writer.set()
        feeder.join()
        refused, relayed = proxy.refused, proxy.relayed
    report = collect(root, args, received, rss, code, refused, relayed)
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten: {args.json}")


def collect(
    root: Path,
    args: argparse.Namespace,
    received: list[dict[str, Any]],
    rss: list[tuple[float, float]],
    code: int,
    refused: int,
    relayed: int,
) -> dict[str, Any]:
    db = sqlite3.connect(root / ".batchlake" / "metadata.sqlite")
    fires = db.execute(
        "SELECT scheduled_for, started_at, status, reason FROM pipeline_runs ORDER BY scheduled_for"
    ).fetchall()

    def at(text: str) -> datetime:
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    times = [at(f[0]) for f in fires]
    period = timedelta(seconds=args.period)
    due = int((times[-1] - times[0]) / period) + 1 if times else 0
    lateness = [(at(f[1]) - at(f[0])).total_seconds() for f in fires if f[1] is not None]
    outcomes: dict[str, int] = {}
    for f in fires:
        outcomes[f[2]] = outcomes.get(f[2], 0) + 1
    attempts = [a for (a,) in db.execute("SELECT attempts FROM step_runs") if a]
    batch_rows = db.execute(
        "SELECT coalesce(sum(rows), 0), max(CAST(cursor_to AS INTEGER)) FROM batches "
        "WHERE source = 'pg' AND status = 'written'"
    ).fetchone()
    import duckdb

    files = [p for (p,) in db.execute("SELECT path FROM batches WHERE status = 'written'")]
    captured, distinct = duckdb.sql(
        f"SELECT count(*), count(DISTINCT id) FROM read_parquet({files!r})"
    ).fetchone() or (0, 0)
    with psycopg.connect(URL) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE id <= %s", (batch_rows[1] or 0,)
        ).fetchone()
        source_rows = row[0] if row else 0
    kinds: dict[str, int] = {}
    for hook in received:
        kinds[hook["kind"]] = kinds.get(hook["kind"], 0) + 1
    return {
        "minutes": args.minutes,
        "period_seconds": args.period,
        "failure_rate_per_connection": args.failure_rate,
        "proxy_connections_refused": refused,
        "proxy_connections_relayed": relayed,
        "scheduler_exit_code": code,
        "fires_due": due,
        "fires_recorded": len(fires),
        "runs_lost": due - len(set(times)),
        "outcomes": outcomes,
        "lateness_p50_s": percentile(lateness, 0.5),
        "lateness_p99_s": percentile(lateness, 0.99),
        "lateness_max_s": max(lateness) if lateness else None,
        "step_attempts": len(attempts),
        "retries": sum(a - 1 for a in attempts),
        "alerts_received": kinds,
        "rows_captured": captured,
        "rows_distinct": distinct,
        "rows_in_source_up_to_cursor": source_rows,
        "rows_duplicated": captured - distinct,
        "rows_lost": source_rows - distinct,
        "rss_mb": [(round(t), round(m, 1)) for t, m in rss],
        "rss_first_mb": rss[0][1] if rss else None,
        "rss_max_mb": max(m for _, m in rss) if rss else None,
        "rss_last_mb": rss[-1][1] if rss else None,
        "mean_lateness_s": statistics.fmean(lateness) if lateness else None,
    }


def print_report(report: dict[str, Any]) -> None:
    rows = [
        ("duration", f"{report['minutes']} min, a fire every {report['period_seconds']:g} s"),
        (
            "source faults",
            f"{report['failure_rate_per_connection']:.0%} of connections dropped "
            f"({report['proxy_connections_refused']} of "
            f"{report['proxy_connections_refused'] + report['proxy_connections_relayed']})",
        ),
        ("fires due / recorded", f"{report['fires_due']} / {report['fires_recorded']}"),
        ("runs lost", str(report["runs_lost"])),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(report["outcomes"].items()))),
        (
            "lateness p50 / p99 / max",
            f"{report['lateness_p50_s']:.3f} / {report['lateness_p99_s']:.3f} / "
            f"{report['lateness_max_s']:.3f} s",
        ),
        ("step attempts / retries", f"{report['step_attempts']} / {report['retries']}"),
        (
            "alerts received",
            ", ".join(f"{k} {v}" for k, v in sorted(report["alerts_received"].items())) or "none",
        ),
        (
            "rows captured / in source",
            f"{report['rows_captured']} / {report['rows_in_source_up_to_cursor']} "
            f"(duplicated {report['rows_duplicated']}, lost {report['rows_lost']})",
        ),
        (
            "scheduler RSS first / max / last",
            f"{report['rss_first_mb']:.0f} / {report['rss_max_mb']:.0f} / "
            f"{report['rss_last_mb']:.0f} MB",
        ),
        ("exit code after SIGTERM", str(report["scheduler_exit_code"])),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n| measure | result |\n|---|---|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
