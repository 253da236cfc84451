"""Screen 5, Kund: a customer's identity, zones and provider choices, and what concerns the customer in
a period: decisions, every provider's pauses, enrolments and delegations, and the lines of the period's
current runs. Opening it is a read of personal data, audited by the use case as the JSON API audits
each of these reads; a protected identity is shown only where the role may see it."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from service.auth import allow
from service.usecases import records
from service.web.templates import page


@get("/customers/{ref:str}", guards=[allow(*records.CUSTOMER_READERS)])
async def customer_page(request: Request, ref: FromPath[str]) -> Template:
    period = request.query_params.get("period", "").strip() or None
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        seen = await records.customer_period(conn, request.user, ref, period)
    return page(request, "customer.html", customer=seen.customer, seen=seen)


ROUTES = [customer_page]
