"""Provider record routes: executions, pauses, enrolments, delegations (role `provider` writes).

The four kinds share one shape, so their routes are made by one function; each still gets its own
operation id, body type and summary. (This module has no `from __future__ import annotations`:
the handlers' annotations must be the actual types of each kind when the handlers are made.)
"""

from typing import Annotated, Any

from litestar import Response, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, QueryParameter, SkipValidation

from schemas import records as r
from service.auth import allow
from service.http.deps import Conn
from service.http.registry import (
    CHANGE_RESPONSES,
    CREATE_RESPONSES,
    NOT_FOUND,
    After,
    IdempotencyKey,
    Limit,
    Payload,
    Req,
    parse,
    replay,
    single_post,
)
from service.store import records as store

PROVIDER = allow("provider")
RECORD_READERS = allow("provider", "invoice_admin", "auditor")

ProviderFilter = Annotated[
    str | None,
    QueryParameter(
        description="invoice_admin and auditor: only this provider's (a provider sees only its own)"
    ),
]

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


def _routes(kind: store.Kind, path: str, body: Any, what: str) -> list[Any]:
    noun, out, page = kind.name, kind.out, kind.page
    plural = f"{noun.title()}s"
    url, item = f"/v1/{path}", f"/v1/{path}/{{external_id:str}}"
    tags = ["provider records"]
    example = Example(summary=f"A {noun}", value=EXAMPLES[path])

    @post(
        url,
        operation_id=f"create{noun.title()}",
        tags=tags,
        guards=[PROVIDER],
        summary=f"Register a {noun}: {what}",
        responses={200: replay(out), **CREATE_RESPONSES},
    )
    async def create(
        request: Req,
        conn: Conn,
        data: Annotated[SkipValidation[body], Body(examples=[example])],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[out]:
        return await single_post(
            request,
            conn,
            idempotency_key,
            lambda payload: store.create(conn, request.user, kind, parse(body, data), payload),
        )

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
        return await store.list_records(conn, request.user, kind, provider, after, limit)

    @get(
        item,
        operation_id=f"get{noun.title()}",
        tags=tags,
        guards=[PROVIDER],
        summary=f"One of the provider's own {plural.lower()}",
        responses={404: NOT_FOUND},
    )
    async def one(request: Req, conn: Conn, external_id: FromPath[str]) -> out:
        return await store.get(conn, request.user, kind, external_id)

    @put(
        item,
        operation_id=f"correct{noun.title()}",
        tags=tags,
        guards=[PROVIDER],
        summary=f"Correct a {noun} (the whole record; its id stays)",
        responses=CHANGE_RESPONSES,
    )
    async def correct(request: Req, conn: Conn, external_id: FromPath[str], data: Payload[body]) -> out:
        return await store.correct(
            conn, request.user, kind, external_id, parse(body, data), await request.body()
        )

    @patch(
        item,
        operation_id=f"end{noun.title()}",
        tags=tags,
        guards=[PROVIDER],
        summary=f"End (or reopen, with null) a {noun}: its inclusive last day",
        responses=CHANGE_RESPONSES,
    )
    async def end(request: Req, conn: Conn, external_id: FromPath[str], data: Payload[r.RecordEnd]) -> out:
        return await store.end(
            conn, request.user, kind, external_id, parse(r.RecordEnd, data).to, await request.body()
        )

    return [create, listing, one, correct, end]


ROUTES = [
    *_routes(
        store.EXECUTION, "executions", r.ExecutionIn, "the provider has started (verkställt) a decision"
    ),
    *_routes(
        store.PAUSE, "pauses", r.PauseIn, "no granted time for the customer meanwhile, for any provider"
    ),
    *_routes(
        store.ENROLMENT, "enrolments", r.EnrolmentIn, "the customer is enrolled in hemsjukvård or hemrehab"
    ),
    *_routes(
        store.DELEGATION,
        "delegations",
        r.DelegationIn,
        "a nurse's delegation of an HSL task for the customer",
    ),
]
