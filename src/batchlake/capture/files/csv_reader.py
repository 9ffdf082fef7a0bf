"""CSV and TSV files, streamed in blocks, with bad rows found, placed and explained.

pyarrow's streaming CSV reader parses every column as bytes (so no value can make the
reader itself fail); each batch is then decoded as UTF-8 and cast to the capture's types
by `column_types.conform`, which names the rows whose values do not convert. Rows with the
wrong number of fields never reach a batch: pyarrow hands them to `_invalid`, with their
text and their record number.

pyarrow numbers records, not physical lines (a blank line is no record, a quoted value may
span lines), and good rows carry no number at all. So the reader keeps the record number
of its next good row, interleaving the invalid records it was told about, which gives each
bad row its record number; `RecordLocator` then turns record numbers into physical lines
(and the row's exact text) by reading the same data with the `csv` module, once, forward,
and only as far as the last bad row. A file without bad rows is never read twice.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from batchlake.capture import BadRow
from batchlake.capture.files.column_types import (
    cast_checked,
    conform,
    drop_rows,
    infer_text_type,
    null_markers,
)
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from batchlake.capture.files.opener import FileInput
    from batchlake.config import FileEntitySettings

BLOCK_BYTES = 4 << 20  # also the sample from which column types are inferred


class CsvTable:
    """One CSV/TSV file: its columns, inferred types and converted batches."""

    def __init__(
        self, file: FileInput, options: FileEntitySettings, key: str, *, locate: bool
    ) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.file = file
        self._locate = locate
        delimiter = options.delimiter or ("\t" if file.format == "tsv" else ",")
        if len(delimiter) != 1:
            raise ConfigError(f"{key}.delimiter must be one character, not {delimiter!r}")
        self._delimiter = delimiter
        self._read_options = pacsv.ReadOptions(
            use_threads=False,  # records are numbered only by the serial reader
            block_size=BLOCK_BYTES,
            autogenerate_column_names=not options.header,
        )
        self._next_record = 2 if options.header else 1
        self._pending: dict[int, tuple[str, str]] = {}  # record number -> reason, text
        self._unnumbered: list[tuple[str, str]] = []
        self._locator: RecordLocator | None = None
        self.columns = self._probe()
        self._stream = file.open_binary()
        self._reader = pacsv.open_csv(
            self._stream,
            read_options=self._read_options,
            parse_options=self._parse_options(self._invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in self.columns}
            ),
        )
        self._held: pa.RecordBatch | None = None

    def _parse_options(self, handler: Any) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.ParseOptions(
            delimiter=self._delimiter, newlines_in_values=True, invalid_row_handler=handler
        )

    def _probe(self) -> list[str]:
        """The column names (header, or f0, f1... without one)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with self.file.open_binary() as stream:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=self._read_options,
                    parse_options=self._parse_options(lambda row: "skip"),
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    empty = f"{self.file.name} is empty (not even a header row)"
                    raise SourceError(empty) from None
                raise
            names: list[str] = reader.schema.names
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise SourceError(
                f"{self.file.name} names columns more than once ({', '.join(doubled)}); "
                "rename them in the file"
            )
        return names

    def _invalid(self, row: Any) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        if row.number is None:
            self._unnumbered.append((reason, row.text))
        else:
            self._pending[row.number] = (reason, row.text)
        return "skip"

    def _next_batch(self) -> pa.RecordBatch | None:
        if self._held is not None:
            batch, self._held = self._held, None
            return batch
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None

    def schema(self) -> pa.Schema:
        """Types inferred from the first block (`BLOCK_BYTES`) of the file."""
        import pyarrow as pa

        self._held = self._next_batch()
        fields = []
        for name in self.columns:
            if self._held is None:
                fields.append(pa.field(name, pa.string()))
                continue
            text, _ = cast_checked(self._held.column(name), pa.string())
            fields.append(pa.field(name, infer_text_type(null_markers(text))))
        return pa.schema(fields)

    def batches(
        self, target: pa.Schema, labels: dict[str, str]
    ) -> Iterator[tuple[pa.RecordBatch, list[BadRow]]]:
        while (raw := self._next_batch()) is not None:
            yield self._convert(raw, target, labels)
        rest = sorted(self._pending.items())
        self._pending.clear()
        bad = [self._bad_row(number, reason, text) for number, (reason, text) in rest]
        bad += [BadRow(None, reason, text) for reason, text in self._unnumbered]
        if bad:
            yield _empty(target), bad

    def _convert(
        self, raw: pa.RecordBatch, target: pa.Schema, labels: dict[str, str]
    ) -> tuple[pa.RecordBatch, list[BadRow]]:
        import pyarrow as pa

        problems: dict[int, list[str]] = {}
        names, arrays = [], []
        for name in self.columns:
            if name not in target.names:
                continue
            text, undecodable = cast_checked(raw.column(name), pa.string())
            for index in undecodable:
                problems.setdefault(index, []).append(f"column '{name}': not valid UTF-8")
            if target.field(name).type != pa.string():
                text = null_markers(text)
            names.append(name)
            arrays.append(text)
        typed, more = conform(pa.RecordBatch.from_arrays(arrays, names=names), target, labels)
        for index, reasons in more.items():
            problems.setdefault(index, []).extend(reasons)
        segments, invalid = self._take(raw.num_rows)
        found = [
            (_record_of(segments, i), "; ".join(r), self._row_text(raw, i))
            for i, r in problems.items()
        ]
        found += invalid
        found.sort(key=lambda item: item[0])
        return drop_rows(typed, problems), [self._bad_row(*item) for item in found]

    def _take(self, rows: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, str, str]]]:
        """Record numbers of the next `rows` good rows, and the invalid records among them.

        Returns runs (first row index, first record number, length) and invalid records.
        """
        runs: list[tuple[int, int, int]] = []
        invalid: list[tuple[int, str, str]] = []
        done = 0
        while True:
            while self._next_record in self._pending:
                invalid.append((self._next_record, *self._pending.pop(self._next_record)))
                self._next_record += 1
            if done == rows:
                return runs, invalid
            later = [n for n in self._pending if n > self._next_record]
            length = rows - done if not later else min(rows - done, min(later) - self._next_record)
            runs.append((done, self._next_record, length))
            done += length
            self._next_record += length

    def _row_text(self, raw: pa.RecordBatch, index: int) -> str:
        values = [raw.column(i)[index].as_py() or b"" for i in range(raw.num_columns)]
        return self._delimiter.join(v.decode("utf-8", errors="replace") for v in values)

    def _bad_row(self, record: int, reason: str, text: str) -> BadRow:
        if not self._locate:
            return BadRow(None, reason, text)
        if self._locator is None:
            self._locator = RecordLocator(self.file.open_text(), self._delimiter)
        line, exact = self._locator.find(record)
        return BadRow(line, reason, exact if exact is not None else text)

    def close(self) -> None:
        self._stream.close()
        if self._locator is not None:
            self._locator.close()


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _record_of(runs: list[tuple[int, int, int]], index: int) -> int:
    for first_index, first_record, length in runs:
        if first_index <= index < first_index + length:
            return first_record + index - first_index
    raise AssertionError(f"row {index} is in no run")


class RecordLocator:
    """Physical line and text of CSV records by record number, reading forward once.

    Records are counted as pyarrow counts them: the header is record 1, blank lines are
    not records, a quoted value with line breaks belongs to one record spanning lines.
    """

    def __init__(self, stream: IO[str], delimiter: str) -> None:
        self._stream = stream
        self._line = 0
        self._record = 0
        self._buffer: list[str] = []
        self._broken = False
        self._rows = csv.reader(self._lines(), delimiter=delimiter, quotechar='"')

    def _lines(self) -> Iterator[str]:
        for line in self._stream:
            self._line += 1
            self._buffer.append(line)
            yield line

    def find(self, record: int) -> tuple[int | None, str | None]:
        """(first physical line, text) of a record; (None, None) if it cannot be found."""
        while self._record < record and not self._broken:
            self._buffer.clear()
            try:
                row = next(self._rows)
            except (StopIteration, csv.Error):
                self._broken = True  # e.g. a field over csv.field_size_limit()
            if row:
                self._record += 1
        if self._record != record or self._broken:
            return None, None
        first = self._line - len(self._buffer) + 1
        return first, "".join(self._buffer).rstrip("\r\n")

    def close(self) -> None:
        self._stream.close()
