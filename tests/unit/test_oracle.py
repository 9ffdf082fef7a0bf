"""Hand-computed checks of the Chinook oracle (tests/support/oracle/chinook.py) itself.

Each test builds a tiny Chinook-shaped SQLite database whose tables the expected
values below were worked out for by hand, so the oracle that the integration
tests trust is itself checked.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import dataset
from tests.support.oracle.chinook import (
    COLUMNS,
    REFINED_TABLES,
    customer_employee_history,
    refined_tables,
)

pytestmark = pytest.mark.unit


D = Decimal

# A fixed catalogue shared by every test database.
GENRES = [(1, "Rock"), (2, "Jazz"), (3, "Rock And Roll"), (4, "Metal"), (5, "Classical")]
# Code points: "Zed" < "abc" (case-sensitive); two artists share the name "Zed".
ARTISTS = [
    (1, "Zed"),
    (2, "abc"),
    (3, "Zed"),
    (4, "Beta"),
    (5, "Alpha"),
    (6, "Gamma"),
    (7, "Delta"),
]
ALBUMS = [(i, f"Album {i}", i) for i in range(1, 8)]  # album i is by artist i
# (TrackId, AlbumId, GenreId, Milliseconds)
TRACKS = [
    (1, 1, 1, 200_000),  # Rock
    (2, 2, 2, 300_500),  # Jazz
    (3, 3, 3, 100_000),  # Rock And Roll -> "other"
    (4, 4, 1, 1_000),  # Rock
    (5, 5, None, 250_000),  # no genre -> "other"
    (6, 6, 5, 180_000),  # Classical
    (7, 7, 4, 1_010),  # Metal
    (8, None, 2, 60_000),  # Jazz, no album (so no artist)
]
EMPLOYEES = [  # (EmployeeId, FirstName, LastName, ReportsTo)
    (1, "Andrew", "Adams", None),
    (2, "Nancy", "Edwards", 1),
    (3, "Jane", "Peacock", 2),
]
CUSTOMERS = [  # (CustomerId, FirstName, LastName, Country, SupportRepId)
    (1, "Ann", "Apple", "USA", 3),
    (2, "Bob", "Berry", "Canada", 1),
    (3, "Cid", "Cherry", "Brazil", None),
    (4, "Dee", "Date", "France", 2),
    (5, "Eve", "Elder", "Norway", 3),
]

SCHEMA = """
CREATE TABLE Artist (ArtistId INTEGER PRIMARY KEY, Name NVARCHAR(120));
CREATE TABLE Album (AlbumId INTEGER PRIMARY KEY, Title NVARCHAR(160) NOT NULL,
                    ArtistId INTEGER NOT NULL);
CREATE TABLE Genre (GenreId INTEGER PRIMARY KEY, Name NVARCHAR(120));
CREATE TABLE MediaType (MediaTypeId INTEGER PRIMARY KEY, Name NVARCHAR(120));
CREATE TABLE Track (TrackId INTEGER PRIMARY KEY, Name NVARCHAR(200) NOT NULL, AlbumId INTEGER,
                    MediaTypeId INTEGER NOT NULL, GenreId INTEGER, Composer NVARCHAR(220),
                    Milliseconds INTEGER NOT NULL, Bytes INTEGER,
                    UnitPrice NUMERIC(10,2) NOT NULL);
CREATE TABLE Employee (EmployeeId INTEGER PRIMARY KEY, LastName NVARCHAR(20) NOT NULL,
                       FirstName NVARCHAR(20) NOT NULL, Title NVARCHAR(30), ReportsTo INTEGER);
CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, FirstName NVARCHAR(40) NOT NULL,
                       LastName NVARCHAR(20) NOT NULL, Country NVARCHAR(40),
                       Email NVARCHAR(60) NOT NULL, SupportRepId INTEGER);
CREATE TABLE Invoice (InvoiceId INTEGER PRIMARY KEY, CustomerId INTEGER NOT NULL,
                      InvoiceDate DATETIME NOT NULL, BillingCountry NVARCHAR(40),
                      Total NUMERIC(10,2) NOT NULL);
CREATE TABLE InvoiceLine (InvoiceLineId INTEGER PRIMARY KEY, InvoiceId INTEGER NOT NULL,
                          TrackId INTEGER NOT NULL, UnitPrice NUMERIC(10,2) NOT NULL,
                          Quantity INTEGER NOT NULL);
"""

Invoice = tuple[int, int, str]  # (InvoiceId, CustomerId, 'YYYY-MM-DD')
Line = tuple[int, int, float, int]  # (InvoiceId, TrackId, UnitPrice, Quantity)


def make_db(tmp_path: Path, invoices: list[Invoice], lines: list[Line]) -> Path:
    path = tmp_path / "chinook.sqlite"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO Genre VALUES (?, ?)", GENRES)
        conn.executemany("INSERT INTO Artist VALUES (?, ?)", ARTISTS)
        conn.executemany("INSERT INTO Album VALUES (?, ?, ?)", ALBUMS)
        conn.execute("INSERT INTO MediaType VALUES (1, 'MPEG audio file')")
        conn.executemany(
            "INSERT INTO Track VALUES (?, ?, ?, 1, ?, NULL, ?, 1000, 0.99)",
            [(t, f"Track {t}", album, genre, ms) for t, album, genre, ms in TRACKS],
        )
        conn.executemany(
            "INSERT INTO Employee VALUES (?, ?, ?, 'Staff', ?)",
            [(e, last, first, boss) for e, first, last, boss in EMPLOYEES],
        )
        conn.executemany("INSERT INTO Customer VALUES (?, ?, ?, ?, 'x@example.com', ?)", CUSTOMERS)
        totals: dict[int, float] = {}
        for invoice_id, _track, price, qty in lines:
            totals[invoice_id] = totals.get(invoice_id, 0.0) + price * qty
        conn.executemany(
            "INSERT INTO Invoice VALUES (?, ?, ?, 'X', ?)",
            [(i, c, f"{day} 00:00:00", round(totals.get(i, 0.0), 2)) for i, c, day in invoices],
        )
        conn.executemany(
            "INSERT INTO InvoiceLine (InvoiceId, TrackId, UnitPrice, Quantity) VALUES (?, ?, ?, ?)",
            lines,
        )
        conn.commit()
    finally:
        conn.close()
    return path


def pick(row: dict[str, object], *columns: str) -> tuple[object, ...]:
    return tuple(row[c] for c in columns)


def test_every_table_has_the_specified_columns(tmp_path: Path) -> None:
    db = make_db(tmp_path, [(1, 1, "2024-01-01")], [(1, 1, 0.99, 1)])
    tables = refined_tables(db)
    assert tuple(tables) == REFINED_TABLES
    for name, rows in tables.items():
        assert rows, name
        for row in rows:
            assert tuple(row) == tuple(col for col, _ in COLUMNS[name]), name
    for row in customer_employee_history(db):
        assert tuple(row) == tuple(col for col, _ in COLUMNS["customer_employee_history"])


def test_sales_by_day(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        invoices=[
            (1, 1, "2024-01-01"),
            (2, 2, "2024-01-01"),
            (3, 1, "2024-01-06"),
            (4, 1, "2024-01-06"),  # no lines: an invoice, but no tracks and no money
            (5, 2, "2024-05-10"),  # no lines at all that day
        ],
        lines=[
            (1, 1, 0.01, 1),
            (2, 2, 0.04, 1),  # 0.05 over 2 invoices = 0.025 -> 0.03 (half-up)
            (3, 1, 1.1, 3),  # exact 3.30, although 1.1 * 3 in floats is 3.3000000000000003
            (3, 2, 1.99, 1),
        ],
    )
    assert refined_tables(db)["sales_by_day"] == [
        {
            "sale_date": "2024-01-01",
            "tracks_sold": 2,
            "invoices": 2,
            "unique_customers": 2,
            "total_amount": D("0.05"),
            "avg_ticket": D("0.03"),
            "weekday": "Monday",
            "month": 1,
            "year": 2024,
            "quarter": 1,
        },
        {
            "sale_date": "2024-01-06",
            "tracks_sold": 4,
            "invoices": 2,
            "unique_customers": 1,
            "total_amount": D("5.29"),
            "avg_ticket": D("2.65"),  # 5.29 / 2 = 2.645 -> 2.65
            "weekday": "Saturday",
            "month": 1,
            "year": 2024,
            "quarter": 1,
        },
        {
            "sale_date": "2024-05-10",
            "tracks_sold": 0,
            "invoices": 1,
            "unique_customers": 1,
            "total_amount": D("0.00"),
            "avg_ticket": D("0.00"),
            "weekday": "Friday",
            "month": 5,
            "year": 2024,
            "quarter": 2,
        },
    ]


def test_top_artists_by_month_ranks_ties_and_shares(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        invoices=[
            (1, 1, "2024-01-10"),
            (2, 2, "2024-01-20"),
            (3, 1, "2024-02-01"),
            (4, 2, "2024-03-01"),
        ],
        lines=[
            # January: 17 tracks, 4 of them on a track without album (not ranked)
            (1, 1, 0.99, 2),  # artist 1 "Zed": 3 in total
            (2, 1, 0.99, 1),
            (1, 2, 0.99, 3),  # artist 2 "abc": 3
            (2, 3, 0.99, 3),  # artist 3 "Zed": 3
            (1, 4, 0.99, 2),  # artist 4 "Beta": 2
            (2, 5, 0.99, 1),  # artist 5 "Alpha": 1
            (1, 6, 0.99, 1),  # artist 6 "Gamma": 1 -> sixth, not listed
            (2, 8, 0.99, 4),  # no album
            # February: one artist and as many tracks without album
            (3, 7, 0.99, 2),
            (3, 8, 0.99, 2),
            # March: 1 of 32 tracks -> 3.125 % -> 3.13 (half-up)
            (4, 1, 0.99, 1),
            (4, 8, 0.99, 31),
        ],
    )
    rows = refined_tables(db)["top_artists_by_month"]
    columns = ("month", "rank", "artist_id", "artist_name", "tracks_sold")
    got = [pick(r, *columns, "share_pct", "rank_with_ties") for r in rows]
    assert got == [
        ("2024-01", 1, 1, "Zed", 3, D("17.65"), 1),
        ("2024-01", 2, 3, "Zed", 3, D("17.65"), 1),
        ("2024-01", 3, 2, "abc", 3, D("17.65"), 1),
        ("2024-01", 4, 4, "Beta", 2, D("11.76"), 4),
        ("2024-01", 5, 5, "Alpha", 1, D("5.88"), 5),
        ("2024-02", 1, 7, "Delta", 2, D("50.00"), 1),
        ("2024-03", 1, 1, "Zed", 1, D("3.13"), 1),
    ]


def _weekday_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path,
        invoices=[
            (1, 1, "2024-01-01"),  # Monday
            (2, 2, "2024-01-01"),  # Monday
            (3, 1, "2024-01-08"),  # Monday
            (4, 2, "2024-01-06"),  # Saturday
            (5, 1, "2024-01-07"),  # Sunday
        ],
        lines=[
            (1, 1, 0.5, 1),
            (2, 1, 0.25, 2),
            (3, 2, 1.0, 1),
            (4, 3, 1.0, 1),
            (5, 4, 0.5, 1),
        ],
    )


def test_sales_by_weekday_always_has_seven_rows(tmp_path: Path) -> None:
    rows = refined_tables(_weekday_db(tmp_path))["sales_by_weekday"]
    zero = {"tracks_sold": 0, "invoices": 0, "total_amount": D("0.00"), "sales_days": 0}
    assert rows == [
        {
            "weekday": "Monday",
            "weekday_number": 1,
            "tracks_sold": 4,
            "invoices": 3,
            "total_amount": D("2.00"),
            "sales_days": 2,
            "avg_amount_per_sales_day": D("1.00"),
        },
        {"weekday": "Tuesday", "weekday_number": 2, **zero, "avg_amount_per_sales_day": None},
        {"weekday": "Wednesday", "weekday_number": 3, **zero, "avg_amount_per_sales_day": None},
        {"weekday": "Thursday", "weekday_number": 4, **zero, "avg_amount_per_sales_day": None},
        {"weekday": "Friday", "weekday_number": 5, **zero, "avg_amount_per_sales_day": None},
        {
            "weekday": "Saturday",
            "weekday_number": 6,
            "tracks_sold": 1,
            "invoices": 1,
            "total_amount": D("1.00"),
            "sales_days": 1,
            "avg_amount_per_sales_day": D("1.00"),
        },
        {
            "weekday": "Sunday",
            "weekday_number": 7,
            "tracks_sold": 1,
            "invoices": 1,
            "total_amount": D("0.50"),
            "sales_days": 1,
            "avg_amount_per_sales_day": D("0.50"),
        },
    ]


def test_weekend_vs_weekday(tmp_path: Path) -> None:
    rows = refined_tables(_weekday_db(tmp_path))["weekend_vs_weekday"]
    assert rows == [
        {
            "segment": "weekday",
            "tracks_sold": 4,
            "invoices": 3,
            "total_amount": D("2.00"),
            "sales_days": 2,
            "avg_amount_per_sales_day": D("1.00"),
            "share_of_total_amount_pct": D("57.14"),  # 2 / 3.5
        },
        {
            "segment": "weekend",
            "tracks_sold": 2,
            "invoices": 2,
            "total_amount": D("1.50"),
            "sales_days": 2,
            "avg_amount_per_sales_day": D("0.75"),
            "share_of_total_amount_pct": D("42.86"),  # 1.5 / 3.5
        },
    ]


def _monthly_db(tmp_path: Path) -> Path:
    # Month totals: 2023-11 5, 2023-12 5, 2024-01 10 (two invoices), 2024-02 none,
    # 2024-03 6, 2024-04 10, 2024-05 6, 2025-01 3, 2025-06 7.
    months = [
        ("2023-11-15", 5.0),
        ("2023-12-15", 5.0),
        ("2024-01-05", 5.0),
        ("2024-01-25", 5.0),
        ("2024-03-15", 6.0),
        ("2024-04-15", 10.0),
        ("2024-05-15", 6.0),
        ("2025-01-15", 3.0),
        ("2025-06-15", 7.0),
    ]
    invoices = [(i, 1 + i % 2, day) for i, (day, _) in enumerate(months, start=1)]
    lines = [(i, 1, price, 1) for i, (_, price) in enumerate(months, start=1)]
    return make_db(tmp_path, invoices, lines)


def test_sales_by_month_ranks_and_growth(tmp_path: Path) -> None:
    rows = refined_tables(_monthly_db(tmp_path))["sales_by_month"]
    columns = ("month", "year", "total_amount", "tracks_sold", "invoices")
    got = [pick(r, *columns, "rank", "dense_rank", "row_number", "growth_pct") for r in rows]
    assert got == [
        ("2023-11", 2023, D("5.00"), 1, 1, 6, 4, 6, None),  # first month
        ("2023-12", 2023, D("5.00"), 1, 1, 6, 4, 7, D("0.00")),
        ("2024-01", 2024, D("10.00"), 2, 2, 1, 1, 1, D("100.00")),  # across the year
        ("2024-03", 2024, D("6.00"), 1, 1, 4, 3, 4, None),  # 2024-02 has no sales
        ("2024-04", 2024, D("10.00"), 1, 1, 1, 1, 2, D("66.67")),  # 4 / 6
        ("2024-05", 2024, D("6.00"), 1, 1, 4, 3, 5, D("-40.00")),
        ("2025-01", 2025, D("3.00"), 1, 1, 8, 5, 8, None),
        ("2025-06", 2025, D("7.00"), 1, 1, 3, 2, 3, None),
    ]


def test_best_month_per_year_with_ties(tmp_path: Path) -> None:
    assert refined_tables(_monthly_db(tmp_path))["best_month_per_year"] == [
        {
            "year": 2023,
            "best_month": "2023-11",
            "total_amount": D("5.00"),
            "tracks_sold": 1,
            "invoices": 1,
            "n_tied": 2,
            "tied_months": "2023-11;2023-12",
        },
        {
            "year": 2024,
            "best_month": "2024-01",
            "total_amount": D("10.00"),
            "tracks_sold": 2,
            "invoices": 2,
            "n_tied": 2,
            "tied_months": "2024-01;2024-04",
        },
        {
            "year": 2025,
            "best_month": "2025-06",
            "total_amount": D("7.00"),
            "tracks_sold": 1,
            "invoices": 1,
            "n_tied": 1,
            "tied_months": "2025-06",
        },
    ]


def test_sales_by_quarter(tmp_path: Path) -> None:
    rows = refined_tables(_monthly_db(tmp_path))["sales_by_quarter"]
    columns = ("quarter_label", "year", "quarter", "total_amount", "tracks_sold", "invoices")
    flags = ("rank_overall", "rank_within_year", "is_best_in_year", "is_best_overall")
    got = [pick(r, *columns, *flags) for r in rows]
    assert got == [
        ("2023-Q4", 2023, 4, D("10.00"), 2, 2, 3, 1, True, False),
        ("2024-Q1", 2024, 1, D("16.00"), 3, 3, 1, 1, True, True),
        ("2024-Q2", 2024, 2, D("16.00"), 2, 2, 1, 1, True, True),
        ("2025-Q1", 2025, 1, D("3.00"), 1, 1, 5, 2, False, False),
        ("2025-Q2", 2025, 2, D("7.00"), 1, 1, 4, 1, True, False),
    ]


def test_customer_features(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        invoices=[
            (1, 1, "2024-01-01"),
            (2, 1, "2024-02-01"),
            (3, 2, "2024-01-01"),
            (4, 4, "2024-01-01"),
            (5, 5, "2024-01-01"),  # Eve: an invoice without lines
        ],
        lines=[
            # Ann: 7 tracks, 7.93
            (1, 1, 0.99, 2),  # Rock
            (1, 2, 1.99, 1),  # Jazz
            (1, 3, 0.99, 1),  # Rock And Roll -> other
            (2, 5, 0.99, 1),  # no genre -> other
            (2, 6, 0.99, 1),  # Classical
            (2, 8, 0.99, 1),  # Jazz (track without album still has a genre)
            # Bob: a third each of Rock, Jazz and other: 33.33 each, not 33.34 for other
            (3, 1, 0.99, 1),
            (3, 2, 1.99, 1),
            (3, 3, 0.99, 1),
            # Dee: 1.000 s and 1.010 s -> 1.005 -> 1.01 (half-up)
            (4, 4, 0.99, 1),  # Rock
            (4, 7, 0.99, 1),  # Metal
        ],
    )
    rows = {r["customer_id"]: r for r in refined_tables(db)["customer_features"]}
    assert list(rows) == [1, 2, 3, 4, 5]
    pcts = ("pct_rock", "pct_metal", "pct_jazz", "pct_latin", "pct_blues", "pct_classical")

    def pct_values(row: dict[str, object]) -> tuple[object, ...]:
        return tuple(row[c] for c in (*pcts, "pct_other"))

    ann = rows[1]
    assert (ann["first_name"], ann["last_name"], ann["country"]) == ("Ann", "Apple", "USA")
    assert ann["total_purchases"] == 2
    assert ann["total_spent"] == D("7.93")
    assert ann["tracks_bought"] == 7
    assert ann["avg_track_price"] == D("1.13")  # 7.93 / 7 = 1.1328...
    assert ann["avg_track_seconds"] == D("184.36")  # 1 290 500 ms / 7 tracks
    assert ann["unique_genres"] == 4  # Rock, Jazz, Rock And Roll, Classical; NULL not counted
    # rock 2/7, metal 0, jazz 2/7, latin 0, blues 0, classical 1/7, other 2/7
    assert pct_values(ann) == tuple(
        D(x) for x in ("28.57", "0.00", "28.57", "0.00", "0.00", "14.29", "28.57")
    )

    bob = rows[2]
    assert bob["total_spent"] == D("3.97")
    assert bob["avg_track_price"] == D("1.32")
    assert bob["avg_track_seconds"] == D("200.17")  # 600 500 ms / 3
    assert bob["unique_genres"] == 3
    assert pct_values(bob) == tuple(
        D(x) for x in ("33.33", "0.00", "33.33", "0.00", "0.00", "0.00", "33.33")
    )

    dee = rows[4]
    assert dee["avg_track_seconds"] == D("1.01")
    assert dee["pct_rock"] == dee["pct_metal"] == D("50.00")

    nulls = dict.fromkeys(("avg_track_price", "avg_track_seconds", *pcts, "pct_other"))
    assert rows[3] == {  # Cid never bought anything
        "customer_id": 3,
        "first_name": "Cid",
        "last_name": "Cherry",
        "country": "Brazil",
        "total_purchases": 0,
        "total_spent": D("0.00"),
        "tracks_bought": 0,
        "unique_genres": 0,
        **nulls,
    }
    assert {k: rows[5][k] for k in ("total_purchases", "total_spent", "tracks_bought")} == {
        "total_purchases": 1,
        "total_spent": D("0.00"),
        "tracks_bought": 0,
    }
    assert all(rows[5][k] is None for k in nulls)


def test_customer_employee_history(tmp_path: Path) -> None:
    rows = customer_employee_history(make_db(tmp_path, [], []))
    got = [tuple(r.values()) for r in rows]
    assert got == [
        (1, "Ann Apple", 3, "Jane Peacock", 1, 2, "Nancy Edwards"),
        (1, "Ann Apple", 3, "Jane Peacock", 2, 1, "Andrew Adams"),
        (2, "Bob Berry", 1, "Andrew Adams", None, None, None),  # the rep has no manager
        (3, "Cid Cherry", None, None, None, None, None),  # no rep
        (4, "Dee Date", 2, "Nancy Edwards", 1, 1, "Andrew Adams"),
        (5, "Eve Elder", 3, "Jane Peacock", 1, 2, "Nancy Edwards"),
        (5, "Eve Elder", 3, "Jane Peacock", 2, 1, "Andrew Adams"),
    ]


def test_empty_source(tmp_path: Path) -> None:
    tables = refined_tables(make_db(tmp_path, [], []))
    for name in ("sales_by_day", "top_artists_by_month", "sales_by_month"):
        assert tables[name] == [], name
    assert tables["best_month_per_year"] == tables["sales_by_quarter"] == []
    assert [r["total_amount"] for r in tables["sales_by_weekday"]] == [D("0.00")] * 7
    assert [r["share_of_total_amount_pct"] for r in tables["weekend_vs_weekday"]] == [None, None]
    assert len(tables["customer_features"]) == len(CUSTOMERS)


def test_real_chinook_totals_agree_with_invoice_totals() -> None:
    """Money summed from the lines equals the stored Invoice.Total (exact to the cent)."""
    real_chinook = dataset("chinook/chinook.sqlite")
    conn = sqlite3.connect(f"{real_chinook.resolve().as_uri()}?mode=ro", uri=True)
    try:
        invoice_totals = conn.execute(
            "SELECT CustomerId, substr(InvoiceDate, 1, 10), Total FROM Invoice"
        ).fetchall()
        n_customers = conn.execute("SELECT count(*) FROM Customer").fetchone()[0]
    finally:
        conn.close()
    total = sum((D(str(t)) for _, _, t in invoice_totals), D(0))
    by_customer: dict[int, Decimal] = {}
    for customer, _, t in invoice_totals:
        by_customer[customer] = by_customer.get(customer, D(0)) + D(str(t))

    tables = refined_tables(real_chinook)
    assert sum(r["total_amount"] for r in tables["sales_by_day"]) == total
    assert len(tables["sales_by_day"]) == len({day for _, day, _ in invoice_totals})
    assert sum(r["invoices"] for r in tables["sales_by_day"]) == len(invoice_totals)
    for table in ("sales_by_weekday", "weekend_vs_weekday", "sales_by_month", "sales_by_quarter"):
        assert sum(r["total_amount"] for r in tables[table]) == total, table
    assert sum(r["share_of_total_amount_pct"] for r in tables["weekend_vs_weekday"]) == 100
    features = tables["customer_features"]
    assert len(features) == n_customers
    assert {r["customer_id"]: r["total_spent"] for r in features} == by_customer
    # Every Chinook customer's rep reports to the sales manager, who reports to the GM.
    history = customer_employee_history(real_chinook)
    assert len(history) == 2 * n_customers
    assert {(r["level"], r["manager_name"]) for r in history} == {
        (1, "Nancy Edwards"),
        (2, "Andrew Adams"),
    }
