"""Visit routes: bulk posting (JSON array or streamed NDJSON), corrections, reads."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Reference
from litestar.params import QueryParameter

from schemas import records as r
from schemas.reconcile import PERIOD_PATTERN
from service.http.common import (
    INVALID,
    OWNER_QUERY,
    PROVIDER,
    RECORD_READERS,
    After,
    Limit,
    ProviderFilter,
    Req,
    batch_body,
    batch_operation,
    change_route,
    get,
    post,
    problem,
    read_route,
)
from service.http.deps import Conn
from service.usecases import visits
from service.usecases.visits import MAX_ROWS

V01 = {
    "id": "V01",
    "customer": "193805149493",
    "staff": "S1",
    "staff_category": "underskoterska",
    "report_type": "bistand",
    "start": "2024-03-01T07:30:00+01:00",
    "end": "2024-03-01T08:00:00+01:00",
    "codes": ["morgonhjalp"],
    "method": "tag",
    "status": "performed",
}
V02 = {
    **V01,
    "id": "V02",
    "report_type": "hsl_delegated",
    "start": "2024-03-01T08:00:00+01:00",
    "end": "2024-03-01T08:10:00+01:00",
    "codes": ["lakemedel"],
}


_VisitsOperation = batch_operation(
    Reference(ref="#/components/schemas/VisitIn"),
    f"Up to {MAX_ROWS} visits: a JSON array, or NDJSON (one visit per line).",
    MAX_ROWS,
    {"two": Example(summary="Two registrations of one physical visit", value=[V01, V02])},
)


BATCH_INVALID = problem(
    "Bad rows: every problem with its row index and field; nothing of the batch was stored",
    {
        "type": "urn:kundval:problem:validation",
        "title": "The request is not valid",
        "status": 422,
        "detail": "nothing of this batch was stored: row 3 end: must be after start",
        "errors": [
            {"row": 3, "field": "end", "message": "must be after start"},
            {"row": 7, "field": "codes[0]", "message": "unknown insats code"},
        ],
    },
)
BATCH_CONFLICT = problem(
    "Some ids are stored with other content; nothing of the batch was stored",
    {
        "type": "urn:kundval:problem:conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "nothing of this batch was stored: these ids are stored with other content; ...: V07",
        "conflicts": [{"id": "V07"}],
    },
)


@post(
    "/v1/visits",
    operation_id="postVisits",
    tags=["visits"],
    guards=[PROVIDER],
    status_code=200,
    operation_class=_VisitsOperation,
    summary="Post up to 10 000 visits: all or nothing, idempotent per external id",
    description="Send `application/json` (an array) or `application/x-ndjson` (streamed; one visit "
    "a line). Replaying a batch stores nothing new; the counts say how many rows were new and how "
    "many already stored with the same content. An id stored with other content makes the batch a "
    "409: correct a visit with `POST /v1/visits/{id}/corrections`.",
    responses={
        200: ResponseSpec(
            r.VisitBatchResult,
            description="Stored",
            generate_examples=False,
            examples=[
                Example(summary="A new batch", value={"inserted": 2, "unchanged": 0}),
                Example(summary="The same batch again", value={"inserted": 0, "unchanged": 2}),
            ],
        ),
        400: problem("The body is not valid JSON"),
        409: BATCH_CONFLICT,
        413: problem(f"More than {MAX_ROWS} visits, or a body over the size limit"),
        415: problem("Neither application/json nor application/x-ndjson"),
        422: BATCH_INVALID,
    },
)
async def post_visits(request: Req, conn: Conn) -> r.VisitBatchResult:
    return await visits.post_visits(conn, request.user, await batch_body(request))


correct_visit = change_route(
    post,
    "/v1/visits/{external_id:str}/corrections",
    visits.correct_visit,
    r.VisitCorrection,
    r.Visit,
    operation_id="correctVisit",
    tags=["visits"],
    guards=[PROVIDER],
    status_code=200,
    summary="Correct a stored visit: the old version is kept with who and when",
)


@get(
    "/v1/visits",
    operation_id="listVisits",
    tags=["visits"],
    guards=[RECORD_READERS],
    summary="Visits by provider and id (numbers masked), optionally of one month; page on with `after`",
    responses={422: INVALID},
)
async def list_visits(
    request: Req,
    conn: Conn,
    provider: ProviderFilter = None,
    period: Annotated[
        str | None,
        QueryParameter(pattern=PERIOD_PATTERN, description="YYYY-MM: by local start day"),
    ] = None,
    after: After = "",
    limit: Limit = 100,
) -> r.VisitPage:
    month = date.fromisoformat(f"{period}-01") if period else None
    return await visits.list_visits(conn, request.user, provider, month, after, limit)


get_visit = read_route(
    "/v1/visits/{external_id:str}",
    visits.get_visit,
    r.VisitDetail,
    query=OWNER_QUERY,
    operation_id="getVisit",
    tags=["visits"],
    guards=[RECORD_READERS],
    summary="One visit with its earlier versions: a provider's own, or the named provider's; audited",
)

ROUTES = [post_visits, correct_visit, list_visits, get_visit]
