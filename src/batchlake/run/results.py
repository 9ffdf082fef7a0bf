"""What a run and its steps report: statuses, rows, bytes, snapshots, messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from batchlake.transform.models import NodeKind
from batchlake.transform.promote import Counts

StepStatus = Literal[
    "success",  # new data committed (or captured)
    "unchanged",  # inputs or result unchanged: no new snapshot
    "duplicate",  # a capture equal to an earlier batch
    "failed",
    "upstream_failed",  # skipped: something it reads failed
    "cancelled",  # not started: the run was stopped
]
RunStatus = Literal["running", "success", "failed", "interrupted"]

DONE: tuple[StepStatus, ...] = ("success", "unchanged", "duplicate")  # not redone on resume
BROKEN: tuple[StepStatus, ...] = ("failed", "upstream_failed", "cancelled")


@dataclass
class StepResult:
    name: str
    kind: NodeKind
    status: StepStatus
    seconds: float = 0.0
    rows: int | None = None
    bytes: int | None = None
    snapshot_id: int | None = None
    message: str | None = None
    rejected: int = 0
    attempts: int = 1
    engine: str | None = None  # the engine that built a model
    counts: Counts | None = None  # incremental models: rows inserted, updated, deleted


@dataclass
class RunResult:
    run_id: str
    status: RunStatus
    seconds: float
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def count(self, status: StepStatus) -> int:
        return sum(1 for s in self.steps if s.status == status)
