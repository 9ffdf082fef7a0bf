"""The scheduler on a controllable clock: every fire accounted for, catch-up, alerts."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batchlake.lake import Lake
from batchlake.run.scheduler import Scheduler
from tests.support.opsproject import execute, make_project
from tests.support.receivers import smtp_receiver, webhook_receiver

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """Time moves only when the scheduler sleeps (or the test says so)."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.current += timedelta(seconds=max(seconds, 0.001))

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def pipeline_toml(every: str = "10s", catch_up: str = "once", extra: str = "") -> str:
    return (
        "[run]\nretries = 0\n\n"
        f'[pipelines.capture]\nselect = ["raw.shop.*"]\nevery = "{every}"\n'
        f'catch_up = "{catch_up}"\n\n'
        '[pipelines.build]\nselect = ["trusted.*", "refined.*"]\ncron = "0 22 * * *"\n'
        'timezone = "Asia/Tokyo"\n\n' + extra
    )


def fires(lake: Lake, pipeline: str) -> list[tuple[datetime, str]]:
    return [(r["scheduled_for"], r["status"]) for r in lake.metadata.pipeline_runs(pipeline)]


def test_every_fire_is_accounted_for_across_a_restart(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake", pipeline_toml())
    clock = FakeClock(START)
    lake = Lake.open(root)
    Scheduler(lake, clock=clock, pipelines=["capture"]).serve(max_ticks=6)
    # The first tick only notes the start; each later one runs the fire it woke up for.
    ran = fires(lake, "capture")
    assert ran == [(START + timedelta(seconds=10 * i), "success") for i in range(1, 6)]
    clock.advance(95)  # down from +50 s to +145 s: fires +60 … +140 pass while it is down
    second = Scheduler(Lake.open(root), clock=clock, pipelines=["capture"])
    second.serve(max_ticks=3)
    rows = lake.metadata.pipeline_runs("capture")
    times = [r["scheduled_for"] for r in rows]
    assert sorted(times) == [START + timedelta(seconds=10 * i) for i in range(1, len(rows) + 1)]
    assert len(set(times)) == len(times)  # each fire exactly once
    statuses = [r["status"] for r in rows]
    assert statuses[5:13] == ["skipped"] * 8  # +60 … +130
    assert all(r["reason"] == "missed: the scheduler was not running" for r in rows[5:13])
    assert statuses[13:] == ["success"] * 3  # +140 caught up once, then on time again
    # No data duplicated or lost: one written batch (the first), then duplicates only.
    batches = lake.metadata.batches("shop", "customers", status=None)
    assert [b.status for b in batches] == ["written"] + ["duplicate"] * (len(batches) - 1)
    assert len(batches) == statuses.count("success")


def test_catch_up_skip_skips_a_late_fire_and_cron_runs_in_its_timezone(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake", pipeline_toml(every="1h", catch_up="skip"))
    clock = FakeClock(START + timedelta(minutes=10))
    lake = Lake.open(root)
    scheduler = Scheduler(lake, clock=clock)
    scheduler.tick()  # 12:10 UTC: notes the start
    clock.current = START + timedelta(hours=1, seconds=5)
    scheduler.tick()
    # Capture: every hour from the epoch, 13:00. Build: 22:00 in Tokyo, 13:00 UTC.
    assert fires(lake, "capture") == [(START + timedelta(hours=1), "success")]
    assert fires(lake, "build") == [(START + timedelta(hours=1), "success")]
    clock.advance(3 * 3600 + 1800)  # down until 16:30: the 14:00, 15:00, 16:00 fires pass
    Scheduler(Lake.open(root), clock=clock, pipelines=["capture"]).tick()
    rows = lake.metadata.pipeline_runs("capture")
    assert [(r["scheduled_for"].hour, r["status"]) for r in rows] == [
        (13, "success"),
        (14, "skipped"),
        (15, "skipped"),
        (16, "skipped"),
    ]
    assert rows[-1]["reason"] == "missed: the scheduler was not running; catch_up = 'skip'"


def test_alerts_once_per_change_of_state_with_reminders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_SMTP_PASSWORD", "s3cret")
    with webhook_receiver() as (url, hooks), smtp_receiver(tmp_path) as (port, ca, mails):
        alerts = (
            f'[alerts.chat]\ntype = "webhook"\nurl = "{url}"\nreminder = "25s"\n'
            'on = ["failure", "quality", "missed", "success"]\n\n'
            f'[alerts.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {port}\n'
            'username = "ops"\npassword = "${OPS_SMTP_PASSWORD}"\n'
            f'sender = "lake@example.com"\nto = ["oncall@example.com"]\nca_file = "{ca}"\n'
            'reminder = "1h"\n'
        )
        root = make_project(tmp_path / "lake", pipeline_toml(extra=alerts))
        (root / "models" / "trusted" / "customers.checks.toml").write_text(
            '[[check]]\nkind = "unique"\ncolumns = ["customer_id"]\n'
        )
        if True:
            clock = FakeClock(START)
            lake = Lake.open(root)
            scheduler = Scheduler(lake, clock=clock)
            scheduler.serve(max_ticks=3)  # start, two good captures: chat gets 2 successes
            shutil.move(root / "shop.sqlite", root / "away.sqlite")  # the source goes down
            # Each serve() starts with a tick at the current time (nothing due), then sleeps.
            scheduler.serve(max_ticks=5)  # 4 failed runs at +30, +40, +50, +60 s
            shutil.move(root / "away.sqlite", root / "shop.sqlite")
            scheduler.serve(max_ticks=3)  # back: +70 recovered, +80 success
            # A quality check starts failing: build at 13:00 fails its gate.
            execute(root / "shop.sqlite", "INSERT INTO customers VALUES (1, 'x@y.z', 'gold', NULL)")
            clock.current = START + timedelta(hours=1)
            scheduler.tick()  # 22:00 in Tokyo
    kinds = [(h["subject"], h["kind"]) for h in hooks]
    assert kinds == [
        ("pipeline capture", "success"),
        ("pipeline capture", "success"),
        ("pipeline capture", "alert"),  # +30 s: the first failure
        ("pipeline capture", "reminder"),  # +60 s: 25 s reminder period passed (not +40, +50)
        ("pipeline capture", "recovered"),
        ("pipeline capture", "success"),
        ("schedule capture", "alert"),  # 13:00: the clock jumped over ~350 capture fires
        ("pipeline capture", "success"),  # the catch-up run
        ("quality trusted.customers", "alert"),
        ("pipeline build", "alert"),
    ]
    first = hooks[2]
    assert first["text"].startswith("[batchlake shop] FAILED: pipeline 'capture' failed")
    assert "shop.sqlite does not exist" in first["text"]
    assert f"Look: batchlake runs {first['run_id']}" in first["text"]
    assert "quality trusted.customers" in hooks[8]["subject"]
    assert "unique(customer_id)" in hooks[8]["text"]
    # Mail: failures, quality and missed only, no success mails; the 1 h reminder never came.
    assert [m["subject"].split(": ", 1)[0] for m in mails] == [
        "[batchlake shop] FAILED",
        "[batchlake shop] RECOVERED",
        "[batchlake shop] MISSED",
        "[batchlake shop] FAILED",
        "[batchlake shop] FAILED",
    ]
    assert all(m["tls"] and m["user"] == "ops" for m in mails)
    assert mails[0]["to"] == ["oncall@example.com"]
