"""Screen 6, Attest: prepare a provider-period (one administrator) and attest it (another); totals per
component, area and booking account, the SHA-256, the CSV; refusals explained."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from schemas.settlements import SettlementIn
from service.auth import allow
from service.domain.errors import Conflict, Invalid
from service.usecases import settlements
from service.web.runs import STAFF
from service.web.templates import page


async def _list(request: Request, **extra: object) -> Template:
    period = request.query_params.get("period") or None
    async with request.app.state.pool.acquire() as conn:
        found = await settlements.list_settlements(
            conn, request.user, period=period, provider=None, status=None, after=None, limit=200
        )
    return page(request, "settlements.html", settlements=found.items, period=period or "", **extra)


@get("/settlements", guards=[STAFF])
async def settlements_page(request: Request) -> Template:
    return await _list(request)


@post("/settlements", guards=[allow("invoice_admin")])
async def prepare(request: Request) -> Template | Redirect:
    form = await request.form()
    wanted = {
        "provider": str(form.get("provider", "")).strip(),
        "period": str(form.get("period", "")).strip(),
    }
    try:
        data = msgspec.convert(wanted, SettlementIn)
    except msgspec.ValidationError as err:
        raise Invalid(str(err), [{"field": "period", "message": str(err)}]) from None
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            prepared = await settlements.prepare(conn, request.user, data)
    except Conflict as err:
        return await _list(request, refusal=err.detail, missing=err.extra.get("missing", []), status_code=409)
    return Redirect(f"/settlements/{prepared.id}", status_code=303)


async def _detail(request: Request, settlement_id: UUID, **extra: object) -> Template:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        found = await settlements.get_settlement(conn, request.user, settlement_id)
    return page(request, "settlement.html", s=found, **extra)


@get("/settlements/{settlement_id:uuid}", guards=[STAFF])
async def settlement_page(request: Request, settlement_id: FromPath[UUID]) -> Template:
    return await _detail(request, settlement_id)


@post("/settlements/{settlement_id:uuid}/attestation", guards=[allow("invoice_admin")])
async def attest(request: Request, settlement_id: FromPath[UUID]) -> Template | Redirect:
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            await settlements.attest(conn, request.user, settlement_id)
    except Conflict as err:
        # The four-eyes refusal is the one an administrator meets in the normal course: said plainly.
        same_person = err.detail.startswith("four eyes")
        return await _detail(
            request, settlement_id, refusal=err.detail, same_person=same_person, status_code=409
        )
    return Redirect(f"/settlements/{settlement_id}", status_code=303)


@get("/settlements/{settlement_id:uuid}/export.csv", guards=[STAFF])
async def export(request: Request, settlement_id: FromPath[UUID]) -> Response[bytes]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        exported = await settlements.export_csv(conn, request.user, settlement_id)
    return Response(
        exported.body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{exported.filename}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [settlements_page, prepare, settlement_page, attest, export]
