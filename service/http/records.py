"""Provider record routes: executions, pauses, enrolments, delegations (role `provider` writes).

The four kinds share one shape, so their routes are made by one function; each still gets its own
operation id, body type and summary. (This module has no `from __future__ import annotations`:
the handlers' annotations must be the actual types of each kind when the handlers are made.)
"""

from typing import Any

from litestar.openapi.spec import Example, Reference

from schemas import records as r
from service.http.common import (
    OWNER_QUERY,
    PROVIDER,
    RECORD_READERS,
    After,
    Limit,
    ProviderFilter,
    Req,
    batch_body,
    batch_operation,
    batch_responses,
    change_route,
    create_route,
    get,
    patch,
    post,
    put,
    read_route,
)
from service.http.deps import Conn
from service.usecases import records
from service.usecases.records import MAX_ROWS, Kind

EXAMPLES = {
    "executions": {"id": "D1-X1", "decision": "D1", "from": "2024-01-10"},
    "pauses": {
        "id": "PA1",
        "customer": "193805149493",
        "reason": "sjukhus",
        "from": "2024-03-10",
        "to": "2024-03-14",
    },
    "enrolments": {
        "id": "E1",
        "customer": "194211029188",
        "area": "hemsjukvard",
        "from": "2024-03-01",
        "remiss": "REM-2024-0311",
    },
    "delegations": {"id": "G1", "customer": "193805149493", "code": "lakemedel", "from": "2024-02-01"},
}


def _routes(kind: Kind, path: str, body: Any, what: str) -> list[Any]:
    noun, out, page = kind.name, kind.out, kind.page
    plural = f"{noun.title()}s"
    url, item = f"/v1/{path}", f"/v1/{path}/{{external_id:str}}"
    tags = ["provider records"]

    @get(
        url,
        operation_id=f"list{plural}",
        tags=tags,
        guards=[RECORD_READERS],
        summary=f"{plural} by provider and id (numbers masked); page on with `after`",
    )
    async def listing(
        request: Req, conn: Conn, provider: ProviderFilter = None, after: After = "", limit: Limit = 100
    ) -> page:
        return await kind.listing(conn, request.user, provider, after, limit)

    @post(
        f"{url}/batch",
        operation_id=f"post{plural}",
        tags=tags,
        guards=[PROVIDER],
        status_code=200,
        operation_class=batch_operation(
            Reference(ref=f"#/components/schemas/{body.__name__}"),
            f"Up to {MAX_ROWS} {plural.lower()}: a JSON array, or NDJSON (one a line).",
            MAX_ROWS,
            {"one": Example(summary=f"A {noun}", value=[EXAMPLES[path]])},
        ),
        summary=f"Post up to {MAX_ROWS} {plural.lower()}: all or nothing, idempotent per id",
        description=f"The checks of `POST {url}` for every row; every bad field of every row is "
        "named (422) and nothing is stored. An id already stored with the same content is "
        "unchanged; with other content the batch is a 409 naming the ids (correct with PUT).",
        responses=batch_responses(MAX_ROWS, "correct a record with PUT"),
    )
    async def batch(request: Req, conn: Conn) -> r.RecordBatchResult:
        return await kind.create_batch(conn, request.user, body, await batch_body(request))

    return [
        batch,
        create_route(
            post,
            url,
            kind.create,
            body,
            out,
            examples=[Example(summary=f"A {noun}", value=EXAMPLES[path])],
            operation_id=f"create{noun.title()}",
            tags=tags,
            guards=[PROVIDER],
            summary=f"Register a {noun}: {what}",
        ),
        listing,
        read_route(
            item,
            kind.get,
            out,
            query=OWNER_QUERY,
            operation_id=f"get{noun.title()}",
            tags=tags,
            guards=[RECORD_READERS],
            summary=f"One {noun}: a provider's own, or (invoice_admin, auditor) the named provider's",
        ),
        change_route(
            put,
            item,
            kind.correct,
            body,
            out,
            operation_id=f"correct{noun.title()}",
            tags=tags,
            guards=[PROVIDER],
            summary=f"Correct a {noun} (the whole record; its id stays)",
        ),
        change_route(
            patch,
            item,
            kind.end,
            r.RecordEnd,
            out,
            operation_id=f"end{noun.title()}",
            tags=tags,
            guards=[PROVIDER],
            summary=f"End (or reopen, with null) a {noun}: its inclusive last day",
        ),
    ]


ROUTES = [
    *_routes(
        records.EXECUTION, "executions", r.ExecutionIn, "the provider has started (verkställt) a decision"
    ),
    *_routes(
        records.PAUSE, "pauses", r.PauseIn, "no granted time for the customer meanwhile, for any provider"
    ),
    *_routes(
        records.ENROLMENT, "enrolments", r.EnrolmentIn, "the customer is enrolled in hemsjukvård or hemrehab"
    ),
    *_routes(
        records.DELEGATION,
        "delegations",
        r.DelegationIn,
        "a nurse's delegation of an HSL task for the customer",
    ),
]
