"""`chinook-store` as users run it: load a copy, serve it, one-line errors."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import dataset


def store(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinook_store", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "CHINOOK_STORE_DB"},
    )


def test_bad_databases_fail_in_one_line(tmp_path: Path) -> None:
    missing = store("serve", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: SQLite database {tmp_path / 'none.sqlite'} does not exist; run `batchlake "
        "demo` to generate the demo store, or pass --db with the URL of a Chinook database"
    ]
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    not_chinook = store("serve", "--db", f"sqlite:///{empty}")
    assert not_chinook.returncode == 2 and "is not a Chinook database" in not_chinook.stderr
    assert "Traceback" not in not_chinook.stderr
    assert "not a database URL" in store("serve", "--db", "chinook.sqlite").stderr


def test_load_then_serve(tmp_path: Path) -> None:
    source = dataset("chinook/chinook.sqlite")
    target = tmp_path / "copy.sqlite"  # created by `load`
    url = f"sqlite:///{target}"
    loaded = store("load", "--from", f"sqlite:///{source}", "--db", url)
    assert loaded.returncode == 0, loaded.stderr
    with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
        for table in ("Track", "Invoice", "InvoiceLine", "PlaylistTrack"):
            query = f"SELECT * FROM {table} ORDER BY 1, 2"
            assert a.execute(query).fetchall() == b.execute(query).fetchall()
    again = store("load", "--from", f"sqlite:///{source}", "--db", url)
    assert again.returncode == 2 and "pass --replace" in again.stderr
    assert store("load", "--from", f"sqlite:///{source}", "--db", url, "--replace").returncode == 0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "chinook_store", "serve", "--db", url, "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/albums/1", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert response.json()["title"] == "For Those About To Rock We Salute You"
    finally:
        server.terminate()
        server.wait(timeout=30)
