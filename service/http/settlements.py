"""Settlements: prepare and attest (invoice_admin), read and export (reader and others), the feed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, Response
from litestar.params import FromPath, FromQuery, QueryParameter

from schemas import settlements as s
from schemas.reconcile import PERIOD_PATTERN, ProviderId
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import CSV, POSITION_MAX, Payload, csv_attachment, get, parse, post
from service.http.deps import Conn
from service.usecases import settlements

READERS = allow("invoice_admin", "auditor", "reader", "provider")
Req = Request[Principal, None, object]


@post(
    "/v1/settlements",
    operation_id="prepareSettlement",
    tags=["settlements"],
    guards=[allow("invoice_admin")],
    summary="Prepare a provider-period for settlement (409 names what is missing)",
)
async def prepare(request: Req, conn: Conn, data: Payload[s.SettlementIn]) -> s.Settlement:
    return await settlements.prepare(conn, request.user, parse(s.SettlementIn, data))


@post(
    "/v1/settlements/{settlement_id:uuid}/attestation",
    operation_id="attestSettlement",
    tags=["settlements"],
    guards=[allow("invoice_admin")],
    summary="Attest a prepared settlement: a second invoice_admin freezes it",
    status_code=200,
)
async def attest(request: Req, conn: Conn, settlement_id: FromPath[UUID]) -> s.Settlement:
    return await settlements.attest(conn, request.user, settlement_id)


@get(
    "/v1/settlements",
    operation_id="listSettlements",
    tags=["settlements"],
    guards=[READERS],
    summary="Settlements by period and provider (a provider sees its own)",
)
async def list_settlements(
    request: Req,
    conn: Conn,
    period: Annotated[str | None, QueryParameter(pattern=PERIOD_PATTERN, description="YYYY-MM")] = None,
    provider: FromQuery[ProviderId | None] = None,
    status: FromQuery[s.SettlementStatus | None] = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> s.SettlementPage:
    return await settlements.list_settlements(
        conn, request.user, period=period, provider=provider, status=status, after=after, limit=limit
    )


@get(
    "/v1/settlements/{settlement_id:uuid}",
    operation_id="getSettlement",
    tags=["settlements"],
    guards=[READERS],
    summary="One settlement with totals, accounts, hash and lines (customers masked for readers)",
)
async def get_settlement(request: Req, conn: Conn, settlement_id: FromPath[UUID]) -> s.Settlement:
    return await settlements.get_settlement(conn, request.user, settlement_id)


@get(
    "/v1/settlements/{settlement_id:uuid}/export.csv",
    operation_id="exportSettlementCsv",
    tags=["settlements"],
    guards=[READERS],
    summary="A settlement's lines for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM",
    media_type=CSV,
)
async def export_csv(request: Req, conn: Conn, settlement_id: FromPath[UUID]) -> Response[bytes]:
    return csv_attachment(await settlements.export_csv(conn, request.user, settlement_id))


@get(
    "/v1/feed",
    operation_id="getFeed",
    tags=["settlements"],
    guards=[allow("reader", "invoice_admin", "auditor")],
    summary="Settlements and adjustments in the order they were settled; poll with `after`",
)
async def get_feed(
    request: Req,
    conn: Conn,
    after: Annotated[
        int, QueryParameter(ge=0, le=POSITION_MAX, description="the last position already processed")
    ] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> s.FeedPage:
    return await settlements.feed(conn, request.user, after=after, limit=limit)


ROUTES = [prepare, attest, list_settlements, get_settlement, export_csv, get_feed]
