"""Checks of the Chinook generator (batchlake.demo.generator) with plain sqlite3 queries."""

from __future__ import annotations

import re
import sqlite3
import statistics
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from batchlake.demo import generator
from batchlake.demo.generator import SCHEMA_DDL, GenerateStats, generate
from tests.conftest import dataset

pytestmark = pytest.mark.unit

N = 3000

TABLES = ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine",
          "MediaType", "Playlist", "PlaylistTrack", "Track"]  # fmt: skip
# Chinook's columns and declared types, written out independently of the generator's DDL.
COLUMNS = {
    "Album": "AlbumId INTEGER, Title NVARCHAR(160), ArtistId INTEGER",
    "Artist": "ArtistId INTEGER, Name NVARCHAR(120)",
    "Customer": "CustomerId INTEGER, FirstName NVARCHAR(40), LastName NVARCHAR(20), "
    "Company NVARCHAR(80), Address NVARCHAR(70), City NVARCHAR(40), State NVARCHAR(40), "
    "Country NVARCHAR(40), PostalCode NVARCHAR(10), Phone NVARCHAR(24), Fax NVARCHAR(24), "
    "Email NVARCHAR(60), SupportRepId INTEGER",
    "Employee": "EmployeeId INTEGER, LastName NVARCHAR(20), FirstName NVARCHAR(20), "
    "Title NVARCHAR(30), ReportsTo INTEGER, BirthDate DATETIME, HireDate DATETIME, "
    "Address NVARCHAR(70), City NVARCHAR(40), State NVARCHAR(40), Country NVARCHAR(40), "
    "PostalCode NVARCHAR(10), Phone NVARCHAR(24), Fax NVARCHAR(24), Email NVARCHAR(60)",
    "Genre": "GenreId INTEGER, Name NVARCHAR(120)",
    "Invoice": "InvoiceId INTEGER, CustomerId INTEGER, InvoiceDate DATETIME, "
    "BillingAddress NVARCHAR(70), BillingCity NVARCHAR(40), BillingState NVARCHAR(40), "
    "BillingCountry NVARCHAR(40), BillingPostalCode NVARCHAR(10), Total NUMERIC(10,2)",
    "InvoiceLine": "InvoiceLineId INTEGER, InvoiceId INTEGER, TrackId INTEGER, "
    "UnitPrice NUMERIC(10,2), Quantity INTEGER",
    "MediaType": "MediaTypeId INTEGER, Name NVARCHAR(120)",
    "Playlist": "PlaylistId INTEGER, Name NVARCHAR(120)",
    "PlaylistTrack": "PlaylistId INTEGER, TrackId INTEGER",
    "Track": "TrackId INTEGER, Name NVARCHAR(200), AlbumId INTEGER, MediaTypeId INTEGER, "
    "GenreId INTEGER, Composer NVARCHAR(220), Milliseconds INTEGER, Bytes INTEGER, "
    "UnitPrice NUMERIC(10,2)",
}
GENRE_NAMES = ["Rock", "Jazz", "Metal", "Alternative & Punk", "Rock And Roll", "Blues", "Latin",
               "Reggae", "Pop", "Soundtrack", "Bossa Nova", "Easy Listening", "Heavy Metal",
               "R&B/Soul", "Electronica/Dance", "World", "Hip Hop/Rap", "Science Fiction",
               "TV Shows", "Sci Fi & Fantasy", "Drama", "Comedy", "Alternative", "Classical",
               "Opera"]  # fmt: skip


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@pytest.fixture(scope="module")
def db(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sqlite3.Connection, GenerateStats]]:
    path = tmp_path_factory.mktemp("gen") / "chinook.sqlite"
    stats = generate(path, invoices=N, seed=7)
    conn = _connect(path)
    yield conn, stats
    conn.close()


def _one(conn: sqlite3.Connection, sql: str) -> Any:
    return conn.execute(sql).fetchone()[0]


def _schema(conn: sqlite3.Connection) -> dict[str, object]:
    """Tables, columns (name, type, notnull, default, pk), foreign keys and indexes."""
    out: dict[str, object] = {}
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    for t in tables:
        indexes = []
        for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list([{t}])"):
            cols = [r[2] for r in conn.execute(f"PRAGMA index_info([{name}])")]
            indexes.append((name, unique, origin, partial, cols))
        out[t] = (
            conn.execute(f"PRAGMA table_info([{t}])").fetchall(),
            conn.execute(f"PRAGMA foreign_key_list([{t}])").fetchall(),
            sorted(indexes),
        )
    return out


def _master(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    ).fetchall()


def _dump(path: Path) -> list[str]:
    conn = _connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# ----------------------------------------------------------------------------- schema


def test_schema_columns_and_types(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    assert tables == TABLES
    for t in TABLES:
        got = ", ".join(f"{r[1]} {r[2]}" for r in conn.execute(f"PRAGMA table_info([{t}])"))
        assert got == COLUMNS[t], t


def test_schema_is_the_embedded_ddl(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    sqls = [r[3] for r in _master(conn) if r[3] is not None]
    assert sqls == list(SCHEMA_DDL)
    fresh = sqlite3.connect(":memory:")
    for ddl in SCHEMA_DDL:
        fresh.execute(ddl)
    assert _schema(conn) == _schema(fresh)
    assert len([s for s in SCHEMA_DDL if s.startswith("CREATE INDEX")]) == 11
    # keys as in Chinook: composite PK on PlaylistTrack, NOT NULL money columns
    info = {r[1]: r for r in conn.execute("PRAGMA table_info(PlaylistTrack)")}
    assert (info["PlaylistId"][5], info["TrackId"][5]) == (1, 2)
    assert {r[1]: r[3] for r in conn.execute("PRAGMA table_info(Invoice)")}["Total"] == 1


def test_schema_equals_the_real_chinook(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    real = _connect(dataset("chinook/chinook.sqlite"))
    try:
        assert _schema(conn) == _schema(real)
        assert [r[:3] for r in _master(conn)] == [r[:3] for r in _master(real)]
        assert [r[3] for r in _master(conn)] == [r[3] for r in _master(real)]  # byte for byte
    finally:
        real.close()


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_contents_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    generate(a, invoices=400, seed=3)
    generate(b, invoices=400, seed=3)
    generate(c, invoices=400, seed=4)
    dump_a = _dump(a)
    assert dump_a == _dump(b)
    assert dump_a != _dump(c)
    assert len(dump_a) > 4000


def test_chunk_boundaries_keep_order_and_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generator, "_CHUNK", 97)
    calls: list[tuple[int, int]] = []
    stats = generate(tmp_path / "x.sqlite", invoices=1000, seed=5, start=date(2024, 3, 1),
                     end=date(2024, 3, 3), progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    assert calls[-1] == (1000, 1000)
    assert len(calls) == 11
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    conn = _connect(stats.path)
    try:
        dates = [r[0] for r in conn.execute("SELECT InvoiceDate FROM Invoice ORDER BY InvoiceId")]
        assert dates == sorted(dates)
        assert dates[0] >= "2024-03-01 00:00:00" and dates[-1] <= "2024-03-03 23:59:59"
        assert _one(conn, "SELECT count(*) FROM Customer") == 142
        bad = _one(
            conn,
            """SELECT count(*) FROM Invoice i JOIN (SELECT InvoiceId,
            sum(CAST(round(UnitPrice * 100) AS INTEGER) * Quantity) AS cents FROM InvoiceLine
            GROUP BY InvoiceId) l USING (InvoiceId)
            WHERE CAST(round(i.Total * 100) AS INTEGER) != l.cents""",
        )
        assert bad == 0
    finally:
        conn.close()


# ----------------------------------------------------------------------------- invoices


def test_counts_ids_and_stats(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, stats = db
    assert stats.invoices == N
    assert _one(conn, "SELECT count(*) FROM Invoice") == N
    assert _one(conn, "SELECT min(InvoiceId) || '-' || max(InvoiceId) FROM Invoice") == f"1-{N}"
    m = _one(conn, "SELECT count(*) FROM InvoiceLine")
    assert m == stats.invoice_lines
    assert (
        _one(conn, "SELECT min(InvoiceLineId) || '-' || max(InvoiceLineId) FROM InvoiceLine")
        == f"1-{m}"
    )
    assert 3 * N < m < 7 * N
    assert stats.customers == _one(conn, "SELECT count(*) FROM Customer") == max(59, N // 7)
    assert stats.tracks == _one(conn, "SELECT count(*) FROM Track")
    assert 3000 <= stats.tracks <= 4000
    assert stats.seconds > 0


def test_invoice_dates_in_order_and_range(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    dates = [r[0] for r in conn.execute("SELECT InvoiceDate FROM Invoice ORDER BY InvoiceId")]
    assert dates == sorted(dates)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", d) for d in dates)
    assert dates[0] >= "2021-01-01" and dates[-1] <= "2025-12-31 23:59:59"
    years = {d[:4] for d in dates}
    assert years == {"2021", "2022", "2023", "2024", "2025"}
    assert all(datetime.fromisoformat(d) for d in dates[:50])


def test_lines_in_invoice_order(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    ids = [r[0] for r in conn.execute("SELECT InvoiceId FROM InvoiceLine ORDER BY InvoiceLineId")]
    assert ids == sorted(ids)
    per_invoice = [
        r[0] for r in conn.execute("SELECT count(*) FROM InvoiceLine GROUP BY InvoiceId")
    ]
    assert len(per_invoice) == N  # every invoice has lines
    assert min(per_invoice) == 1 and max(per_invoice) <= 14
    assert statistics.median(per_invoice) < statistics.mean(per_invoice) + 1
    assert per_invoice.count(1) > per_invoice.count(14) * 3  # skewed to few
    qty = dict(conn.execute("SELECT Quantity, count(*) FROM InvoiceLine GROUP BY 1").fetchall())
    assert set(qty) <= {1, 2} and qty[1] > 0.95 * sum(qty.values())


def test_totals_equal_sum_of_lines(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    rows = conn.execute(
        """SELECT i.InvoiceId, i.Total, round(sum(l.UnitPrice * l.Quantity), 2)
           FROM Invoice i JOIN InvoiceLine l USING (InvoiceId) GROUP BY i.InvoiceId"""
    ).fetchall()
    assert len(rows) == N
    for invoice_id, total, summed in rows:
        assert round(total * 100) == round(summed * 100), invoice_id
        assert total == round(total, 2)  # stored as cents / 100
    assert _one(conn, "SELECT count(*) FROM Invoice WHERE typeof(Total) != 'real'") == 0


def test_prices(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    assert {r[0] for r in conn.execute("SELECT DISTINCT UnitPrice FROM InvoiceLine")} == {
        0.99,
        1.99,
    }
    assert {r[0] for r in conn.execute("SELECT DISTINCT UnitPrice FROM Track")} == {0.99, 1.99}
    assert (
        _one(
            conn,
            """SELECT count(*) FROM InvoiceLine l JOIN Track t USING (TrackId)
                         WHERE l.UnitPrice != t.UnitPrice""",
        )
        == 0
    )
    # video costs 1.99, audio 0.99; every TV genre track is video
    assert (
        _one(
            conn,
            """SELECT count(*) FROM Track t JOIN MediaType m USING (MediaTypeId)
        WHERE (m.Name LIKE '%video%') != (t.UnitPrice = 1.99)""",
        )
        == 0
    )
    assert (
        _one(
            conn,
            """SELECT count(*) FROM Track t JOIN Genre g USING (GenreId)
        WHERE g.Name IN ('TV Shows', 'Drama', 'Comedy', 'Sci Fi & Fantasy', 'Science Fiction')
        AND t.UnitPrice != 1.99""",
        )
        == 0
    )
    assert _one(conn, "SELECT count(*) FROM InvoiceLine WHERE typeof(UnitPrice) != 'real'") == 0


def test_billing_address_is_the_customers(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    mismatched = _one(
        conn,
        """SELECT count(*) FROM Invoice i JOIN Customer c USING (CustomerId)
        WHERE i.BillingAddress IS NOT c.Address OR i.BillingCity IS NOT c.City
           OR i.BillingState IS NOT c.State OR i.BillingCountry IS NOT c.Country
           OR i.BillingPostalCode IS NOT c.PostalCode""",
    )
    assert mismatched == 0


def test_foreign_keys_resolve(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    # no orphans in the other direction either: every album has tracks, every artist albums
    assert (
        _one(conn, "SELECT count(*) FROM Album WHERE AlbumId NOT IN (SELECT AlbumId FROM Track)")
        == 0
    )
    assert (
        _one(conn, "SELECT count(*) FROM Artist WHERE ArtistId NOT IN (SELECT ArtistId FROM Album)")
        == 0
    )


# ----------------------------------------------------------------------------- shape


def test_reference_tables(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    assert [r[0] for r in conn.execute("SELECT Name FROM Genre ORDER BY GenreId")] == GENRE_NAMES
    assert [r[0] for r in conn.execute("SELECT Name FROM MediaType ORDER BY MediaTypeId")] == [
        "MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file",
        "Purchased AAC audio file", "AAC audio file"]  # fmt: skip
    assert _one(conn, "SELECT count(*) FROM Playlist") == 18
    assert _one(conn, "SELECT count(DISTINCT PlaylistId) FROM PlaylistTrack") >= 10
    assert 200 <= _one(conn, "SELECT count(*) FROM Artist") <= 400
    assert _one(conn, "SELECT count(DISTINCT GenreId) FROM Track") == 25


def test_track_lengths_by_genre(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    avg = dict(
        conn.execute("""SELECT g.Name, avg(t.Milliseconds) FROM Track t
                               JOIN Genre g USING (GenreId) GROUP BY g.Name""").fetchall()
    )
    assert 180_000 < avg["Rock"] < 400_000
    assert avg["Classical"] > avg["Rock"] > avg["Rock And Roll"]
    assert avg["Drama"] > 30 * 60_000  # TV episodes
    rate = dict(
        conn.execute("""SELECT MediaTypeId, sum(Bytes) * 1.0 / sum(Milliseconds) FROM Track
                                GROUP BY MediaTypeId""").fetchall()
    )
    assert 25 < rate[1] < 40 and rate[3] > 100  # MPEG ~256 kbit/s, video much more
    assert _one(conn, "SELECT count(*) FROM Track WHERE Composer IS NULL") > 0


def test_customers_geography(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    countries = dict(conn.execute("SELECT Country, count(*) FROM Customer GROUP BY 1").fetchall())
    assert len(countries) >= 24
    assert max(countries, key=countries.__getitem__) == "USA"
    for col in ("City", "Country", "Phone", "Address", "PostalCode"):
        assert _one(conn, f"SELECT count(*) FROM Customer WHERE {col} IS NULL OR {col} = ''") == 0
    assert _one(conn, "SELECT count(*) FROM Customer WHERE Email NOT LIKE '%_@_%._%'") == 0
    assert _one(conn, "SELECT count(DISTINCT Email) FROM Customer") == _one(
        conn, "SELECT count(*) FROM Customer"
    )
    assert _one(conn, "SELECT max(length(PostalCode)) FROM Customer") <= 10
    assert _one(conn, "SELECT max(length(Phone)) FROM Customer") <= 24
    us = conn.execute(
        "SELECT State, PostalCode, Phone FROM Customer WHERE Country = 'USA'"
    ).fetchall()
    assert all(re.fullmatch(r"[A-Z]{2}", s) and re.fullmatch(r"\d{5}", p) and p_.startswith("+1 (")
               for s, p, p_ in us)  # fmt: skip
    companies = _one(conn, "SELECT count(*) FROM Customer WHERE Company IS NOT NULL")
    assert 0.05 * N // 7 < companies < 0.25 * N // 7
    assert _one(conn, "SELECT count(*) FROM Customer WHERE (Company IS NULL) != (Fax IS NULL)") == 0


def test_employee_hierarchy(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    assert _one(conn, "SELECT count(*) FROM Employee") == 8
    assert _one(conn, "SELECT count(*) FROM Employee WHERE ReportsTo IS NULL") == 1
    depth = dict(
        conn.execute("""WITH RECURSIVE t(id, title, depth) AS (
            SELECT EmployeeId, Title, 1 FROM Employee WHERE ReportsTo IS NULL
            UNION ALL SELECT e.EmployeeId, e.Title, t.depth + 1
            FROM Employee e JOIN t ON e.ReportsTo = t.id)
        SELECT title, max(depth) FROM t GROUP BY title""").fetchall()
    )
    assert depth == {"General Manager": 1, "Sales Manager": 2, "IT Manager": 2,
                     "Sales Support Agent": 3, "IT Staff": 3}  # fmt: skip
    titles = {
        r[0]
        for r in conn.execute("""SELECT DISTINCT e.Title FROM Customer c
        JOIN Employee e ON e.EmployeeId = c.SupportRepId""")
    }
    assert titles == {"Sales Support Agent"}
    assert _one(conn, "SELECT count(DISTINCT SupportRepId) FROM Customer") == 3
    assert (
        _one(conn, "SELECT count(*) FROM Employee WHERE HireDate NOT GLOB '????-??-?? 00:00:00'")
        == 0
    )


def test_popularity_skew(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, stats = db
    per_artist = [
        r[0]
        for r in conn.execute("""SELECT count(l.InvoiceLineId) FROM Artist ar
        JOIN Album al USING (ArtistId) JOIN Track t USING (AlbumId)
        LEFT JOIN InvoiceLine l USING (TrackId) GROUP BY ar.ArtistId ORDER BY 1 DESC""")
    ]
    top, median = per_artist[0], statistics.median(per_artist)
    assert top > 20 * max(median, 1)
    assert sum(per_artist[: len(per_artist) // 10]) > 0.5 * stats.invoice_lines
    genres = [
        r[0]
        for r in conn.execute("""SELECT g.Name FROM InvoiceLine l
        JOIN Track t USING (TrackId) JOIN Genre g USING (GenreId) GROUP BY g.Name
        ORDER BY count(*) DESC LIMIT 3""")
    ]
    assert genres[0] == "Rock" and "Latin" in genres


def test_weekday_and_month_not_flat(db: tuple[sqlite3.Connection, GenerateStats]) -> None:
    conn, _ = db
    dow = dict(
        conn.execute(
            "SELECT strftime('%w', InvoiceDate), count(*) FROM Invoice GROUP BY 1"
        ).fetchall()
    )
    weekend = dow["0"] + dow["6"]
    assert weekend / N > 0.32  # 2/7 = 0.286 if flat; weekends are busier
    assert min(dow["0"], dow["6"]) > max(dow["1"], dow["2"])
    month = dict(
        conn.execute(
            "SELECT strftime('%m', InvoiceDate), count(*) FROM Invoice GROUP BY 1"
        ).fetchall()
    )
    assert month["12"] > 1.25 * N / 12 and month["12"] > 1.4 * month["02"]
    hours = dict(
        conn.execute(
            "SELECT strftime('%H', InvoiceDate), count(*) FROM Invoice GROUP BY 1"
        ).fetchall()
    )
    assert hours["20"] > 3 * hours["04"]  # evenings busy, nights quiet


# ----------------------------------------------------------------------------- files and errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"invoices": 0}, "invoices"),
        ({"invoices": -5}, "invoices"),
        ({"start": date(2024, 1, 2), "end": date(2024, 1, 1)}, "start"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    target = tmp_path / "x.sqlite"
    with pytest.raises(ValueError, match=message):
        generate(target, **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_replaces_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "store.sqlite"
    target.parent.mkdir()
    target.write_bytes(b"not a database")
    stats = generate(target, invoices=300, start=date(2024, 6, 1), end=date(2024, 6, 1))
    assert stats.path == target
    assert [p.name for p in target.parent.iterdir()] == ["store.sqlite"]
    conn = _connect(target)
    try:
        assert _one(conn, "SELECT count(*) FROM Invoice") == 300
        assert _one(conn, "SELECT count(DISTINCT substr(InvoiceDate, 1, 10)) FROM Invoice") == 1
    finally:
        conn.close()


def test_interrupted_generation_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generator, "_CHUNK", 100)
    target = tmp_path / "store.sqlite"
    target.write_bytes(b"old")

    def stop(done: int, total: int) -> None:
        if done >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(target, invoices=1000, progress=stop)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["store.sqlite"]
