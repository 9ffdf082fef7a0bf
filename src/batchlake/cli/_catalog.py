"""`batchlake catalog`: the list of tables and the description of one."""

from __future__ import annotations

from datetime import datetime

from batchlake.cli._output import Format, print_rows, stderr
from batchlake.lake import Lake
from batchlake.metadata import BatchRecord
from batchlake.serve.layout import TableLayout, table_layout


def _columns(columns: list[tuple[str, str]], fmt: Format) -> str:
    """`name type, ...`: whole for programs, shortened to fit a terminal table for people."""
    text = ", ".join(f"{name} {kind}" for name, kind in columns)
    if fmt is Format.table and len(text) > 60:
        text = text[:57].rsplit(",", 1)[0] + ", …"
    return f"{len(columns)}: {text}"


def _when(value: datetime | None, fmt: Format) -> object:
    if value is None or fmt is not Format.table:
        return value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def list_tables(lake: Lake, fmt: Format) -> None:
    rows: list[tuple[object, ...]] = []
    for raw in lake.raw_info():
        rows.append(
            (
                "raw",
                f"{raw.source}.{raw.entity}",
                raw.rows,
                _columns(raw.columns, fmt),
                raw.last_batch_id,
                _when(raw.updated_at, fmt),
                f"source {raw.source}",
            )
        )
    for name in lake.catalog.table_names():
        info = lake.catalog.info(name)
        rows.append(
            (
                info.zone,
                info.name,
                info.rows,
                _columns(info.columns, fmt),
                str(info.snapshot_id) if info.snapshot_id else None,
                _when(info.updated_at, fmt),
                ", ".join(info.upstream),
            )
        )
    print_rows(
        ["zone", "table", "rows", "columns", "snapshot", "updated_at", "built_from"],
        rows,
        fmt,
        title="tables",
    )
    if fmt is Format.table and not rows:
        stderr.print("the lake is empty: run 'batchlake run' to capture and build it")


def describe_table(lake: Lake, name: str, fmt: Format) -> None:
    downstream = [
        other for other in lake.catalog.table_names() if name in lake.catalog.info(other).upstream
    ]
    if name.startswith("raw."):
        matches = [r for r in lake.raw_info() if r.full_name == name]
        if not matches:
            lake.raw_source(name)  # raises the not-found error with its hint
        raw = matches[0]
        header = {
            "table": name,
            "zone": "raw",
            "rows": raw.rows,
            "batches": raw.batches,
            "last_batch": raw.last_batch_id,
            "updated_at": raw.updated_at,
            "built_from": f"source {raw.source}",
            "used_by": ", ".join(downstream),
        }
        columns = raw.columns
        batches = lake.metadata.batches(raw.source, raw.entity, status=None)
        required = _raw_required(lake, raw.source, raw.entity)
        snapshots: list[tuple[object, ...]] = [
            (b.batch_id, b.finished_at, b.status, b.rows) for b in batches
        ]
        snapshot_columns = ["batch_id", "captured_at", "status", "rows"]
        if any(b.state_path for b in batches):  # a diff entity: what each batch changed
            snapshots = [
                (*row, b.inserted, b.updated, b.deleted)
                for row, b in zip(snapshots, batches, strict=True)
            ]
            snapshot_columns += ["inserted", "updated", "deleted"]
        if any(b.status == "expired" for b in batches):  # raw retention deleted some
            snapshots = [(*row, b.expired_at) for row, b in zip(snapshots, batches, strict=True)]
            snapshot_columns.append("expired_at")
        layout = None
    else:
        table = lake.catalog.load(name)
        info = lake.catalog.info(name, table)
        layout = table_layout(table)
        header = {
            "table": info.full_name,
            "zone": info.zone,
            "kind": layout.kind,
            "partition_by": layout.partition_text,
            "rows": info.rows,
            "snapshot": info.snapshot_id,
            "updated_at": info.updated_at,
            "location": info.location,
            "built_from": ", ".join(info.upstream),
            "used_by": ", ".join(downstream),
        }
        columns = info.columns
        required = {f.name for f in lake.catalog.load(name).schema().fields if f.required}
        snapshots = [
            (s.snapshot_id, s.committed_at, s.operation, s.rows, s.run_id)
            for s in lake.catalog.snapshots(name)
        ]
        snapshot_columns = ["snapshot_id", "committed_at", "operation", "rows", "run_id"]
    if fmt is Format.json:
        import json

        from batchlake.serve.encode import json_value

        print(
            json.dumps(
                json_value(
                    {
                        **header,
                        **(_layout_json(layout) if layout is not None else {}),
                        "columns": [
                            {"name": c, "type": t, "nullable": c not in required}
                            for c, t in columns
                        ],
                        "snapshots": [
                            dict(zip(snapshot_columns, s, strict=True)) for s in snapshots
                        ],
                    }
                ),
                indent=2,
            )
        )
        return
    print_rows(["property", "value"], list(header.items()), fmt, title=name)
    if layout is not None and layout.watermark:  # what an incremental model last consumed
        watermark = [(w.input, w.type, w.consumed) for w in layout.watermark]
        print_rows(["input", "type", "consumed"], watermark, fmt, title="watermark")
    print_rows(
        ["column", "type", "nullable"],
        [(c, t, "no" if c in required else "yes") for c, t in columns],
        fmt,
        title="columns",
    )
    print_rows(
        snapshot_columns, snapshots, fmt, title="snapshots" if name[:4] != "raw." else "batches"
    )


def _layout_json(layout: TableLayout) -> dict[str, object]:
    """The layout in the JSON description: the spec as a list, the watermark per input."""
    return {
        "partition_by": layout.partition_by,
        "watermark": [
            {"input": w.input, "type": w.type, "consumed": w.consumed} for w in layout.watermark
        ],
    }


def _raw_required(lake: Lake, source: str, entity: str) -> set[str]:
    """The NOT NULL columns of a raw entity's latest batch (Parquet `required` fields)."""
    import json

    batches = lake.metadata.batches(source, entity)
    if not batches:
        return set()
    return {c["name"] for c in json.loads(batches[-1].schema_json) if c.get("nullable") is False}


def list_sources(lake: Lake, fmt: Format) -> None:
    """One row per entity of every configured source; a dead source shows its error."""
    from batchlake.capture import open_source
    from batchlake.errors import BatchlakeError

    rows: list[tuple[object, ...]] = []
    for name, settings in lake.settings.sources.items():
        try:
            source = open_source(lake.project, name)
            try:
                entities = [(e, source.describe(e)) for e in source.entities()]
            finally:
                source.close()
        except BatchlakeError as exc:
            rows.append(
                (name, settings.type, "-", "-", "-", "-", "-", "-", 0, f"error: {exc}", None)
            )
            continue
        for entity, described in entities:
            cursor, _ = lake.metadata.entity_state(name, entity)
            batches = lake.metadata.batches(name, entity, status=None)
            written = [b for b in batches if b.status == "written"]
            last = batches[-1] if batches else None
            rows.append(
                (
                    name,
                    settings.type,
                    entity,
                    described.get("reads", ""),
                    described.get("mode", "full"),
                    described.get("cursor", ""),
                    cursor,
                    last.batch_id if last else None,
                    sum(b.rows for b in written),
                    last.status if last else "never captured",
                    _changes(last),
                )
            )
    print_rows(
        [
            "source",
            "type",
            "entity",
            "reads",
            "mode",
            "cursor_field",
            "last_cursor",
            "last_batch",
            "rows",
            "last_status",
            "last_changes",
        ],
        rows,
        fmt,
        title="sources",
    )
    if fmt is Format.table and not rows:
        stderr.print("no sources: add a [sources.NAME] section to batchlake.toml")


def _changes(batch: BatchRecord | None) -> str | None:
    """A diff capture's counts: `+inserted ~updated -deleted`."""
    if batch is None or batch.inserted is None:
        return None
    return f"+{batch.inserted} ~{batch.updated or 0} -{batch.deleted or 0}"
