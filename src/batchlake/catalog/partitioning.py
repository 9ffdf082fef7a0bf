"""Partition specs: Iceberg transforms of columns, as declared in `partition_by`.

`month(sale_date)`, `day(ts)`, `year(ts)`, `hour(ts)`, `bucket(16, id)`,
`truncate(4, code)` or a bare column (identity). Engines write one partition per file
(each gets the transform's value as a column to split by); `data_files` turns such files
into Iceberg data files with their partition values, so PyIceberg and every Iceberg
reader prune by partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table.metadata import TableMetadata

_TRANSFORM = re.compile(
    r"^\s*(?:(?P<fn>identity|year|month|day|hour|bucket|truncate)\s*\(\s*"
    r"(?:(?P<n>\d+)\s*,\s*)?(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*\)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))\s*$"
)


@dataclass(frozen=True)
class PartitionField:
    """One field of a partition spec: an Iceberg transform of a column."""

    transform: str  # identity, year, month, day, hour, bucket, truncate
    column: str
    param: int | None = None  # bucket count or truncate width

    @property
    def text(self) -> str:
        if self.param is not None:
            return f"{self.transform}({self.param}, {self.column})"
        return f"{self.transform}({self.column})"

    @property
    def name(self) -> str:
        """The partition field's name in the Iceberg spec (Iceberg's own convention)."""
        if self.transform == "identity":
            return self.column
        if self.param is not None:
            return f"{self.column}_{self.transform}_{self.param}"
        return f"{self.column}_{self.transform}"


def parse_partition(text: str, *, where: str = "partition_by") -> PartitionField:
    """`month(sale_date)`, `bucket(16, id)`, `truncate(4, code)` or a bare column name."""
    match = _TRANSFORM.match(text)
    if not match:
        raise ValueError(
            f"{where}: '{text}' is not a partition transform; write a column name or "
            "identity(col), year(col), month(col), day(col), hour(col), bucket(N, col), "
            "truncate(W, col)"
        )
    if match.group("bare"):
        return PartitionField("identity", match.group("bare"))
    fn, n = match.group("fn"), match.group("n")
    if fn in ("bucket", "truncate"):
        if n is None or int(n) < 1:
            raise ValueError(f"{where}: {fn} needs a positive number first, e.g. {fn}(16, col)")
        return PartitionField(fn, match.group("col"), int(n))
    if n is not None:
        raise ValueError(f"{where}: {fn}(col) takes one column, not a number")
    return PartitionField(fn, match.group("col"))


def transform_of(field: PartitionField) -> Any:
    """The PyIceberg transform of a field."""
    from pyiceberg.transforms import parse_transform

    if field.param is not None:
        return parse_transform(f"{field.transform}[{field.param}]")
    return parse_transform(field.transform)


def to_spec(schema: Schema, fields: list[PartitionField]) -> PartitionSpec:
    """The Iceberg partition spec of `fields` over a table's schema."""
    from pyiceberg.partitioning import PARTITION_FIELD_ID_START, PartitionSpec
    from pyiceberg.partitioning import PartitionField as IcebergField

    built = []
    for position, field in enumerate(fields):
        try:
            source = schema.find_field(field.column)
        except ValueError:
            raise ValueError(
                f"partition_by: {field.text} names no column of the result "
                f"({', '.join(f.name for f in schema.fields)})"
            ) from None
        transform = transform_of(field)
        if not transform.can_transform(source.field_type):
            raise ValueError(
                f"partition_by: {field.text} does not apply to {field.column} ({source.field_type})"
            )
        built.append(
            IcebergField(
                source_id=source.field_id,
                field_id=PARTITION_FIELD_ID_START + position,
                transform=transform,
                name=field.name,
            )
        )
    return PartitionSpec(*built)


def fields_of(spec: PartitionSpec, schema: Schema) -> list[PartitionField]:
    """The declared form of an Iceberg spec (to compare with `partition_by`, and show)."""
    found = []
    for field in spec.fields:
        column = schema.find_field(field.source_id).name
        text = str(field.transform)
        match = re.fullmatch(r"(\w+)\[(\d+)\]", text)
        if match:
            found.append(PartitionField(match.group(1), column, int(match.group(2))))
        else:
            found.append(PartitionField(text, column))
    return found


def data_files(
    io: FileIO, metadata: TableMetadata, paths: list[str], *, spec_id: int | None = None
) -> list[DataFile]:
    """Iceberg data files for Parquet files that each hold one partition of the spec.

    Order-preserving transforms get their value from the file's column statistics, as
    PyIceberg's `add_files` does; a bucket's value, and any value the statistics do not
    give (text columns written by DuckDB carry none PyIceberg reads), is computed from
    the file's first non-null value (every row of a file is in one partition by
    construction).
    """
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record

    schema = metadata.schema()
    spec = metadata.spec() if spec_id is None else metadata.specs()[spec_id]
    found = []
    for path in paths:
        input_file = io.new_input(path)
        with input_file.open() as stream:
            parquet = pq.read_metadata(stream)
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=parquet,
            stats_columns=compute_statistics_plan(schema, metadata.properties),
            parquet_column_mapping=parquet_path_to_id_mapping(schema),
        )
        values = []
        for field in spec.fields:
            value = None
            if field.transform.preserves_order:
                value = statistics._partition_value(field, schema)
            if value is None:
                # A bucket, or a column the writer left without statistics PyIceberg
                # reads (DuckDB's text columns): the value of the file's first row.
                value = _first_value_partition(io, path, field, schema)
            values.append(value)
        found.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=path,
                file_format=FileFormat.PARQUET,
                partition=Record(*values),
                file_size_in_bytes=len(input_file),
                sort_order_id=None,
                spec_id=spec.spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )
    return found


def _first_value_partition(io: FileIO, path: str, field: Any, schema: Schema) -> Any:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = schema.find_field(field.source_id)
    with io.new_input(path).open() as stream:
        column = pq.read_table(stream, columns=[source.name]).column(0)
    present = pc.drop_null(column)
    if len(present) == 0:
        return None
    return field.transform.transform(source.field_type)(present[0].as_py())
