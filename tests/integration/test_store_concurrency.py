"""Concurrent checkouts on MariaDB and PostgreSQL never give inconsistent invoices."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import dataset, require_service
from tests.support.store import client, live_server, mariadb_copy, plain_sql, postgres_copy

THREADS = 10
PER_THREAD = 6


def _cart(n: int) -> dict[int, int]:
    # Overlapping tracks across threads, 1 to 3 lines, quantities 1 to 3.
    return {1 + (n * 7 + k * 13) % 3503: 1 + (n + k) % 3 for k in range(1 + n % 3)}


@pytest.mark.parametrize("loader", [mariadb_copy, postgres_copy], ids=["mariadb", "postgresql"])
def test_concurrent_checkouts_are_consistent(
    loader: Callable[[str, Path], str],
) -> None:
    from chinook_store.db import make_engine, session_factory
    from chinook_store.sales import NewCustomer, checkout

    url = loader("store_chinook_concurrency", dataset("chinook/chinook.sqlite"))
    engine = make_engine(url, pool_size=THREADS)
    sessions = session_factory(engine)

    def shopper(thread: int) -> list[tuple[int, dict[int, int]]]:
        made = []
        for i in range(PER_THREAD):
            n = thread * PER_THREAD + i
            items = _cart(n)
            with sessions() as db:
                if n % 2:
                    new = NewCustomer(f"Buyer{n}", "Concurrent", f"buyer{n}@example.org")
                    invoice = checkout(db, items, new_customer=new)
                else:
                    invoice = checkout(db, items, customer_id=1 + n % 59)
            made.append((invoice.InvoiceId, items))
        return made

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            made = [m for batch in pool.map(shopper, range(THREADS)) for m in batch]
    finally:
        engine.dispose()

    total = THREADS * PER_THREAD
    ids = [invoice_id for invoice_id, _ in made]
    assert len(set(ids)) == total and min(ids) == 413 and max(ids) == 412 + total
    assert plain_sql(url, 'SELECT count(*) FROM "Invoice"') == [(412 + total,)]
    lines = plain_sql(
        url,
        'SELECT l."InvoiceId", l."TrackId", l."Quantity", l."UnitPrice", '
        't."UnitPrice" FROM "InvoiceLine" l JOIN "Track" t '
        'ON t."TrackId" = l."TrackId" WHERE l."InvoiceId" > 412',
    )
    by_invoice: dict[int, dict[int, int]] = {}
    sums: dict[int, Decimal] = {}
    for invoice_id, track_id, quantity, price, track_price in lines:
        assert price == track_price
        by_invoice.setdefault(invoice_id, {})[track_id] = quantity
        sums[invoice_id] = sums.get(invoice_id, Decimal(0)) + Decimal(price) * quantity
    assert by_invoice == dict(made)  # every invoice has exactly its own cart's lines
    totals = plain_sql(
        url,
        'SELECT "InvoiceId", "Total" FROM "Invoice" WHERE "InvoiceId" > 412',
    )
    assert {i: Decimal(t) for i, t in totals} == sums
    customers = plain_sql(
        url,
        'SELECT count(*), count(DISTINCT "CustomerId") FROM "Customer" '
        "WHERE \"LastName\" = 'Concurrent'",
    )
    assert customers == [(total // 2, total // 2)]


def test_prepare_makes_the_official_mysql_script_sellable() -> None:
    """The MySQL script has plain INT ids: `prepare` adds AUTO_INCREMENT, then sales work."""
    require_service("MariaDB", "127.0.0.1", 3306)
    import pymysql
    from pymysql.constants import CLIENT

    from chinook_store.db import make_engine, prepare_ids
    from chinook_store.errors import StoreError

    script = dataset("chinook/Chinook_MySql.sql").read_text(encoding="utf-8")
    script = re.sub(r"(?im)^(DROP DATABASE|CREATE DATABASE|USE ).*$", "", script)
    conn = pymysql.connect(
        host="127.0.0.1", user="root", client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS store_chinook_script")
            cursor.execute("CREATE DATABASE store_chinook_script CHARACTER SET utf8mb4")
            cursor.execute("USE store_chinook_script")
            cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
            cursor.execute(script)
            while cursor.nextset():
                pass
    finally:
        conn.close()
    url = "mysql://root@127.0.0.1:3306/store_chinook_script"
    with pytest.raises(StoreError, match="chinook-store prepare"):
        client(url)
    engine = make_engine(url)
    assert prepare_ids(engine) == ["Customer", "Invoice", "InvoiceLine"]
    assert prepare_ids(engine) == []
    engine.dispose()
    api = client(url)
    api.post("/api/cart", json={"track_id": 1, "quantity": 2})
    invoice = api.post("/api/checkout", json={"customer_id": 3}).json()
    assert invoice["invoice_id"] == 413
    assert plain_sql(url, "SELECT Total FROM Invoice WHERE InvoiceId = 413") == [(Decimal("1.98"),)]
    api.app.state.engine.dispose()


@pytest.mark.parametrize("loader", [mariadb_copy, postgres_copy], ids=["mariadb", "postgresql"])
def test_the_api_on_server_databases(loader: Callable[[str, Path], str]) -> None:
    """Search, album, cart, checkout, history and 404s through the app on each server."""
    url = loader("store_chinook_api", dataset("chinook/chinook.sqlite"))
    api = client(url)
    try:
        expected = plain_sql(
            url,
            'SELECT count(*) FROM "Track" t LEFT JOIN "Album" al ON al."AlbumId" = t."AlbumId" '
            'LEFT JOIN "Artist" ar ON ar."ArtistId" = al."ArtistId" '
            "WHERE lower(t.\"Name\") LIKE '%love%' OR lower(t.\"Composer\") LIKE '%love%' "
            "OR lower(al.\"Title\") LIKE '%love%' OR lower(ar.\"Name\") LIKE '%love%'",
        )[0][0]
        assert api.get("/api/tracks", params={"q": "LoVe"}).json()["total"] == expected > 30
        assert api.get("/api/albums/1").json()["artist"] == "AC/DC"
        assert api.get("/api/albums/999999").status_code == 404
        assert "Balls to the Wall" in api.get("/tracks", params={"q": "balls"}).text
        api.post("/api/cart", json={"track_id": 2819, "quantity": 2, "unit_price": "0.01"})
        invoice = api.post("/api/checkout", json={"customer_id": 12}).json()
        assert invoice["invoice_id"] == 413 and invoice["total"] == "3.98"
        billing = plain_sql(
            url,
            'SELECT i."BillingAddress", c."Address", i."Total" FROM "Invoice" i '
            'JOIN "Customer" c ON c."CustomerId" = i."CustomerId" WHERE i."InvoiceId" = 413',
        )
        assert billing[0][0] == billing[0][1] and billing[0][2] == Decimal("3.98")
        history = api.get("/api/customers/12/invoices").json()["invoices"]
        assert history[0]["invoice_id"] == 413
        assert (
            len(history)
            == plain_sql(url, 'SELECT count(*) FROM "Invoice" WHERE "CustomerId" = 12')[0][0]
        )
    finally:
        api.app.state.engine.dispose()


@pytest.mark.parametrize("loader", [mariadb_copy, postgres_copy], ids=["mariadb", "postgresql"])
def test_concurrent_checkouts_over_http(loader: Callable[[str, Path], str]) -> None:
    """Shoppers in threads, each with its own cookie jar, against the served app."""
    import httpx

    url = loader("store_chinook_http", dataset("chinook/chinook.sqlite"))

    def shopper(n: int) -> list[int]:
        made = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in range(3):
                for track, quantity in _cart(n * 3 + i).items():
                    added = http.post("/api/cart", json={"track_id": track, "quantity": quantity})
                    assert added.status_code == 201, added.text
                done = http.post("/api/checkout", json={"customer_id": 1 + n})
                assert done.status_code == 201, done.text
                made.append(done.json()["invoice_id"])
        return made

    with live_server(url) as base, ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(shopper, range(8)) for i in batch]
    assert sorted(ids) == list(range(413, 413 + 24))
    inconsistent = plain_sql(
        url,
        'SELECT i."InvoiceId" FROM "Invoice" i LEFT JOIN "InvoiceLine" l '
        'ON l."InvoiceId" = i."InvoiceId" GROUP BY i."InvoiceId", i."Total" '
        'HAVING count(l."InvoiceLineId") = 0 OR sum(l."UnitPrice" * l."Quantity") <> i."Total"',
    )
    assert inconsistent == []
