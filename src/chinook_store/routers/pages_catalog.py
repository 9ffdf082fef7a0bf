"""Catalog pages: track search, artists, an artist's albums, an album's tracks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chinook_store import catalog
from chinook_store.catalog import SORTS, TrackFilter
from chinook_store.deps import DB, IdPath, Settings
from chinook_store.errors import InvalidRequest, NotFound
from chinook_store.web import int_param, price_param, templates

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/tracks", status_code=302)


def _page(value: str | None) -> int:
    page = int_param(value, "page") or 1
    if page < 1:
        raise InvalidRequest("page must be 1 or more", 422)
    return page


@router.get("/tracks", response_class=HTMLResponse)
def tracks(request: Request, db: DB, settings: Settings) -> Any:
    args = request.query_params
    sort = args.get("sort") or "name"
    if sort not in SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(SORTS)}", 422)
    wanted = TrackFilter(
        q=args.get("q"),
        genre_id=int_param(args.get("genre_id"), "genre"),
        media_type_id=int_param(args.get("media_type_id"), "media type"),
        min_price=price_param(args.get("min_price"), "minimum price"),
        max_price=price_param(args.get("max_price"), "maximum price"),
        sort=sort,  # type: ignore[arg-type]
    )
    found = catalog.search_tracks(db, wanted, _page(args.get("page")), settings.page_size)
    return templates.TemplateResponse(
        request,
        "tracks.html",
        {
            "found": found,
            "wanted": wanted,
            "genres": catalog.genres(db),
            "media_types": catalog.media_types(db),
            "sorts": SORTS,
        },
    )


@router.get("/artists", response_class=HTMLResponse)
def artists(request: Request, db: DB) -> Any:
    q = request.query_params.get("q")
    found = catalog.list_artists(db, q, _page(request.query_params.get("page")), 50)
    return templates.TemplateResponse(request, "artists.html", {"found": found, "q": q or ""})


@router.get("/artists/{artist_id}", response_class=HTMLResponse)
def artist(request: Request, artist_id: IdPath, db: DB) -> Any:
    found = catalog.get_artist(db, artist_id)
    if found is None:
        raise NotFound("artist", artist_id)
    return templates.TemplateResponse(request, "artist.html", {"artist": found})


@router.get("/albums/{album_id}", response_class=HTMLResponse)
def album(request: Request, album_id: IdPath, db: DB) -> Any:
    found = catalog.get_album(db, album_id)
    if found is None:
        raise NotFound("album", album_id)
    return templates.TemplateResponse(request, "album.html", {"album": found})
