"""The store's server-rendered pages: browsing, cart forms, CSRF, checkout, order history."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.store import client, csrf, sqlite_copy


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return sqlite_copy(tmp_path)


@pytest.fixture
def web(db: Path) -> Any:
    return client(f"sqlite:///{db}")


def sql(db: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def token(web: Any) -> str:
    return csrf(web.get("/tracks").text)


def test_catalog_pages(web: Any, db: Path) -> None:
    page = web.get("/tracks", params={"q": "balls", "genre_id": "1", "sort": "-price"})
    assert page.status_code == 200 and "Balls to the Wall" in page.text
    assert '<option value="1" selected>Rock</option>' in page.text
    second = web.get("/tracks", params={"page": "2"})
    first_on_page_2 = sql(db, "SELECT Name FROM Track ORDER BY Name, TrackId LIMIT 1 OFFSET 25")
    assert first_on_page_2[0][0] in second.text and "Page 2 of 141" in second.text
    artist = web.get("/artists/1")
    assert "For Those About To Rock We Salute You" in artist.text
    album = web.get("/albums/1")
    assert album.status_code == 200 and "Inject The Venom" in album.text
    assert web.get("/artists", params={"q": "iron"}).text.count('href="/artists/') == len(
        sql(db, "SELECT 1 FROM Artist WHERE lower(Name) LIKE '%iron%'")
    )
    assert web.get("/", follow_redirects=False).headers["location"] == "/tracks"
    assert 'name="viewport" content="width=device-width' in page.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/albums/999999", "album 999999 not found"),
        ("/artists/999999", "artist 999999 not found"),
        ("/orders/999999", "invoice 999999 not found"),
        ("/customers/999999/orders", "customer 999999 not found"),
        ("/no/such/page", "page not found"),
        ("/tracks?genre_id=rock", "genre must be a whole number"),
        ("/tracks?min_price=cheap", "minimum price must be a price"),
        ("/tracks?genre_id=99999999999999999999", "genre 99999999999999999999 is out of range"),
        ("/albums/99999999999999999999", "less than or equal to 2147483647"),
    ],
)
def test_errors_are_pages(web: Any, path: str, message: str) -> None:
    response = web.get(path)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text


def test_forms_need_the_session_csrf_token(web: Any, db: Path) -> None:
    for data in ({"track_id": "1"}, {"track_id": "1", "csrf_token": "forged"}):
        response = web.post("/cart/add", data=data)
        assert response.status_code == 403 and "security token" in response.text
    other = client(f"sqlite:///{db}")
    stolen = token(other)  # a valid token, but of another session
    assert web.post("/cart/add", data={"track_id": "1", "csrf_token": stolen}).status_code == 403
    # Every POST page route, present and future, checks the token.
    from chinook_store.routers import pages_catalog, pages_shop

    routes = [*pages_catalog.router.routes, *pages_shop.router.routes]
    forms = [r.path for r in routes if "POST" in getattr(r, "methods", ())]
    assert set(forms) == {"/cart/add", "/cart/update", "/cart/remove", "/checkout"}
    for path in forms:
        assert web.post(path, data={"track_id": "1", "quantity": "1"}).status_code == 403
    assert web.get("/api/cart").json()["lines"] == []
    ok = web.post("/cart/add", data={"track_id": "1", "csrf_token": token(web)})
    assert ok.status_code == 200 and web.get("/api/cart").json()["count"] == 1


def test_cart_forms(web: Any) -> None:
    t = token(web)
    added = web.post(
        "/cart/add",
        data={
            "csrf_token": t,
            "track_id": "2819",
            "quantity": "2",
            "unit_price": "0.01",
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/cart"
    web.post("/cart/add", data={"csrf_token": t, "track_id": "1"})
    cart = web.get("/cart").text
    assert "$3.98" in cart and "$4.97" in cart  # 2 × 1.99 from the database, + 0.99
    assert web.post("/cart/update", data={"csrf_token": t, "track_id": "1", "quantity": "4"})
    assert web.get("/api/cart").json()["total"] == "7.94"
    bad = web.post("/cart/update", data={"csrf_token": t, "track_id": "1", "quantity": "0"})
    assert bad.status_code == 422 and "quantity must be between 1 and 100" in bad.text
    not_number = web.post("/cart/add", data={"csrf_token": t, "track_id": "1", "quantity": "x"})
    assert not_number.status_code == 422
    missing = web.post("/cart/add", data={"csrf_token": t, "track_id": "999999"})
    assert missing.status_code == 404 and "track 999999 not found" in missing.text
    web.post("/cart/remove", data={"csrf_token": t, "track_id": "2819"})
    assert [line["track_id"] for line in web.get("/api/cart").json()["lines"]] == [1]


def test_checkout_as_existing_customer_then_history(web: Any, db: Path) -> None:
    t = token(web)
    empty = web.post("/checkout", data={"csrf_token": t, "email": "luisg@embraer.com.br"})
    assert empty.status_code == 409 and "cart is empty" in empty.text
    web.post("/cart/add", data={"csrf_token": t, "track_id": "5", "quantity": "2"})
    web.post("/cart/add", data={"csrf_token": t, "track_id": "3001"})
    no_email = web.post("/checkout", data={"csrf_token": t, "email": " "})
    assert no_email.status_code == 422 and "enter the email you shopped with" in no_email.text
    unknown = web.post("/checkout", data={"csrf_token": t, "email": "nobody@example.org"})
    assert unknown.status_code == 422 and "nobody@example.org not found" in unknown.text
    done = web.post(
        "/checkout",
        data={"csrf_token": t, "mode": "existing", "email": "LuisG@Embraer.com.br"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    invoice_id = int(done.headers["location"].rsplit("/", 1)[1])
    customer_id, total = sql(
        db, "SELECT CustomerId, Total FROM Invoice WHERE InvoiceId = ?", invoice_id
    )[0]
    assert customer_id == 1
    expected = sql(
        db,
        "SELECT sum(UnitPrice * (CASE TrackId WHEN 5 THEN 2 ELSE 1 END)) FROM Track "
        "WHERE TrackId IN (5, 3001)",
    )[0][0]
    assert Decimal(str(total)) == Decimal(str(expected)).quantize(Decimal("0.01"))
    page = web.get(done.headers["location"]).text
    assert "Thank you! Your order" in page and f"${Decimal(str(total)):.2f}" in page
    history = web.get("/orders", follow_redirects=True)
    assert f'href="/orders/{invoice_id}"' in history.text
    assert (
        history.text.count('href="/orders/')
        == sql(db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1")[0][0]
    )
    assert web.get("/api/cart").json()["lines"] == []


def test_checkout_signup(web: Any, db: Path) -> None:
    t = token(web)
    web.post("/cart/add", data={"csrf_token": t, "track_id": "7"})
    form = {"csrf_token": t, "mode": "new", "FirstName": "Grace", "LastName": "Hopper"}
    incomplete = web.post("/checkout", data=form)
    assert incomplete.status_code == 422 and "sign-up needs an email" in incomplete.text
    assert 'value="Grace"' in incomplete.text  # the form keeps what was typed
    form |= {"Email": "grace@example.org", "City": "Arlington", "Country": "USA"}
    done = web.post("/checkout", data=form, follow_redirects=False)
    invoice_id = int(done.headers["location"].rsplit("/", 1)[1])
    row = sql(
        db,
        "SELECT c.FirstName, c.Email, i.BillingCity, i.BillingCountry FROM Invoice i "
        "JOIN Customer c USING (CustomerId) WHERE i.InvoiceId = ?",
        invoice_id,
    )
    assert row == [("Grace", "grace@example.org", "Arlington", "USA")]
    lookup = web.get("/orders", params={"email": "grace@example.org"}, follow_redirects=False)
    assert lookup.status_code == 303
    assert web.get("/orders", params={"email": "no@one.org"}).status_code == 404
