"""The store and the lake end to end: a shopper in headless Chromium buys two tracks; the
invoice is in the database; the next `batchlake run` captures only the new invoice rows
(incremental by invoice_id) and refined.sales_by_day shows the sale. SQLite and MariaDB."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_program
from tests.support.cli import batchlake as run_cli
from tests.support.cli import query_json
from tests.support.store import live_server, mariadb_copy, plain_sql

CHROMIUM = "/usr/bin/chromium"
INCREMENTAL = """
[sources.chinook.entities.invoice]
mode = "incremental"
cursor = "invoice_id"

[sources.chinook.entities.invoice_line]
mode = "incremental"
cursor = "invoice_id"
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from batchlake.demo.generator import generate

    path = tmp_path_factory.mktemp("store") / "chinook.sqlite"
    generate(path, invoices=300, seed=11)  # dates 2021–2025: today's sale is alone on its day
    return path


@pytest.fixture(params=["sqlite", "mariadb"])
def store_url(request: pytest.FixtureRequest, generated: Path, tmp_path: Path) -> str:
    if request.param == "sqlite":
        copy = tmp_path / "chinook.sqlite"
        shutil.copyfile(generated, copy)
        return f"sqlite:///{copy}"
    return mariadb_copy("store_chinook_e2e", generated)


def shop(base: str, tracks: list[tuple[int, str]], email: str) -> tuple[int, dict[str, Any]]:
    """Search each track by name, add it, check out as `email`; the invoice id, the cart
    total shown and the page widths seen at 375 px."""
    from playwright.sync_api import sync_playwright

    widths: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 812})
            page.goto(f"{base}/tracks")
            widths["tracks"] = page.evaluate("document.documentElement.scrollWidth")
            for track_id, name in tracks:
                page.fill("input[name=q]", name)
                page.click("form.search button[type=submit]")
                page.wait_for_selector(f'button[data-track="{track_id}"]')
                page.click(f'button[data-track="{track_id}"]')
                page.wait_for_selector(".flash")
            page.click("a.cart-link")
            widths["cart_total"] = page.inner_text("#cart-total")
            widths["cart"] = page.evaluate("document.documentElement.scrollWidth")
            page.click("text=Check out")
            widths["checkout"] = page.evaluate("document.documentElement.scrollWidth")
            page.fill("#existing input[name=email]", email)
            page.click("#existing button[type=submit]")
            page.wait_for_selector("#invoice-id")
            invoice_id = int(page.inner_text("#invoice-id"))
            assert "Thank you" in page.content()
        finally:
            browser.close()
    return invoice_id, widths


def test_a_browser_sale_reaches_the_lake(store_url: str, tmp_path: Path) -> None:
    require_program(CHROMIUM, "apt install chromium")
    url = store_url
    project = tmp_path / "lake"
    run_cli("init", "--example", "chinook", str(project))
    with (project / "batchlake.toml").open("a") as toml:
        toml.write(INCREMENTAL)
    env = {"CHINOOK_URL": url}
    # `run --select +refined.sales_by_day`: the captures and models the sale goes through
    # (the other refined models are tested elsewhere and would only add time).
    run_cli("run", "-p", str(project), "--select", "+refined.sales_by_day", env=env)
    invoices_before = plain_sql(url, 'SELECT count(*), max("InvoiceId") FROM "Invoice"')[0]

    picked = plain_sql(
        url,
        'SELECT "TrackId", "Name", "UnitPrice" FROM "Track" WHERE "TrackId" IN (?, ?) '
        'ORDER BY "TrackId"',
        (17, 2041),
    )
    prices = [row[2] for row in picked]
    email = plain_sql(url, 'SELECT "Email" FROM "Customer" WHERE "CustomerId" = 5')[0][0]
    with live_server(url) as base:
        invoice_id, seen = shop(base, [(t, n) for t, n, _ in picked], email)
    assert seen.pop("cart_total") == f"${sum(Decimal(str(p)) for p in prices):.2f}"
    assert all(width <= 375 for width in seen.values()), seen  # no sideways scrolling

    # The invoice, read independently with plain SQL.
    assert invoice_id == invoices_before[1] + 1
    header = plain_sql(
        url,
        'SELECT "CustomerId", "Total", "InvoiceDate" FROM "Invoice" WHERE "InvoiceId" = ?',
        (invoice_id,),
    )
    lines = plain_sql(
        url,
        'SELECT l."TrackId", l."UnitPrice", l."Quantity", '
        't."UnitPrice" FROM "InvoiceLine" l JOIN "Track" t '
        'ON t."TrackId" = l."TrackId" WHERE l."InvoiceId" = ?',
        (invoice_id,),
    )
    assert header[0][0] == 5
    assert sorted(line[0] for line in lines) == [17, 2041]
    assert all(line[1] == line[3] and line[2] == 1 for line in lines)
    amount = sum(Decimal(str(line[1])) for line in lines)
    assert Decimal(str(header[0][1])) == amount

    # The next run captures the new invoice and its lines only.
    run_cli("run", "-p", str(project), "--select", "+refined.sales_by_day", env=env)
    latest = (
        "SELECT invoice_id FROM raw.chinook.{t} "
        "WHERE _batch_id = (SELECT max(_batch_id) FROM raw.chinook.{t})"
    )
    new_invoices = query_json(project, latest.format(t="invoice"), env=env)
    new_lines = query_json(project, latest.format(t="invoice_line"), env=env)
    assert [r["invoice_id"] for r in new_invoices] == [invoice_id]
    assert [r["invoice_id"] for r in new_lines] == [invoice_id, invoice_id]
    raw_total = query_json(project, "SELECT count(*) AS n FROM raw.chinook.invoice", env=env)
    assert raw_total == [{"n": invoices_before[0] + 1}]

    # refined.sales_by_day against an independent sum over the store's database.
    sold_at = header[0][2]
    sold_at = sold_at if isinstance(sold_at, datetime) else datetime.fromisoformat(sold_at)
    day = sold_at.date()
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    expected = plain_sql(
        url,
        'SELECT count(DISTINCT i."InvoiceId"), '
        'sum(l."UnitPrice" * l."Quantity"), sum(l."Quantity") '
        'FROM "Invoice" i JOIN "InvoiceLine" l '
        'ON l."InvoiceId" = i."InvoiceId" '
        'WHERE i."InvoiceDate" >= ? AND i."InvoiceDate" < ?',
        _bounds(url, start, end),
    )[0]
    refined = query_json(
        project,
        f"SELECT invoices, total_amount, tracks_sold FROM refined.sales_by_day "
        f"WHERE sale_date = DATE '{day.isoformat()}'",
        env=env,
    )
    assert expected[0] >= 1
    assert refined == [
        {
            "invoices": expected[0],
            "total_amount": str(Decimal(str(expected[1])).quantize(Decimal("0.01"))),
            "tracks_sold": int(expected[2]),
        }
    ]
    assert day in (datetime.now(UTC).date(), (datetime.now(UTC) - timedelta(days=1)).date())


def _bounds(url: str, start: datetime, end: datetime) -> tuple[Any, Any]:
    if url.startswith("sqlite"):
        return (start.isoformat(sep=" "), end.isoformat(sep=" "))
    return (start, end)
