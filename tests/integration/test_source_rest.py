"""The REST source end to end: a real HTTP server in a thread serves the Fake Store data
(paged three ways, with injected failures) and `batchlake run` captures it into the lake."""

from __future__ import annotations

import copy
import gzip
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.conftest import dataset
from tests.support.cli import batchlake, query_json

TOKEN = "integration-secret-token"
TIMEOUT = 0.5
CARTS_PAGE = 3

PROJECT = """
name = "shop"

[sources.store]
type = "rest"
base_url = "${STORE_URL}"
auth = { type = "bearer", token = "${STORE_TOKEN}" }
timeout_seconds = %(timeout)s
max_retries = 3
backoff_seconds = 0.01
max_backoff_seconds = 0.05

[sources.store.endpoints.products]
path = "/products"
primary_key = ["id"]
paginator = { type = "page", page_param = "page", size_param = "limit", page_size = 6 }

[sources.store.endpoints.users]
path = "/users"
records_path = "data"
paginator = { type = "offset", limit = 4, total_path = "meta.total" }

[sources.store.endpoints.carts]
path = "/carts"
mode = "incremental"
cursor_param = "since"
cursor_field = "date"
paginator = { type = "link_header" }
"""

MODEL = """-- Products, one row per id (the latest captured batch wins).
SELECT id, title, CAST(price AS DECIMAL(10, 2)) AS price
FROM raw.store.products
QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1
"""


class FakeStore(ThreadingHTTPServer):
    """The Fake Store API, paged per endpoint, with failures queued by request number."""

    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), StoreHandler)
        self.data = data
        self.failures: dict[tuple[str, int], str] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests(self, endpoint: str) -> list[dict[str, str]]:
        with self.lock:
            return [query for path, query in self.log if path == endpoint]


class StoreHandler(BaseHTTPRequestHandler):
    server: FakeStore
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        endpoint, query = parts.path.strip("/"), dict(parse_qsl(parts.query))
        with self.server.lock:
            self.server.log.append((endpoint, query))
            number = sum(1 for path, _ in self.server.log if path == endpoint)
            failure = self.server.failures.pop((endpoint, number), None)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, {"error": "missing or wrong token"})
        if endpoint not in self.server.data:
            return self.reply(404, {"error": f"no {endpoint}"})
        if failure == "500":
            return self.reply(500, {"error": "internal"})
        if failure == "429":
            return self.reply(429, {"error": "slow down"}, {"Retry-After": "0"})
        records = self.server.data[endpoint]
        headers: dict[str, str] = {}
        if endpoint == "products":  # page numbers: a bare list
            page, size = int(query.get("page", 1)), int(query.get("limit", 5))
            body: Any = records[(page - 1) * size : page * size]
        elif endpoint == "users":  # offset/limit with the total
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 5))
            body = {"data": records[offset : offset + limit], "meta": {"total": len(records)}}
        else:  # carts: filtered by `since`, paged by Link headers
            since = query.get("since", "")
            matching = [r for r in records if r["date"] > since]
            page = int(query.get("page", 1))
            body = matching[(page - 1) * CARTS_PAGE : page * CARTS_PAGE]
            if page * CARTS_PAGE < len(matching):
                following = urlencode({**query, "page": page + 1})
                headers["Link"] = f'<{self.server.url}/carts?{following}>; rel="next"'
        if failure == "slow":
            time.sleep(TIMEOUT * 2)
        self.reply(200, body, headers, drop=failure == "drop")

    def reply(
        self, status: int, body: Any, headers: dict[str, str] | None = None, drop: bool = False
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if drop else data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow answer)
        if drop:
            self.close_connection = True


def load(name: str) -> list[dict[str, Any]]:
    path = dataset(f"fakestore/{name}.json")
    records: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))
    return records


@pytest.fixture(scope="module")
def store() -> Iterator[FakeStore]:
    server = FakeStore({name: load(name) for name in ("products", "users", "carts")})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def env(store: FakeStore) -> dict[str, str]:
    return {
        "STORE_URL": store.url,
        "STORE_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, store: FakeStore, env: dict[str, str]
) -> Path:
    """A lake project captured once from the store, through every injected failure."""
    folder = tmp_path_factory.mktemp("rest") / "shop"
    (folder / "models" / "trusted").mkdir(parents=True)
    (folder / "batchlake.toml").write_text(PROJECT % {"timeout": TIMEOUT}, "utf-8")
    (folder / "models" / "trusted" / "products.sql").write_text(MODEL, "utf-8")
    store.failures = {
        ("products", 1): "500",
        ("products", 3): "slow",  # page 2, first try: answers after the timeout
        ("users", 1): "429",
        ("carts", 2): "drop",  # page 2, first try: the connection drops mid-body
    }
    batchlake("run", "-p", str(folder), env=env)
    return folder


def batches(project: Path, entity: str) -> list[tuple[str, int, str | None, str | None]]:
    db = sqlite3.connect(project / ".batchlake" / "metadata.sqlite")
    try:
        return db.execute(
            "SELECT status, rows, path, cursor_to FROM batches "
            "WHERE source = 'store' AND entity = ? ORDER BY batch_id",
            [entity],
        ).fetchall()
    finally:
        db.close()


def raw_files(project: Path, entity: str) -> list[Path]:
    return sorted((project / "lake" / "raw" / "store" / entity).glob("**/*.jsonl.gz"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_first_run_captures_every_record_through_the_failures(
    project: Path, store: FakeStore, env: dict[str, str]
) -> None:
    assert store.failures == {}  # every injected failure was met
    # Retries show in the server's log: products 4 pages + a 500 + a timeout, and so on.
    assert [q.get("page") for q in store.requests("products")] == ["1", "1", "2", "2", "3", "4"]
    assert [q.get("offset") for q in store.requests("users")] == ["0", "0", "4", "8"]
    assert [q.get("page") for q in store.requests("carts")] == [None, "2", "2", "3"]
    assert all("since" not in q for q in store.requests("carts"))  # no cursor yet
    for entity in ("products", "users", "carts"):
        expected = load(entity)
        (path,) = raw_files(project, entity)
        assert read_jsonl(path) == expected  # as received, in order, nothing lost or doubled
        assert [b[:2] for b in batches(project, entity)] == [("written", len(expected))]
    counted = query_json(
        project,
        "SELECT (SELECT count(*) FROM raw.store.products) AS products, "
        "(SELECT count(*) FROM raw.store.users) AS users, "
        "(SELECT count(*) FROM raw.store.carts) AS carts",
        env,
    )
    assert counted == [{name: len(load(name)) for name in ("products", "users", "carts")}]
    assert batches(project, "carts")[0][3] == max(c["date"] for c in load("carts"))


def test_trusted_model_reads_the_captured_products(project: Path, env: dict[str, str]) -> None:
    rows = query_json(project, "SELECT id, title, price FROM trusted.products ORDER BY id", env)
    expected = sorted(load("products"), key=lambda p: p["id"])
    assert [(r["id"], r["title"]) for r in rows] == [(p["id"], p["title"]) for p in expected]
    assert [float(r["price"]) for r in rows] == [round(p["price"], 2) for p in expected]


def test_second_run_records_duplicates_and_sends_the_cursor(
    project: Path, store: FakeStore, env: dict[str, str]
) -> None:
    last_date = max(c["date"] for c in load("carts"))
    new_cart = {**copy.deepcopy(load("carts")[0]), "id": 99, "date": "2020-04-01T00:00:00.000Z"}
    store.data["carts"].append(new_cart)
    seen = len(store.requests("carts"))

    result = batchlake("run", "-p", str(project), env=env)
    assert "duplicate" in result.stderr
    for entity in ("products", "users"):
        statuses = [b[0] for b in batches(project, entity)]
        assert statuses == ["written", "duplicate"]
        assert len(raw_files(project, entity)) == 1  # no new batch file
    second = store.requests("carts")[seen:]
    assert [q.get("since") for q in second] == [last_date]
    carts = batches(project, "carts")
    assert [(b[0], b[1]) for b in carts] == [("written", 7), ("written", 1)]
    assert carts[-1][3] == new_cart["date"]
    assert read_jsonl(raw_files(project, "carts")[-1]) == [new_cart]
    counted = query_json(
        project,
        "SELECT (SELECT count(*) FROM raw.store.products) AS products, "
        "(SELECT count(*) FROM raw.store.carts) AS carts",
        env,
    )
    assert counted == [{"products": len(load("products")), "carts": len(load("carts")) + 1}]


def test_query_command_answers_json(project: Path, env: dict[str, str]) -> None:
    out = batchlake(
        "query",
        "-p",
        str(project),
        "--format",
        "json",
        "SELECT count(*) AS n FROM raw.store.products",
        env=env,
    ).stdout
    assert json.loads(out) == [{"n": len(load("products"))}]


def test_wrong_token_fails_with_a_clear_message_without_the_secret(
    tmp_path: Path, store: FakeStore, env: dict[str, str]
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "batchlake.toml").write_text(PROJECT % {"timeout": TIMEOUT}, "utf-8")
    wrong = "wrong-secret-value"
    result = batchlake("run", "-p", str(folder), env={**env, "STORE_TOKEN": wrong}, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "401" in output and "sources.store.auth" in output
    assert wrong not in output
