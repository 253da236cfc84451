"""Settlements: prepare and attest (invoice_admin), read and export (reader and others), the feed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas import settlements as s
from schemas.reconcile import Period, ProviderId
from service.auth import allow
from service.domain.errors import NotFound
from service.domain.export import decimal_comma, to_csv
from service.domain.lines import InvoiceLine
from service.domain.principal import Principal
from service.domain.visibility import Viewer
from service.http import views
from service.http.deps import Conn
from service.store import settlements as store

READERS = allow("invoice_admin", "auditor", "reader", "provider")


def _visible(request: Request[Principal, None, object], row: store.SettlementRow) -> store.SettlementRow:
    """A provider sees only its own settlements (and is told nothing of others)."""
    who = request.user
    if who.role == "provider" and row.provider_id != who.provider_id:
        raise NotFound(f"no settlement {row.id}")
    return row


def _out(row: store.SettlementRow, lines: list[InvoiceLine] | None, viewer: Viewer | None) -> s.Settlement:
    return s.Settlement(
        id=row.id,
        provider=row.provider_id,
        period=row.period,
        status=row.status,  # type: ignore[arg-type]
        run=row.run_id,
        prepared_by=row.prepared_by,
        prepared_at=row.prepared_at,
        attested_by=row.attested_by,
        attested_at=row.attested_at,
        tariffs=row.tariffs,
        total=row.total,
        totals=row.totals,
        totals_by_area=row.totals_by_area,
        accounts=row.accounts,
        sha256=row.sha256,
        audit_head=s.AuditHead(seq=row.audit_seq, hash=row.audit_hash) if row.audit_seq is not None else None,
        lines=None
        if lines is None or viewer is None
        else [
            s.SettlementLine(
                kind=x.kind,  # type: ignore[arg-type]
                component=x.component,
                account=x.account,
                area=x.area,
                tariff=x.tariff_id,
                customer=viewer.customer(x.pnr),
                zone=x.zone,
                unit=x.unit,
                quantity=store.shown_quantity(x.quantity, x.unit),
                unit_price=x.unit_price,
                amount=x.amount,
                original_period=x.original_period,
            )
            for x in lines
        ],
    )


@post(
    "/v1/settlements",
    operation_id="prepareSettlement",
    tags=["settlements"],
    guards=[allow("invoice_admin")],
    summary="Prepare a provider-period for settlement (409 names what is missing)",
)
async def prepare(
    request: Request[Principal, None, object], conn: Conn, data: JSONBody[s.SettlementIn]
) -> s.Settlement:
    return _out(await store.prepare(conn, request.user, data.provider, data.period), None, None)


@post(
    "/v1/settlements/{settlement_id:uuid}/attestation",
    operation_id="attestSettlement",
    tags=["settlements"],
    guards=[allow("invoice_admin")],
    summary="Attest a prepared settlement: a second invoice_admin freezes it",
    status_code=200,
)
async def attest(
    request: Request[Principal, None, object], conn: Conn, settlement_id: FromPath[UUID]
) -> s.Settlement:
    return _out(await store.attest(conn, request.user, settlement_id), None, None)


@get(
    "/v1/settlements",
    operation_id="listSettlements",
    tags=["settlements"],
    guards=[READERS],
    summary="Settlements by period and provider (a provider sees its own)",
)
async def list_settlements(
    request: Request[Principal, None, object],
    conn: Conn,
    period: FromQuery[Period | None] = None,
    provider: FromQuery[ProviderId | None] = None,
    status: FromQuery[s.SettlementStatus | None] = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> s.SettlementPage:
    who = request.user
    if who.role == "provider":
        provider = who.provider_id
    rows = await store.list_settlements(
        conn, who.tenant_id, period=period, provider=provider, status=status, after=after, limit=limit + 1
    )
    page = rows[:limit]
    return s.SettlementPage(
        items=[_out(r, None, None) for r in page],
        next_after=store.cursor(page[-1]) if len(rows) > limit else None,
    )


@get(
    "/v1/settlements/{settlement_id:uuid}",
    operation_id="getSettlement",
    tags=["settlements"],
    guards=[READERS],
    summary="One settlement with totals, accounts, hash and lines (customers masked for readers)",
)
async def get_settlement(
    request: Request[Principal, None, object], conn: Conn, settlement_id: FromPath[UUID]
) -> s.Settlement:
    who = request.user
    row = _visible(request, await store.get(conn, who.tenant_id, settlement_id))
    lines = await store.lines(conn, who.tenant_id, settlement_id)
    viewer = await views.viewer(conn, who, (x.pnr for x in lines))
    out = _out(row, lines, viewer)
    await views.audit_shown(conn, who, viewer, "settlement.read")
    return out


@get(
    "/v1/settlements/{settlement_id:uuid}/export.csv",
    operation_id="exportSettlementCsv",
    tags=["settlements"],
    guards=[READERS],
    summary="A settlement's lines for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM",
    media_type="text/csv; charset=utf-8",
)
async def export_csv(
    request: Request[Principal, None, object], conn: Conn, settlement_id: FromPath[UUID]
) -> Response[bytes]:
    who = request.user
    row = _visible(request, await store.get(conn, who.tenant_id, settlement_id))
    lines = await store.lines(conn, who.tenant_id, settlement_id)
    viewer = await views.viewer(conn, who, (x.pnr for x in lines))
    body = to_csv(
        (
            row.period,
            row.provider_id,
            x.kind,
            x.component,
            x.account,
            x.area,
            x.tariff_id,
            viewer.customer(x.pnr),
            x.zone,
            x.unit,
            decimal_comma(store.shown_quantity(x.quantity, x.unit)),
            decimal_comma(x.unit_price),
            decimal_comma(x.amount),
            x.original_period,
        )
        for x in lines
    )
    await views.audit_shown(conn, who, viewer, "settlement.export")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kundval-{row.provider_id}-{row.period}.csv"'},
    )


@get(
    "/v1/feed",
    operation_id="getFeed",
    tags=["settlements"],
    guards=[allow("reader", "invoice_admin", "auditor")],
    summary="Settlements and adjustments in the order they were settled; poll with `after`",
)
async def get_feed(
    request: Request[Principal, None, object],
    conn: Conn,
    after: Annotated[int, QueryParameter(ge=0, description="the last position already processed")] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> s.FeedPage:
    rows = await store.feed(conn, request.user.tenant_id, after, limit)
    items = [
        s.FeedEntry(
            position=r["position"],
            kind=r["kind"],
            settlement=r["settlement_id"],
            provider=r["provider_id"],
            period=r["period"],
            original_period=r["original_period"],
            amount=r["amount"],
            at=r["at"],
        )
        for r in rows
    ]
    return s.FeedPage(items=items, next_after=items[-1].position if items else after)


ROUTES = [prepare, attest, list_settlements, get_settlement, export_csv, get_feed]
