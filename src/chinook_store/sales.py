"""Selling: checkout writes one Invoice and its InvoiceLines in one database transaction.

Prices are read from Track inside that transaction (never from the client); Total is the
exact sum of UnitPrice × Quantity of the lines; billing fields are the customer's address.
Ids come from the database (rowid, AUTO_INCREMENT, identity), so concurrent checkouts
never compute the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from chinook_store.cart import validate_quantity
from chinook_store.db import WRITE_OPTION, writing
from chinook_store.errors import InvalidRequest, NotFound
from chinook_store.models import Customer, Employee, Invoice, InvoiceLine, Track

CENT = Decimal("0.01")


@dataclass(frozen=True)
class NewCustomer:
    """The sign-up form: Chinook requires first name, last name and email."""

    FirstName: str
    LastName: str
    Email: str
    Company: str | None = None
    Address: str | None = None
    City: str | None = None
    State: str | None = None
    Country: str | None = None
    PostalCode: str | None = None
    Phone: str | None = None

    def cleaned(self) -> NewCustomer:
        values: dict[str, Any] = {k: (v or "").strip() or None for k, v in vars(self).items()}
        for required in ("FirstName", "LastName", "Email"):
            if not values[required]:
                raise InvalidRequest(f"sign-up needs {_LABELS[required]}", status=422)
        if "@" not in values["Email"]:
            raise InvalidRequest(f"'{values['Email']}' is not an email address", status=422)
        for field, limit in _LIMITS.items():
            value = values[field]
            if value is not None and len(value) > limit:
                raise InvalidRequest(
                    f"{_LABELS.get(field, field)} is longer than {limit} characters", status=422
                )
        return NewCustomer(**values)


_LABELS = {"FirstName": "a first name", "LastName": "a last name", "Email": "an email"}
# Column lengths of the Chinook schema.
_LIMITS = {
    "FirstName": 40,
    "LastName": 20,
    "Email": 60,
    "Company": 80,
    "Address": 70,
    "City": 40,
    "State": 40,
    "Country": 40,
    "PostalCode": 10,
    "Phone": 24,
}


def find_customer_by_email(db: Session, email: str) -> Customer:
    email = email.strip()
    customer = db.scalar(
        select(Customer)
        .where(func.lower(Customer.Email) == email.lower())
        .order_by(Customer.CustomerId)
        .limit(1)
    )
    if customer is None:
        raise NotFound("customer with email", email)
    return customer


def _support_rep(db: Session) -> int | None:
    """The sales support agent with the fewest customers (Chinook gives every customer one)."""
    customers = func.count(Customer.CustomerId)
    row = db.execute(
        select(Employee.EmployeeId)
        .outerjoin(Customer, Customer.SupportRepId == Employee.EmployeeId)
        .where(Employee.Title.like("%Support%"))
        .group_by(Employee.EmployeeId)
        .order_by(customers, Employee.EmployeeId)
        .limit(1)
    ).first()
    return row[0] if row else None


def checkout(
    db: Session,
    items: dict[int, int],
    *,
    customer_id: int | None = None,
    new_customer: NewCustomer | None = None,
    max_quantity: int = 100,
) -> Invoice:
    """Create the invoice for the cart `items` ({track id: quantity}) and commit it.

    Exactly one of `customer_id` and `new_customer`. Raises InvalidRequest for an empty
    cart or a bad quantity, NotFound for an unknown customer or track; nothing is written
    then. InvoiceDate is the UTC time of the sale, to the second. On SQLite the sale waits
    for its turn to write (`writing`), and raises Busy when the store is at capacity.
    """
    if not items:
        raise InvalidRequest("the cart is empty: add tracks before checking out", status=409)
    for quantity in items.values():
        validate_quantity(quantity, max_quantity)
    if (customer_id is None) == (new_customer is None):
        raise InvalidRequest("check out either as an existing customer or as a new one", 422)
    new_customer = new_customer.cleaned() if new_customer else None
    if db.in_transaction():
        db.commit()  # end the request's read transaction; the sale gets its own
    with writing(db), db.begin():
        db.connection(execution_options={WRITE_OPTION: True})
        if new_customer is not None:
            customer = Customer(**vars(new_customer), SupportRepId=_support_rep(db))
            db.add(customer)
            db.flush()
        else:
            found = db.get(Customer, customer_id)
            if found is None:
                raise NotFound("customer", customer_id)
            customer = found
        query = select(Track.TrackId, Track.UnitPrice).where(Track.TrackId.in_(items))
        prices = {track_id: price for track_id, price in db.execute(query)}
        missing = sorted(set(items) - set(prices))
        if missing:
            raise NotFound("track", ", ".join(map(str, missing)))
        lines = [
            InvoiceLine(TrackId=t, UnitPrice=Decimal(prices[t]).quantize(CENT), Quantity=q)
            for t, q in sorted(items.items())
        ]
        invoice = Invoice(
            CustomerId=customer.CustomerId,
            InvoiceDate=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            BillingAddress=customer.Address,
            BillingCity=customer.City,
            BillingState=customer.State,
            BillingCountry=customer.Country,
            BillingPostalCode=customer.PostalCode,
            Total=sum((line.UnitPrice * line.Quantity for line in lines), Decimal("0.00")),
            lines=lines,
        )
        db.add(invoice)
    return invoice


def customer_invoices(db: Session, customer_id: int) -> tuple[Customer, list[Invoice]]:
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    invoices = db.scalars(
        select(Invoice)
        .where(Invoice.CustomerId == customer_id)
        .order_by(Invoice.InvoiceDate.desc(), Invoice.InvoiceId.desc())
        .options(selectinload(Invoice.lines).selectinload(InvoiceLine.track))
    )
    return customer, list(invoices)


def get_invoice(db: Session, invoice_id: int) -> Invoice:
    invoice = db.scalar(
        select(Invoice)
        .where(Invoice.InvoiceId == invoice_id)
        .options(
            selectinload(Invoice.customer),
            selectinload(Invoice.lines).selectinload(InvoiceLine.track),
        )
    )
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return invoice
