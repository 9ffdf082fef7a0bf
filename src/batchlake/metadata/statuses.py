"""The values of the metadata database's `status` columns."""

from __future__ import annotations

from typing import Literal

# runs.status: how a run ended (batchlake.run.results.RunStatus), or "killed" when its
# process died and a later run found it still "running".
RunRecordStatus = Literal["running", "success", "failed", "interrupted", "killed"]

# step_runs.status: how a step ended (batchlake.run.results.StepStatus), "running" while
# it runs, or "killed" with its run.
StepRecordStatus = Literal[
    "running",
    "success",
    "unchanged",
    "duplicate",
    "failed",
    "upstream_failed",
    "cancelled",
    "killed",
]

# batches.status: what a capture did with its data. Only "written" batches hold a file.
BatchStatus = Literal[
    "written",  # a new batch file
    "duplicate",  # the same content as an earlier batch: no file
    "empty",  # no rows: no file
    "unchanged",  # no change: the source reported none (ETag…), or a diff found none
    "expired",  # raw retention deleted its file (0005)
]

# pipeline_runs.status: a scheduled fire, skipped or run (then as its run ended), or
# "killed" when its scheduler died during the run.
PipelineRunStatus = Literal["running", "success", "failed", "interrupted", "skipped", "killed"]

# alert_state.state: whether an alert's subject was failing when last reported.
AlertState = Literal["ok", "failing"]
