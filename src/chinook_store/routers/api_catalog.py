"""JSON API of the catalog: tracks (search, filters, pages), artists, albums."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from chinook_store import catalog
from chinook_store.catalog import SortKey, TrackFilter
from chinook_store.deps import DB, MAX_PAGE, IdPath
from chinook_store.errors import NotFound
from chinook_store.schemas import (
    AlbumOut,
    AlbumSummary,
    ArtistAlbums,
    ArtistOut,
    ArtistPage,
    TrackOut,
    TrackPage,
)

router = APIRouter(prefix="/api", tags=["catalog"])

PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Limit = Annotated[
    int | None, Query(ge=1, le=100, description="Items per page (another name for page_size).")
]


@router.get("/tracks", response_model=TrackPage)
def tracks(
    db: DB,
    q: Annotated[
        str | None, Query(description="Words in track, artist, album or composer.")
    ] = None,
    genre_id: int | None = None,
    media_type_id: int | None = None,
    min_price: Annotated[Decimal | None, Query(ge=0)] = None,
    max_price: Annotated[Decimal | None, Query(ge=0)] = None,
    sort: SortKey = "name",
    page: PageNo = 1,
    page_size: PageSize = 25,
    limit: Limit = None,
) -> TrackPage:
    """Search the catalog; every filter is optional."""
    page_size = limit or page_size
    wanted = TrackFilter(q, genre_id, media_type_id, min_price, max_price, sort)
    found = catalog.search_tracks(db, wanted, page, page_size)
    return TrackPage(
        items=[TrackOut.of(t) for t in found.items],
        total=found.total,
        page=page,
        page_size=page_size,
        pages=found.pages,
    )


@router.get("/artists", response_model=ArtistPage)
def artists(
    db: DB, q: str | None = None, page: PageNo = 1, page_size: PageSize = 50, limit: Limit = None
) -> ArtistPage:
    page_size = limit or page_size
    found = catalog.list_artists(db, q, page, page_size)
    return ArtistPage(
        items=[ArtistOut(artist_id=a.ArtistId, name=a.Name, albums=n) for a, n in found.items],
        total=found.total,
        page=page,
        page_size=page_size,
        pages=found.pages,
    )


@router.get("/artists/{artist_id}/albums", response_model=ArtistAlbums)
def artist_albums(db: DB, artist_id: IdPath) -> ArtistAlbums:
    artist = catalog.get_artist(db, artist_id)
    if artist is None:
        raise NotFound("artist", artist_id)
    return ArtistAlbums(
        artist_id=artist.ArtistId,
        name=artist.Name,
        albums=[
            AlbumSummary(album_id=a.AlbumId, title=a.Title, tracks=len(a.tracks))
            for a in artist.albums
        ],
    )


@router.get("/albums/{album_id}", response_model=AlbumOut)
def album(db: DB, album_id: IdPath) -> AlbumOut:
    found = catalog.get_album(db, album_id)
    if found is None:
        raise NotFound("album", album_id)
    return AlbumOut.of(found)
