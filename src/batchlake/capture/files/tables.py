"""JSON Lines, JSON and Parquet files as Arrow batches with their bad rows.

JSON has no header, and records of one file often differ in which keys they carry: a JSON
Lines file is therefore read twice, first to learn every key and the kinds of value it
holds (kept as one column each, in first-seen order), then in chunks to build batches.
Scalars keep their JSON type (a key holding both integers and fractions is DOUBLE, one
holding mixed kinds is text); nested objects and arrays are kept as JSON text.
A JSON document (an array of objects, or an object holding one) is parsed whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchlake.capture import BadRow
from batchlake.capture.files.column_types import conform, drop_rows, plain_schema
from batchlake.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.capture.files.opener import FileInput

CHUNK_ROWS = 10_000
_INT64 = range(-(2**63), 2**63)
_DOUBLE_EXACT = range(-(2**53), 2**53 + 1)  # integers a double holds exactly


class JsonColumns:
    """Keys in first-seen order and the kinds of value each held."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[str]] = {}

    def add(self, record: dict[str, Any]) -> None:
        for key, value in record.items():
            self.kinds.setdefault(key, set()).add(_kind(value))

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(k, _arrow_type(kinds)) for k, kinds in self.kinds.items()])


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if value not in _INT64:
            return "bigint"
        return "int" if value in _DOUBLE_EXACT else "wideint"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "nested"


def _arrow_type(kinds: set[str]) -> pa.DataType:
    import pyarrow as pa

    kinds = kinds - {"null"}
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds and kinds <= {"int", "wideint"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    return pa.string()  # an integer past 2^53 beside fractions stays exact, as its text


def _value(value: Any, type_: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if type_ == pa.string():
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if type_ == pa.float64():
        return float(value)
    return value


def records_batch(records: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    arrays = [
        pa.array([_value(r.get(f.name), f.type) for r in records], type=f.type) for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _found(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


class JsonLinesTable:
    """A JSON Lines file: one object per line; blank lines are allowed."""

    def __init__(self, file: FileInput) -> None:
        self.file = file
        columns = JsonColumns()
        with file.open_binary() as stream:
            for raw in stream:
                if raw.strip():
                    try:
                        value = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        columns.add(value)
        self._own = plain_schema(columns.schema())
        self.columns = self._own.names

    def schema(self) -> pa.Schema:
        return self._own

    def batches(
        self, target: pa.Schema, labels: dict[str, str]
    ) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]:
        records: list[dict[str, Any]] = []
        lines: list[tuple[int, bytes]] = []
        bad: list[BadRow] = []
        with self.file.open_binary() as stream:
            for number, raw in enumerate(stream, start=1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    value = json.loads(line)
                except UnicodeDecodeError:
                    bad.append(BadRow(number, "not valid UTF-8", _text(line)))
                    continue
                except json.JSONDecodeError as exc:
                    reason = f"not valid JSON: {exc.msg} at column {exc.colno}"
                    bad.append(BadRow(number, reason, _text(line)))
                    continue
                if not isinstance(value, dict):
                    reason = f"not a JSON object (found {_found(value)})"
                    bad.append(BadRow(number, reason, _text(line)))
                    continue
                records.append(value)
                lines.append((number, line))
                if len(records) >= CHUNK_ROWS:
                    yield self._batch(records, lines, bad, target, labels)
                    records, lines, bad = [], [], []
        yield self._batch(records, lines, bad, target, labels)

    def _batch(
        self,
        records: list[dict[str, Any]],
        lines: list[tuple[int, bytes]],
        bad: list[BadRow],
        target: pa.Schema,
        labels: dict[str, str],
    ) -> tuple[pa.RecordBatch, list[BadRow]]:
        typed, problems = conform(records_batch(records, self._own), target, labels)
        for index, reasons in problems.items():
            number, line = lines[index]
            bad.append(BadRow(number, "; ".join(reasons), _text(line)))
        bad.sort(key=lambda row: row.line or 0)
        return drop_rows(typed, problems), bad

    def close(self) -> None:
        pass


class JsonTable:
    """A JSON document: an array of objects, or an object holding one such array."""

    def __init__(self, file: FileInput, entity: str) -> None:
        self.file = file
        with file.open_binary() as stream:
            try:
                document = json.load(stream)
            except UnicodeDecodeError:
                raise SourceError(f"{file.name} is not UTF-8 text") from None
            except json.JSONDecodeError as exc:
                hint = "; for one object per line set format = 'jsonl'"
                hint = hint if exc.msg == "Extra data" else ""
                raise SourceError(f"{file.name} is not valid JSON: {exc}{hint}") from None
        columns = JsonColumns()
        self._records: list[tuple[int, dict[str, Any]]] = []
        self._bad: list[BadRow] = []
        for index, item in enumerate(_array_of(document, file.name, entity), start=1):
            if isinstance(item, dict):
                self._records.append((index, item))
                columns.add(item)
            else:
                reason = f"element {index} is not a JSON object (found {_found(item)})"
                self._bad.append(BadRow(None, reason, json.dumps(item, ensure_ascii=False)))
        self._own = plain_schema(columns.schema())
        self.columns = self._own.names

    def schema(self) -> pa.Schema:
        return self._own

    def batches(
        self, target: pa.Schema, labels: dict[str, str]
    ) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]:
        bad, self._bad = self._bad, []
        for start in range(0, max(len(self._records), 1), CHUNK_ROWS):
            chunk = self._records[start : start + CHUNK_ROWS]
            batch = records_batch([record for _, record in chunk], self._own)
            typed, problems = conform(batch, target, labels)
            for index, reasons in sorted(problems.items()):
                element, record = chunk[index]
                raw = json.dumps(record, ensure_ascii=False)
                bad.append(BadRow(None, f"element {element}: {'; '.join(reasons)}", raw))
            yield drop_rows(typed, problems), bad
            bad = []

    def close(self) -> None:
        self._records = []


def _array_of(document: Any, name: str, entity: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        arrays = [key for key, value in document.items() if isinstance(value, list)]
        if len(arrays) == 1:
            return list(document[arrays[0]])
        if entity in arrays:
            return list(document[entity])
        held = f"arrays {', '.join(arrays)}" if arrays else "no array"
        raise SourceError(
            f"{name}: expected an array of objects, or an object holding one array of "
            f"them; found an object holding {held}"
        )
    raise SourceError(f"{name}: expected an array of objects, found {_found(document)}")


class ParquetTable:
    """A Parquet file, read by row groups in batches."""

    def __init__(self, file: FileInput, scratch: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.file = file
        self._path = file.local_copy(scratch)
        try:
            self._parquet = pq.ParquetFile(self._path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{file.name} is not a readable Parquet file: {exc}") from None
        self._own = plain_schema(self._parquet.schema_arrow)
        self.columns = self._own.names

    def schema(self) -> pa.Schema:
        return self._own

    def batches(
        self, target: pa.Schema, labels: dict[str, str]
    ) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]:
        import pyarrow as pa

        seen = 0
        for batch in self._parquet.iter_batches(batch_size=65_536):
            plain = pa.RecordBatch.from_arrays(batch.columns, schema=self._own)
            typed, problems = conform(plain, target, labels)
            bad = []
            for index, reasons in sorted(problems.items()):
                raw = json.dumps(plain.slice(index, 1).to_pylist()[0], default=str)
                bad.append(BadRow(None, f"row {seen + index + 1}: {'; '.join(reasons)}", raw))
            seen += batch.num_rows
            yield drop_rows(typed, problems), bad

    def close(self) -> None:
        self._parquet.close()
        if self._path != self.file.path:
            Path(self._path).unlink(missing_ok=True)
