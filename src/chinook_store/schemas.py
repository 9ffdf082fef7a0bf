"""Request and response bodies of the JSON API (kept apart from the ORM classes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chinook_store.cart import PricedCart
from chinook_store.deps import MAX_ID
from chinook_store.models import Album, Invoice, Track


class TrackOut(BaseModel):
    track_id: int
    name: str
    album_id: int | None
    album: str | None
    artist_id: int | None
    artist: str | None
    genre: str | None
    media_type: str | None
    composer: str | None
    milliseconds: int
    unit_price: Decimal

    @classmethod
    def of(cls, t: Track) -> TrackOut:
        album = t.album
        artist = album.artist if album else None
        return cls(
            track_id=t.TrackId,
            name=t.Name,
            album_id=t.AlbumId,
            album=album.Title if album else None,
            artist_id=artist.ArtistId if artist else None,
            artist=artist.Name if artist else None,
            genre=t.genre.Name if t.genre else None,
            media_type=t.media_type.Name if t.media_type else None,
            composer=t.Composer,
            milliseconds=t.Milliseconds,
            unit_price=t.UnitPrice,
        )


class PageOut(BaseModel):
    total: int
    page: int
    page_size: int
    pages: int


class TrackPage(PageOut):
    items: list[TrackOut]


class ArtistOut(BaseModel):
    artist_id: int
    name: str | None
    albums: int


class ArtistPage(PageOut):
    items: list[ArtistOut]


class AlbumSummary(BaseModel):
    album_id: int
    title: str
    tracks: int


class ArtistAlbums(BaseModel):
    artist_id: int
    name: str | None
    albums: list[AlbumSummary]


class AlbumOut(BaseModel):
    album_id: int
    title: str
    artist_id: int
    artist: str | None
    tracks: list[TrackOut]
    total_price: Decimal

    @classmethod
    def of(cls, album: Album) -> AlbumOut:
        return cls(
            album_id=album.AlbumId,
            title=album.Title,
            artist_id=album.ArtistId,
            artist=album.artist.Name,
            tracks=[TrackOut.of(t) for t in album.tracks],
            total_price=sum((t.UnitPrice for t in album.tracks), Decimal("0.00")),
        )


BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
Quantity = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]  # the store says which are allowed


class CartAdd(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a client's "unit_price" is ignored

    track_id: BodyId
    quantity: Quantity = 1


class CartChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    track_id: BodyId
    quantity: Quantity


class CartLineOut(BaseModel):
    track_id: int
    name: str
    unit_price: Decimal
    quantity: int
    amount: Decimal


class CartOut(BaseModel):
    lines: list[CartLineOut]
    count: int
    total: Decimal

    @classmethod
    def of(cls, cart: PricedCart) -> CartOut:
        return cls(
            lines=[
                CartLineOut(
                    track_id=line.track.TrackId,
                    name=line.track.Name,
                    unit_price=line.unit_price,
                    quantity=line.quantity,
                    amount=line.amount,
                )
                for line in cart.lines
            ],
            count=cart.count,
            total=cart.total,
        )


class CustomerIn(BaseModel):
    first_name: str = Field(max_length=40)
    last_name: str = Field(max_length=20)
    email: str = Field(max_length=60)
    company: str | None = Field(default=None, max_length=80)
    address: str | None = Field(default=None, max_length=70)
    city: str | None = Field(default=None, max_length=40)
    state: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, max_length=40)
    postal_code: str | None = Field(default=None, max_length=10)
    phone: str | None = Field(default=None, max_length=24)


class CheckoutIn(BaseModel):
    """Either `customer_id` (an existing customer) or `customer` (sign up now)."""

    model_config = ConfigDict(extra="ignore")

    customer_id: BodyId | None = None
    customer: CustomerIn | None = None


class InvoiceLineOut(BaseModel):
    invoice_line_id: int
    track_id: int
    track: str | None
    unit_price: Decimal
    quantity: int


class InvoiceOut(BaseModel):
    invoice_id: int
    customer_id: int
    invoice_date: datetime
    billing_address: str | None
    billing_city: str | None
    billing_state: str | None
    billing_country: str | None
    billing_postal_code: str | None
    total: Decimal
    lines: list[InvoiceLineOut]

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls(
            invoice_id=invoice.InvoiceId,
            customer_id=invoice.CustomerId,
            invoice_date=invoice.InvoiceDate,
            billing_address=invoice.BillingAddress,
            billing_city=invoice.BillingCity,
            billing_state=invoice.BillingState,
            billing_country=invoice.BillingCountry,
            billing_postal_code=invoice.BillingPostalCode,
            total=invoice.Total,
            lines=[
                InvoiceLineOut(
                    invoice_line_id=line.InvoiceLineId,
                    track_id=line.TrackId,
                    track=line.track.Name if line.track else None,
                    unit_price=line.UnitPrice,
                    quantity=line.Quantity,
                )
                for line in invoice.lines
            ],
        )


class CustomerInvoices(BaseModel):
    customer_id: int
    name: str
    invoices: list[InvoiceOut]
