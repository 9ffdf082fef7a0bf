"""The store's write gate, its order admission, and 503s instead of lock timeouts."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from chinook_store.errors import Busy
from chinook_store.writes import Admission, WriteGate
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


def test_admission_refuses_past_its_limit_with_a_retry_time() -> None:
    orders = Admission(2)
    with orders.enter(), orders.enter():
        with pytest.raises(Busy, match="2 orders at once") as refused, orders.enter():
            pass
        assert refused.value.retry_after >= 1
    with orders.enter():  # places are given back
        assert orders.in_flight == 1


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
