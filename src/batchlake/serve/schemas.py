"""Request and response bodies of the API (apart from the domain objects)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from batchlake.metadata.statuses import RunRecordStatus, StepRecordStatus


class ErrorBody(BaseModel):
    error: str = Field(description="What went wrong and what to do next.")
    status: int
    limit: str | None = Field(
        default=None,
        description="The limit a query hit: time, memory, result, sql_bytes or workers.",
    )


class Column(BaseModel):
    name: str
    type: str


class TableSummary(BaseModel):
    zone: str
    name: str
    full_name: str
    rows: int
    columns: int
    snapshot: str | None
    updated_at: datetime | None


class SnapshotOut(BaseModel):
    snapshot_id: str
    committed_at: datetime
    operation: str
    rows: int | None
    run_id: str | None


class WatermarkOut(BaseModel):
    input: str
    type: Literal["raw_batch", "snapshot"]
    consumed: str = Field(description="The last raw batch id, or the snapshot id, consumed.")


class TableDetail(TableSummary):
    kind: str | None = Field(
        description="How the table is built: full, incremental_by_key, incremental_by_time, "
        "append (None for raw entities)."
    )
    partition_by: list[str] = Field(description="The partition spec, e.g. ['month(day)'].")
    watermark: list[WatermarkOut] = Field(
        description="What an incremental table last consumed of each input."
    )
    schema_: list[Column] = Field(alias="schema")
    snapshots: list[SnapshotOut]
    upstream: list[str]
    downstream: list[str]
    quality: list[dict[str, Any]]

    model_config = {"populate_by_name": True}


class QueryIn(BaseModel):
    sql: str = Field(
        description="One SELECT over catalog tables, DuckDB dialect.",
        examples=["SELECT * FROM refined.sales_by_day LIMIT 10"],
    )
    max_rows: int | None = Field(default=None, ge=1, description="At most the server's limit.")
    format: Literal["json", "csv"] = "json"


class QueryOut(BaseModel):
    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    seconds: float


class StepOut(BaseModel):
    step: str
    kind: str
    status: StepRecordStatus
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    rows: int | None
    bytes: int | None
    rows_inserted: int | None = Field(default=None, description="Incremental models only.")
    rows_updated: int | None = None
    rows_deleted: int | None = None
    snapshot_id: str | None
    message: str | None


class RunOut(BaseModel):
    run_id: str
    command: str
    status: RunRecordStatus | Literal["starting"]  # starting: accepted, not recorded yet
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    error: str | None


class RunDetail(RunOut):
    steps: list[StepOut]


class RunIn(BaseModel):
    select: list[str] | None = Field(default=None, description="Steps, as `batchlake run -s`.")
    full_refresh: bool = False


class RunStarted(BaseModel):
    run_id: str
    status: Literal["started"] = "started"
