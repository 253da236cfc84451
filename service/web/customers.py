"""Screen 5, Kund (in part): a customer's identity, zones and provider choices. Opening it is a read of
personal data, audited by the use case; a protected identity shows no number or name."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from service.auth import allow
from service.usecases import registry
from service.web.templates import page


@get("/customers/{ref:str}", guards=[allow("registry", "invoice_admin", "reader", "auditor")])
async def customer_page(request: Request, ref: FromPath[str]) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        customer = await registry.read_customer(conn, request.user, ref)
    return page(request, "customer.html", customer=customer)


ROUTES = [customer_page]
