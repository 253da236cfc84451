"""Claim routes: one endpoint for every claim type (a tagged union on `type`), reads, withdrawal."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Response
from litestar.openapi.spec import Example, Reference, Schema
from litestar.params import FromPath, QueryParameter

from schemas import records as r
from service.http.common import (
    CHANGE_RESPONSES,
    OWNER_QUERY,
    PROVIDER,
    RECORD_READERS,
    After,
    IdempotencyKey,
    Limit,
    ProviderFilter,
    Req,
    batch_body,
    batch_operation,
    batch_responses,
    create_route,
    get,
    post,
    read_route,
    single_post,
)
from service.http.deps import Conn
from service.usecases import claims
from service.usecases.records import MAX_ROWS

EXAMPLES = [
    Example(
        summary="SIP",
        value={"id": "K06", "type": "sip", "date": "2024-03-07", "customer": "193805149493", "role": "lett"},
    ),
    Example(
        summary="Teamkonferens (no customer)",
        value={"id": "K01", "type": "teamkonferens", "date": "2024-03-04"},
    ),
    Example(
        summary="Extraordinär insats",
        value={
            "id": "K11",
            "type": "extraordinar_insats",
            "date": "2024-03-22",
            "customer": "194211029188",
            "requested_amount": "2500.00",
            "motivation": "Dubbelbemanning vid förflyttning efter fall, två veckor",
        },
    ),
]


create_claim = create_route(
    post,
    "/v1/claims",
    claims.create_claim,
    r.ClaimIn,
    r.Claim,
    examples=EXAMPLES,
    operation_id="createClaim",
    tags=["claims"],
    guards=[PROVIDER],
    summary="Send a claim (sip, lakemedelsgenomgang, teamkonferens, extraordinar_insats)",
    description="Validated per `type`. The same claim again answers 200 with the stored one; other "
    "content under the same id is a 409 (withdraw it and send a new one).",
)


@get(
    "/v1/claims",
    operation_id="listClaims",
    tags=["claims"],
    guards=[RECORD_READERS],
    summary="Claims with their status, by provider and id; page on with `after`",
)
async def list_claims(
    request: Req,
    conn: Conn,
    provider: ProviderFilter = None,
    status: Annotated[
        Literal["active", "withdrawn"] | None, QueryParameter(description="only claims in this status")
    ] = None,
    after: After = "",
    limit: Limit = 100,
) -> r.ClaimPage:
    return await claims.list_claims(conn, request.user, provider, status, after, limit)


get_claim = read_route(
    "/v1/claims/{external_id:str}",
    claims.get_claim,
    r.Claim,
    query=OWNER_QUERY,
    operation_id="getClaim",
    tags=["claims"],
    guards=[RECORD_READERS],
    summary="One claim: a provider's own, or (invoice_admin, auditor) the named provider's",
)


@post(
    "/v1/claims/{external_id:str}/withdrawal",
    operation_id="withdrawClaim",
    tags=["claims"],
    guards=[PROVIDER],
    status_code=200,
    summary="Withdraw a claim (again: no change); refused (409) once its period is settled",
    responses=CHANGE_RESPONSES,
)
async def withdraw_claim(
    request: Req, conn: Conn, external_id: FromPath[str], idempotency_key: IdempotencyKey = None
) -> Response[r.Claim]:
    async def produce(body: bytes) -> tuple[r.Claim, bool]:
        return await claims.withdraw_claim(conn, request.user, external_id, body), False

    return await single_post(request, conn, idempotency_key, produce)


@post(
    "/v1/claims/batch",
    operation_id="postClaims",
    tags=["claims"],
    guards=[PROVIDER],
    status_code=200,
    operation_class=batch_operation(
        Schema(
            one_of=[
                Reference(ref=f"#/components/schemas/{kind.__name__}")
                for kind in (
                    r.SipClaim,
                    r.LakemedelsgenomgangClaim,
                    r.TeamkonferensClaim,
                    r.ExtraordinarInsatsClaim,
                )
            ]
        ),
        f"Up to {MAX_ROWS} claims: a JSON array, or NDJSON (one a line).",
        MAX_ROWS,
        {"one": Example(summary="A claim", value=[EXAMPLES[0].value])},
    ),
    summary=f"Post up to {MAX_ROWS} claims: all or nothing, idempotent per id",
    description="The checks of `POST /v1/claims` for every row; every bad field of every row is named "
    "(422) and nothing is stored. The same claim again is unchanged; other content under a stored id "
    "makes the batch a 409 naming the ids.",
    responses=batch_responses(MAX_ROWS, "withdraw a claim and send a new one"),
)
async def post_claims(request: Req, conn: Conn) -> r.RecordBatchResult:
    return await claims.create_claims(conn, request.user, await batch_body(request))


ROUTES = [post_claims, create_claim, list_claims, get_claim, withdraw_claim]
