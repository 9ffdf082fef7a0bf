"""JSON API of sales: checkout of the session's cart, and a customer's invoices."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from chinook_store import sales
from chinook_store.deps import DB, CartDep, IdPath, Settings, json_only
from chinook_store.schemas import CheckoutIn, CustomerInvoices, InvoiceOut

router = APIRouter(prefix="/api", tags=["sales"])


@router.post(
    "/checkout",
    response_model=InvoiceOut,
    status_code=201,
    dependencies=[Depends(json_only)],
    responses={
        404: {"description": "unknown customer"},
        409: {"description": "empty cart"},
        503: {
            "description": "the store is at capacity: retry after the number of seconds "
            "in the Retry-After header"
        },
    },
)
def checkout(body: CheckoutIn, db: DB, cart: CartDep, settings: Settings) -> InvoiceOut:
    """Turn the cart into an invoice (one transaction) and empty the cart."""
    new = None
    if body.customer is not None:
        c = body.customer
        new = sales.NewCustomer(
            FirstName=c.first_name,
            LastName=c.last_name,
            Email=c.email,
            Company=c.company,
            Address=c.address,
            City=c.city,
            State=c.state,
            Country=c.country,
            PostalCode=c.postal_code,
            Phone=c.phone,
        )
    invoice = sales.checkout(
        db,
        cart.items,
        customer_id=body.customer_id,
        new_customer=new,
        max_quantity=settings.max_quantity,
    )
    cart.clear()
    return InvoiceOut.of(sales.get_invoice(db, invoice.InvoiceId))


@router.get("/customers/{customer_id}/invoices", response_model=CustomerInvoices)
def customer_invoices(customer_id: IdPath, db: DB) -> CustomerInvoices:
    customer, invoices = sales.customer_invoices(db, customer_id)
    return CustomerInvoices(
        customer_id=customer.CustomerId,
        name=f"{customer.FirstName} {customer.LastName}",
        invoices=[InvoiceOut.of(i) for i in invoices],
    )


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
def invoice(invoice_id: IdPath, db: DB) -> InvoiceOut:
    return InvoiceOut.of(sales.get_invoice(db, invoice_id))
