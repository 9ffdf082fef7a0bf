"""Reading the catalog: track search with filters, sorting and pages; artists and albums."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from chinook_store.models import Album, Artist, Genre, MediaType, Track

SortKey = Literal["name", "artist", "album", "price", "-price", "duration", "-duration"]
SORTS: dict[str, str] = {
    "name": "Track name",
    "artist": "Artist",
    "album": "Album",
    "price": "Price: low to high",
    "-price": "Price: high to low",
    "duration": "Shortest first",
    "-duration": "Longest first",
}


@dataclass(frozen=True)
class TrackFilter:
    """What the shopper asked for; every field optional."""

    q: str | None = None
    genre_id: int | None = None
    media_type_id: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    sort: SortKey = "name"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like(text: str) -> str:
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _filtered(query: Select[Any], wanted: TrackFilter) -> Select[Any]:
    if wanted.q and wanted.q.strip():
        pattern = _like(wanted.q.strip())
        query = query.where(
            or_(
                Track.Name.ilike(pattern, escape="!"),
                Track.Composer.ilike(pattern, escape="!"),
                Album.Title.ilike(pattern, escape="!"),
                Artist.Name.ilike(pattern, escape="!"),
            )
        )
    if wanted.genre_id is not None:
        query = query.where(Track.GenreId == wanted.genre_id)
    if wanted.media_type_id is not None:
        query = query.where(Track.MediaTypeId == wanted.media_type_id)
    if wanted.min_price is not None:
        query = query.where(Track.UnitPrice >= wanted.min_price)
    if wanted.max_price is not None:
        query = query.where(Track.UnitPrice <= wanted.max_price)
    return query


def _joined(query: Select[Any]) -> Select[Any]:
    return query.outerjoin(Album, Track.AlbumId == Album.AlbumId).outerjoin(
        Artist, Album.ArtistId == Artist.ArtistId
    )


_ORDER = {
    "name": (Track.Name,),
    "artist": (Artist.Name, Album.Title),
    "album": (Album.Title,),
    "price": (Track.UnitPrice, Track.Name),
    "-price": (Track.UnitPrice.desc(), Track.Name),
    "duration": (Track.Milliseconds,),
    "-duration": (Track.Milliseconds.desc(),),
}


def search_tracks(db: Session, wanted: TrackFilter, page: int, page_size: int) -> Page:
    """One page of tracks (with album, artist, genre and media type) and the total count."""
    total = db.scalar(_filtered(_joined(select(func.count(Track.TrackId))), wanted)) or 0
    query = _filtered(_joined(select(Track)), wanted).options(
        selectinload(Track.album).selectinload(Album.artist),
        selectinload(Track.genre),
        selectinload(Track.media_type),
    )
    query = query.order_by(*_ORDER[wanted.sort], Track.TrackId)
    query = query.offset((page - 1) * page_size).limit(page_size)
    return Page(list(db.scalars(query)), total, page, page_size)


def genres(db: Session) -> list[Genre]:
    return list(db.scalars(select(Genre).order_by(Genre.Name)))


def media_types(db: Session) -> list[MediaType]:
    return list(db.scalars(select(MediaType).order_by(MediaType.Name)))


def list_artists(db: Session, q: str | None, page: int, page_size: int) -> Page:
    """Artists by name with their album counts (artists without albums included)."""
    albums = func.count(Album.AlbumId).label("albums")
    query = select(Artist, albums).outerjoin(Album, Album.ArtistId == Artist.ArtistId)
    count = select(func.count(Artist.ArtistId))
    if q and q.strip():
        query = query.where(Artist.Name.ilike(_like(q.strip()), escape="!"))
        count = count.where(Artist.Name.ilike(_like(q.strip()), escape="!"))
    query = query.group_by(Artist.ArtistId, Artist.Name).order_by(Artist.Name, Artist.ArtistId)
    rows = db.execute(query.offset((page - 1) * page_size).limit(page_size)).all()
    return Page([(artist, n) for artist, n in rows], db.scalar(count) or 0, page, page_size)


def get_artist(db: Session, artist_id: int) -> Artist | None:
    return db.scalar(
        select(Artist)
        .where(Artist.ArtistId == artist_id)
        .options(selectinload(Artist.albums).selectinload(Album.tracks))
    )


def get_album(db: Session, album_id: int) -> Album | None:
    return db.scalar(
        select(Album)
        .where(Album.AlbumId == album_id)
        .options(
            selectinload(Album.artist),
            selectinload(Album.tracks).selectinload(Track.genre),
            selectinload(Album.tracks).selectinload(Track.media_type),
        )
    )


def get_tracks(db: Session, track_ids: list[int]) -> dict[int, Track]:
    """Tracks by id, one query (ids not found are simply absent)."""
    if not track_ids:
        return {}
    return {t.TrackId: t for t in db.scalars(select(Track).where(Track.TrackId.in_(track_ids)))}
