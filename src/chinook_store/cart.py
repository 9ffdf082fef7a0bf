"""The shopping cart, kept in the signed session cookie as {track id: quantity}.

Why a cookie: the cart is small (at most `max_cart_lines` lines, well under the 4 KB cookie
limit), needs no table in the Chinook database (whose tables the lake captures), and works
unchanged with several server workers. The cookie is signed, so a client can change the
quantities only through the store's own endpoints; it never carries a price — prices are
read from the database every time the cart is shown or checked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from chinook_store.catalog import get_tracks
from chinook_store.errors import InvalidRequest, NotFound
from chinook_store.models import Track

CART_KEY = "cart"


def validate_quantity(quantity: int, maximum: int) -> int:
    if not 1 <= quantity <= maximum:
        raise InvalidRequest(
            f"quantity must be between 1 and {maximum} (got {quantity})", status=422
        )
    return quantity


class Cart:
    """A view over the session's cart dictionary (mutations write back to the session)."""

    def __init__(self, session: dict[str, Any], *, max_lines: int, max_quantity: int) -> None:
        self._session = session
        self.max_lines = max_lines
        self.max_quantity = max_quantity

    @property
    def items(self) -> dict[int, int]:
        raw = self._session.get(CART_KEY) or {}
        return {int(k): int(v) for k, v in raw.items()}

    def _save(self, items: dict[int, int]) -> None:
        self._session[CART_KEY] = {str(k): v for k, v in items.items()}

    def add(self, db: Session, track_id: int, quantity: int) -> None:
        validate_quantity(quantity, self.max_quantity)
        if db.get(Track, track_id) is None:
            raise NotFound("track", track_id)
        items = self.items
        if track_id not in items and len(items) >= self.max_lines:
            raise InvalidRequest(f"the cart holds at most {self.max_lines} different tracks")
        new = items.get(track_id, 0) + quantity
        validate_quantity(new, self.max_quantity)
        items[track_id] = new
        self._save(items)

    def set(self, track_id: int, quantity: int) -> None:
        items = self.items
        if track_id not in items:
            raise NotFound("cart line for track", track_id)
        items[track_id] = validate_quantity(quantity, self.max_quantity)
        self._save(items)

    def remove(self, track_id: int) -> None:
        items = self.items
        if items.pop(track_id, None) is None:
            raise NotFound("cart line for track", track_id)
        self._save(items)

    def clear(self) -> None:
        self._session.pop(CART_KEY, None)


@dataclass(frozen=True)
class CartLine:
    track: Track
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.track.UnitPrice

    @property
    def amount(self) -> Decimal:
        return self.track.UnitPrice * self.quantity


@dataclass(frozen=True)
class PricedCart:
    lines: list[CartLine]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)


def price_cart(db: Session, items: dict[int, int]) -> PricedCart:
    """The cart's lines with today's database prices (tracks no longer there are left out)."""
    tracks = get_tracks(db, list(items))
    return PricedCart([CartLine(tracks[t], q) for t, q in items.items() if t in tracks])
