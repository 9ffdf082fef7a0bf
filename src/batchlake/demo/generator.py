"""Deterministic generator of a Chinook-shaped music-store SQLite database.

``generate(path, invoices=N, seed=S)`` writes a SQLite file with exactly the schema of the Chinook
sample database (the eleven tables ``Album Artist Customer Employee Genre Invoice InvoiceLine
MediaType Playlist PlaylistTrack Track``, same column names, declared types, NOT NULLs, primary
keys, foreign keys and indexes; the ``CREATE`` statements are byte-for-byte Chinook's) and fills it
with invented but realistically shaped data:

* **Catalogue** (independent of ``invoices``): the 25 real genre names and 5 real media types;
  275 artists spread over genres like the real catalogue (Rock, then Latin, Metal, Alternative &
  Punk, Jazz, ...), ~350 albums and ~3,500 tracks. TV genres (TV Shows, Drama, Sci Fi & Fantasy,
  Science Fiction, Comedy) are ``Protected MPEG-4 video file`` seasons of 40-50 minute episodes;
  music tracks last a genre-typical length (Classical and Opera longest), a few music albums are
  music videos. ``Bytes`` follows the media type's bit rate. Video tracks cost 1.99, audio 0.99.
  The 18 real playlists, filled by genre rules (Music, TV Shows, Classical, Grunge, ...).
* **Staff**: Chinook's 8 employees: General Manager -> Sales Manager -> 3 Sales Support Agents,
  General Manager -> IT Manager -> 2 IT Staff.
* **Customers**: ``max(59, invoices // 7)`` customers in 28 countries (USA, Canada, France, Brazil
  and Germany most frequent; every country appears at least once) with country-typical city,
  state, postal code, phone and e-mail; about 12% have a company and fax. Each has a Sales Support
  Agent as ``SupportRepId``. Purchase frequency differs between customers (log-normal).
* **Invoices**: exactly ``invoices`` invoices, ids 1..N in ``InvoiceDate`` order, spread over
  ``start..end`` with weekends busier (Saturday x1.30, Sunday x1.25, Monday x0.85), a Christmas
  season (November x1.20, December x1.45, February x0.85) and 8% yearly growth. Unlike the real
  data (always midnight) invoices carry a time of day, quiet at night and peaking around 20:00,
  stored as ``'YYYY-MM-DD HH:MM:SS'``. Billing address is copied from the customer.
* **Invoice lines**: 1..14 per invoice, skewed to few (mean ~5), ids 1..M in invoice order.
  Tracks are drawn by popularity: a genre gets its share of sales, artists within a genre follow
  a Zipf law (a few artists sell far more) and about 45% of the further lines in an invoice are the
  next track of the same album. ``Quantity`` is 1 (2 on 1% of lines), ``UnitPrice`` the track's
  price, and ``Invoice.Total`` is exactly the sum of ``UnitPrice * Quantity`` (summed in integer
  cents, stored as ``cents / 100`` REAL).

The same ``seed`` and arguments give identical table contents (for a given numpy version); the
catalogue depends only on the seed. Invoices are generated in chunks of 50,000 with vectorised
numpy draws, so memory stays bounded (customers cost a few bytes each); the file is built next to
``path`` under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from batchlake.demo import _generator_data as data
from batchlake.demo import _generator_text as text

__all__ = ["SCHEMA_DDL", "GenerateStats", "generate"]

_FK = "\n        ON DELETE NO ACTION ON UPDATE NO ACTION"

# Chinook's DDL, in sqlite_master order. Its foreign-key clauses end in " \n\t\t" (see below).
_TABLE_DDL: tuple[str, ...] = (
    f"""CREATE TABLE [Album]
(
    [AlbumId] INTEGER  NOT NULL,
    [Title] NVARCHAR(160)  NOT NULL,
    [ArtistId] INTEGER  NOT NULL,
    CONSTRAINT [PK_Album] PRIMARY KEY  ([AlbumId]),
    FOREIGN KEY ([ArtistId]) REFERENCES [Artist] ([ArtistId]){_FK}
)""",
    """CREATE TABLE [Artist]
(
    [ArtistId] INTEGER  NOT NULL,
    [Name] NVARCHAR(120),
    CONSTRAINT [PK_Artist] PRIMARY KEY  ([ArtistId])
)""",
    f"""CREATE TABLE [Customer]
(
    [CustomerId] INTEGER  NOT NULL,
    [FirstName] NVARCHAR(40)  NOT NULL,
    [LastName] NVARCHAR(20)  NOT NULL,
    [Company] NVARCHAR(80),
    [Address] NVARCHAR(70),
    [City] NVARCHAR(40),
    [State] NVARCHAR(40),
    [Country] NVARCHAR(40),
    [PostalCode] NVARCHAR(10),
    [Phone] NVARCHAR(24),
    [Fax] NVARCHAR(24),
    [Email] NVARCHAR(60)  NOT NULL,
    [SupportRepId] INTEGER,
    CONSTRAINT [PK_Customer] PRIMARY KEY  ([CustomerId]),
    FOREIGN KEY ([SupportRepId]) REFERENCES [Employee] ([EmployeeId]){_FK}
)""",
    f"""CREATE TABLE [Employee]
(
    [EmployeeId] INTEGER  NOT NULL,
    [LastName] NVARCHAR(20)  NOT NULL,
    [FirstName] NVARCHAR(20)  NOT NULL,
    [Title] NVARCHAR(30),
    [ReportsTo] INTEGER,
    [BirthDate] DATETIME,
    [HireDate] DATETIME,
    [Address] NVARCHAR(70),
    [City] NVARCHAR(40),
    [State] NVARCHAR(40),
    [Country] NVARCHAR(40),
    [PostalCode] NVARCHAR(10),
    [Phone] NVARCHAR(24),
    [Fax] NVARCHAR(24),
    [Email] NVARCHAR(60),
    CONSTRAINT [PK_Employee] PRIMARY KEY  ([EmployeeId]),
    FOREIGN KEY ([ReportsTo]) REFERENCES [Employee] ([EmployeeId]){_FK}
)""",
    """CREATE TABLE [Genre]
(
    [GenreId] INTEGER  NOT NULL,
    [Name] NVARCHAR(120),
    CONSTRAINT [PK_Genre] PRIMARY KEY  ([GenreId])
)""",
    f"""CREATE TABLE [Invoice]
(
    [InvoiceId] INTEGER  NOT NULL,
    [CustomerId] INTEGER  NOT NULL,
    [InvoiceDate] DATETIME  NOT NULL,
    [BillingAddress] NVARCHAR(70),
    [BillingCity] NVARCHAR(40),
    [BillingState] NVARCHAR(40),
    [BillingCountry] NVARCHAR(40),
    [BillingPostalCode] NVARCHAR(10),
    [Total] NUMERIC(10,2)  NOT NULL,
    CONSTRAINT [PK_Invoice] PRIMARY KEY  ([InvoiceId]),
    FOREIGN KEY ([CustomerId]) REFERENCES [Customer] ([CustomerId]){_FK}
)""",
    f"""CREATE TABLE [InvoiceLine]
(
    [InvoiceLineId] INTEGER  NOT NULL,
    [InvoiceId] INTEGER  NOT NULL,
    [TrackId] INTEGER  NOT NULL,
    [UnitPrice] NUMERIC(10,2)  NOT NULL,
    [Quantity] INTEGER  NOT NULL,
    CONSTRAINT [PK_InvoiceLine] PRIMARY KEY  ([InvoiceLineId]),
    FOREIGN KEY ([InvoiceId]) REFERENCES [Invoice] ([InvoiceId]){_FK},
    FOREIGN KEY ([TrackId]) REFERENCES [Track] ([TrackId]){_FK}
)""",
    """CREATE TABLE [MediaType]
(
    [MediaTypeId] INTEGER  NOT NULL,
    [Name] NVARCHAR(120),
    CONSTRAINT [PK_MediaType] PRIMARY KEY  ([MediaTypeId])
)""",
    """CREATE TABLE [Playlist]
(
    [PlaylistId] INTEGER  NOT NULL,
    [Name] NVARCHAR(120),
    CONSTRAINT [PK_Playlist] PRIMARY KEY  ([PlaylistId])
)""",
    f"""CREATE TABLE [PlaylistTrack]
(
    [PlaylistId] INTEGER  NOT NULL,
    [TrackId] INTEGER  NOT NULL,
    CONSTRAINT [PK_PlaylistTrack] PRIMARY KEY  ([PlaylistId], [TrackId]),
    FOREIGN KEY ([PlaylistId]) REFERENCES [Playlist] ([PlaylistId]){_FK},
    FOREIGN KEY ([TrackId]) REFERENCES [Track] ([TrackId]){_FK}
)""",
    f"""CREATE TABLE [Track]
(
    [TrackId] INTEGER  NOT NULL,
    [Name] NVARCHAR(200)  NOT NULL,
    [AlbumId] INTEGER,
    [MediaTypeId] INTEGER  NOT NULL,
    [GenreId] INTEGER,
    [Composer] NVARCHAR(220),
    [Milliseconds] INTEGER  NOT NULL,
    [Bytes] INTEGER,
    [UnitPrice] NUMERIC(10,2)  NOT NULL,
    CONSTRAINT [PK_Track] PRIMARY KEY  ([TrackId]),
    FOREIGN KEY ([AlbumId]) REFERENCES [Album] ([AlbumId]){_FK},
    FOREIGN KEY ([GenreId]) REFERENCES [Genre] ([GenreId]){_FK},
    FOREIGN KEY ([MediaTypeId]) REFERENCES [MediaType] ([MediaTypeId]){_FK}
)""",
)
_INDEX_DDL: tuple[str, ...] = tuple(
    f"CREATE INDEX [IFK_{name}] ON [{table}] ([{column}])"
    for name, table, column in (
        ("AlbumArtistId", "Album", "ArtistId"),
        ("CustomerSupportRepId", "Customer", "SupportRepId"),
        ("EmployeeReportsTo", "Employee", "ReportsTo"),
        ("InvoiceCustomerId", "Invoice", "CustomerId"),
        ("InvoiceLineInvoiceId", "InvoiceLine", "InvoiceId"),
        ("InvoiceLineTrackId", "InvoiceLine", "TrackId"),
        ("PlaylistTrackPlaylistId", "PlaylistTrack", "PlaylistId"),
        ("PlaylistTrackTrackId", "PlaylistTrack", "TrackId"),
        ("TrackAlbumId", "Track", "AlbumId"),
        ("TrackGenreId", "Track", "GenreId"),
        ("TrackMediaTypeId", "Track", "MediaTypeId"),
    )
)
#: Every CREATE statement of the Chinook schema, exactly as in its ``sqlite_master``.
SCHEMA_DDL: tuple[str, ...] = (
    tuple(s.replace(_FK, " \n\t\tON DELETE NO ACTION ON UPDATE NO ACTION") for s in _TABLE_DDL)
    + _INDEX_DDL
)

_BUILD_PRAGMAS = (
    "journal_mode=OFF",
    "synchronous=OFF",
    "locking_mode=EXCLUSIVE",
    "cache_size=-65536",
)
_CHUNK = 50_000  # invoices per chunk
_N_ARTISTS = 275
_N_TRACKS = 3503
_CLASSICAL = (23, 24)  # genre indexes of Classical and Opera
_WEEKDAY = (0.85, 0.85, 0.90, 0.95, 1.10, 1.30, 1.25)  # Monday..Sunday
_MONTH = (0.90, 0.85, 0.95, 0.95, 1.00, 1.00, 1.05, 1.00, 0.95, 1.00, 1.20, 1.45)
_GROWTH_PER_YEAR = 0.08
_HOURS = (0.5, 0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.4,
          1.6, 1.5, 1.4, 1.4, 1.5, 1.7, 2.0, 2.3, 2.5, 2.4, 1.9, 1.0)  # fmt: skip
_LINES_P = (0.16, 0.14, 0.12, 0.10, 0.09, 0.08, 0.07,
            0.06, 0.05, 0.04, 0.03, 0.025, 0.02, 0.015)  # P(1 line) .. P(14 lines)  # fmt: skip
_SAME_ALBUM_P = 0.45
_QTY2_P = 0.01


@dataclass(frozen=True)
class GenerateStats:
    path: Path
    invoices: int
    invoice_lines: int
    customers: int
    tracks: int
    seconds: float


@dataclass
class _Catalog:
    artists: list[tuple[int, str]]
    albums: list[tuple[int, str, int]]
    tracks: list[tuple[object, ...]]
    playlist_tracks: list[tuple[int, int]]
    album_first: np.ndarray  # per track: index of its album's first track
    album_len: np.ndarray  # per track: number of tracks of its album
    price_cents: np.ndarray  # per track
    cdf: np.ndarray  # cumulative sales probability over tracks


def generate(
    path: Path,
    *,
    invoices: int = 2000,
    seed: int = 42,
    start: date = date(2021, 1, 1),
    end: date = date(2025, 12, 31),
    progress: Callable[[int, int], None] | None = None,
) -> GenerateStats:
    """Write a Chinook-shaped SQLite database at `path` (replacing any file there)."""
    if isinstance(invoices, bool) or not isinstance(invoices, int) or invoices < 1:
        raise ValueError(f"invoices must be an integer >= 1, got {invoices!r}")
    if start > end:
        raise ValueError(f"start ({start.isoformat()}) must not be after end ({end.isoformat()})")
    t0 = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng_catalog, rng_customers, rng_calendar, rng_sales = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    tmp = _new_temp_file(path)
    n_customers = max(59, invoices // 7)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            for pragma in _BUILD_PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("BEGIN")
            for ddl in SCHEMA_DDL[: len(_TABLE_DDL)]:
                conn.execute(ddl)
            catalog = _build_catalog(rng_catalog)
            _insert_reference(conn, catalog)
            for rows in text.customers(rng_customers, n_customers, _CHUNK):
                conn.executemany(f"INSERT INTO Customer VALUES ({_qs(13)})", rows)
            conn.execute("COMMIT")
            lines = _insert_sales(
                conn, catalog, rng_calendar, rng_sales, invoices, n_customers, start, end, progress
            )
            # Indexes last: one sort each beats maintaining them row by row, and SQLite's
            # external sort is fastest with a small page cache (measured: 2x faster than 64 MB).
            conn.execute("PRAGMA cache_size=-2000")
            conn.execute("BEGIN")
            for ddl in SCHEMA_DDL[len(_TABLE_DDL) :]:
                conn.execute(ddl)
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return GenerateStats(
        path=path,
        invoices=invoices,
        invoice_lines=lines,
        customers=n_customers,
        tracks=len(catalog.tracks),
        seconds=time.perf_counter() - t0,
    )


def _new_temp_file(path: Path) -> Path:
    """An empty file next to `path` (same filesystem, so the final rename is atomic)."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


def _qs(n: int) -> str:
    return ",".join("?" * n)


def _insert_reference(conn: sqlite3.Connection, cat: _Catalog) -> None:
    conn.executemany("INSERT INTO Genre VALUES (?,?)", _numbered(g[0] for g in data.GENRES))
    conn.executemany(
        "INSERT INTO MediaType VALUES (?,?)", _numbered(m[0] for m in data.MEDIA_TYPES)
    )
    conn.executemany("INSERT INTO Playlist VALUES (?,?)", _numbered(data.PLAYLISTS))
    conn.executemany(f"INSERT INTO Employee VALUES ({_qs(15)})", data.EMPLOYEES)
    conn.executemany("INSERT INTO Artist VALUES (?,?)", cat.artists)
    conn.executemany("INSERT INTO Album VALUES (?,?,?)", cat.albums)
    conn.executemany(f"INSERT INTO Track VALUES ({_qs(9)})", cat.tracks)
    conn.executemany("INSERT INTO PlaylistTrack VALUES (?,?)", cat.playlist_tracks)


def _numbered(names: Iterator[str] | tuple[str, ...]) -> list[tuple[int, str]]:
    return [(i, name) for i, name in enumerate(names, start=1)]


# --------------------------------------------------------------------------- catalogue


def _build_catalog(rng: np.random.Generator) -> _Catalog:
    tv_genre = np.array([g[4] for g in data.GENRES])
    genre_of, rank, artist_share = _artist_genres(rng, tv_genre)
    # Album sizes first, nudged so the catalogue has exactly _N_TRACKS tracks.
    album_artist = np.repeat(np.arange(_N_ARTISTS), 1 + rng.poisson(1.0 / np.sqrt(rank)))
    size = _album_sizes(rng, genre_of[album_artist], tv_genre)
    artists, albums, tracks, t_media = _name_catalogue(rng, genre_of, album_artist, size)

    album_start = np.cumsum(size) - size
    album_of = np.repeat(np.arange(len(size)), size)
    artist_idx = album_artist[album_of]
    pop = rng.lognormal(0.0, 0.8, len(tracks))
    pop_artist_sum = np.bincount(artist_idx, weights=pop, minlength=_N_ARTISTS)
    track_share = artist_share[artist_idx] * pop / pop_artist_sum[artist_idx]
    cdf = np.cumsum(track_share)
    cdf /= cdf[-1]
    return _Catalog(
        artists=artists,
        albums=albums,
        tracks=tracks,
        playlist_tracks=_playlists(rng, genre_of[artist_idx], np.array(t_media)),
        album_first=album_start[album_of],
        album_len=size[album_of],
        price_cents=np.where(np.array(t_media) == data.VIDEO_MEDIA_TYPE_ID, 199, 99),
        cdf=cdf,
    )


def _artist_genres(
    rng: np.random.Generator, tv_genre: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per artist: its genre, its popularity rank within the genre, its share of sales."""
    n_genres = len(data.GENRES)
    weight = np.array([g[1] for g in data.GENRES], dtype=np.float64)
    share = weight / weight.sum()
    # Every genre gets an artist; the rest follow the catalogue's genre mix (allowing for TV
    # seasons being longer and classical albums shorter than pop albums). Ids are shuffled.
    album_size = np.where(tv_genre, 16.0, np.where(np.isin(np.arange(n_genres), _CLASSICAL), 3, 10))
    per_artist = share / album_size / (share / album_size).sum()
    genre_of = np.concatenate(
        [np.arange(n_genres), rng.choice(n_genres, _N_ARTISTS - n_genres, p=per_artist)]
    )[rng.permutation(_N_ARTISTS)]
    rank = np.zeros(_N_ARTISTS, dtype=np.int64)  # 1-based popularity rank within the genre
    for g in range(n_genres):
        in_genre = np.flatnonzero(genre_of == g)
        rank[in_genre] = rng.permutation(len(in_genre)) + 1
    zipf = 1.0 / rank**1.1
    zipf_genre_sum = np.bincount(genre_of, weights=zipf, minlength=n_genres)
    artist_share = share[genre_of] * zipf / zipf_genre_sum[genre_of]
    return genre_of, rank, artist_share


def _album_sizes(
    rng: np.random.Generator, album_genre: np.ndarray, tv_genre: np.ndarray
) -> np.ndarray:
    """Tracks per album, adding up to exactly _N_TRACKS."""
    tv = tv_genre[album_genre]
    classical = np.isin(album_genre, _CLASSICAL)
    size = np.clip(np.rint(rng.normal(np.where(classical, 3, 10), 3)), 1, 22).astype(np.int64)
    size[tv] = rng.integers(8, 25, int(tv.sum()))
    diff = _N_TRACKS - int(size.sum())
    while diff != 0:
        i = int(rng.integers(len(size)))
        if diff > 0 or size[i] > 1:
            size[i] += 1 if diff > 0 else -1
            diff += -1 if diff > 0 else 1
    return size


def _name_catalogue(
    rng: np.random.Generator, genre_of: np.ndarray, album_artist: np.ndarray, size: np.ndarray
) -> tuple[list[tuple[int, str]], list[tuple[int, str, int]], list[tuple[object, ...]], list[int]]:
    """The Artist, Album and Track rows, in id order, and each track's media type."""
    names: set[str] = set()
    artists: list[tuple[int, str]] = []
    albums: list[tuple[int, str, int]] = []
    tracks: list[tuple[object, ...]] = []
    t_media: list[int] = []
    media_p = np.array([m[2] for m in data.MEDIA_TYPES])
    album = 0
    for a in range(_N_ARTISTS):
        g = int(genre_of[a])
        is_tv, is_classical = data.GENRES[g][4], g in _CLASSICAL
        name = _artist_name(rng, names, is_tv, is_classical)
        artists.append((a + 1, name))
        members = [text.person(rng) for _ in range(int(rng.integers(1, 5)))]
        season = 0
        while album < len(album_artist) and album_artist[album] == a:
            n_tracks, album = int(size[album]), album + 1
            if is_tv:
                season += 1
                media, title = data.VIDEO_MEDIA_TYPE_ID, f"{name}, Season {season}"
            else:
                media = int(rng.choice(len(media_p), p=media_p)) + 1
                title = text.album_title(rng, is_classical)
            albums.append((album, title, a + 1))
            tracks += _album_tracks(rng, len(tracks), album, media, g, n_tracks, members)
            t_media.extend([media] * n_tracks)
    return artists, albums, tracks, t_media


def _artist_name(rng: np.random.Generator, names: set[str], is_tv: bool, is_classical: bool) -> str:
    """A name no other artist has (added to `names`)."""
    name = text.artist_name(rng, is_tv, is_classical)
    while name in names:
        name = f"{name} {text.pick(rng, data.NOUNS)}"
    names.add(name)
    return name


def _album_tracks(
    rng: np.random.Generator,
    first: int,
    album: int,
    media: int,
    g: int,
    n_tracks: int,
    members: list[str],
) -> list[tuple[object, ...]]:
    """The Track rows of one album of genre `g`, numbered after track id `first`."""
    _, _, mean_s, sigma, is_tv = data.GENRES[g]
    is_classical = g in _CLASSICAL
    ms = rng.lognormal(np.log(mean_s * 1000) - sigma**2 / 2, sigma, n_tracks)
    ms = np.maximum(ms, 20_000).astype(np.int64)
    bpms = data.MEDIA_TYPES[media - 1][1] * rng.uniform(0.9, 1.1, n_tracks)
    price = 1.99 if media == data.VIDEO_MEDIA_TYPE_ID else 0.99
    album_composer = text.pick(rng, data.CLASSICAL_COMPOSERS) if is_classical else None
    rows: list[tuple[object, ...]] = []
    for i in range(n_tracks):
        credit = album_composer if is_tv or is_classical else text.composer(rng, members)
        name_i = text.track_name(rng, is_tv, is_classical, i)
        rows.append(
            (first + i + 1, name_i, album, media, g + 1, credit, int(ms[i]),
             int(ms[i] * bpms[i]), price)
        )  # fmt: skip
    return rows


def _playlists(
    rng: np.random.Generator, genre: np.ndarray, media: np.ndarray
) -> list[tuple[int, int]]:
    names = [g[0] for g in data.GENRES]
    ids = np.arange(1, len(genre) + 1)
    tv = np.array([data.GENRES[g][4] for g in genre])

    def of(*gs: str) -> np.ndarray:
        return ids[np.isin(genre, [names.index(x) for x in gs])]

    def sample(pool: np.ndarray, n: int) -> np.ndarray:
        return rng.permutation(pool)[: min(n, len(pool))]

    music, classical = ids[~tv], of("Classical", "Opera")
    members: dict[int, np.ndarray] = {
        1: music,
        3: ids[tv],
        5: sample(music, int(len(music) * 0.45)),
        8: music,
        9: ids[~tv & (media == data.VIDEO_MEDIA_TYPE_ID)],
        10: ids[tv],
        11: sample(of("Latin", "Bossa Nova"), 40),
        12: classical,
        13: sample(classical, 25),
        14: sample(classical, 25),
        15: sample(classical, 25),
        16: sample(of("Alternative & Punk", "Alternative"), 15),
        17: sample(of("Metal", "Heavy Metal"), 26),
        18: sample(music, 1),
    }
    return [(p, int(t)) for p in sorted(members) for t in np.sort(members[p])]


# --------------------------------------------------------------------------- sales


def _insert_sales(
    conn: sqlite3.Connection,
    cat: _Catalog,
    rng_calendar: np.random.Generator,
    rng: np.random.Generator,
    n: int,
    n_customers: int,
    start: date,
    end: date,
    progress: Callable[[int, int], None] | None,
) -> int:
    # Invoices per day: a multinomial draw over day weights; invoice ids follow the days.
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    epoch_day = days.astype(np.int64)
    dow = (epoch_day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    w = np.asarray(_WEEKDAY)[dow] * np.asarray(_MONTH)[month]
    w *= 1.0 + _GROWTH_PER_YEAR * np.arange(len(days)) / 365.25
    per_day = rng_calendar.multinomial(n, w / w.sum())
    day_end = np.cumsum(per_day)
    day_start = day_end - per_day
    hours = np.asarray(_HOURS)
    hour_cdf = np.concatenate([[0.0], np.cumsum(hours) / hours.sum()])
    hour_secs = np.arange(25) * 3600.0
    activity = rng_calendar.lognormal(0.0, 1.0, n_customers)
    cust_cdf = np.cumsum(activity)
    cust_cdf /= cust_cdf[-1]
    lines_cdf = np.cumsum(_LINES_P) / sum(_LINES_P)
    conn.execute(
        "CREATE TEMP TABLE _inv (id INTEGER PRIMARY KEY, cust INTEGER, ts INTEGER, cents INTEGER)"
    )
    next_line = 1
    n_tracks = len(cat.cdf)
    for lo in range(0, n, _CHUNK):
        k = min(_CHUNK, n - lo)
        idx = np.arange(lo, lo + k)
        day = np.searchsorted(day_end, idx, side="right")
        # Stratified time of day: the r-th of c invoices on a day sits in quantile (r+u)/c of the
        # hourly profile, so times rise with the id even across chunk boundaries.
        u = (idx - day_start[day] + rng.random(k)) / per_day[day]
        secs = np.minimum(np.interp(u, hour_cdf, hour_secs).astype(np.int64), 86_399)
        ts = epoch_day[day] * 86_400 + secs
        cust = (
            np.minimum(np.searchsorted(cust_cdf, rng.random(k), side="right"), n_customers - 1) + 1
        )
        n_lines = np.minimum(np.searchsorted(lines_cdf, rng.random(k), side="right"), 13) + 1
        m = int(n_lines.sum())
        first = np.cumsum(n_lines) - n_lines
        fresh = np.minimum(np.searchsorted(cat.cdf, rng.random(m), side="right"), n_tracks - 1)
        follow = rng.random(m) < _SAME_ALBUM_P
        follow[first] = False
        pos = np.arange(m)
        anchor = np.maximum.accumulate(np.where(follow, 0, pos))
        base = fresh[anchor]
        album0 = cat.album_first[base]
        track = album0 + (base - album0 + pos - anchor) % cat.album_len[base]
        qty = 1 + (rng.random(m) < _QTY2_P).astype(np.int64)
        unit = cat.price_cents[track]
        totals = np.add.reduceat(unit * qty, first)
        invoice_ids = idx + 1
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO _inv VALUES (?,?,?,?)",
            zip(invoice_ids.tolist(), cust.tolist(), ts.tolist(), totals.tolist(), strict=True),
        )
        conn.execute(
            "INSERT INTO Invoice SELECT i.id, i.cust, datetime(i.ts, 'unixepoch'), c.Address,"
            " c.City, c.State, c.Country, c.PostalCode, i.cents / 100.0"
            " FROM _inv i JOIN Customer c ON c.CustomerId = i.cust ORDER BY i.id"
        )
        conn.execute("DELETE FROM _inv")
        conn.executemany(
            "INSERT INTO InvoiceLine VALUES (?,?,?,?,?)",
            zip(
                range(next_line, next_line + m),
                np.repeat(invoice_ids, n_lines).tolist(),
                (track + 1).tolist(),
                (unit / 100).tolist(),
                qty.tolist(),
                strict=True,
            ),
        )
        conn.execute("COMMIT")
        next_line += m
        if progress is not None:
            progress(lo + k, n)
    conn.execute("DROP TABLE _inv")
    return next_line - 1
