"""The files source on small files written here: formats, compression, globs, types, bad
rows under each policy (exact lines and reasons), unchanged detection, HTTP through
`httpx.MockTransport`, and the errors users meet."""

from __future__ import annotations

import gzip
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchlake.capture import BadRow, Capture, EntityState, open_source
from batchlake.capture.files import FilesSource
from batchlake.capture.files import csv_reader as files_csv
from batchlake.config import FilesSourceSettings, Project, ProjectSettings
from batchlake.errors import ConfigError, SourceError

ROWS = [
    {"id": 1, "name": "Ana", "amount": 10.5},
    {"id": 2, "name": "Bo", "amount": 3.0},
    {"id": 3, "name": "Cy, Jr.", "amount": -1.25},
]
CSV = 'id,name,amount\n1,Ana,10.5\n2,Bo,3.0\n3,"Cy, Jr.",-1.25\n'


_OPENED: list[FilesSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    """Every source made by a test is closed after it (removing its temporary folder)."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def make_source(
    root: Path,
    entities: dict[str, dict[str, Any]],
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> FilesSource:
    settings = FilesSourceSettings.model_validate(
        {"type": "files", "entities": entities, "backoff_seconds": 0, **options}
    )
    source = FilesSource("files", settings, Project(root, ProjectSettings()), transport=transport)
    _OPENED.append(source)
    return source


def read(
    source: FilesSource, entity: str, validators: dict[str, str] | None = None
) -> tuple[Capture, pa.Table, list[BadRow]]:
    """Capture an entity as ingest does; the rows read and the rows quarantined."""
    capture = source.read(entity, EntityState(None, validators or {}))
    rejected: list[BadRow] = []
    capture.on_reject = rejected.append
    batches = list(capture.batches)
    table = pa.Table.from_batches(batches, schema=capture.schema)
    return capture, table, rejected


def read_one(
    root: Path, options: dict[str, Any], **source: Any
) -> tuple[Capture, pa.Table, list[BadRow]]:
    files = make_source(root, {"data": options}, **source)
    try:
        return read(files, "data")
    finally:
        files.close()


# -- formats and compression ---------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), sink)
    return sink.getvalue()


JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)
WRITERS: dict[str, Callable[[Path], None]] = {
    "data.csv": lambda p: p.write_text(CSV),
    "data.tsv": lambda p: p.write_text(
        "id\tname\tamount\n1\tAna\t10.5\n2\tBo\t3.0\n3\tCy, Jr.\t-1.25\n"
    ),
    "data.csv.gz": lambda p: p.write_bytes(gzip.compress(CSV.encode())),
    "data.jsonl": lambda p: p.write_text(JSONL),
    "data.ndjson": lambda p: p.write_text(JSONL),
    "data.jsonl.gz": lambda p: p.write_bytes(gzip.compress(JSONL.encode())),
    "data.json": lambda p: p.write_text(json.dumps(ROWS)),
    "wrapped.json": lambda p: p.write_text(json.dumps({"count": 3, "results": ROWS})),
    "data.parquet": lambda p: p.write_bytes(_parquet_bytes()),
    "data.zip": lambda p: _zip(p, {"inner/data.csv": CSV.encode()}),
    "parquet.zip": lambda p: _zip(p, {"data.parquet": _parquet_bytes()}),
    "data.parquet.gz": lambda p: p.write_bytes(gzip.compress(_parquet_bytes())),
}


@pytest.mark.parametrize("filename", sorted(WRITERS))
def test_every_format_and_compression_reads_the_same_rows(tmp_path: Path, filename: str) -> None:
    WRITERS[filename](tmp_path / filename)
    capture, table, rejected = read_one(tmp_path, {"path": filename})
    assert table.to_pylist() == ROWS
    assert table.schema.types == [pa.int64(), pa.string(), pa.float64()]
    assert capture.schema == table.schema
    assert rejected == [] and capture.rejected == capture.skipped == 0


def test_tsv_values_may_hold_commas(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("a\tb\nx, y\t1\n")
    _, table, _ = read_one(tmp_path, {"path": "t.tsv"})
    assert table.to_pylist() == [{"a": "x, y", "b": 1}]


def test_format_and_compression_by_setting_and_by_magic(tmp_path: Path) -> None:
    (tmp_path / "export.dat").write_bytes(gzip.compress(CSV.replace(",", ";").encode()))
    options = {"path": "export.dat", "format": "csv", "delimiter": ";"}
    _, table, _ = read_one(tmp_path, options)  # gzip told by its magic bytes
    assert table.num_rows == 3 and table.column("name").to_pylist()[2] == "Cy; Jr."
    (tmp_path / "blob.bin").write_bytes(_parquet_bytes())
    _, table, _ = read_one(tmp_path, {"path": "blob.bin"})  # Parquet told by "PAR1"
    assert table.to_pylist() == ROWS


def test_unknown_format_says_how_to_set_it(tmp_path: Path) -> None:
    (tmp_path / "export.dat").write_text(CSV)
    with pytest.raises(
        SourceError, match=r"cannot tell the format of .*export\.dat.*format = 'csv'"
    ):
        read_one(tmp_path, {"path": "export.dat"})


def test_header_false_names_columns_f0_f1(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("1,a\n2,b\n")
    _, table, _ = read_one(tmp_path, {"path": "n.csv", "header": False})
    assert table.to_pylist() == [{"f0": 1, "f1": "a"}, {"f0": 2, "f1": "b"}]


def test_zip_member_by_entity_name_or_setting(tmp_path: Path) -> None:
    _zip(tmp_path / "both.zip", {"data.csv": CSV.encode(), "other.csv": b"z\n9\n", "x/": b""})
    _, table, _ = read_one(tmp_path, {"path": "both.zip"})  # the entity is named "data"
    assert table.num_rows == 3
    _, table, _ = read_one(tmp_path, {"path": "both.zip", "member": "other.csv"})
    assert table.to_pylist() == [{"z": 9}]
    unnamed = make_source(tmp_path, {"other_name": {"path": "both.zip"}})
    with pytest.raises(SourceError, match=r"holds 2 files \(data\.csv, other\.csv\).*\.member"):
        unnamed.read("other_name", EntityState())
    with pytest.raises(SourceError, match=r"has no member 'missing\.csv'"):
        read_one(tmp_path, {"path": "both.zip", "member": "missing.csv"})


def test_json_lines_named_json_get_a_hint(tmp_path: Path) -> None:
    (tmp_path / "lines.json").write_text(JSONL)
    with pytest.raises(SourceError, match=r"not valid JSON: Extra data.*set format = 'jsonl'"):
        read_one(tmp_path, {"path": "lines.json"})
    _, table, _ = read_one(tmp_path, {"path": "lines.json", "format": "jsonl"})
    assert table.to_pylist() == ROWS


def test_json_object_with_several_arrays_needs_the_entity_name(tmp_path: Path) -> None:
    (tmp_path / "doc.json").write_text(json.dumps({"data": ROWS, "links": [1, 2]}))
    _, table, _ = read_one(tmp_path, {"path": "doc.json"})
    assert table.num_rows == 3
    (tmp_path / "other.json").write_text(json.dumps({"a": [], "b": []}))
    with pytest.raises(SourceError, match="found an object holding arrays a, b"):
        read_one(tmp_path, {"path": "other.json"})


# -- globs -----------------------------------------------------------------------------


def test_glob_reads_matching_files_in_sorted_order_as_one_capture(tmp_path: Path) -> None:
    folder = tmp_path / "drops"
    folder.mkdir()
    (folder / "2024-02.csv").write_text("id,v\n3,c\n")
    (folder / "2024-01.csv").write_text("id,v,extra_missing_later\n1,a,x\n2,b,y\n")
    (folder / "notes.txt").write_text("not data")
    _, table, _ = read_one(tmp_path, {"path": "drops/*.csv"})
    assert table.to_pylist() == [
        {"id": 1, "v": "a", "extra_missing_later": "x"},
        {"id": 2, "v": "b", "extra_missing_later": "y"},
        {"id": 3, "v": "c", "extra_missing_later": None},
    ]


def test_glob_file_with_a_new_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a1.csv").write_text("id\n1\n")
    (tmp_path / "a2.csv").write_text("id,surprise\n2,x\n")
    with pytest.raises(SourceError, match=r"a2\.csv has columns surprise that .*a1\.csv has not"):
        read_one(tmp_path, {"path": "a*.csv"})


def test_glob_quarantine_reasons_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "p1.csv").write_text("id\n1\n")
    (tmp_path / "p2.csv").write_text("id\n2\nx\n")
    _, table, rejected = read_one(tmp_path, {"path": "p*.csv", "columns": {"id": "INTEGER"}})
    assert table.column("id").to_pylist() == [1, 2]
    assert rejected == [
        BadRow(3, f"column 'id': 'x' is not a valid INTEGER (in {tmp_path / 'p2.csv'})", "x")
    ]


def test_missing_file_and_empty_glob_name_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=rf"file {tmp_path}/nope\.csv does not exist.*entities\.data\.path"
    ):
        read_one(tmp_path, {"path": "nope.csv"})
    with pytest.raises(SourceError, match=rf"no file matches {tmp_path}/in/\*\.csv"):
        read_one(tmp_path, {"path": "in/*.csv"})


# -- types -------------------------------------------------------------------------------


def test_types_are_inferred_from_text(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "i,f,b,d,ts,tz,s,empty,code\n"
        "1,1.5,true,2020-01-02,2020-01-02 03:04:05,2020-01-02T03:04:05Z,x,,007\n"
        "NA,,false,,2020-01-03T00:00:00,,,,010\n"
    )
    _, table, _ = read_one(tmp_path, {"path": "t.csv"})
    assert dict(zip(table.schema.names, map(str, table.schema.types), strict=True)) == {
        "i": "int64",
        "f": "double",
        "b": "bool",
        "d": "date32[day]",
        "ts": "timestamp[us]",
        "tz": "timestamp[us, tz=UTC]",
        "s": "string",
        "empty": "string",
        "code": "string",  # 007 and 010 keep their leading zeros (zip codes, account numbers)
    }
    second = table.to_pylist()[1]
    assert second["i"] is None and second["f"] is None and second["s"] == ""
    assert second["code"] == "010"


def test_column_overrides_use_sql_type_names(tmp_path: Path) -> None:
    from datetime import date, datetime
    from decimal import Decimal

    (tmp_path / "t.csv").write_text(
        "code,price,day,at,n\n007,19.99,2024-02-29,2024-01-01 10:00:00,5\n"
    )
    columns = {
        "code": "VARCHAR",
        "price": "decimal(10, 2)",
        "day": "DATE",
        "at": "TIMESTAMP",
        "n": "SMALLINT",
    }
    _, table, _ = read_one(tmp_path, {"path": "t.csv", "columns": columns})
    assert table.schema.types == [
        pa.string(),
        pa.decimal128(10, 2),
        pa.date32(),
        pa.timestamp("us"),
        pa.int16(),
    ]
    assert table.to_pylist() == [
        {
            "code": "007",
            "price": Decimal("19.99"),
            "day": date(2024, 2, 29),
            "at": datetime(2024, 1, 1, 10),
            "n": 5,
        }
    ]


def test_override_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a\n1\n")
    with pytest.raises(ConfigError, match=r"entities\.data\.columns\.a: unknown type 'NUMBER'"):
        read_one(tmp_path, {"path": "t.csv", "columns": {"a": "NUMBER"}})
    with pytest.raises(
        ConfigError, match=r"columns names b, but .*t\.csv has no such column \(it has: a\)"
    ):
        read_one(tmp_path, {"path": "t.csv", "columns": {"b": "DATE"}})


def test_json_keys_kinds_and_nesting(tmp_path: Path) -> None:
    lines = [
        {"a": 1, "b": "x"},
        {"a": 2.5, "nested": {"k": [1, 2]}},
        {"a": None, "b": 7, "flag": True},
    ]
    (tmp_path / "j.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    _, table, _ = read_one(tmp_path, {"path": "j.jsonl"})
    assert table.schema.names == ["a", "b", "nested", "flag"]
    assert table.schema.types == [pa.float64(), pa.string(), pa.string(), pa.bool_()]
    assert table.to_pylist() == [
        {"a": 1.0, "b": "x", "nested": None, "flag": None},
        {"a": 2.5, "b": None, "nested": '{"k":[1,2]}', "flag": None},
        {"a": None, "b": "7", "nested": None, "flag": True},
    ]


# -- bad rows ------------------------------------------------------------------------

BAD_CSV = (
    "id,amount,day\n"  # 1
    "1,10.5,2024-01-01\n"  # 2
    "2,abc,2024-01-02\n"  # 3  unparsable number
    "3,7.25\n"  # 4  too few fields
    "\n"  # 5  blank line: not a row
    '4,"multi\nline",2024-01-04\n'  # 6-7 a quoted value over two lines, not a number
    "5,1.5,2024-02-30\n"  # 8  no such date
    "6,2.0,2024-01-06,extra\n"  # 9  too many fields
    "7,3.5,2024-01-07\n"  # 10
)
BAD_COLUMNS = {"amount": "DOUBLE", "day": "DATE"}
EXPECTED_BAD = [
    BadRow(3, "column 'amount': 'abc' is not a valid DOUBLE", "2,abc,2024-01-02"),
    BadRow(4, "expected 3 fields, found 2", "3,7.25"),
    BadRow(6, "column 'amount': 'multi\nline' is not a valid DOUBLE", '4,"multi\nline",2024-01-04'),
    BadRow(8, "column 'day': '2024-02-30' is not a valid DATE", "5,1.5,2024-02-30"),
    BadRow(9, "expected 3 fields, found 4", "6,2.0,2024-01-06,extra"),
]


@pytest.mark.parametrize("name", ["bad.csv", "bad.tsv"])
def test_bad_csv_rows_are_quarantined_with_physical_lines(tmp_path: Path, name: str) -> None:
    sep = "\t" if name.endswith(".tsv") else ","
    (tmp_path / name).write_text(BAD_CSV.replace(",", sep))
    capture, table, rejected = read_one(tmp_path, {"path": name, "columns": BAD_COLUMNS})
    assert table.column("id").to_pylist() == [1, 7]
    assert rejected == [BadRow(r.line, r.reason, r.raw.replace(",", sep)) for r in EXPECTED_BAD]
    assert capture.rejected == 5 and capture.skipped == 0


def test_bad_rows_with_crlf_line_ends(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes(BAD_CSV.replace("\n", "\r\n").encode())
    _, table, rejected = read_one(tmp_path, {"path": "bad.csv", "columns": BAD_COLUMNS})
    assert table.column("id").to_pylist() == [1, 7]
    assert [(r.line, r.reason.split(":")[0]) for r in rejected] == [
        (r.line, r.reason.split(":")[0]) for r in EXPECTED_BAD
    ]


def test_bad_csv_rows_skipped(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    options = {"path": "bad.csv", "columns": BAD_COLUMNS, "on_bad_rows": "skip"}
    capture, table, rejected = read_one(tmp_path, options)
    assert table.column("id").to_pylist() == [1, 7]
    assert rejected == [] and capture.skipped == 5 and capture.rejected == 0


def test_bad_csv_row_fails_the_capture_naming_file_line_and_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text(BAD_CSV)
    options = {"path": "bad.csv", "columns": BAD_COLUMNS, "on_bad_rows": "fail"}
    message = rf"{tmp_path}/bad\.csv, line 3: column 'amount': 'abc' is not a valid DOUBLE"
    with pytest.raises(SourceError, match=message):
        read_one(tmp_path, options)
    (tmp_path / "short.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(SourceError, match=r"short\.csv, line 3: expected 2 fields, found 1"):
        read_one(tmp_path, {"path": "short.csv", "on_bad_rows": "fail"})


def test_bad_rows_in_later_blocks_keep_exact_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Types inferred from the first block; a later value that does not fit is bad."""
    monkeypatch.setattr(files_csv, "BLOCK_BYTES", 256)
    lines = ["n,label"] + [f"{i},row {i}" for i in range(1, 301)]
    lines[150] = "oops,row 150"  # line 151
    lines[200] = "200"  # line 201
    lines[250] = '250,"two\nlines"'  # lines 251-252
    lines[280] = "x1,row 280"  # line 282 (after the two-line value)
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    _, table, rejected = read_one(tmp_path, {"path": "big.csv"})
    assert table.schema.field("n").type == pa.int64()
    assert table.num_rows == 297
    assert [(r.line, r.reason) for r in rejected] == [
        (151, "column 'n': 'oops' is not a valid int64"),
        (201, "expected 2 fields, found 1"),
        (282, "column 'n': 'x1' is not a valid int64"),
    ]
    assert rejected[0].raw == "oops,row 150"


def test_text_that_is_not_utf8_is_a_bad_row(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes("name,n\nJosé,1\nAna,2\n".encode("latin-1"))
    _, table, rejected = read_one(tmp_path, {"path": "latin.csv"})
    assert table.to_pylist() == [{"name": "Ana", "n": 2}]
    assert [(r.line, r.reason) for r in rejected] == [(2, "column 'name': not valid UTF-8")]


def test_bad_json_lines(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text(
        '{"id": 1, "at": "2024-01-01"}\n'  # 1
        "\n"  # 2 blank: not a row
        '{"id": 2, "at": \n'  # 3 not JSON
        "[1, 2]\n"  # 4 not an object
        '{"id": "three", "at": "2024-01-03"}\n'  # 5 not a BIGINT
        '{"id": 4, "at": "2024-13-01"}\n'  # 6 not a DATE
        "42\n"  # 7 not an object
        '{"id": 5}\n'  # 8
    )
    columns = {"id": "BIGINT", "at": "DATE"}
    capture, table, rejected = read_one(tmp_path, {"path": "e.jsonl", "columns": columns})
    assert table.column("id").to_pylist() == [1, 5]
    assert [(r.line, r.reason) for r in rejected] == [
        (3, "not valid JSON: Expecting value at column 16"),
        (4, "not a JSON object (found an array)"),
        (5, "column 'id': 'three' is not a valid BIGINT"),
        (6, "column 'at': '2024-13-01' is not a valid DATE"),
        (7, "not a JSON object (found a number)"),
    ]
    assert rejected[0].raw == '{"id": 2, "at":'
    assert capture.rejected == 5
    capture, _, _ = read_one(
        tmp_path, {"path": "e.jsonl", "columns": columns, "on_bad_rows": "skip"}
    )
    assert capture.skipped == 5
    with pytest.raises(SourceError, match=r"e\.jsonl, line 3: not valid JSON"):
        read_one(tmp_path, {"path": "e.jsonl", "on_bad_rows": "fail"})


def test_bad_json_array_elements_and_parquet_values(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"id": 1}, "stray", {"id": 2}]))
    _, table, rejected = read_one(tmp_path, {"path": "a.json"})
    assert table.to_pylist() == [{"id": 1}, {"id": 2}]
    assert rejected == [BadRow(None, "element 2 is not a JSON object (found a string)", '"stray"')]
    pq.write_table(pa.table({"code": ["1", "x", "3"]}), tmp_path / "c.parquet")
    _, table, rejected = read_one(tmp_path, {"path": "c.parquet", "columns": {"code": "INTEGER"}})
    assert table.to_pylist() == [{"code": 1}, {"code": 3}]
    assert rejected == [
        BadRow(None, "row 2: column 'code': 'x' is not a valid INTEGER", '{"code": "x"}')
    ]


def test_through_ingest_quarantine_file_and_fail_keeps_no_batch(tmp_path: Path) -> None:
    from batchlake.capture.ingest import ingest_entity
    from batchlake.metadata import MetadataStore
    from batchlake.storage import Storage

    (tmp_path / "bad.csv").write_text(BAD_CSV)
    storage = Storage(str(tmp_path / "lake"))
    metadata = MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite")
    kept = make_source(tmp_path, {"bad": {"path": "bad.csv", "columns": BAD_COLUMNS}})
    result = ingest_entity(kept, "bad", storage=storage, metadata=metadata)
    assert (result.status, result.rows, result.rejected) == ("written", 2, 5)
    (batch,) = metadata.batches("files", "bad")
    assert batch.quarantine_path is not None
    lines = Path(batch.quarantine_path).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"line": r.line, "reason": r.reason, "raw": r.raw} for r in EXPECTED_BAD
    ]
    again = ingest_entity(kept, "bad", storage=storage, metadata=metadata)
    assert again.status == "unchanged"

    strict = make_source(
        tmp_path,
        {"bad": {"path": "bad.csv", "columns": BAD_COLUMNS, "on_bad_rows": "fail"}},
    )
    with pytest.raises(SourceError, match="line 3"):
        ingest_entity(strict, "bad", storage=storage, metadata=metadata, full_refresh=True)
    assert len(metadata.batches("files", "bad", status=None)) == 2  # written + unchanged
    assert len(list((tmp_path / "lake" / "raw").rglob("*.parquet"))) == 1
    metadata.engine.dispose()


# -- unchanged files ---------------------------------------------------------------------


def test_unchanged_local_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(CSV)
    source = make_source(tmp_path, {"d": {"path": "d.csv"}})
    first, table, _ = read(source, "d")
    assert table.num_rows == 3
    assert first.validators["sha256"] == __import__("hashlib").sha256(CSV.encode()).hexdigest()
    second = source.read("d", EntityState(None, first.validators))
    assert second.unchanged and "same size and version" in (second.note or "")

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched only
    third = source.read("d", EntityState(None, first.validators))
    assert third.unchanged and "same content" in (third.note or "")
    assert third.validators["files"] != first.validators["files"]  # the new mtime is kept

    path.write_text(CSV + "4,Di,1\n")
    fourth, table, _ = read(source, "d", third.validators)
    assert not fourth.unchanged and table.num_rows == 4
    source.close()


def test_changed_options_read_an_unchanged_file_again(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(CSV)
    first, _, _ = read_one(tmp_path, {"path": "d.csv"})
    again = make_source(tmp_path, {"data": {"path": "d.csv", "columns": {"id": "VARCHAR"}}})
    capture, table, _ = read(again, "data", first.validators)
    assert not capture.unchanged and table.schema.field("id").type == pa.string()


def test_glob_with_a_new_file_is_captured_again(tmp_path: Path) -> None:
    (tmp_path / "p1.csv").write_text("id\n1\n")
    source = make_source(tmp_path, {"p": {"path": "p*.csv"}})
    first, _, _ = read(source, "p")
    assert source.read("p", EntityState(None, first.validators)).unchanged
    (tmp_path / "p2.csv").write_text("id\n2\n")
    capture, table, _ = read(source, "p", first.validators)
    assert not capture.unchanged and table.column("id").to_pylist() == [1, 2]


# -- errors --------------------------------------------------------------------------


def test_unreadable_gzip(tmp_path: Path) -> None:
    (tmp_path / "plain.csv.gz").write_text(CSV)
    with pytest.raises(SourceError, match=r"plain\.csv\.gz is not readable gzip data"):
        read_one(tmp_path, {"path": "plain.csv.gz"})
    body = gzip.compress(b"id\n" + b"".join(b"%d\n" % i for i in range(200_000)))
    (tmp_path / "cut.csv.gz").write_bytes(body[: len(body) // 2])
    with pytest.raises(SourceError, match=r"cut\.csv\.gz is not readable gzip data .*ended"):
        read_one(tmp_path, {"path": "cut.csv.gz"})


def test_empty_file_and_unknown_scheme_and_entity(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match=r"empty\.csv is empty"):
        read_one(tmp_path, {"path": "empty.csv"})
    with pytest.raises(ConfigError, match=r"scheme 'ftp://' is not supported"):
        read_one(tmp_path, {"path": "ftp://example.com/x.csv"})
    with pytest.raises(SourceError, match=r"no entity 'other' \(it has: data\)"):
        make_source(tmp_path, {"data": {"path": "x.csv"}}).read("other", EntityState())


def test_s3_without_s3fs_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if not installed: import fails
    monkeypatch.delitem(registry._registry, "s3", raising=False)
    with pytest.raises(ConfigError, match=r"Install s3fs.*run pip install 'batchlake\[s3\]'"):
        read_one(tmp_path, {"path": "s3://bucket/data/*.csv"})


def test_s3_objects_through_an_fsspec_filesystem(tmp_path: Path) -> None:
    """The s3:// path with fsspec's memory filesystem standing in for s3fs."""
    from fsspec.implementations.memory import MemoryFileSystem

    class FakeS3(MemoryFileSystem):
        protocol = ("s3",)

    fs = FakeS3()
    fs.pipe("/bucket-files-test/in/b.csv", b"id\n2\n")
    fs.pipe("/bucket-files-test/in/a.csv", b"id\n1\n")
    opened: list[str] = []
    real_open = fs.open

    def counting_open(path: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(path)
        return real_open(path, *args, **kwargs)

    fs.open = counting_open  # type: ignore[method-assign]
    source = make_source(tmp_path, {"s": {"path": "s3://bucket-files-test/in/*.csv"}})
    source.filesystem = lambda url: fs  # type: ignore[method-assign]
    try:
        first, table, _ = read(source, "s")
        assert table.column("id").to_pylist() == [1, 2]
        assert len(opened) == 2
        second = source.read("s", EntityState(None, first.validators))
        assert second.unchanged and len(opened) == 2  # nothing downloaded
    finally:
        fs.rm("/bucket-files-test", recursive=True)
        source.close()


def test_describe_and_entities(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        {"a": {"path": "x/*.csv", "primary_key": ["id", "day"]}, "b": {"path": "https://h/b.json"}},
    )
    assert source.entities() == ["a", "b"]
    assert source.describe("a") == {
        "reads": "x/*.csv",
        "mode": "full",
        "format": "auto",
        "compression": "auto",
        "on_bad_rows": "quarantine",
        "primary_key": "id,day",
    }


def test_registered_as_type_files(tmp_path: Path) -> None:
    (tmp_path / "batchlake.toml").write_text(
        '[sources.drop]\ntype = "files"\n[sources.drop.entities.d]\npath = "d.csv"\n'
    )
    from batchlake.config import load_project

    source = open_source(load_project(tmp_path), "drop")
    assert isinstance(source, FilesSource) and source.entities() == ["d"]


# -- HTTP ------------------------------------------------------------------------------


class Server:
    """A fake HTTP origin at the transport layer, recording what it was asked."""

    def __init__(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []
        self.failures: list[int | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return httpx.Response(failure)
        if request.url.path.endswith("missing.csv"):
            return httpx.Response(404)
        etag = self.headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, content=self.body, headers=self.headers)


def http_source(tmp_path: Path, server: Server, path: str, **options: Any) -> FilesSource:
    transport = httpx.MockTransport(server)
    return make_source(tmp_path, {"web": {"path": path}}, transport=transport, **options)


def test_http_download_then_304(tmp_path: Path) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
    server = Server(gzip.compress(CSV.encode()), headers)
    source = http_source(tmp_path, server, "https://data.example/files/prices.csv.gz")
    first, table, _ = read(source, "web")
    assert table.to_pylist() == ROWS
    assert first.validators["etag"] == '"v1"'
    assert first.validators["last_modified"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert len(first.validators["sha256"]) == 64
    assert "If-None-Match" not in server.requests[0].headers
    second = source.read("web", EntityState(None, first.validators))
    assert second.unchanged and second.note == "not modified (HTTP 304)"
    assert server.requests[1].headers["If-None-Match"] == '"v1"'
    assert server.requests[1].headers["If-Modified-Since"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert second.validators["sha256"] == first.validators["sha256"]
    scratch = source._scratch
    assert scratch is not None and list(scratch.iterdir()) == []  # the download was removed
    source.close()
    assert not scratch.exists()


def test_http_same_bytes_without_validators_is_unchanged_by_hash(tmp_path: Path) -> None:
    server = Server(JSONL.encode(), {"Content-Type": "application/x-ndjson"})
    source = http_source(tmp_path, server, "https://api.example/export?day=1")
    first, table, _ = read(source, "web")  # format from the Content-Type
    assert table.to_pylist() == ROWS
    second = source.read("web", EntityState(None, first.validators))
    assert second.unchanged and "same content" in (second.note or "")
    server.body += b'{"id": 4, "name": "Di", "amount": 1.0}\n'
    third, table, _ = read(source, "web", first.validators)
    assert not third.unchanged and table.num_rows == 4
    source.close()


def test_http_errors_and_retries(tmp_path: Path) -> None:
    server = Server(CSV.encode())
    source = http_source(tmp_path, server, "https://h.example/missing.csv")
    with pytest.raises(
        SourceError, match=r"GET https://h\.example/missing\.csv answered 404 Not Found"
    ):
        source.read("web", EntityState())
    assert len(server.requests) == 1  # a 4xx is not retried

    server = Server(CSV.encode())
    server.failures = [503, httpx.ConnectError("refused"), 502]
    source = http_source(tmp_path, server, "https://h.example/ok.csv")
    _, table, _ = read(source, "web")
    assert table.num_rows == 3 and len(server.requests) == 4

    server = Server(CSV.encode())
    server.failures = [httpx.ConnectError("refused")] * 10
    source = http_source(tmp_path, server, "https://h.example/down.csv", max_retries=2)
    with pytest.raises(
        SourceError,
        match=r"https://h\.example/down\.csv failed after 3 attempt\(s\): ConnectError: refused",
    ):
        source.read("web", EntityState())
    assert len(server.requests) == 3
