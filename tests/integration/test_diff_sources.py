"""Diff capture of a REST endpoint (a real HTTP server in a thread), a CSV file and a
MongoDB collection (mongomock): the raw batches hold the changed records as received plus
tombstones, checked against an independent comparison of the served records."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from batchlake.capture import open_source
from batchlake.capture.ingest import IngestResult, ingest_entity
from batchlake.errors import SourceError
from batchlake.lake import Lake


class Api(ThreadingHTTPServer):
    """Serves `records[<endpoint>]`, paged by ?page=&limit=, as a bare JSON list."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.records: dict[str, list[dict[str, Any]]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        page, size = int(query.get("page", 1)), int(query.get("limit", 10))
        records = self.server.records.get(parts.path.strip("/"), [])
        data = json.dumps(records[(page - 1) * size : page * size]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def capture(root: Path, source: str, entity: str, **kwargs: Any) -> IngestResult:
    lake = Lake.open(root)
    opened = open_source(lake.project, source)
    for name, value in kwargs.items():
        setattr(opened, name, value)
    try:
        return ingest_entity(opened, entity, storage=lake.storage, metadata=lake.metadata)
    finally:
        opened.close()
        lake.metadata.dispose()


def raw_records(root: Path, table: str, batch_id: str) -> list[dict[str, Any]]:
    """A JSON batch's records as kept (gzip JSON Lines), read back without DuckDB."""
    import gzip

    path = Lake.open(root).metadata.batches(*table.split(".")[1:], status=None)
    found = next(b.path for b in path if b.batch_id == batch_id)
    assert found is not None
    with gzip.open(found, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def diff_by(
    key: Any, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> tuple[list[Any], list[Any], list[Any]]:
    """Inserted, updated, deleted keys between two lists of records (sorted)."""
    old = {key(r): r for r in before}
    new = {key(r): r for r in after}
    return (
        sorted(k for k in new if k not in old),
        sorted(k for k in new if k in old and new[k] != old[k]),
        sorted(k for k in old if k not in new),
    )


REST_TOML = """
name = "api"
[sources.shop]
type = "rest"
base_url = "{url}"
[sources.shop.endpoints.products]
path = "/products"
mode = "diff"
primary_key = ["id"]
paginator = {{ type = "page", page_param = "page", size_param = "limit", page_size = 4 }}
[sources.shop.endpoints.stock]
path = "/stock"
mode = "diff"
primary_key = ["where.shop", "where.shelf"]
"""


def test_rest_endpoint_in_diff_mode(api: Api, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(REST_TOML.format(url=api.url))
    products = [
        {"id": i, "title": f"p{i}", "price": i * 1.5, "tags": ["a"] if i % 2 else []}
        for i in range(1, 11)
    ]
    api.records["products"] = copy.deepcopy(products)
    first = capture(root, "shop", "products")
    assert first.status == "written" and first.rows == 10 and first.changes is not None
    kept = raw_records(root, "raw.shop.products", first.batch_id)
    assert kept == [{**r, "_deleted": False} for r in products]  # as received, in order

    assert capture(root, "shop", "products").status == "unchanged"
    # Reordered pages and reordered keys in a record are no change either.
    api.records["products"] = [dict(reversed(list(r.items()))) for r in reversed(products)]
    assert capture(root, "shop", "products").status == "unchanged"

    changed = copy.deepcopy(products)
    changed[2]["price"] = 99.0  # id 3 updated
    changed[4]["tags"] = ["b", "c"]  # id 5 updated (a nested value)
    del changed[7]  # id 8 deleted
    changed.append({"id": 11, "title": "new", "price": 1.0, "tags": []})  # inserted
    api.records["products"] = changed
    second = capture(root, "shop", "products")
    inserted, updated, deleted = diff_by(lambda r: r["id"], products, changed)
    assert (inserted, updated, deleted) == ([11], [3, 5], [8])
    assert second.changes is not None
    assert (second.changes.inserted, second.changes.updated, second.changes.deleted) == (1, 2, 1)
    kept = raw_records(root, "raw.shop.products", second.batch_id)
    by_id = {r["id"]: r for r in changed}
    assert sorted((r for r in kept if not r["_deleted"]), key=lambda r: r["id"]) == [
        {**by_id[k], "_deleted": False} for k in sorted(inserted + updated)
    ]
    assert [r for r in kept if r["_deleted"]] == [{"id": 8, "_deleted": True}]

    # SQL sees the tombstones as rows with only the key and _deleted.
    rows = Lake.open(root).query_table(
        "SELECT id, title, _deleted FROM raw.shop.products "
        f"WHERE _batch_id = '{second.batch_id}' ORDER BY id"
    )
    assert rows.to_pylist() == [
        {"id": 3, "title": "p3", "_deleted": False},
        {"id": 5, "title": "p5", "_deleted": False},
        {"id": 8, "title": None, "_deleted": True},
        {"id": 11, "title": "new", "_deleted": False},
    ]


def test_rest_nested_composite_key_and_missing_key(api: Api, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(REST_TOML.format(url=api.url))
    stock = [{"where": {"shop": s, "shelf": n}, "count": n} for s in ("a", "b") for n in (1, 2)]
    api.records["stock"] = stock
    assert capture(root, "shop", "stock").rows == 4
    api.records["stock"] = [r for r in stock if r["where"] != {"shop": "b", "shelf": 1}]
    result = capture(root, "shop", "stock")
    kept = raw_records(root, "raw.shop.stock", result.batch_id)
    assert kept == [{"where": {"shelf": 1, "shop": "b"}, "_deleted": True}]
    api.records["stock"] = [{"where": {"shop": "a"}, "count": 1}]
    with pytest.raises(SourceError, match=r"'where.shelf'.*endpoints.stock.primary_key"):
        capture(root, "shop", "stock")
    api.records["stock"] = stock + stock[:1]
    with pytest.raises(SourceError, match="not unique"):
        capture(root, "shop", "stock")


def test_csv_file_in_diff_mode(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(
        'name = "files"\n[sources.drop]\ntype = "files"\n'
        '[sources.drop.entities.prices]\npath = "prices.csv"\nmode = "diff"\n'
        'primary_key = ["sku"]\n'
    )
    csv = root / "prices.csv"
    csv.write_text("sku,price\nA,1.5\nB,2\nC,3\n")
    assert capture(root, "drop", "prices").rows == 3
    csv.write_text("sku,price\nC,3\nB,2.5\nD,4\n")  # B updated, A deleted, D inserted
    result = capture(root, "drop", "prices")
    rows = Lake.open(root).query_table(
        "SELECT sku, price, _deleted FROM raw.drop.prices "
        f"WHERE _batch_id = '{result.batch_id}' ORDER BY sku"
    )
    assert rows.to_pylist() == [
        {"sku": "A", "price": None, "_deleted": True},
        {"sku": "B", "price": 2.5, "_deleted": False},
        {"sku": "D", "price": 4.0, "_deleted": False},
    ]
    assert capture(root, "drop", "prices").status == "unchanged"  # the same file: not read


def test_mongo_collection_in_diff_mode(tmp_path: Path) -> None:
    mongomock = pytest.importorskip("mongomock")
    server: Any = mongomock.MongoClient(tz_aware=True)
    root = tmp_path / "lake"
    root.mkdir()
    (root / "batchlake.toml").write_text(
        'name = "docs"\n[sources.app]\ntype = "mongo"\nurl = "mongodb://localhost:27017"\n'
        'database = "app"\n[sources.app.collections.users]\nmode = "diff"\n'
    )
    users = server["app"]["users"]
    users.insert_many([{"_id": i, "name": f"u{i}", "tags": ["x"]} for i in range(1, 5)])

    def factory(url: str, **options: Any) -> Any:
        return mongomock.MongoClient(url, _store=server._store, **options)

    assert capture(root, "app", "users", _client_factory=factory).rows == 4
    users.update_one({"_id": 2}, {"$set": {"name": "renamed"}})
    users.delete_one({"_id": 4})
    result = capture(root, "app", "users", _client_factory=factory)
    kept = raw_records(root, "raw.app.users", result.batch_id)
    assert sorted(kept, key=lambda r: r["_deleted"]) == [
        {"_id": {"$numberInt": "2"}, "name": "renamed", "tags": ["x"], "_deleted": False},
        {"_id": {"$numberInt": "4"}, "_deleted": True},
    ]
