"""`batchlake scheduler`: starts each `[pipelines.<name>]` on its cron or interval.

Durable and accountable: the last fire time handled per pipeline is kept in the metadata
database, so a restarted scheduler knows what it missed. Every fire time ends up as one
row of `pipeline_runs`: the run it started (success / failed / interrupted / killed), or
`skipped` with the reason (the scheduler was not running, the previous run was still
going, `catch_up = "skip"`, another run held the project). Missed fires are caught up
with one run (`catch_up = "once"`, the default) or skipped.

One run at a time per pipeline, even across scheduler processes: a lock per pipeline in
the metadata database, renewed while the run lives and taken over when its holder died.
The clock is injectable, so tests run many cycles in no time.

A scheduled `[maintenance]` section is one more schedule, named `maintenance`, accounted
for like a pipeline; its fire runs `batchlake maintain` (snapshot expiry, orphan files,
compaction, raw retention) with the section's options instead of a run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from batchlake.config import MAINTENANCE, PipelineSettings, parse_duration
from batchlake.errors import BatchlakeError, LockError
from batchlake.run.alerts import Alert, Alerter

if TYPE_CHECKING:
    from batchlake.lake import Lake
    from batchlake.run.runner import RunResult

log = logging.getLogger("batchlake.run.scheduler")

LOCK_TTL = timedelta(seconds=60)
BUSY_RETRY = timedelta(seconds=1)  # another scheduler runs the pipeline: look again this often
MAX_MISSED_ROWS = 100  # missed fires recorded one by one; beyond, one summary row


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


# -- schedule arithmetic -------------------------------------------------------------------


def next_fire(pipeline: PipelineSettings, after: datetime) -> datetime:
    """The first fire time strictly after `after` (aware, UTC)."""
    if pipeline.every is not None:
        period = parse_duration(pipeline.every)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        ticks = int((after - epoch).total_seconds() // period) + 1
        return epoch + timedelta(seconds=ticks * period)
    from croniter import croniter

    assert pipeline.cron is not None
    local = after.astimezone(ZoneInfo(pipeline.timezone))
    fire: datetime = croniter(pipeline.cron, local).get_next(datetime)
    return fire.astimezone(UTC)


def fires_between(
    pipeline: PipelineSettings, after: datetime, until: datetime, limit: int
) -> tuple[list[datetime], bool]:
    """Fire times in (after, until], at most `limit` of the earliest plus the latest.

    Returns (times, truncated): when truncated, fires between the listed ones were left out.
    """
    times: list[datetime] = []
    current = after
    while len(times) < limit:
        current = next_fire(pipeline, current)
        if current > until:
            return times, False
        times.append(current)
    latest = _latest_fire(pipeline, until)
    if latest > times[-1]:
        return [*times, latest], next_fire(pipeline, times[-1]) < latest
    return times, False


def _latest_fire(pipeline: PipelineSettings, until: datetime) -> datetime:
    if pipeline.every is not None:
        period = parse_duration(pipeline.every)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return epoch + timedelta(seconds=((until - epoch).total_seconds() // period) * period)
    from croniter import croniter

    local = (until + timedelta(microseconds=1)).astimezone(ZoneInfo(pipeline.timezone))
    fire: datetime = croniter(pipeline.cron, local).get_prev(datetime)
    return fire.astimezone(UTC)


def grace_seconds(pipeline: PipelineSettings, fire: datetime) -> float:
    """How late a fire may start and still count as on time: its period, at most 60 s."""
    period = (next_fire(pipeline, fire) - fire).total_seconds()
    return min(60.0, period)


# -- the scheduler -------------------------------------------------------------------------


class Scheduler:
    """Runs due pipelines of a lake project, one at a time, until `stop` is set."""

    def __init__(
        self,
        lake: Lake,
        *,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        alerter: Alerter | None = None,
        pipelines: list[str] | None = None,
    ) -> None:
        self.lake = lake
        self.clock = clock or SystemClock()
        self.stop = stop or threading.Event()
        self.alerter = alerter or Alerter(lake.settings.alerts, lake.metadata, now=self.clock.now)
        configured = dict(lake.settings.pipelines)
        if lake.settings.maintenance.scheduled:
            configured[MAINTENANCE] = lake.settings.maintenance.schedule()
        unknown = sorted(set(pipelines or []) - set(configured))
        if unknown:
            raise BatchlakeError(
                f"no pipeline {', '.join(unknown)} in batchlake.toml "
                f"(defined: {', '.join(configured) or 'none'}); add [pipelines.<name>]"
            )
        self.pipelines = {n: configured[n] for n in (pipelines or configured)}
        if not self.pipelines:
            raise BatchlakeError(
                "no pipelines to schedule; add e.g. [pipelines.capture] with select = "
                "['raw.*'] and every = '30m' to batchlake.toml (or [maintenance] with cron)"
            )
        self.started_at = self.clock.now()
        self.holder = f"scheduler-{socket.gethostname()}-{os.getpid()}"
        self.runs: list[RunResult] = []
        self._held_elsewhere: dict[str, datetime] = {}  # pipeline -> when to look again

    def serve(self, max_ticks: int | None = None) -> None:
        """Tick until stopped (or `max_ticks` ticks): run what is due, sleep until the next."""
        ticks = 0
        while not self.stop.is_set() and (max_ticks is None or ticks < max_ticks):
            self.tick()
            ticks += 1
            if self.stop.is_set() or (max_ticks is not None and ticks >= max_ticks):
                break
            wake = min(self._next_wake(name) for name in self.pipelines)
            self.clock.sleep(min(60.0, (wake - self.clock.now()).total_seconds()), self.stop)

    def _next_wake(self, name: str) -> datetime:
        last = self.lake.metadata.last_fire(name) or self.clock.now()
        wake = next_fire(self.pipelines[name], last)
        # While another scheduler holds the pipeline, its due fire stays due: without a
        # floor this process would ask for the lock in a tight loop until the run ends.
        return max(wake, self._held_elsewhere.get(name, wake))

    def tick(self) -> None:
        for name in self.pipelines:
            if self.stop.is_set():
                return
            with self._pipeline_lock(name) as held:
                if held:
                    self._held_elsewhere.pop(name, None)
                    self._handle(name)
                else:
                    self._held_elsewhere[name] = self.clock.now() + BUSY_RETRY

    @contextmanager
    def _pipeline_lock(self, name: str) -> Iterator[bool]:
        metadata = self.lake.metadata
        lock = f"pipeline:{name}"
        if metadata.acquire_lock(lock, self.holder, LOCK_TTL) is not None:
            yield False  # another scheduler handles it
            return
        done = threading.Event()

        def renew() -> None:
            while not done.wait(LOCK_TTL.total_seconds() / 3):
                metadata.renew_lock(lock, self.holder, LOCK_TTL)

        keeper = threading.Thread(target=renew, name="batchlake-pipeline-lock", daemon=True)
        keeper.start()
        try:
            yield True
        finally:
            done.set()
            keeper.join()
            metadata.release_lock(lock, self.holder)

    def _handle(self, name: str) -> None:
        """With the pipeline's lock held: account for every fire due; run the latest."""
        pipeline, metadata, now = self.pipelines[name], self.lake.metadata, self.clock.now()
        killed = metadata.abandon_pipeline_runs(name)  # rows left 'running' by a dead holder
        if killed:
            log.warning("pipeline %s: %d run(s) were killed with their scheduler", name, killed)
        last = metadata.last_fire(name)
        if last is None:  # first start: begin with the next fire, nothing is owed
            metadata.start_schedule(name, now)
            return
        due, truncated = fires_between(pipeline, last, now, MAX_MISSED_ROWS)
        if not due:
            return
        latest, missed = due[-1], due[:-1]
        skipped = [(fire, self._why_missed(fire)) for fire in missed]
        if truncated:
            skipped.append(
                (
                    missed[-1] + timedelta(microseconds=1),
                    f"more fires between {missed[-1]:%Y-%m-%d %H:%M:%S} and "
                    f"{latest:%Y-%m-%d %H:%M:%S} UTC were missed (not listed one by one)",
                )
            )
        on_time = (now - latest).total_seconds() <= grace_seconds(pipeline, latest)
        if not on_time and pipeline.catch_up == "skip":
            reason = f"{self._why_missed(latest)}; catch_up = 'skip'"
            claimed = metadata.account_fires(
                name, skipped, latest, "skipped", after=last, now=now, reason=reason
            )
            if claimed is not None:
                self._alert_missed(name, len(missed) + 1, None, truncated)
            return
        from batchlake.run.runner import new_run_id

        # On the fire's row from the start: a killed run is traceable. Maintenance is no run.
        run_id = None if self._is_maintenance(name) else new_run_id()
        row = metadata.account_fires(
            name, skipped, latest, "running", after=last, now=now, run_id=run_id
        )
        if row is None:
            log.warning("pipeline %s: another scheduler claimed the fire first", name)
            return
        if missed or not on_time:
            self._alert_missed(name, len(missed) + (0 if on_time else 1), latest, truncated)
        else:
            self._alert_missed(name, 0, None, False)
        if run_id is None:
            self._maintain(name, row)
        else:
            self._start(name, pipeline, row, run_id)

    def _is_maintenance(self, name: str) -> bool:
        return name == MAINTENANCE and self.lake.settings.maintenance.scheduled

    def _maintain(self, name: str, row: int) -> None:
        """A maintenance fire: `batchlake maintain` with the [maintenance] options."""
        from batchlake.ops.maintenance import Policy, maintain

        settings, metadata = self.lake.settings.maintenance, self.lake.metadata
        policy = Policy(
            retain=timedelta(days=settings.retain_days),
            keep_last=settings.keep,
            grace=timedelta(hours=settings.grace_hours),
            raw_retention=settings.raw_retention,
        )
        log.info("maintenance: starting (fire #%d)", row)
        try:
            reports = maintain(self.lake, policy=policy, compact=settings.compact)
        except LockError as exc:  # a run of the project (another process) holds its lock
            metadata.finish_pipeline_run(
                row, "skipped", run_id=None, reason=f"{exc}; maintenance waits for its next fire"
            )
            return
        except Exception as exc:  # a daemon keeps going; the fire says what failed
            log.exception("maintenance failed")
            metadata.finish_pipeline_run(row, "failed", run_id=None, reason=str(exc))
            self._alert_run(name, None, str(exc))
            return
        expired = sum(r.batches_expired for r in reports)
        summary = (
            f"{expired} raw batch(es) expired ({sum(r.expired_bytes for r in reports)} bytes), "
            f"{sum(r.batches_held for r in reports)} kept for incremental models; "
            f"{sum(r.snapshots_expired for r in reports)} snapshot(s) expired; "
            f"{sum(r.orphans_deleted for r in reports)} orphan file(s) deleted"
        )
        metadata.finish_pipeline_run(row, "success", run_id=None, reason=summary)
        log.info("maintenance: %s", summary)
        self._alert_run(name, None, None)

    def _why_missed(self, fire: datetime) -> str:
        if fire < self.started_at:
            return "missed: the scheduler was not running"
        return "missed: the previous run was still going (one run at a time per pipeline)"

    def _start(self, name: str, pipeline: PipelineSettings, row: int, run_id: str) -> None:
        from batchlake.run.runner import Runner

        metadata = self.lake.metadata
        log.info("pipeline %s: starting its run %s (fire #%d)", name, run_id, row)
        try:
            result = Runner(self.lake, stop=self.stop).run(
                pipeline.select or None,
                full_refresh=pipeline.full_refresh,
                command=f"pipeline {name}",
                wait_seconds=pipeline.lock_wait_seconds,
                pipeline=name,
                run_id=run_id,
            )
        except BatchlakeError as exc:
            started = metadata.run(run_id) is not None  # not when e.g. the run lock was busy
            metadata.finish_pipeline_run(
                row, "failed", run_id=run_id if started else None, reason=str(exc)
            )
            self._alert_run(name, None, str(exc))
            return
        self.runs.append(result)
        failed = [s for s in result.steps if s.status == "failed"]
        reason = "; ".join(f"{s.name}: {s.message}" for s in failed) or None
        if result.status == "interrupted":
            reason = "stopped (SIGTERM) before every step ran; finish it with --resume"
        metadata.finish_pipeline_run(row, result.status, run_id=result.run_id, reason=reason)
        self._alert_quality(name, result)
        if result.status != "interrupted":
            self._alert_run(name, result, reason)

    # -- alerts --------------------------------------------------------------------------

    def _look(self, run_id: str) -> str:
        return f"batchlake runs {run_id} -p {self.lake.project.root}"

    def _alert_run(self, name: str, result: RunResult | None, error: str | None) -> None:
        maintenance = self._is_maintenance(name)
        ok = result.ok if result is not None else maintenance and error is None
        run_id = result.run_id if result is not None else None
        what = "maintenance" if maintenance else f"pipeline '{name}'"
        summary = (
            f"{what} succeeded" + (f" (run {run_id})" if run_id else "")
            if ok
            else f"{what} failed" + (f" (run {run_id})" if run_id else "")
        )
        alert = Alert(
            event="success" if ok else "failure",
            subject=f"pipeline {name}",
            summary=summary,
            detail="" if ok else f"Error: {error}",
            look=self._look(run_id)
            if run_id
            else f"batchlake scheduler --status -p {self.lake.project.root}"
            if maintenance
            else f"batchlake doctor -p {self.lake.project.root}",
            project=self.lake.settings.name,
            pipeline=name,
            run_id=run_id,
        )
        self.alerter.report(alert, failing=not ok, channels=self.pipelines[name].alerts)

    def _alert_quality(self, name: str, result: RunResult) -> None:
        by_table: dict[str, list[dict[str, object]]] = {}
        for row in self.lake.metadata.quality_results(run_id=result.run_id):
            by_table.setdefault(str(row["table"]), []).append(row)
        for table, rows in sorted(by_table.items()):
            failed = [r for r in rows if r["status"] == "fail"]
            detail = "; ".join(f"{r['check']}: {r['message']}" for r in failed)
            alert = Alert(
                event="quality",
                subject=f"quality {table}",
                summary=f"quality gate of {table} failed: not committed (pipeline '{name}')"
                if failed
                else f"quality gate of {table} passes again",
                detail=detail,
                look=f"batchlake quality {table} -p {self.lake.project.root}",
                project=self.lake.settings.name,
                pipeline=name,
                run_id=result.run_id,
            )
            self.alerter.report(alert, failing=bool(failed), channels=self.pipelines[name].alerts)

    def _alert_missed(
        self, name: str, count: int, caught_up: datetime | None, truncated: bool
    ) -> None:
        more = "more than " if truncated else ""
        how = (
            f"; caught up once by the run for {caught_up:%Y-%m-%d %H:%M:%S} UTC"
            if caught_up is not None
            else ""
        )
        alert = Alert(
            event="missed",
            subject=f"schedule {name}",
            summary=f"pipeline '{name}' missed {more}{count} scheduled run(s){how}",
            detail="Reasons are in pipeline_runs (batchlake scheduler --status)",
            look=f"batchlake scheduler --status -p {self.lake.project.root}",
            project=self.lake.settings.name,
            pipeline=name,
        )
        self.alerter.report(alert, failing=count > 0, channels=self.pipelines[name].alerts)
