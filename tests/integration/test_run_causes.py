"""A run says what is wrong, once: dead sources fail with their cause, selections reach
dependants, only transient errors are retried, and checks belong to what is up to date."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.conftest import require_service
from tests.support.cli import batchlake
from tests.support.faults import FlakyProxy
from tests.support.opsproject import execute, make_project
from tests.support.receivers import webhook_receiver

DEAD = '[sources.broken]\ntype = "sql"\nurl = "sqlite:///missing.sqlite"\ntables = "*"\n\n'
QUICK_RETRIES = "[run]\nretries = 2\nretry_backoff_seconds = 0.01\n\n"


def test_a_dead_new_source_fails_the_run_with_its_cause(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(f'name = "dead"\n\n{DEAD}')
    for command in (["run"], ["run", "--select", "raw.broken.*"], ["ingest", "broken"]):
        out = batchlake(*command, "-p", str(root), check=False)
        assert out.returncode == 1, out.stderr
        assert "nothing to do" not in out.stderr and "matches nothing" not in out.stderr
        assert "raw.broken.*" in out.stderr and "failed" in out.stderr
        assert "the SQLite file" in out.stderr and "missing.sqlite does not exist" in out.stderr
    one = batchlake("ingest", "broken.users", "-p", str(root), check=False)
    assert one.returncode == 1
    assert "source 'broken' could not be listed" in one.stderr
    assert "missing.sqlite does not exist" in one.stderr
    runs = Lake.open(root).metadata.runs(limit=10)
    assert runs and all("missing.sqlite does not exist" in (r["error"] or "") for r in runs)


class Clock:
    """Time that moves only when the scheduler sleeps."""

    def __init__(self) -> None:
        self.current = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.current += timedelta(seconds=max(seconds, 0.001))


def test_the_alert_of_a_dead_source_names_the_cause(tmp_path: Path) -> None:
    from batchlake.run.scheduler import Scheduler

    with webhook_receiver() as (url, hooks):
        root = tmp_path / "lake"
        root.mkdir()
        (root / "batchlake.toml").write_text(
            f'name = "dead"\n\n{DEAD}[pipelines.capture]\nselect = ["raw.broken.*"]\n'
            f'every = "10s"\n\n[alerts.chat]\ntype = "webhook"\nurl = "{url}"\n'
        )
        Scheduler(Lake.open(root), clock=Clock()).serve(max_ticks=2)
        texts = [hook["text"] for hook in hooks]
    assert len(texts) == 1, texts
    assert "FAILED" in texts[0] and "missing.sqlite does not exist" in texts[0]
    assert "matches nothing" not in texts[0]


def test_a_raw_selector_with_plus_selects_what_is_built_from_it(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    lake = Lake.open(root)
    assert Runner(lake).run().ok
    execute(root / "shop.sqlite", "UPDATE customers SET tier = 'gold' WHERE id = 2")
    result = Runner(lake).run(["raw.shop.customers+"])
    assert [s.name for s in result.steps] == [
        "raw.shop.customers",
        "trusted.customers",
        "refined.revenue",
    ]
    assert [s.status for s in result.steps] == ["success"] * 3  # the new batch, rebuilt


def test_errors_that_cannot_pass_are_not_retried(tmp_path: Path) -> None:
    files = (
        '[sources.files]\ntype = "files"\n'
        '[sources.files.entities.events]\npath = "events.csv.gz"\n\n'
    )
    root = make_project(tmp_path / "lake", QUICK_RETRIES + files)
    events = gzip.compress(b"id,kind\n" + b"".join(b"%d,click\n" % i for i in range(5000)))
    (root / "events.csv.gz").write_bytes(events)
    lake = Lake.open(root)
    assert Runner(lake).run().ok

    (root / "events.csv.gz").write_bytes(events[: len(events) // 2])  # truncated gzip
    db = sqlite3.connect(root / "shop.sqlite")  # schema drift: orders.amount becomes text
    db.executescript(
        "ALTER TABLE orders RENAME TO old; CREATE TABLE orders (id INTEGER, "
        "customer_id INTEGER, amount TEXT); INSERT INTO orders SELECT id, customer_id, "
        "'about ' || amount FROM old; DROP TABLE old;"
    )
    db.close()
    delays: list[float] = []
    result = Runner(lake, sleep=delays.append).run()
    failed = {s.name: s for s in result.steps if s.status == "failed"}
    assert set(failed) == {"raw.files.events", "raw.shop.orders"}
    assert "gzip" in (failed["raw.files.events"].message or "")
    assert "schema drift" in (failed["raw.shop.orders"].message or "")
    assert all(s.attempts == 1 for s in failed.values())

    shutil.move(root / "shop.sqlite", root / "away.sqlite")  # a missing SQLite file
    result = Runner(lake, sleep=delays.append).run(["raw.shop.*"])
    assert {s.status for s in result.steps} == {"failed"}
    assert all(s.attempts == 1 for s in result.steps)
    assert "does not exist" in (result.steps[0].message or "")
    assert delays == []  # not one backoff wait in either run


def test_an_unreachable_mongodb_fails_within_its_timeout(tmp_path: Path) -> None:
    """Three collections of one dead server cost one connection timeout, not three, and
    no retry waits: the bound is the three timeouts in series, which a loaded machine's
    overhead on one timeout stays far below."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path / "lake"
    root.mkdir()
    timeout = 3
    collections = "".join(f"[sources.app.collections.{c}]\n" for c in ("a", "b", "c"))
    (root / "batchlake.toml").write_text(
        'name = "m"\n\n[run]\nretries = 2\nretry_backoff_seconds = 2\n\n'
        f'[sources.app]\ntype = "mongo"\nurl = "mongodb://127.0.0.1:{port}"\n'
        f'database = "app"\ntimeout_seconds = {timeout}\n{collections}'
    )
    delays: list[float] = []
    started = time.monotonic()
    result = Runner(Lake.open(root), sleep=delays.append).run()
    elapsed = time.monotonic() - started
    assert [s.status for s in result.steps] == ["failed"] * 3
    assert all("cannot connect" in (s.message or "") for s in result.steps)
    assert delays == []  # an unreachable server is not retried
    assert elapsed < 3 * timeout, f"took {elapsed:.1f}s: more than one {timeout} s timeout"


def test_a_new_or_changed_check_makes_the_model_out_of_date(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake")
    trusted = root / "models" / "trusted"
    (trusted / "orders.toml").write_text('kind = "incremental_by_key"\nunique_key = ["order_id"]\n')
    (trusted / "orders.sql").write_text(
        "SELECT id AS order_id, customer_id, amount FROM raw.shop.orders "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1"
    )
    lake = Lake.open(root)
    assert Runner(lake).run().ok
    failing = '[[check]]\nkind = "row_count"\nmax = 2\n'
    for table in ("customers", "orders"):  # full and incremental_by_key
        (trusted / f"{table}.checks.toml").write_text(failing)
    result = Runner(lake).run()
    status = {s.name: s for s in result.steps}
    for table in ("trusted.customers", "trusted.orders"):
        assert status[table].status == "failed", status[table]
        assert "row_count" in (status[table].message or "")
    assert status["refined.revenue"].status == "upstream_failed"

    for table in ("customers", "orders"):  # changed again: now it passes
        (trusted / f"{table}.checks.toml").write_text('[[check]]\nkind = "row_count"\nmax = 9\n')
    result = Runner(lake).run()
    status = {s.name: s for s in result.steps}
    assert result.ok, [(s.name, s.message) for s in result.steps]
    assert status["trusted.customers"].message != "inputs unchanged"
    assert "quality checks changed" in (status["trusted.orders"].message or "")
    checked = {r["table"] for r in lake.metadata.quality_results(run_id=result.run_id)}
    assert checked == {"trusted.customers", "trusted.orders"}

    again = Runner(lake).run()  # nothing changed since: skipped as before
    assert {s.name: s.message for s in again.steps}["trusted.customers"] == "inputs unchanged"


def test_a_new_source_that_answers_on_a_retry_is_captured_whole(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS run_causes_new")
        conn.execute("CREATE DATABASE run_causes_new")
    url = "postgresql://postgres@127.0.0.1:5432/run_causes_new"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers AS SELECT 1 AS id, 'ada' AS name")
        conn.execute("CREATE TABLE orders AS SELECT 10 AS id, 1 AS customer_id")
    with FlakyProxy(("127.0.0.1", 5432)) as proxy:
        root = tmp_path / "lake"
        root.mkdir()
        (root / "batchlake.toml").write_text(
            f'name = "new"\n\n{QUICK_RETRIES}[sources.shop]\ntype = "sql"\n'
            f'url = "postgresql://postgres@127.0.0.1:{proxy.port}/run_causes_new"\n'
        )
        proxy.down = True  # cannot be listed when the run is planned...

        def sleep(seconds: float) -> None:
            proxy.down = False  # ...and answers during the first backoff

        lake = Lake.open(root)
        result = Runner(lake, sleep=sleep).run()
    (step,) = result.steps
    assert (step.name, step.status, step.attempts) == ("raw.shop.*", "success", 2)
    assert step.message == "listed on a retry; captured customers, orders; attempt 2"
    assert [b.rows for b in lake.metadata.batches("shop", "customers")] == [1]
    assert [b.rows for b in lake.metadata.batches("shop", "orders")] == [1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS run_causes_new")
