"""Independent oracle for the Chinook refined (and one trusted) tables.

This module recomputes, in plain Python, the tables that batchlake's Chinook
pipeline builds in SQL, straight from the Chinook SQLite source database. It
is deliberately written without looking at the pipeline's models: it reads
each source table with a plain ``SELECT *`` and does every join, aggregation,
rank and rounding itself, with exact ``decimal.Decimal`` arithmetic for money.

Conventions (from the table specification):

* Money is the exact sum of ``UnitPrice * Quantity`` over invoice lines, kept
  with two decimals. ``UnitPrice`` is stored as REAL in SQLite and is
  converted with ``Decimal(str(round(x, 2)))``.
* Ratios are computed from unrounded values and rounded half-up to two
  decimals. A ratio whose denominator is zero is NULL (``None``).
* A sale's calendar date is the date part of ``Invoice.InvoiceDate``; months
  are ``'YYYY-MM'`` strings, weekdays English names (Monday = 1).
* Invoice lines whose invoice does not exist are ignored (an inner join);
  invoices without lines still count as invoices (with no tracks and 0.00).

Values are returned as Python objects: ``str`` for text and ISO dates,
``int`` for counts, ``Decimal`` for money and ratios, ``bool`` for flags and
``None`` for NULL. Each row is a dict whose keys follow the column order in
:data:`COLUMNS`.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

__all__ = [
    "COLUMNS",
    "KEYS",
    "REFINED_TABLES",
    "TRUSTED_TABLES",
    "customer_employee_history",
    "refined_tables",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Genres with their own pct_* column in customer_features (exact name match).
PCT_GENRES = ("Rock", "Metal", "Jazz", "Latin", "Blues", "Classical")

# Column kinds used by the tests to normalise the pipeline's output:
# "str" text or ISO date, "int" integer count, "dec" money or ratio, "bool" flag.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "sales_by_day": (
        ("sale_date", "str"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("unique_customers", "int"),
        ("total_amount", "dec"),
        ("avg_ticket", "dec"),
        ("weekday", "str"),
        ("month", "int"),
        ("year", "int"),
        ("quarter", "int"),
    ),
    "top_artists_by_month": (
        ("month", "str"),
        ("rank", "int"),
        ("artist_id", "int"),
        ("artist_name", "str"),
        ("tracks_sold", "int"),
        ("share_pct", "dec"),
        ("rank_with_ties", "int"),
    ),
    "sales_by_weekday": (
        ("weekday", "str"),
        ("weekday_number", "int"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("total_amount", "dec"),
        ("sales_days", "int"),
        ("avg_amount_per_sales_day", "dec"),
    ),
    "weekend_vs_weekday": (
        ("segment", "str"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("total_amount", "dec"),
        ("sales_days", "int"),
        ("avg_amount_per_sales_day", "dec"),
        ("share_of_total_amount_pct", "dec"),
    ),
    "sales_by_month": (
        ("month", "str"),
        ("year", "int"),
        ("total_amount", "dec"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("rank", "int"),
        ("dense_rank", "int"),
        ("row_number", "int"),
        ("growth_pct", "dec"),
    ),
    "best_month_per_year": (
        ("year", "int"),
        ("best_month", "str"),
        ("total_amount", "dec"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("n_tied", "int"),
        ("tied_months", "str"),
    ),
    "sales_by_quarter": (
        ("quarter_label", "str"),
        ("year", "int"),
        ("quarter", "int"),
        ("total_amount", "dec"),
        ("tracks_sold", "int"),
        ("invoices", "int"),
        ("rank_overall", "int"),
        ("rank_within_year", "int"),
        ("is_best_in_year", "bool"),
        ("is_best_overall", "bool"),
    ),
    "customer_features": (
        ("customer_id", "int"),
        ("first_name", "str"),
        ("last_name", "str"),
        ("country", "str"),
        ("total_purchases", "int"),
        ("total_spent", "dec"),
        ("tracks_bought", "int"),
        ("avg_track_price", "dec"),
        ("avg_track_seconds", "dec"),
        ("unique_genres", "int"),
        ("pct_rock", "dec"),
        ("pct_metal", "dec"),
        ("pct_jazz", "dec"),
        ("pct_latin", "dec"),
        ("pct_blues", "dec"),
        ("pct_classical", "dec"),
        ("pct_other", "dec"),
    ),
    "customer_employee_history": (
        ("customer_id", "int"),
        ("customer_name", "str"),
        ("support_rep_id", "int"),
        ("support_rep_name", "str"),
        ("level", "int"),
        ("manager_id", "int"),
        ("manager_name", "str"),
    ),
}

# A unique key of each table, used to show per-column differences.
KEYS: dict[str, tuple[str, ...]] = {
    "sales_by_day": ("sale_date",),
    "top_artists_by_month": ("month", "rank"),
    "sales_by_weekday": ("weekday_number",),
    "weekend_vs_weekday": ("segment",),
    "sales_by_month": ("month",),
    "best_month_per_year": ("year",),
    "sales_by_quarter": ("quarter_label",),
    "customer_features": ("customer_id",),
    "customer_employee_history": ("customer_id", "level"),
}

REFINED_TABLES = (
    "sales_by_day",
    "top_artists_by_month",
    "sales_by_weekday",
    "weekend_vs_weekday",
    "sales_by_month",
    "best_month_per_year",
    "sales_by_quarter",
    "customer_features",
)
TRUSTED_TABLES = ("customer_employee_history",)

Row = dict[str, Any]


# --------------------------------------------------------------------------- numbers


def to_money(value: object) -> Decimal:
    """A source price (REAL in SQLite, possibly INTEGER or TEXT) as an exact Decimal."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"not a price: {value!r}")
    if isinstance(value, float):
        return Decimal(str(round(value, 2)))
    return Decimal(str(value))


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator rounded half-up to 2 decimals; None when dividing by 0."""
    if denominator == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return round2(Decimal(numerator) / Decimal(denominator))


def pct(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """100 × part / whole, rounded half-up to 2 decimals; None when whole is 0."""
    return ratio(Decimal(part) * HUNDRED, whole)


def rank_desc(value: Decimal | int, values: Iterable[Decimal | int]) -> int:
    """SQL RANK() of value when ordering values descending."""
    return 1 + sum(1 for v in values if v > value)


def dense_rank_desc(value: Decimal | int, values: Iterable[Decimal | int]) -> int:
    """SQL DENSE_RANK() of value when ordering values descending."""
    return 1 + len({v for v in values if v > value})


# --------------------------------------------------------------------------- source


@dataclass(frozen=True)
class _Invoice:
    invoice_id: int
    customer_id: int | None
    day: date


@dataclass(frozen=True)
class _Line:
    invoice: _Invoice
    track_id: int | None
    amount: Decimal  # UnitPrice * Quantity, exact
    quantity: int


@dataclass(frozen=True)
class _Track:
    album_id: int | None
    genre_id: int | None
    milliseconds: int | None


@dataclass
class _Source:
    invoices: list[_Invoice]
    lines: list[_Line]
    tracks: dict[int, _Track]
    album_artist: dict[int, int | None]
    artists: dict[int, str | None]
    genres: dict[int, str | None]
    customers: list[sqlite3.Row]
    employees: dict[int, sqlite3.Row]


def _connect(sqlite_path: Path) -> sqlite3.Connection:
    path = Path(sqlite_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _rows(conn: sqlite3.Connection, table: str) -> list[sqlite3.Row]:
    return conn.execute(f'SELECT * FROM "{table}"').fetchall()


def _parse_day(value: object) -> date:
    """The calendar date of an InvoiceDate ('YYYY-MM-DD HH:MM:SS' text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _load(sqlite_path: Path) -> _Source:
    conn = _connect(sqlite_path)
    try:
        invoices = [
            _Invoice(r["InvoiceId"], r["CustomerId"], _parse_day(r["InvoiceDate"]))
            for r in _rows(conn, "Invoice")
        ]
        by_id = {inv.invoice_id: inv for inv in invoices}
        lines = [
            _Line(
                invoice=by_id[r["InvoiceId"]],
                track_id=r["TrackId"],
                amount=to_money(r["UnitPrice"]) * int(r["Quantity"]),
                quantity=int(r["Quantity"]),
            )
            for r in _rows(conn, "InvoiceLine")
            if r["InvoiceId"] in by_id
        ]
        tracks = {
            r["TrackId"]: _Track(r["AlbumId"], r["GenreId"], r["Milliseconds"])
            for r in _rows(conn, "Track")
        }
        album_artist = {r["AlbumId"]: r["ArtistId"] for r in _rows(conn, "Album")}
        artists = {r["ArtistId"]: r["Name"] for r in _rows(conn, "Artist")}
        genres = {r["GenreId"]: r["Name"] for r in _rows(conn, "Genre")}
        customers = sorted(_rows(conn, "Customer"), key=lambda r: r["CustomerId"])
        employees = {r["EmployeeId"]: r for r in _rows(conn, "Employee")}
    finally:
        conn.close()
    return _Source(invoices, lines, tracks, album_artist, artists, genres, customers, employees)


# --------------------------------------------------------------------------- sales


@dataclass
class _Agg:
    """Sales of a group of invoices (a day, month, weekday, …)."""

    invoices: set[int] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    days: set[date] = field(default_factory=set)
    tracks_sold: int = 0
    amount: Decimal = ZERO

    def add_invoice(self, inv: _Invoice) -> None:
        self.invoices.add(inv.invoice_id)
        self.days.add(inv.day)
        if inv.customer_id is not None:
            self.customers.add(inv.customer_id)

    def add_line(self, line: _Line) -> None:
        self.tracks_sold += line.quantity
        self.amount += line.amount

    @property
    def total_amount(self) -> Decimal:
        return round2(self.amount)


def _group(src: _Source, key: Any) -> dict[Any, _Agg]:
    """Invoices and their lines grouped by key(invoice)."""
    groups: dict[Any, _Agg] = defaultdict(_Agg)
    for inv in src.invoices:
        groups[key(inv)].add_invoice(inv)
    for line in src.lines:
        groups[key(line.invoice)].add_line(line)
    return dict(groups)


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _quarter(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _sales_by_day(src: _Source) -> list[Row]:
    rows = []
    for day, agg in sorted(_group(src, lambda inv: inv.day).items()):
        rows.append(
            {
                "sale_date": day.isoformat(),
                "tracks_sold": agg.tracks_sold,
                "invoices": len(agg.invoices),
                "unique_customers": len(agg.customers),
                "total_amount": agg.total_amount,
                "avg_ticket": ratio(agg.amount, len(agg.invoices)),
                "weekday": WEEKDAYS[day.weekday()],
                "month": day.month,
                "year": day.year,
                "quarter": _quarter(day),
            }
        )
    return rows


def _artist_of(src: _Source, track_id: int | None) -> int | None:
    """Artist of a track (Track → Album → Artist), None when the chain is broken."""
    track = src.tracks.get(track_id) if track_id is not None else None
    if track is None or track.album_id is None:
        return None
    artist_id = src.album_artist.get(track.album_id)
    if artist_id is None or artist_id not in src.artists:
        return None
    return artist_id


def _top_artists_by_month(src: _Source, top: int = 5) -> list[Row]:
    month_tracks: dict[str, int] = defaultdict(int)
    artist_tracks: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for line in src.lines:
        month = _month(line.invoice.day)
        month_tracks[month] += line.quantity
        artist_id = _artist_of(src, line.track_id)
        if artist_id is not None:
            artist_tracks[month][artist_id] += line.quantity

    def order(item: tuple[int, int]) -> tuple[int, tuple[int, str], int]:
        artist_id, sold = item
        name = src.artists[artist_id]
        # tracks desc, then name asc by code point (NULL names last), then id asc
        return (-sold, (1, "") if name is None else (0, name), artist_id)

    rows = []
    for month in sorted(artist_tracks):
        sold_by_artist = artist_tracks[month]
        ranked = sorted(sold_by_artist.items(), key=order)
        for position, (artist_id, sold) in enumerate(ranked[:top], start=1):
            rows.append(
                {
                    "month": month,
                    "rank": position,
                    "artist_id": artist_id,
                    "artist_name": src.artists[artist_id],
                    "tracks_sold": sold,
                    "share_pct": pct(sold, month_tracks[month]),
                    "rank_with_ties": rank_desc(sold, sold_by_artist.values()),
                }
            )
    return rows


def _sales_by_weekday(src: _Source) -> list[Row]:
    groups = _group(src, lambda inv: inv.day.isoweekday())
    rows = []
    for number, name in enumerate(WEEKDAYS, start=1):
        agg = groups.get(number, _Agg())
        rows.append(
            {
                "weekday": name,
                "weekday_number": number,
                "tracks_sold": agg.tracks_sold,
                "invoices": len(agg.invoices),
                "total_amount": agg.total_amount,
                "sales_days": len(agg.days),
                "avg_amount_per_sales_day": ratio(agg.amount, len(agg.days)),
            }
        )
    return rows


def _weekend_vs_weekday(src: _Source) -> list[Row]:
    groups = _group(src, lambda inv: "weekend" if inv.day.isoweekday() >= 6 else "weekday")
    grand_total = sum((agg.amount for agg in groups.values()), ZERO)
    rows = []
    for segment in ("weekday", "weekend"):
        agg = groups.get(segment, _Agg())
        rows.append(
            {
                "segment": segment,
                "tracks_sold": agg.tracks_sold,
                "invoices": len(agg.invoices),
                "total_amount": agg.total_amount,
                "sales_days": len(agg.days),
                "avg_amount_per_sales_day": ratio(agg.amount, len(agg.days)),
                "share_of_total_amount_pct": pct(agg.amount, grand_total),
            }
        )
    return rows


def _previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def _sales_by_month(src: _Source) -> list[Row]:
    groups = _group(src, lambda inv: _month(inv.day))
    totals = {month: agg.amount for month, agg in groups.items()}
    by_total = sorted(totals, key=lambda m: (-totals[m], m))
    row_numbers = {month: n for n, month in enumerate(by_total, start=1)}
    rows = []
    for month in sorted(groups):
        agg = groups[month]
        previous = totals.get(_previous_month(month))
        growth = None if previous is None else pct(agg.amount - previous, previous)
        rows.append(
            {
                "month": month,
                "year": int(month[:4]),
                "total_amount": agg.total_amount,
                "tracks_sold": agg.tracks_sold,
                "invoices": len(agg.invoices),
                "rank": rank_desc(agg.amount, totals.values()),
                "dense_rank": dense_rank_desc(agg.amount, totals.values()),
                "row_number": row_numbers[month],
                "growth_pct": growth,
            }
        )
    return rows


def _best_month_per_year(src: _Source) -> list[Row]:
    groups = _group(src, lambda inv: _month(inv.day))
    months_by_year: dict[int, list[str]] = defaultdict(list)
    for month in groups:
        months_by_year[int(month[:4])].append(month)
    rows = []
    for year in sorted(months_by_year):
        best_total = max(groups[m].amount for m in months_by_year[year])
        tied = sorted(m for m in months_by_year[year] if groups[m].amount == best_total)
        best = groups[tied[0]]
        rows.append(
            {
                "year": year,
                "best_month": tied[0],
                "total_amount": best.total_amount,
                "tracks_sold": best.tracks_sold,
                "invoices": len(best.invoices),
                "n_tied": len(tied),
                "tied_months": ";".join(tied),
            }
        )
    return rows


def _sales_by_quarter(src: _Source) -> list[Row]:
    groups = _group(src, lambda inv: (inv.day.year, _quarter(inv.day)))
    all_totals = [agg.amount for agg in groups.values()]
    rows = []
    for (year, quarter), agg in sorted(groups.items()):
        year_totals = [a.amount for (y, _), a in groups.items() if y == year]
        rank_overall = rank_desc(agg.amount, all_totals)
        rank_within_year = rank_desc(agg.amount, year_totals)
        rows.append(
            {
                "quarter_label": f"{year:04d}-Q{quarter}",
                "year": year,
                "quarter": quarter,
                "total_amount": agg.total_amount,
                "tracks_sold": agg.tracks_sold,
                "invoices": len(agg.invoices),
                "rank_overall": rank_overall,
                "rank_within_year": rank_within_year,
                "is_best_in_year": rank_within_year == 1,
                "is_best_overall": rank_overall == 1,
            }
        )
    return rows


# --------------------------------------------------------------------------- customers


@dataclass
class _Purchases:
    invoices: set[int] = field(default_factory=set)
    amount: Decimal = ZERO
    tracks: int = 0
    weighted_ms: int = 0  # sum of Milliseconds × Quantity over lines with a known track
    timed_tracks: int = 0  # sum of Quantity over those lines
    genres: set[int] = field(default_factory=set)
    by_genre_column: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _genre_column(name: str | None) -> str:
    return f"pct_{name.lower()}" if name in PCT_GENRES else "pct_other"


def _customer_features(src: _Source) -> list[Row]:
    purchases: dict[int, _Purchases] = defaultdict(_Purchases)
    for inv in src.invoices:
        if inv.customer_id is not None:
            purchases[inv.customer_id].invoices.add(inv.invoice_id)
    for line in src.lines:
        if line.invoice.customer_id is None:
            continue
        p = purchases[line.invoice.customer_id]
        p.amount += line.amount
        p.tracks += line.quantity
        track = src.tracks.get(line.track_id) if line.track_id is not None else None
        genre_id = track.genre_id if track is not None else None
        if track is not None and track.milliseconds is not None:
            p.weighted_ms += track.milliseconds * line.quantity
            p.timed_tracks += line.quantity
        if genre_id is not None:
            p.genres.add(genre_id)
        genre_name = src.genres.get(genre_id) if genre_id is not None else None
        p.by_genre_column[_genre_column(genre_name)] += line.quantity

    rows = []
    for customer in src.customers:
        p = purchases.get(customer["CustomerId"], _Purchases())
        row: Row = {
            "customer_id": customer["CustomerId"],
            "first_name": customer["FirstName"],
            "last_name": customer["LastName"],
            "country": customer["Country"],
            "total_purchases": len(p.invoices),
            "total_spent": round2(p.amount),
            "tracks_bought": p.tracks,
            "avg_track_price": ratio(p.amount, p.tracks),
            "avg_track_seconds": ratio(p.weighted_ms, p.timed_tracks * 1000),
            "unique_genres": len(p.genres),
        }
        for column in [f"pct_{g.lower()}" for g in PCT_GENRES] + ["pct_other"]:
            row[column] = pct(p.by_genre_column.get(column, 0), p.tracks)
        rows.append(row)
    return rows


def _full_name(row: sqlite3.Row) -> str:
    return f"{row['FirstName']} {row['LastName']}"


def _customer_employee_history(src: _Source) -> list[Row]:
    rows: list[Row] = []
    for customer in src.customers:
        base: Row = {
            "customer_id": customer["CustomerId"],
            "customer_name": _full_name(customer),
            "support_rep_id": customer["SupportRepId"],
            "support_rep_name": None,
        }
        rep = src.employees.get(customer["SupportRepId"])
        chain: list[sqlite3.Row] = []
        if rep is not None:
            base["support_rep_name"] = _full_name(rep)
            seen = {rep["EmployeeId"]}
            manager = src.employees.get(rep["ReportsTo"])
            while manager is not None and manager["EmployeeId"] not in seen:
                chain.append(manager)
                seen.add(manager["EmployeeId"])
                manager = src.employees.get(manager["ReportsTo"])
        if not chain:
            rows.append({**base, "level": None, "manager_id": None, "manager_name": None})
        for level, manager in enumerate(chain, start=1):
            rows.append(
                {
                    **base,
                    "level": level,
                    "manager_id": manager["EmployeeId"],
                    "manager_name": _full_name(manager),
                }
            )
    return rows


# --------------------------------------------------------------------------- API


_BUILDERS = {
    "sales_by_day": _sales_by_day,
    "top_artists_by_month": _top_artists_by_month,
    "sales_by_weekday": _sales_by_weekday,
    "weekend_vs_weekday": _weekend_vs_weekday,
    "sales_by_month": _sales_by_month,
    "best_month_per_year": _best_month_per_year,
    "sales_by_quarter": _sales_by_quarter,
    "customer_features": _customer_features,
}


def refined_tables(sqlite_path: Path) -> dict[str, list[dict[str, object]]]:
    """Every refined Chinook table, computed from the SQLite source at sqlite_path."""
    src = _load(sqlite_path)
    return {name: build(src) for name, build in _BUILDERS.items()}


def customer_employee_history(sqlite_path: Path) -> list[dict[str, object]]:
    """The trusted customer_employee_history table (customer → rep → managers)."""
    return _customer_employee_history(_load(sqlite_path))
