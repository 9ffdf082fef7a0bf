"""Every kind of value of the document and file sources, field by field: MongoDB (through
mongomock, as tests/integration/test_source_mongo.py), a REST API (a real HTTP server in a
thread serving a JSON file), CSV and JSON files. The cases are tests/support/type_cases.py,
the data of docs/types.md: the Arrow type of the raw table and the value read back, and
for the JSON kept as received, the exact document back from the raw file."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mongomock
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bson import Binary, Decimal128, Int64, ObjectId, json_util

from batchlake.capture import mongo
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.support.cli import batchlake
from tests.support.type_cases import CSV, JSON_FILES, MONGODB, REST, Case

MONGO_VALUES: dict[str, Any] = {
    "ObjectId": ObjectId("65f0a1b2c3d4e5f601234567"),
    "string": "héllo",
    "int32": 7,
    "int64": Int64(9007199254740993),
    "double": 0.1,
    "decimal128": Decimal128("1234567890.123456789012"),
    "bool": True,
    "date": datetime(2024, 2, 29, 13, 45, 1, 123000, tzinfo=UTC),
    "null": None,
    "binary (UUID, subtype 4)": Binary.from_uuid(uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    "array (mixed)": [1, "x"],
    "embedded document": {"a": 1},
}


def _names(cases: list[Case]) -> dict[str, Case]:
    return {f"f{i}": case for i, case in enumerate(cases)}


def _check(table: pa.Table, cases: dict[str, Case]) -> None:
    row = table.to_pylist()[0]
    problems = []
    for name, case in cases.items():
        kind = str(table.schema.field(name).type)
        if kind != case.arrow:
            problems.append(f"{case.declared}: Arrow type {kind}, documented {case.arrow}")
        if row[name] != case.value:
            problems.append(f"{case.declared}: read {row[name]!r}, expected {case.value!r}")
    assert not problems, "\n".join(problems)


def _raw_lines(folder: Path, table: str) -> list[str]:
    files = Lake.open(folder).table_source(table).files
    with gzip.open(files[-1], "rt", encoding="utf-8") as lines:
        return lines.read().splitlines()


def test_mongodb_every_bson_type(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "batchlake.toml").write_text(
        'name = "docs"\n[sources.app]\ntype = "mongo"\nurl = "mongodb://mongo.internal:27017"\n'
        'database = "app"\n[sources.app.collections.things]\n'
    )
    cases = _names(MONGODB)
    document = {name: MONGO_VALUES[case.declared] for name, case in cases.items()}
    server = mongomock.MongoClient(tz_aware=True)
    server.app.things.insert_one(dict(document))

    def factory(url: str, **options: Any) -> mongomock.MongoClient:
        return mongomock.MongoClient(url, _store=server._store, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mongo, "CLIENT_FACTORY", factory)
        assert Runner(Lake.open(folder)).run().ok
    table = Lake.open(folder).query_table("SELECT * EXCLUDE (_batch_id) FROM raw.app.things")
    _check(table, cases)
    [line] = _raw_lines(folder, "raw.app.things")
    back = json_util.loads(
        line, json_options=json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)
    )
    back.pop("_id")
    assert back == document  # every BSON value, exactly


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """An HTTP server in a thread answering /items with the JSON file of the REST cases."""
    body = "[{" + ", ".join(f'"{n}": {c.literal}' for n, c in _names(REST).items()) + "}]"
    (tmp_path / "items.json").write_text(body, encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = (tmp_path / "items.json").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_rest_every_json_value(tmp_path: Path, api: str) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "batchlake.toml").write_text(
        f'name = "docs"\n[sources.api]\ntype = "rest"\nbase_url = "{api}"\n'
        '[sources.api.endpoints.items]\npath = "/items"\npaginator = { type = "none" }\n'
    )
    batchlake("ingest", "api", "-p", str(folder))
    _check(Lake.open(folder).query_table("SELECT * FROM raw.api.items"), _names(REST))
    # The raw file keeps the record as received, parsed by Python's JSON: integers exact at
    # any size, fractions as the nearest double (docs/types.md says so).
    [line] = _raw_lines(folder, "raw.api.items")
    sent = json.loads((tmp_path / "items.json").read_text())[0]
    assert json.loads(line) == sent and '"f2":123456789012345678901234567890' in line


def _file_project(tmp_path: Path, entities: str) -> Path:
    folder = tmp_path / "lake"
    folder.mkdir(exist_ok=True)
    (folder / "batchlake.toml").write_text(
        f'name = "docs"\n[sources.files]\ntype = "files"\n{entities}'
    )
    return folder


def _parquet(folder: Path, table: str) -> pa.Table:
    return pq.read_table(Lake.open(folder).table_source(table).files[-1])


def test_csv_every_inferred_type(tmp_path: Path) -> None:
    cases = _names(CSV)
    header = ",".join(cases)
    (tmp_path / "every.csv").write_text(
        f"{header}\n" + ",".join(c.literal for c in cases.values()) + "\n", encoding="utf-8"
    )
    declared = ", ".join(f'{n} = "{c.ddl}"' for n, c in cases.items() if c.ddl)
    folder = _file_project(
        tmp_path,
        f'[sources.files.entities.every]\npath = "{tmp_path / "every.csv"}"\n'
        f"columns = {{ {declared} }}\n",
    )
    batchlake("ingest", "files", "-p", str(folder))
    _check(_parquet(folder, "raw.files.every"), cases)


def test_json_file_every_kind_of_value(tmp_path: Path) -> None:
    cases = _names(JSON_FILES)
    # A second record gives each field its neighbour: integers beside fractions...
    neighbours = {
        "integers and fractions": "2",
        "integers past 2^53 and fractions": "1.5",
        "integers past 2^63": "1",
    }
    first = "{" + ", ".join(f'"{n}": {c.literal}' for n, c in cases.items()) + "}"
    second = (
        "{"
        + ", ".join(f'"{n}": {neighbours.get(c.declared, c.literal)}' for n, c in cases.items())
        + "}"
    )
    (tmp_path / "every.jsonl").write_text(f"{first}\n{second}\n", encoding="utf-8")
    folder = _file_project(
        tmp_path, f'[sources.files.entities.every]\npath = "{tmp_path / "every.jsonl"}"\n'
    )
    batchlake("ingest", "files", "-p", str(folder))
    _check(_parquet(folder, "raw.files.every"), cases)
