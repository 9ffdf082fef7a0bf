"""Shoppers checking out at once on the default SQLite store (and on PostgreSQL), through
a real uvicorn server.

Every checkout is answered 201 with a consistent invoice, or 503 with Retry-After past
the stated capacity; never a 500, never a lock or pool timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import dataset
from tests.support.store import live_server, plain_sql, postgres_copy, sqlite_copy

CHINOOK_INVOICES = 412


@dataclass(frozen=True)
class Answer:
    status: int
    cart: dict[int, int]
    body: dict[str, Any]
    retry_after: str | None


def _cart(n: int) -> dict[int, int]:
    """Shopper n's cart: one to three overlapping tracks, quantities 1 to 3."""
    return {1 + (n * 37 + k * 101) % 3503: 1 + (n + k) % 3 for k in range(1 + n % 3)}


async def _everyone_checks_out(base: str, shoppers: int) -> list[Answer]:
    """Each shopper fills a cart (own cookies), then all check out at the same moment."""
    import httpx

    clients = [httpx.AsyncClient(base_url=base, timeout=120) for _ in range(shoppers)]
    try:
        carts = [_cart(n) for n in range(shoppers)]
        for client, cart in zip(clients, carts, strict=True):
            for track, quantity in cart.items():
                added = await client.post(
                    "/api/cart", json={"track_id": track, "quantity": quantity}
                )
                assert added.status_code == 201, added.text
        start = asyncio.Event()

        async def check_out(client: httpx.AsyncClient, n: int) -> Answer:
            await start.wait()
            done = await client.post("/api/checkout", json={"customer_id": 1 + n % 59})
            body = done.json() if done.headers.get("content-type") == "application/json" else {}
            return Answer(done.status_code, carts[n], body, done.headers.get("retry-after"))

        tasks = [asyncio.ensure_future(check_out(c, n)) for n, c in enumerate(clients)]
        await asyncio.sleep(0)
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        for client in clients:
            await client.aclose()


def _assert_consistent(url: str, answers: list[Answer]) -> None:
    """Each 201 is an invoice with exactly its cart's lines at the tracks' prices; no other."""
    sold = [a for a in answers if a.status == 201]
    ids = [a.body["invoice_id"] for a in sold]
    assert len(set(ids)) == len(sold)
    new = plain_sql(
        url, 'SELECT count(*) FROM "Invoice" WHERE "InvoiceId" > ?', (CHINOOK_INVOICES,)
    )
    assert new == [(len(sold),)]  # refused checkouts wrote nothing
    lines = plain_sql(
        url,
        'SELECT l."InvoiceId", l."TrackId", l."Quantity", l."UnitPrice", t."UnitPrice" '
        'FROM "InvoiceLine" l JOIN "Track" t ON t."TrackId" = l."TrackId" '
        'WHERE l."InvoiceId" > ?',
        (CHINOOK_INVOICES,),
    )
    by_invoice: dict[int, dict[int, int]] = {}
    sums: dict[int, Decimal] = {}
    for invoice_id, track, quantity, price, track_price in lines:
        assert Decimal(str(price)) == Decimal(str(track_price))
        by_invoice.setdefault(invoice_id, {})[track] = quantity
        sums[invoice_id] = sums.get(invoice_id, Decimal(0)) + Decimal(str(price)) * quantity
    assert by_invoice == {a.body["invoice_id"]: a.cart for a in sold}
    totals = plain_sql(
        url, 'SELECT "InvoiceId", "Total" FROM "Invoice" WHERE "InvoiceId" > ?', (CHINOOK_INVOICES,)
    )
    assert {i: Decimal(str(t)).quantize(Decimal("0.01")) for i, t in totals} == sums
    for answer in sold:
        assert Decimal(answer.body["total"]) == sums[answer.body["invoice_id"]]


def _assert_refusals(answers: list[Answer]) -> None:
    assert {a.status for a in answers} <= {201, 503}, sorted({a.status for a in answers})
    for refused in (a for a in answers if a.status == 503):
        assert refused.retry_after is not None and int(refused.retry_after) >= 1
        assert "try again" in refused.body["detail"]


def test_100_shoppers_checking_out_at_once_are_all_served(tmp_path: Path) -> None:
    url = f"sqlite:///{sqlite_copy(tmp_path)}"
    with live_server(url) as base:
        answers = asyncio.run(_everyone_checks_out(base, 100))
    _assert_refusals(answers)
    assert [a.status for a in answers] == [201] * 100  # within the default capacity
    _assert_consistent(url, answers)


def test_past_capacity_checkouts_are_refused_with_503_and_retry_after(tmp_path: Path) -> None:
    url = f"sqlite:///{sqlite_copy(tmp_path)}"
    with live_server(url, max_concurrent_requests=2, max_queued_requests=10) as base:
        answers = asyncio.run(_everyone_checks_out(base, 100))
        # The refused shoppers come back later, as Retry-After told them, and are served.
        again = asyncio.run(_everyone_checks_out(base, 3))
    _assert_refusals(answers)
    statuses = [a.status for a in answers]
    assert 201 in statuses and 503 in statuses
    assert [a.status for a in again] == [201] * 3
    _assert_consistent(url, answers + again)


def test_200_shoppers_checking_out_at_once_on_postgresql() -> None:
    """More requests than pooled connections: they wait their turn, none deadlocks."""
    url = postgres_copy("store_chinook_burst", dataset("chinook/chinook.sqlite"))
    with live_server(url) as base:
        answers = asyncio.run(_everyone_checks_out(base, 200))
    _assert_refusals(answers)
    assert [a.status for a in answers] == [201] * 200
    _assert_consistent(url, answers)
