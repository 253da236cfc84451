"""Rulings at scale (the API's decisions): one ruling and reason for every discrepancy a filter matches."""

from __future__ import annotations

from litestar import Request

from schemas.rulings import BulkRulingIn, BulkRulingResult
from service.auth import allow
from service.domain.principal import Principal
from service.http.common import Payload, parse, post
from service.http.deps import Conn
from service.usecases import reviews


@post(
    "/v1/discrepancies/decisions",
    operation_id="decideDiscrepancies",
    tags=["reconciliation"],
    guards=[allow("invoice_admin")],
    status_code=200,
    summary="Approve or reject, with one reason, every blocking discrepancy a filter matches",
    description="The filter is a period, a provider and a code (optionally kind and status; status "
    "defaults to `open`, give `approved` or `rejected` to revise decisions). Each matched blocking "
    "discrepancy gets its own decision and its own audit entry, exactly as with "
    "`POST /v1/discrepancies/{id}/decisions`; all are decided or none. Hard and info discrepancies "
    "take no decision: a filter asking for them is a 409, matched ones are listed in `skipped`.",
)
async def decide_discrepancies(
    request: Request[Principal, None, object], conn: Conn, data: Payload[BulkRulingIn]
) -> BulkRulingResult:
    return await reviews.rule_many(conn, request.user, parse(BulkRulingIn, data))


ROUTES = [decide_discrepancies]
