"""Rendering tabular results: a rich table for people, CSV or JSON for programs.

Data goes to stdout only; everything else (progress, notes, errors) goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from batchlake.serve.encode import json_value

if TYPE_CHECKING:
    import pyarrow as pa


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# Piped output is not cut to 80 columns: tables keep one line per row where they can.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def print_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: Format,
    *,
    title: str | None = None,
) -> None:
    """Print plain Python rows in the chosen format."""
    if fmt is Format.json:
        data = [dict(zip(columns, (json_value(v) for v in row), strict=True)) for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif fmt is Format.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
    else:
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        stdout.print(table)


def print_arrow(reader: pa.RecordBatchReader, fmt: Format, *, max_rows: int | None) -> int:
    """Stream an Arrow result to stdout; return the number of rows printed."""
    columns = reader.schema.names
    if fmt is Format.csv:
        import pyarrow.csv as pacsv

        count = 0
        with pacsv.CSVWriter(sys.stdout.buffer, reader.schema) as writer:
            for batch in _limited(reader, max_rows):
                writer.write_batch(batch)
                count += batch.num_rows
        sys.stdout.buffer.flush()
        return count
    if fmt is Format.json:
        count = 0
        sys.stdout.write("[")
        for batch in _limited(reader, max_rows):
            for record in batch.to_pylist():
                sys.stdout.write(("," if count else "") + "\n  ")
                sys.stdout.write(json.dumps(json_value(record), ensure_ascii=False))
                count += 1
        sys.stdout.write("\n]\n" if count else "]\n")
        return count
    rows: list[tuple[Any, ...]] = []
    for batch in _limited(reader, max_rows):
        data = batch.to_pydict()
        rows += list(zip(*(data[c] for c in columns), strict=True)) if columns else []
    print_rows(columns, rows, fmt)
    return len(rows)


def _limited(reader: pa.RecordBatchReader, max_rows: int | None) -> Iterable[pa.RecordBatch]:
    remaining = max_rows
    for batch in reader:
        if remaining is None:
            yield batch
            continue
        if remaining <= 0:
            return
        yield batch.slice(0, remaining)
        remaining -= min(remaining, batch.num_rows)
