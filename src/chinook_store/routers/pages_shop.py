"""Shop pages: the cart, checkout (existing customer or sign-up), order history.

Every POST form carries the session's CSRF token (checked by `check_csrf`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chinook_store import sales
from chinook_store.cart import price_cart
from chinook_store.deps import DB, CartDep, IdPath, Settings, check_csrf
from chinook_store.errors import InvalidRequest, NotFound
from chinook_store.web import flash, int_param, local_path, templates

router = APIRouter(include_in_schema=False)
Protected = [Depends(check_csrf)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _required_int(value: str, name: str) -> int:
    number = int_param(value, name)
    if number is None:
        raise InvalidRequest(f"{name} is required", 422)
    return number


@router.get("/cart", response_class=HTMLResponse)
def show_cart(request: Request, db: DB, cart: CartDep) -> Any:
    return templates.TemplateResponse(request, "cart.html", {"cart": price_cart(db, cart.items)})


@router.post("/cart/add", dependencies=Protected)
def add_to_cart(
    request: Request,
    db: DB,
    cart: CartDep,
    track_id: Annotated[str, Form()],
    quantity: Annotated[str, Form()] = "1",
    next: Annotated[str, Form()] = "/cart",
) -> RedirectResponse:
    track = _required_int(track_id, "track")
    cart.add(db, track, _required_int(quantity, "quantity"))
    flash(request, "Added to your cart.")
    return _see_other(local_path(next, "/cart"))


@router.post("/cart/update", dependencies=Protected)
def update_cart(
    cart: CartDep, track_id: Annotated[str, Form()], quantity: Annotated[str, Form()]
) -> RedirectResponse:
    cart.set(_required_int(track_id, "track"), _required_int(quantity, "quantity"))
    return _see_other("/cart")


@router.post("/cart/remove", dependencies=Protected)
def remove_from_cart(cart: CartDep, track_id: Annotated[str, Form()]) -> RedirectResponse:
    cart.remove(_required_int(track_id, "track"))
    return _see_other("/cart")


def _checkout_page(request: Request, db: DB, cart: CartDep, **extra: Any) -> Any:
    context = {"cart": price_cart(db, cart.items), "form": {}, "error": None, "mode": "existing"}
    context.update(extra)
    status = 422 if context["error"] else 200
    return templates.TemplateResponse(request, "checkout.html", context, status_code=status)


@router.get("/checkout", response_class=HTMLResponse)
def checkout_form(request: Request, db: DB, cart: CartDep) -> Any:
    return _checkout_page(request, db, cart)


Text = Annotated[str, Form()]


@router.post("/checkout", response_class=HTMLResponse, dependencies=Protected)
def checkout(
    request: Request,
    db: DB,
    cart: CartDep,
    settings: Settings,
    mode: Text = "existing",
    email: Text = "",
    FirstName: Text = "",
    LastName: Text = "",
    Email: Text = "",
    Company: Text = "",
    Address: Text = "",
    City: Text = "",
    State: Text = "",
    Country: Text = "",
    PostalCode: Text = "",
    Phone: Text = "",
) -> Any:
    if not cart.items:
        raise InvalidRequest("your cart is empty: add tracks before checking out", status=409)
    signup = sales.NewCustomer(
        FirstName, LastName, Email, Company, Address, City, State, Country, PostalCode, Phone
    )
    try:
        if mode == "new":
            invoice = sales.checkout(
                db, cart.items, new_customer=signup, max_quantity=settings.max_quantity
            )
        else:
            if not email.strip():
                raise InvalidRequest("enter the email you shopped with, or sign up below", 422)
            customer = sales.find_customer_by_email(db, email)
            invoice = sales.checkout(
                db, cart.items, customer_id=customer.CustomerId, max_quantity=settings.max_quantity
            )
    except (InvalidRequest, NotFound) as error:
        form = {**vars(signup), "email": email}
        return _checkout_page(request, db, cart, form=form, error=str(error), mode=mode)
    cart.clear()
    request.session["customer_id"] = invoice.CustomerId
    flash(request, f"Thank you! Your order {invoice.InvoiceId} is confirmed.")
    return _see_other(f"/orders/{invoice.InvoiceId}")


@router.get("/orders", response_class=HTMLResponse)
def find_orders(request: Request, db: DB) -> Any:
    email = request.query_params.get("email")
    if email:
        try:
            customer = sales.find_customer_by_email(db, email)
        except NotFound as error:
            return templates.TemplateResponse(
                request, "orders_lookup.html", {"error": str(error), "email": email}, 404
            )
        return _see_other(f"/customers/{customer.CustomerId}/orders")
    known = request.session.get("customer_id")
    if known:
        return _see_other(f"/customers/{known}/orders")
    return templates.TemplateResponse(request, "orders_lookup.html", {"error": None, "email": ""})


@router.get("/customers/{customer_id}/orders", response_class=HTMLResponse)
def customer_orders(request: Request, customer_id: IdPath, db: DB) -> Any:
    customer, invoices = sales.customer_invoices(db, customer_id)
    return templates.TemplateResponse(
        request, "orders.html", {"customer": customer, "invoices": invoices}
    )


@router.get("/orders/{invoice_id}", response_class=HTMLResponse)
def order(request: Request, invoice_id: IdPath, db: DB) -> Any:
    return templates.TemplateResponse(
        request, "invoice.html", {"invoice": sales.get_invoice(db, invoice_id)}
    )
