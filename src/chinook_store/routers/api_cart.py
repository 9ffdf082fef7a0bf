"""JSON API of the cart (the session cookie's cart; prices always from the database).

GET shows it; POST adds a track (quantities add up); PATCH sets a line's quantity;
DELETE /api/cart/{track_id} removes a line; DELETE /api/cart empties it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from chinook_store.cart import price_cart
from chinook_store.deps import DB, CartDep, IdPath, json_only
from chinook_store.schemas import CartAdd, CartChange, CartOut

router = APIRouter(prefix="/api/cart", tags=["cart"], dependencies=[Depends(json_only)])


@router.get("", response_model=CartOut)
def show(db: DB, cart: CartDep) -> CartOut:
    return CartOut.of(price_cart(db, cart.items))


@router.post("", response_model=CartOut, status_code=201)
def add(body: CartAdd, db: DB, cart: CartDep) -> CartOut:
    cart.add(db, body.track_id, body.quantity)
    return CartOut.of(price_cart(db, cart.items))


@router.patch("", response_model=CartOut)
def change(body: CartChange, db: DB, cart: CartDep) -> CartOut:
    cart.set(body.track_id, body.quantity)
    return CartOut.of(price_cart(db, cart.items))


@router.delete("/{track_id}", response_model=CartOut)
def remove(track_id: IdPath, db: DB, cart: CartDep) -> CartOut:
    cart.remove(track_id)
    return CartOut.of(price_cart(db, cart.items))


@router.delete("", response_model=CartOut)
def empty(db: DB, cart: CartDep) -> CartOut:
    cart.clear()
    return CartOut.of(price_cart(db, cart.items))
