"""The store's JSON API on a copy of the real Chinook SQLite file, checked with plain SQL."""

from __future__ import annotations

import ast
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.store import client, sqlite_copy

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return sqlite_copy(tmp_path)


@pytest.fixture
def api(db: Path) -> Any:
    return client(f"sqlite:///{db}")


def sql(db: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def all_pages(api: Any, **params: Any) -> list[dict[str, Any]]:
    items, page = [], 1
    while True:
        body = api.get("/api/tracks", params={**params, "page": page, "page_size": 100}).json()
        items += body["items"]
        if page >= body["pages"]:
            return items
        page += 1


def test_search_matches_track_artist_album_and_composer(api: Any, db: Path) -> None:
    expected = {
        r[0]
        for r in sql(
            db,
            "SELECT t.TrackId FROM Track t LEFT JOIN Album al ON al.AlbumId = t.AlbumId "
            "LEFT JOIN Artist ar ON ar.ArtistId = al.ArtistId WHERE lower(t.Name) LIKE '%love%' "
            "OR lower(t.Composer) LIKE '%love%' OR lower(al.Title) LIKE '%love%' "
            "OR lower(ar.Name) LIKE '%love%'",
        )
    }
    found = all_pages(api, q="LOVE")
    assert len(expected) > 30
    assert [t["track_id"] for t in found if t["track_id"] in expected] == [
        t["track_id"] for t in found
    ]
    assert {t["track_id"] for t in found} == expected
    # An artist name alone finds the artist's tracks (AC/DC: 18 tracks in Chinook).
    acdc = api.get("/api/tracks", params={"q": "ac/dc"}).json()
    assert (
        acdc["total"]
        == sql(
            db,
            "SELECT count(*) FROM Track t JOIN Album a USING (AlbumId) WHERE a.ArtistId = 1",
        )[0][0]
    )
    # LIKE wildcards typed by the shopper are literal characters ("100% HardCore").
    literal = sql(
        db,
        "SELECT count(*) FROM Track t LEFT JOIN Album al ON al.AlbumId = t.AlbumId "
        "LEFT JOIN Artist ar ON ar.ArtistId = al.ArtistId WHERE instr(t.Name, '%') "
        "OR instr(t.Composer, '%') OR instr(al.Title, '%') OR instr(ar.Name, '%')",
    )[0][0]
    assert api.get("/api/tracks", params={"q": "%"}).json()["total"] == literal == 2
    assert api.get("/api/tracks", params={"q": "0%"}).json()["total"] == 1


def test_filters_sorting_and_pages(api: Any, db: Path) -> None:
    params = {"genre_id": 1, "media_type_id": 1, "min_price": "0.5", "max_price": "1.00"}
    expected = {
        r[0]
        for r in sql(
            db,
            "SELECT TrackId FROM Track WHERE GenreId = 1 AND MediaTypeId = 1 "
            "AND UnitPrice BETWEEN 0.5 AND 1.0",
        )
    }
    found = all_pages(api, **params, sort="-duration")
    assert len(found) == len(expected) > 100  # several pages, no duplicates
    assert {t["track_id"] for t in found} == expected
    durations = [t["milliseconds"] for t in found]
    assert durations == sorted(durations, reverse=True)
    by_price = all_pages(api, sort="-price")
    assert by_price[0]["unit_price"] == "1.99" and by_price[-1]["unit_price"] == "0.99"
    first = api.get("/api/tracks", params={"page_size": 7, "page": 2}).json()
    assert first["total"] == 3503 and first["pages"] == 501 and len(first["items"]) == 7
    assert api.get("/api/tracks", params={"page": 0}).status_code == 422
    assert api.get("/api/tracks", params={"sort": "bogus"}).status_code == 422


def test_artists_albums_and_404s(api: Any, db: Path) -> None:
    body = api.get("/api/artists", params={"page_size": 100}).json()
    assert body["total"] == sql(db, "SELECT count(*) FROM Artist")[0][0]
    counts = dict(sql(db, "SELECT ArtistId, count(*) FROM Album GROUP BY ArtistId"))
    assert all(a["albums"] == counts.get(a["artist_id"], 0) for a in body["items"])
    albums = api.get("/api/artists/1/albums").json()
    assert {a["title"] for a in albums["albums"]} == {
        r[0] for r in sql(db, "SELECT Title FROM Album WHERE ArtistId = 1")
    }
    album = api.get("/api/albums/1").json()
    tracks = sql(db, "SELECT TrackId, UnitPrice FROM Track WHERE AlbumId = 1 ORDER BY TrackId")
    assert [t["track_id"] for t in album["tracks"]] == [r[0] for r in tracks]
    assert Decimal(album["total_price"]) == sum(Decimal(str(r[1])) for r in tracks)
    for path in ("/api/albums/999999", "/api/artists/999999/albums", "/api/invoices/999999"):
        response = api.get(path)
        assert response.status_code == 404
        assert "999999 not found" in response.json()["detail"]
    assert api.get("/api/customers/999999/invoices").status_code == 404
    # Not an id at all (Chinook ids are INT): refused as input, never a server error.
    for path in ("/api/albums/0", "/api/albums/99999999999999999999", "/api/artists/-1/albums"):
        assert api.get(path).status_code == 422


def test_cart_prices_come_from_the_database(api: Any, db: Path) -> None:
    price = Decimal(str(sql(db, "SELECT UnitPrice FROM Track WHERE TrackId = 3000")[0][0]))
    cart = api.post("/api/cart", json={"track_id": 3000, "quantity": 2, "unit_price": "0.01"})
    assert cart.status_code == 201
    api.post("/api/cart", json={"track_id": 1, "quantity": 1})
    api.post("/api/cart", json={"track_id": 1, "quantity": 2})  # quantities add up
    body = api.patch("/api/cart", json={"track_id": 3000, "quantity": 5}).json()
    lines = {line["track_id"]: line for line in body["lines"]}
    assert lines[3000]["quantity"] == 5 and lines[1]["quantity"] == 3
    assert Decimal(lines[3000]["unit_price"]) == price
    assert Decimal(body["total"]) == price * 5 + Decimal("0.99") * 3
    assert body["count"] == 8
    body = api.delete("/api/cart/1").json()
    assert [line["track_id"] for line in body["lines"]] == [3000]
    assert api.delete("/api/cart").json()["lines"] == []


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_invalid_quantities_are_refused(api: Any, quantity: int) -> None:
    response = api.post("/api/cart", json={"track_id": 1, "quantity": quantity})
    assert response.status_code == 422
    assert "quantity must be between 1 and 100" in response.json()["detail"]
    api.post("/api/cart", json={"track_id": 1, "quantity": 1})
    assert api.patch("/api/cart", json={"track_id": 1, "quantity": quantity}).status_code == 422
    assert api.get("/api/cart").json()["count"] == 1


def test_cart_errors(api: Any) -> None:
    assert api.post("/api/cart", json={"track_id": 999999}).status_code == 404
    assert api.patch("/api/cart", json={"track_id": 5, "quantity": 1}).status_code == 404
    assert api.delete("/api/cart/5").status_code == 404
    assert api.post("/api/cart", json={"track_id": "x"}).status_code == 422
    assert api.post("/api/cart", json={"track_id": 10**20}).status_code == 422
    assert api.post("/api/cart", json={"track_id": 1, "quantity": 10**20}).status_code == 422
    # A form post (what a cross-site page could send) is refused: JSON only.
    form = api.post("/api/cart", data={"track_id": "1"})
    assert form.status_code == 415 and "application/json" in form.json()["detail"]


def test_checkout_writes_a_consistent_invoice(api: Any, db: Path) -> None:
    before = sql(db, "SELECT count(*), max(InvoiceId) FROM Invoice")[0]
    api.post("/api/cart", json={"track_id": 3000, "quantity": 2, "unit_price": "0.01"})
    api.post("/api/cart", json={"track_id": 10, "quantity": 1, "UnitPrice": 0})
    invoice = api.post("/api/checkout", json={"customer_id": 7, "total": "0.00"})
    assert invoice.status_code == 201
    invoice_id = invoice.json()["invoice_id"]
    assert invoice_id == before[1] + 1
    row = sql(
        db,
        "SELECT i.CustomerId, i.Total, i.BillingAddress, i.BillingCity, i.BillingState, "
        "i.BillingCountry, i.BillingPostalCode, c.Address, c.City, c.State, c.Country, "
        "c.PostalCode FROM Invoice i JOIN Customer c USING (CustomerId) WHERE InvoiceId = ?",
        invoice_id,
    )[0]
    assert row[0] == 7 and row[2:7] == row[7:12]
    lines = sql(
        db,
        "SELECT l.TrackId, l.UnitPrice, l.Quantity, t.UnitPrice FROM InvoiceLine l "
        "JOIN Track t USING (TrackId) WHERE InvoiceId = ? ORDER BY TrackId",
        invoice_id,
    )
    assert [(r[0], r[2]) for r in lines] == [(10, 1), (3000, 2)]
    assert all(r[1] == r[3] for r in lines)  # the database's price, not the client's
    total = sum(Decimal(str(r[1])) * r[2] for r in lines)
    assert Decimal(str(row[1])) == total == Decimal(invoice.json()["total"])
    assert api.get("/api/cart").json()["lines"] == []
    history = api.get("/api/customers/7/invoices").json()
    assert [i["invoice_id"] for i in history["invoices"]] == [
        r[0]
        for r in sql(
            db,
            "SELECT InvoiceId FROM Invoice WHERE CustomerId = 7 "
            "ORDER BY InvoiceDate DESC, InvoiceId DESC",
        )
    ]
    assert history["invoices"][0]["invoice_id"] == invoice_id


def test_checkout_refusals_write_nothing(api: Any, db: Path) -> None:
    before = sql(db, "SELECT count(*) FROM Invoice")[0][0]
    empty = api.post("/api/checkout", json={"customer_id": 7})
    assert empty.status_code == 409 and "cart is empty" in empty.json()["detail"]
    api.post("/api/cart", json={"track_id": 1})
    assert api.post("/api/checkout", json={"customer_id": 999999}).status_code == 404
    neither = api.post("/api/checkout", json={})
    assert neither.status_code == 422
    bad = api.post(
        "/api/checkout", json={"customer": {"first_name": "A", "last_name": "B", "email": "x"}}
    )
    assert bad.status_code == 422 and "email" in bad.json()["detail"]
    assert sql(db, "SELECT count(*) FROM Invoice")[0][0] == before
    assert api.get("/api/cart").json()["count"] == 1  # still there to try again


def test_checkout_as_a_new_customer(api: Any, db: Path) -> None:
    api.post("/api/cart", json={"track_id": 42, "quantity": 3})
    new = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.org",
        "address": "12 St James's Square",
        "city": "London",
        "country": "United Kingdom",
        "postal_code": "SW1Y 4JH",
    }
    invoice = api.post("/api/checkout", json={"customer": new}).json()
    customer = sql(
        db,
        "SELECT FirstName, LastName, Email, City, Country, SupportRepId FROM Customer "
        "WHERE CustomerId = ?",
        invoice["customer_id"],
    )[0]
    assert customer[:5] == ("Ada", "Lovelace", "ada@example.org", "London", "United Kingdom")
    assert sql(db, "SELECT Title FROM Employee WHERE EmployeeId = ?", customer[5])[0][0] == (
        "Sales Support Agent"
    )
    assert invoice["billing_city"] == "London" and invoice["billing_postal_code"] == "SW1Y 4JH"
    assert Decimal(invoice["total"]) == Decimal("0.99") * 3


def test_concurrent_checkouts_on_sqlite(db: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from chinook_store.db import make_engine, session_factory
    from chinook_store.sales import checkout

    engine = make_engine(f"sqlite:///{db}")
    sessions = session_factory(engine)

    def buy(n: int) -> int:
        with sessions() as session:
            return checkout(session, {1 + n: 1, 2000 + n: 2}, customer_id=1 + n % 50).InvoiceId

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(buy, range(40)))
    engine.dispose()
    assert len(set(ids)) == 40
    bad = sql(
        db,
        "SELECT i.InvoiceId FROM Invoice i JOIN InvoiceLine l USING (InvoiceId) "
        "GROUP BY i.InvoiceId, i.Total HAVING round(sum(l.UnitPrice * l.Quantity), 2) "
        "<> round(i.Total, 2) OR count(*) <> 2 AND i.InvoiceId > 412",
    )
    assert bad == []


def test_openapi_lists_the_api(api: Any) -> None:
    paths = set(api.get("/openapi.json").json()["paths"])
    assert {
        "/api/tracks",
        "/api/artists",
        "/api/artists/{artist_id}/albums",
        "/api/albums/{album_id}",
        "/api/cart",
        "/api/checkout",
        "/api/customers/{customer_id}/invoices",
    } <= paths
    assert api.get("/docs").status_code == 200


def _imports(package: str) -> set[str]:
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_store_and_batchlake_do_not_import_each_other() -> None:
    assert "batchlake" not in _imports("chinook_store")
    assert "chinook_store" not in _imports("batchlake")


def test_limit_is_another_name_for_page_size(api: Any, db: Path) -> None:
    for path, table in (("/api/tracks", "Track"), ("/api/artists", "Artist")):
        body = api.get(path, params={"limit": 3}).json()
        assert len(body["items"]) == 3 and body["page_size"] == 3
        (total,) = sql(db, f"SELECT count(*) FROM {table}")[0]
        assert body["total"] == total and body["pages"] == -(-total // 3)
        assert api.get(path, params={"limit": 101}).status_code == 422
