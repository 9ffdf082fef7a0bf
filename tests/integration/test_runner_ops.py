"""Runner under faults: retries of transient errors, timeouts, resume, parallel captures."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

from batchlake.lake import Lake
from batchlake.run.runner import Runner, StepResult
from batchlake.transform.models import Node
from tests.conftest import require_service
from tests.support.cli import batchlake
from tests.support.faults import FlakyProxy
from tests.support.opsproject import CUSTOMERS, make_project


def run_settings(**values: object) -> str:
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    return "[run]\n" + "\n".join(lines) + "\n"


def add_crm(root: Path) -> str:
    db = sqlite3.connect(root / "crm.sqlite")
    db.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
    db.executemany("INSERT INTO notes VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    db.commit()
    db.close()
    return '[sources.crm]\ntype = "sql"\nurl = "sqlite:///crm.sqlite"\n\n'


def count(root: Path, table: str) -> int:
    db = sqlite3.connect(root / "shop.sqlite")
    (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    db.close()
    return int(n)


def test_a_missing_sqlite_file_is_not_retried(tmp_path: Path) -> None:
    # A file that is not there does not come back by waiting: no retry (issue 16). What
    # may pass is retried: see test_a_postgresql_source_unreachable_for_two_attempts_then_back.
    root = make_project(tmp_path / "lake", run_settings(retries=3, retry_backoff_seconds=0.01))
    lake = Lake.open(root)
    assert Runner(lake).run().ok
    shutil.move(root / "shop.sqlite", root / "away.sqlite")  # the source goes away
    delays: list[float] = []
    result = Runner(lake, sleep=delays.append).run()
    assert delays == []
    steps = {s["step"]: s for s in lake.metadata.steps(result.run_id)}
    assert steps["raw.shop.customers"]["attempts"] == 1
    assert "shop.sqlite does not exist" in steps["raw.shop.customers"]["message"]
    assert [b.rows for b in lake.metadata.batches("shop", "customers")] == [len(CUSTOMERS)]


def test_permanent_errors_are_not_retried(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake", run_settings(retries=3, retry_backoff_seconds=0.01))
    (root / "models" / "refined" / "broken.sql").write_text(
        "SELECT no_such_column FROM trusted.orders"
    )
    delays: list[float] = []
    result = Runner(Lake.open(root), sleep=delays.append).run()
    status = {s.name: s.status for s in result.steps}
    assert status["refined.broken"] == "failed" and status["refined.revenue"] == "success"
    assert delays == []
    (step,) = [
        s for s in Lake.open(root).metadata.steps(result.run_id) if s["step"] == "refined.broken"
    ]
    assert step["attempts"] == 1
    assert "no_such_column" in step["message"] and "Traceback" in step["traceback"]
    shown = batchlake("runs", result.run_id, "-p", str(root), "--traceback")
    assert "refined.broken" in shown.stderr and "Traceback (most recent call last)" in shown.stderr


def test_a_step_past_its_timeout_is_interrupted_and_the_rest_carries_on(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake", run_settings(step_timeout_seconds=5, retries=2))
    (root / "models" / "refined" / "slow.sql").write_text(
        "SELECT count(*) AS n FROM range(1000000000) AS a(x), range(100000) AS b(y) "
        "WHERE (x + y) % 7 = 3"
    )
    result = Runner(Lake.open(root)).run()
    status = {s.name: s for s in result.steps}
    assert status["refined.slow"].status == "failed"
    assert "timed out after 5s" in (status["refined.slow"].message or "")
    assert "left running" not in (status["refined.slow"].message or "")  # DuckDB interrupted
    assert status["refined.slow"].attempts == 1  # a hang is not retried
    assert status["refined.revenue"].status == "success"
    assert not Lake.open(root).catalog.exists("refined.slow")


def test_resume_reruns_only_what_failed_or_was_skipped(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    lake_dir.mkdir()
    root = make_project(lake_dir, add_crm(lake_dir) + run_settings(retries=0))
    shutil.move(root / "shop.sqlite", root / "away.sqlite")
    first = Runner(Lake.open(root)).run()
    status = {s.name: s.status for s in first.steps}
    assert status == {
        "raw.crm.notes": "success",
        "raw.shop.customers": "failed",
        "raw.shop.orders": "failed",
        "trusted.customers": "upstream_failed",
        "trusted.orders": "upstream_failed",
        "refined.revenue": "upstream_failed",
    }
    shutil.move(root / "away.sqlite", root / "shop.sqlite")
    out = batchlake("run", "-p", str(root), "--resume", first.run_id[:12])
    lake = Lake.open(root)
    second = lake.metadata.runs(1)[0]
    assert second["resumed_from"] == first.run_id and second["status"] == "success"
    redone = {s["step"]: s["status"] for s in lake.metadata.steps(second["run_id"])}
    assert set(redone) == set(status) - {"raw.crm.notes"}
    assert set(redone.values()) == {"success"}
    assert len(lake.metadata.batches("crm", "notes")) == 1  # not captured twice
    assert "success" in out.stderr
    again = batchlake("run", "-p", str(root), "--resume", "nope", check=False)
    assert again.returncode == 1 and "no run 'nope' to resume" in again.stderr


class ThreadRecorder:
    def __init__(self) -> None:
        self.threads: dict[str, str] = {}

    def step_started(self, node: Node, position: int, total: int) -> None:
        self.threads[node.name] = threading.current_thread().name

    def rows_read(self, node: Node, rows: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


def test_sources_are_captured_in_parallel_threads(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    lake_dir.mkdir()
    root = make_project(lake_dir, add_crm(lake_dir) + run_settings(concurrency=4))
    recorder = ThreadRecorder()
    lake = Lake.open(root)
    result = Runner(lake, recorder).run()
    assert result.ok
    threads = recorder.threads
    # One thread per source; a source's entities share it; models run in the caller's.
    assert threads["raw.shop.customers"] == threads["raw.shop.orders"]
    assert threads["raw.crm.notes"] != threads["raw.shop.customers"]
    assert threads["raw.crm.notes"].startswith("batchlake-capture")
    assert threads["refined.revenue"] == threading.current_thread().name
    assert [b.rows for b in lake.metadata.batches("crm", "notes")] == [3]
    assert [b.rows for b in lake.metadata.batches("shop", "orders")] == [count(root, "orders")]


def test_a_postgresql_source_unreachable_for_two_attempts_then_back(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_runner_shop")
        conn.execute("CREATE DATABASE ops_runner_shop")
    url = "postgresql://postgres@127.0.0.1:5432/ops_runner_shop"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int, email text, tier text, joined timestamp)")
        conn.execute("CREATE TABLE orders (id int, customer_id int, amount float8)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s)", CUSTOMERS)
    with FlakyProxy(("127.0.0.1", 5432)) as proxy:
        proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/ops_runner_shop"
        root = make_project(
            tmp_path / "lake",
            run_settings(retries=3, retry_backoff_seconds=0.01),
            source_url=proxied,
        )
        lake = Lake.open(root)
        assert Runner(lake).run(["raw.shop.*"]).ok
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO customers VALUES (5, 'ed@x.io', 'gold', '2024-07-01')")
        proxy.down = True  # the server cannot be reached
        delays: list[float] = []

        def sleep(seconds: float) -> None:
            delays.append(seconds)
            if len(delays) == 2:
                proxy.down = False

        result = Runner(lake, sleep=sleep).run(["raw.shop.*"])
        assert proxy.refused >= 2
    assert result.ok, [(s.name, s.message) for s in result.steps]
    attempts = {s["step"]: s["attempts"] for s in lake.metadata.steps(result.run_id)}
    assert attempts["raw.shop.customers"] == 3
    assert [b.rows for b in lake.metadata.batches("shop", "customers")] == [4, 5]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_runner_shop")


def test_a_source_that_stays_down_uses_its_retries_once(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_runner_down")
        conn.execute("CREATE DATABASE ops_runner_down")
    url = "postgresql://postgres@127.0.0.1:5432/ops_runner_down"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int, email text, tier text, joined timestamp)")
        conn.execute("CREATE TABLE orders (id int, customer_id int, amount float8)")
    with FlakyProxy(("127.0.0.1", 5432)) as proxy:
        proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/ops_runner_down"
        root = make_project(
            tmp_path / "lake",
            run_settings(retries=2, retry_backoff_seconds=0.01),
            source_url=proxied,
        )
        lake = Lake.open(root)
        assert Runner(lake).run(["raw.shop.*"]).ok
        proxy.down = True  # and stays down
        delays: list[float] = []
        result = Runner(lake, sleep=delays.append).run()
    attempts = {s["step"]: s["attempts"] for s in lake.metadata.steps(result.run_id)}
    assert delays == [0.01, 0.02]  # the first entity's retries; the second fails at once
    assert sorted(a for step, a in attempts.items() if step.startswith("raw.")) == [1, 3]
    assert {s.name: s.status for s in result.steps}["refined.revenue"] == "upstream_failed"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_runner_down")


def test_a_capture_past_its_timeout_stops_and_leaves_no_file(tmp_path: Path) -> None:
    """A slow API (one page a second, without end) is stopped at its next page."""
    import json
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served: list[float] = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(time.monotonic())
            time.sleep(1.0)
            body = json.dumps([{"id": len(served), "name": "x"}] * 10).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(
        'name = "slow"\n'
        + run_settings(step_timeout_seconds=3, retries=0)
        + f'[sources.api]\ntype = "rest"\nbase_url = "http://127.0.0.1:{server.server_port}"\n'
        '[sources.api.endpoints.items]\npath = "/items"\n'
        'paginator = { type = "page", page_param = "page", page_size = 10 }\n'
    )
    try:
        result = Runner(Lake.open(root)).run()
        ended = time.monotonic()
        time.sleep(2.5)  # a capture left running would keep asking for pages
    finally:
        server.shutdown()
        server.server_close()
    (step,) = result.steps
    assert step.status == "failed" and "timed out after 3s" in (step.message or "")
    assert "left running" not in (step.message or "")
    assert not [t for t in served if t > ended]
    assert Lake.open(root).metadata.batches("api", "items") == []
    assert not [p for p in (root / "lake").rglob("*") if p.is_file() and "raw" in p.parts]


def test_a_capture_that_cannot_be_interrupted_still_ends_the_command_cleanly(
    tmp_path: Path,
) -> None:
    """A database call that does not return (pg_sleep) is left behind; exit code 1, no abort."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(
        'name = "stuck"\n'
        + run_settings(step_timeout_seconds=2, retries=0)
        + '[sources.pg]\ntype = "sql"\nurl = "postgresql://postgres@127.0.0.1:5432/postgres"\n'
        "tables = []\n[sources.pg.queries.sleepy]\n"
        'sql = "SELECT pg_sleep(30) AS slept"\n'
    )
    result = batchlake("run", "-p", str(root), check=False)
    assert result.returncode == 1  # not 134: the interpreter did not abort on the thread
    assert "timed out after 2s" in result.stderr and "left running" in result.stderr
