"""The store's write gate, its request limit, and 503s instead of lock or pool timeouts."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chinook_store.errors import Busy
from chinook_store.limits import RequestLimit
from chinook_store.writes import WriteGate
from tests.support.store import client, sqlite_copy


def test_the_gate_serves_writers_in_arrival_order() -> None:
    gate = WriteGate(wait_seconds=5)
    order: list[int] = []

    def writer(n: int) -> None:
        with gate.hold():
            order.append(n)

    with gate.hold():
        threads = []
        for n in range(5):
            thread = threading.Thread(target=writer, args=(n,))
            thread.start()
            threads.append(thread)
            while gate.waiting <= n:  # each is queued before the next arrives
                time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_gives_up_after_the_wait_and_the_queue_carries_on() -> None:
    gate = WriteGate(wait_seconds=0.05)
    with gate.hold(), pytest.raises(Busy) as refused, gate.hold():
        pass
    assert refused.value.retry_after >= 1 and "within 0.05 s" in str(refused.value)
    assert gate.waiting == 0
    with gate.hold():  # the gate is free again
        pass


def test_the_request_limit_queues_then_refuses_with_retry_after() -> None:
    """Two inside, one waiting; the next is refused at once, the waiting one is served."""
    import asyncio

    release = asyncio.Event()
    inside = 0

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal inside
        inside += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limit = RequestLimit(slow_app, concurrent=2, queued=1, wait_seconds=5)

    async def request() -> tuple[int, dict[str, str]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "path": "/api/checkout", "method": "POST", "headers": []}
        await limit(scope, receive, send)
        start = sent[0]
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers

    async def scenario() -> list[tuple[int, dict[str, str]]]:
        first = [asyncio.ensure_future(request()) for _ in range(3)]
        while inside < 2 or limit.waiting < 1:
            await asyncio.sleep(0.001)
        refused = await request()  # two inside and one waiting: no room
        release.set()
        return [refused, *await asyncio.gather(*first)]

    answers = asyncio.run(scenario())
    assert answers[0][0] == 503 and int(answers[0][1]["retry-after"]) >= 1
    assert [status for status, _ in answers[1:]] == [200, 200, 200]


def test_a_lock_held_by_another_process_gives_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers (processes) share the file: a lock held too long is a 503, not a 500."""
    import chinook_store.db

    monkeypatch.setattr(chinook_store.db, "SQLITE_BUSY_MS", 200)
    db = sqlite_copy(tmp_path)
    api = client(f"sqlite:///{db}")
    api.post("/api/cart", json={"track_id": 1, "quantity": 1})
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and holding on
    try:
        refused = api.post("/api/checkout", json={"customer_id": 1})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    done = api.post("/api/checkout", json={"customer_id": 1})
    assert done.status_code == 201 and done.json()["invoice_id"] == 413


def test_the_store_keeps_sqlite_in_wal_mode(tmp_path: Path) -> None:
    db = sqlite_copy(tmp_path)
    client(f"sqlite:///{db}").get("/api/artists")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
