"""Records of unattended operation: quality results, schedules, pipeline runs, alert state.

A mixin of `MetadataStore` (kept apart so the store's core file stays small).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batchlake.metadata import tables as t
from batchlake.metadata.statuses import AlertState, PipelineRunStatus


class OperationsRecords:
    engine: sa.Engine

    # -- runs ------------------------------------------------------------------------------

    def annotate_run(self, run_id: str, **values: Any) -> None:
        """Set extra columns of a run (pipeline, selection, resumed_from)."""
        with self.engine.begin() as conn:
            conn.execute(t.runs.update().where(t.runs.c.run_id == run_id).values(**values))

    # -- quality ---------------------------------------------------------------------------

    def record_quality(self, rows: list[dict[str, Any]]) -> None:
        """Store check results: dicts with the keys `quality_results` returns."""
        if not rows:
            return
        values = [
            {
                "run_id": r["run_id"],
                "table_name": r["table"],
                "check_name": r["check"],
                "severity": r["severity"],
                "status": r["status"],
                "failing_rows": r["failing_rows"],
                "message": r["message"],
                "checked_at": r["checked_at"],
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            conn.execute(t.quality_results.insert(), values)

    def quality_results(
        self, table: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Check results, newest first, optionally of one table and/or one run."""
        q = t.quality_results
        query = sa.select(q).order_by(q.c.checked_at.desc(), q.c.id.desc())
        if table is not None:
            query = query.where(q.c.table_name == table)
        if run_id is not None:
            query = query.where(q.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [
                {
                    "table": r.table_name,
                    "check": r.check_name,
                    "severity": r.severity,
                    "status": r.status,
                    "failing_rows": r.failing_rows,
                    "message": r.message,
                    "run_id": r.run_id,
                    "checked_at": _aware(r.checked_at),
                }
                for r in conn.execute(query)
            ]

    # -- schedules -------------------------------------------------------------------------

    def last_fire(self, pipeline: str) -> datetime | None:
        """The last scheduled time a pipeline was handled (run, caught up or skipped)."""
        s = t.schedule_state
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(s.c.last_fire_at).where(s.c.pipeline == pipeline)
            ).scalar()
        return _aware(value)

    def account_fires(
        self,
        pipeline: str,
        skipped: list[tuple[datetime, str]],
        latest: datetime,
        status: PipelineRunStatus,
        *,
        after: datetime,
        now: datetime,
        reason: str | None = None,
        run_id: str | None = None,
    ) -> int | None:
        """Claim the fires after `after` up to `latest`: record them and advance the schedule.

        One transaction: a crash leaves either all of it or none of it. The claim is a
        compare-and-set of the schedule's last fire (`after`, as `last_fire` read it), so
        of two schedulers that read the same state only one records the fires, even if
        their pipeline lock failed them (a lease ended under a paused process, clocks
        apart). Returns the id of the latest fire's row, or None when another scheduler
        claimed these fires first.
        """
        p, s = t.pipeline_runs, t.schedule_state
        with self.engine.begin() as conn:
            claimed = conn.execute(
                s.update()
                .where((s.c.pipeline == pipeline) & (s.c.last_fire_at == after))
                .values(last_fire_at=latest, updated_at=now)
            )
            if claimed.rowcount != 1:
                return None
            for fire, why in skipped:
                conn.execute(
                    p.insert().values(
                        pipeline=pipeline, scheduled_for=fire, status="skipped", reason=why
                    )
                )
            result = conn.execute(
                p.insert().values(
                    pipeline=pipeline,
                    scheduled_for=latest,
                    started_at=now if status == "running" else None,
                    status=status,
                    reason=reason,
                    run_id=run_id,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def start_schedule(self, pipeline: str, now: datetime) -> bool:
        """Begin a pipeline's schedule at `now` (nothing is owed before); False if begun."""
        s = t.schedule_state
        try:
            with self.engine.begin() as conn:
                conn.execute(s.insert().values(pipeline=pipeline, last_fire_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    def finish_pipeline_run(
        self,
        row_id: int,
        status: PipelineRunStatus,
        *,
        run_id: str | None,
        reason: str | None = None,
    ) -> None:
        """Record how a fire's run ended; `run_id` None when the run never started."""
        p = t.pipeline_runs
        values: dict[str, Any] = {"status": status, "reason": reason, "run_id": run_id}
        with self.engine.begin() as conn:
            conn.execute(p.update().where(p.c.id == row_id).values(**values))

    def abandon_pipeline_runs(self, pipeline: str) -> int:
        """Mark a pipeline's runs left 'running' as 'killed'; call with its lock held.

        Whoever holds the pipeline's lock runs it, so a row still 'running' then belongs to
        a scheduler that died (its lock expired or its process is gone).
        """
        p = t.pipeline_runs
        with self.engine.begin() as conn:
            result = conn.execute(
                p.update()
                .where((p.c.pipeline == pipeline) & (p.c.status == "running"))
                .values(status="killed", reason="the scheduler died during the run")
            )
        return int(result.rowcount or 0)

    def pipeline_runs(self, pipeline: str | None = None) -> list[dict[str, Any]]:
        p = t.pipeline_runs
        query = sa.select(p).order_by(p.c.scheduled_for, p.c.id)
        if pipeline is not None:
            query = query.where(p.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            return [
                {k: _aware(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                for r in conn.execute(query)
            ]

    # -- monitoring ------------------------------------------------------------------------

    def run_counts(self) -> dict[str, int]:
        """How many runs ended (or are) in each status."""
        r = t.runs
        query = sa.select(r.c.status, sa.func.count()).group_by(r.c.status)
        with self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}

    def latest_steps(self) -> list[dict[str, Any]]:
        """The most recent record of every step (by step name)."""
        s = t.step_runs
        newest = sa.select(sa.func.max(s.c.id)).group_by(s.c.step).scalar_subquery()
        query = sa.select(s).where(s.c.id.in_(newest)).order_by(s.c.step)
        with self.engine.connect() as conn:
            return [
                {k: _aware(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                for r in conn.execute(query)
            ]

    def last_refresh(self) -> dict[str, datetime]:
        """When each step last finished well (success, unchanged or duplicate)."""
        s = t.step_runs
        query = (
            sa.select(s.c.step, sa.func.max(s.c.finished_at))
            .where(s.c.status.in_(("success", "unchanged", "duplicate")))
            .group_by(s.c.step)
        )
        found: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for step, finished in conn.execute(query):
                when = _aware(finished)
                if when is not None:
                    found[step] = when
        return found

    def pipeline_summary(self) -> list[dict[str, Any]]:
        """Per pipeline and status: how many fires, and the last one started."""
        p = t.pipeline_runs
        query = sa.select(
            p.c.pipeline, p.c.status, sa.func.count(), sa.func.max(p.c.started_at)
        ).group_by(p.c.pipeline, p.c.status)
        with self.engine.connect() as conn:
            return [
                {"pipeline": r[0], "status": r[1], "count": int(r[2]), "last": _aware(r[3])}
                for r in conn.execute(query)
            ]

    # -- alerts ----------------------------------------------------------------------------

    def alert_state(self, subject: str) -> dict[str, Any] | None:
        a = t.alert_state
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(a).where(a.c.subject == subject)).first()
        if row is None:
            return None
        return {k: _aware(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}

    def save_alert_state(
        self,
        subject: str,
        state: AlertState,
        changed_at: datetime,
        last_sent_at: datetime | None,
        sent: int,
    ) -> None:
        a = t.alert_state
        values = {
            "state": state,
            "changed_at": changed_at,
            "last_sent_at": last_sent_at,
            "sent": sent,
        }
        with self.engine.begin() as conn:
            if (
                conn.execute(a.update().where(a.c.subject == subject).values(**values)).rowcount
                == 0
            ):
                conn.execute(a.insert().values(subject=subject, **values))


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
