"""Run history from the metadata database, and starting a run (operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query

from batchlake.errors import NotFoundError
from batchlake.serve.deps import Context, Operator, Reader
from batchlake.serve.schemas import ErrorBody, RunDetail, RunIn, RunOut, RunStarted, StepOut

router = APIRouter(prefix="/runs", tags=["runs"])


def _seconds(row: dict[str, Any]) -> float | None:
    start: datetime | None = row.get("started_at")
    end: datetime | None = row.get("finished_at")
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def run_out(row: dict[str, Any]) -> RunOut:
    return RunOut(
        run_id=row["run_id"],
        command=row["command"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        seconds=_seconds(row),
        error=row["error"],
    )


def step_out(row: dict[str, Any]) -> StepOut:
    return StepOut(
        step=row["step"],
        kind=row["kind"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        seconds=_seconds(row),
        rows=row["rows_out"],
        bytes=row["bytes"],
        rows_inserted=row.get("rows_inserted"),
        rows_updated=row.get("rows_updated"),
        rows_deleted=row.get("rows_deleted"),
        snapshot_id=row["snapshot_id"],
        message=(row["message"] or "").splitlines()[0] if row["message"] else None,
    )


@router.get("", response_model=list[RunOut])
def list_runs(ctx: Context, _: Reader, limit: int = Query(20, ge=1, le=500)) -> list[RunOut]:
    """Recent runs, newest first."""
    return [run_out(r) for r in ctx.lake.metadata.runs(limit)]


@router.get(
    "/{run_id}",
    response_model=RunDetail,
    responses={404: {"model": ErrorBody, "description": "no run with this id or prefix"}},
)
def run_detail(run_id: str, ctx: Context, _: Reader) -> RunDetail:
    """One run (by id or unique prefix) with its steps: durations, rows, errors."""
    found = ctx.lake.metadata.run(run_id)
    if found is None and ctx.runs.starting(run_id):
        # Started a moment ago; the runner records it once it holds the project's lock.
        return RunDetail(
            run_id=run_id,
            command="serve",
            status="starting",
            started_at=None,
            finished_at=None,
            seconds=None,
            error=None,
            steps=[],
        )
    if found is None:
        why = ctx.runs.errors.get(run_id)
        raise NotFoundError(
            f"run {run_id} did not start: {why}" if why else f"no run '{run_id}'; GET /api/v1/runs"
        )
    steps = [step_out(s) for s in ctx.lake.metadata.steps(found["run_id"])]
    return RunDetail(**run_out(found).model_dump(), steps=steps)


@router.post(
    "",
    response_model=RunStarted,
    status_code=202,
    responses={
        403: {"model": ErrorBody, "description": "the key is not an operator key"},
        409: {"model": ErrorBody, "description": "a run is in progress"},
    },
)
def start_run(ctx: Context, _: Operator, body: RunIn | None = None) -> RunStarted:
    """Start a pipeline run in the background (one at a time per project)."""
    body = body or RunIn()
    run_id = ctx.runs.start(body.select, body.full_refresh)
    return RunStarted(run_id=run_id)
