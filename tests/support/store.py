"""Helpers of the Chinook store tests: a TestClient, a live server, database copies."""

from __future__ import annotations

import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import dataset, require_service

MARIADB = "mysql://root@127.0.0.1:3306"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def sqlite_copy(tmp_path: Path, name: str = "chinook.sqlite") -> Path:
    """A private copy of the real Chinook SQLite file (tests write to it)."""
    target = tmp_path / name
    shutil.copyfile(dataset("chinook/chinook.sqlite"), target)
    return target


def client(db_url: str) -> Any:
    """A TestClient of the store on `db_url` (cookies kept between requests)."""
    with warnings.catch_warnings():
        # Starlette announces a move to httpx2 at import time; not ours to fix.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from chinook_store import StoreSettings, create_app

    return TestClient(create_app(StoreSettings(db_url=db_url, secret_key="test-secret")))


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def mariadb_copy(database: str, source: Path) -> str:
    """A MariaDB database `database` (dropped first) holding a copy of the SQLite store."""
    require_service("MariaDB", "127.0.0.1", 3306)
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
            cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
    finally:
        conn.close()
    return _load(f"{MARIADB}/{database}", source)


def postgres_copy(database: str, source: Path) -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    return _load(f"{POSTGRES}/{database}", source)


def _load(url: str, source: Path) -> str:
    from chinook_store.db import make_engine
    from chinook_store.load import copy_database

    source_engine, target_engine = make_engine(f"sqlite:///{source}"), make_engine(url)
    try:
        copy_database(source_engine, target_engine)
    finally:
        source_engine.dispose()
        target_engine.dispose()
    return url


def plain_sql(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` through the bare DB-API driver (no SQLAlchemy, no store code).

    Placeholders are written `?` and identifiers quoted "Like" this (ANSI_QUOTES on MySQL).
    """
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    if url.startswith("mysql://"):
        import pymysql

        database = url.rsplit("/", 1)[1]
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
                cursor.execute(sql.replace("?", "%s") if params else sql, params or None)
                return [tuple(r) for r in cursor.fetchall()]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        query = sql.replace("?", "%s") if params else sql
        return [tuple(r) for r in pg.execute(query, params or None).fetchall()]


@contextmanager
def live_server(db_url: str, **settings: Any) -> Iterator[str]:
    """The store served by uvicorn in a thread on a free port; yields its base URL.

    `settings` are StoreSettings fields (say, a small `max_pending_orders`).
    """
    import uvicorn

    from chinook_store import StoreSettings, create_app

    app = create_app(StoreSettings(db_url=db_url, **settings))
    # Keep-alive outlives the slowest test's cart filling: a connection the server closes
    # for idleness just as a shopper reuses it for the checkout is a client ReadError,
    # a race of the harness, not of the store.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_keep_alive=600
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the store server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
