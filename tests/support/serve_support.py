"""Helpers of the serve tests: a demo lake, independent reads, a live uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.cli import batchlake

if TYPE_CHECKING:
    import pyarrow as pa
    from fastapi import FastAPI

OPERATOR = "operator-key-for-tests-0123456789"
READER = "reader-key-for-tests-0123456789"
ENV_KEYS = f"operator:{OPERATOR},reader:{READER}"


def build_lake(root: Path, invoices: int = 600) -> Path:
    project = root / "lake"
    batchlake("demo", "--dir", str(project), "--invoices", str(invoices), "--seed", "7")
    return project


def iceberg_arrow(project: Path, name: str, snapshot_id: int | None = None) -> pa.Table:
    """A table read with PyIceberg straight from the catalog database (not through batchlake)."""
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog(
        "batchlake",  # the catalog name batchlake registers its tables under
        uri=f"sqlite:///{project}/.batchlake/catalog.sqlite",
        warehouse=f"file://{project}/lake/warehouse",
    )
    zone, table = name.split(".")
    return catalog.load_table((zone, table)).scan(snapshot_id=snapshot_id).to_arrow()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """uvicorn on 127.0.0.1 and an ephemeral port, in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
