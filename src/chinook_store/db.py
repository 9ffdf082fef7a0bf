"""Engines from URLs, and database-generated primary keys on every supported database.

`mysql://` and `postgresql://` URLs get their Python drivers (PyMySQL, psycopg 3), so the
same URL works for batchlake's capture and for the store.

SQLite runs in WAL mode with a connection for every server thread, and its writes queue
in a `WriteGate` (see `chinook_store.writes`): under load a checkout is served, or refused
with 503 and Retry-After past the stated capacity, never failed on a lock timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chinook_store.errors import StoreError
from chinook_store.writes import WriteGate

_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgresql": "postgresql+psycopg",
}
_POSTGRES_ALIASES = {"postgres": "postgresql"}
CHINOOK_TABLES = {"Artist", "Album", "Track", "Genre", "MediaType"} | {
    "Customer",
    "Invoice",
    "InvoiceLine",
}
# Execution option of a session that will write (see _sqlite_begin).
WRITE_OPTION = "chinook_store_writes"
# The tables whose ids the store generates when it writes rows.
ID_COLUMNS = {"Customer": "CustomerId", "Invoice": "InvoiceId", "InvoiceLine": "InvoiceLineId"}
# Session.info key of the SQLite write gate (absent on server databases).
WRITE_GATE = "chinook_store_write_gate"
# FastAPI runs sync endpoints on AnyIO's thread pool (40 threads by default), and a
# request keeps its connection until its response is serialised, which waits for a thread
# again. A bounded pool could then hold every connection in requests waiting for a thread
# while every thread waits for a connection. SQLite connections are cheap (a file handle),
# so on SQLite the pool keeps 40 and opens more as needed: no request waits for the pool.
SQLITE_POOL = 40
# How long a connection waits for SQLite's lock held by another process (several
# workers) before the request is answered 503; writers of one process queue in the gate.
SQLITE_BUSY_MS = 10_000


def normalise_url(url: str) -> str:
    """Give bare `mysql://` / `postgresql://` URLs the drivers the store ships with."""
    if "://" not in url:
        raise StoreError(
            f"'{url}' is not a database URL; write e.g. sqlite:///demo-lake/data/chinook.sqlite,"
            " mysql://root@127.0.0.1/chinook or postgresql://postgres@127.0.0.1/chinook"
        )
    scheme, rest = url.split("://", 1)
    scheme = _POSTGRES_ALIASES.get(scheme, scheme)
    return f"{_DRIVERS.get(scheme, scheme)}://{rest}"


def make_engine(url: str, *, pool_size: int = 10, create: bool = False) -> Engine:
    """An engine for the store's database; a missing SQLite file is an error unless `create`."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not create and not Path(path).exists():
            raise StoreError(
                f"SQLite database {path} does not exist; run `batchlake demo` to generate "
                "the demo store, or pass --db with the URL of a Chinook database"
            )
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_MS / 1000},
            pool_size=SQLITE_POOL,
            max_overflow=-1,  # no limit
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_recycle": 3600,  # under MySQL's wait_timeout; no ping round trip per request
    }
    if parsed.get_backend_name() == "mysql":
        options["isolation_level"] = "READ COMMITTED"
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return create_engine(parsed, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let pysqlite leave transactions to us (BEGIN below), and wait for locks.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    # WAL: readers and the writer do not block each other (with the default rollback
    # journal a commit waits for every reader to finish). The mode is kept in the file;
    # readers such as batchlake's capture read it as usual.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Reads begin a deferred transaction; a writing unit of work (checkout) asks for
    # BEGIN IMMEDIATE, taking the write lock first, so two checkouts queue on the busy
    # timeout instead of failing to upgrade their read locks.
    immediate = connection.get_execution_options().get(WRITE_OPTION)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def write_gate(engine: Engine, wait_seconds: float = 10.0) -> WriteGate | None:
    """The gate the writes of this process queue in on SQLite; None on server databases."""
    return WriteGate(wait_seconds=wait_seconds) if engine.dialect.name == "sqlite" else None


def session_factory(engine: Engine, gate: WriteGate | None = None) -> sessionmaker[Session]:
    """Sessions on `engine`; on SQLite they share `gate` (a new one when not given)."""
    gate = gate or write_gate(engine)
    info = {WRITE_GATE: gate} if gate is not None else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def writing(db: Session) -> Iterator[None]:
    """Around a writing transaction: on SQLite, wait for this process's turn to write.

    Raises `Busy` (503 with Retry-After) when the queue is full or the turn does not come
    in time. Call it outside any open transaction, so a waiting request holds no lock.
    """
    gate: WriteGate | None = db.info.get(WRITE_GATE)
    with gate.hold() if gate is not None else nullcontext():
        yield


def check_schema(engine: Engine) -> None:
    """Refuse a database without the Chinook tables or without generated ids, saying why."""
    tables = set(inspect(engine).get_table_names())
    missing = CHINOOK_TABLES - tables
    if missing:
        raise StoreError(
            f"{engine.url.render_as_string(hide_password=True)} is not a Chinook database "
            f"(no table {', '.join(sorted(missing))}); load one with `chinook-store load --db URL`"
        )
    lacking = [t for t in ID_COLUMNS if not _generates_ids(engine, t)]
    if lacking:
        raise StoreError(
            f"the database does not generate ids for {', '.join(lacking)}; run "
            "`chinook-store prepare --db URL` once to add AUTO_INCREMENT / identity columns"
        )


def _generates_ids(engine: Engine, table: str) -> bool:
    column = ID_COLUMNS[table]
    backend = engine.dialect.name
    with engine.connect() as conn:
        if backend == "sqlite":
            # An INTEGER PRIMARY KEY is the rowid: SQLite assigns it.
            return True
        if backend == "mysql":
            extra = conn.execute(
                text(
                    "SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                    " AND TABLE_NAME = :t AND COLUMN_NAME = :c"
                ),
                {"t": table, "c": column},
            ).scalar()
            return "auto_increment" in (extra or "").lower()
        if backend == "postgresql":
            return bool(
                conn.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c) IS NOT NULL"),
                    {"t": f'"{table}"', "c": column},
                ).scalar()
            )
    return True


def prepare_ids(engine: Engine) -> list[str]:
    """Make the database generate the ids of Customer, Invoice and InvoiceLine (idempotent).

    For a Chinook copy loaded from the official MySQL or a PascalCase PostgreSQL script,
    whose ids are plain INT columns. Returns the tables changed.
    """
    changed = []
    for table, column in ID_COLUMNS.items():
        if _generates_ids(engine, table):
            continue
        with engine.begin() as conn:
            if engine.dialect.name == "mysql":
                # Columns referenced by foreign keys can only be modified with checks off.
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
                conn.execute(
                    text(f"ALTER TABLE `{table}` MODIFY `{column}` INT NOT NULL AUTO_INCREMENT")
                )
                conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
            elif engine.dialect.name == "postgresql":
                conn.execute(
                    text(
                        f'ALTER TABLE "{table}" ALTER COLUMN "{column}" '
                        "ADD GENERATED BY DEFAULT AS IDENTITY"
                    )
                )
                restart_identity(conn, table, column)
        changed.append(table)
    return changed


def restart_identity(conn: Connection, table: str, column: str) -> None:
    """Move a PostgreSQL identity past the ids already in the table."""
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence(:t, :c), "
            f'coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
        ),
        {"t": f'"{table}"', "c": column},
    )
