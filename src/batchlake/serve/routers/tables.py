"""The catalog: every table, and one table's schema, layout (kind, partition spec,
watermark), snapshots, lineage and quality."""

from __future__ import annotations

from fastapi import APIRouter

from batchlake.errors import NotFoundError
from batchlake.serve.context import ServeContext, quality_results
from batchlake.serve.deps import Context, Reader
from batchlake.serve.layout import TableLayout, table_layout
from batchlake.serve.listing import Entry
from batchlake.serve.schemas import (
    Column,
    ErrorBody,
    SnapshotOut,
    TableDetail,
    TableSummary,
    WatermarkOut,
)

router = APIRouter(prefix="/tables", tags=["tables"])


def _summary(e: Entry) -> TableSummary:
    return TableSummary(
        zone=e.zone,
        name=e.name,
        full_name=e.full_name,
        rows=e.rows,
        columns=len(e.columns),
        snapshot=e.snapshot,
        updated_at=e.updated_at,
    )


def find_entry(ctx: ServeContext, zone: str, name: str) -> Entry:
    entry = ctx.listing.find(f"{zone}.{name}")
    if entry is None:
        raise NotFoundError(
            f"no table {zone}.{name} in the lake; GET /api/v1/tables lists them "
            "(raw entities are /tables/raw/<source>.<entity>)"
        )
    return entry


@router.get("", response_model=list[TableSummary])
def list_tables(ctx: Context, _: Reader, zone: str | None = None) -> list[TableSummary]:
    """Every table: zone, name, rows, columns, snapshot, updated at."""
    return [_summary(e) for e in ctx.listing.entries() if zone is None or e.zone == zone]


@router.get(
    "/{zone}/{name}",
    response_model=TableDetail,
    response_model_by_alias=True,
    responses={404: {"model": ErrorBody, "description": "no such table"}},
)
def table_detail(zone: str, name: str, ctx: Context, _: Reader) -> TableDetail:
    """Schema, kind, partition spec, watermark, snapshots (time travel), lineage
    (upstream, downstream), quality results."""
    entry = find_entry(ctx, zone, name)
    snapshots: list[SnapshotOut] = []
    layout: TableLayout | None = None
    if zone != "raw":
        layout = table_layout(ctx.lake.catalog.load(entry.full_name))
        snapshots = [
            SnapshotOut(
                snapshot_id=str(s.snapshot_id),
                committed_at=s.committed_at,
                operation=s.operation,
                rows=s.rows,
                run_id=s.run_id,
            )
            for s in reversed(ctx.lake.catalog.snapshots(entry.full_name))
        ]
    upstream = [] if zone == "raw" else entry.upstream
    return TableDetail(
        **_summary(entry).model_dump(),
        kind=layout.kind if layout else None,
        partition_by=layout.partition_by if layout else [],
        watermark=[
            WatermarkOut(input=w.input, type=w.type, consumed=w.consumed)
            for w in (layout.watermark if layout else [])
        ],
        schema=[Column(name=n, type=t) for n, t in entry.columns],
        snapshots=snapshots,
        upstream=upstream,
        downstream=ctx.listing.downstream(entry.full_name),
        quality=quality_results(ctx.lake, entry.full_name),
    )
