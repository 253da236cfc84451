"""Registry routes (role `registry` writes): providers, insatser, customers, zones, choices, decisions.

Also the helpers every ingestion controller shares: single-object POSTs (201 created, 200 an
identical replay, Idempotency-Key honoured), list paging parameters and documented problem replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, TypeAlias, TypeVar

import msgspec
from litestar import Request, Response, get, patch, post, put
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, BodyKwarg, FromPath, HeaderParameter, QueryParameter, SkipValidation

from schemas import registry as s
from service.auth import ANY_ROLE, allow
from service.domain.errors import Invalid, field_error
from service.domain.principal import Principal
from service.http.deps import Conn
from service.store import idempotency
from service.store import registry as store

Req = Request[Principal, None, State]
T = TypeVar("T")

# A JSON body decoded by `parse`, not by Litestar: its problems then name their field (and the
# position in a list), the same as a batch row's; the OpenAPI schema is still T's.
Payload: TypeAlias = Annotated[SkipValidation[T], BodyKwarg(media_type=RequestEncodingType.JSON)]


def parse(kind: type[T], data: Any) -> T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as err:
        problem = field_error(str(err))
        raise Invalid(f"{problem['field'] or 'body'}: {problem['message']}", errors=[problem]) from None


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Optional. The same key with the same body returns the first reply again; "
        "with another body, 422. Scoped to the API key.",
    ),
]
After = Annotated[str, QueryParameter(description="cursor: the `next_after` of the previous page")]
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="items per page")]


def problem(description: str, *examples: dict[str, Any]) -> ResponseSpec:
    return ResponseSpec(
        data_container=s.ProblemDetails,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
        examples=[Example(summary=e["title"], value=e) for e in examples] or None,
    )


def replay(container: type, description: str = "An identical replay: the stored record") -> ResponseSpec:
    return ResponseSpec(data_container=container, description=description, generate_examples=False)


INVALID = problem(
    "Bad input: every problem, each naming its field",
    {
        "type": "urn:kundval:problem:validation",
        "title": "The request is not valid",
        "status": 422,
        "detail": "customer: personnummer check digit does not match (Luhn)",
        "errors": [{"field": "customer", "message": "personnummer check digit does not match (Luhn)"}],
    },
)
CONFLICT = problem(
    "The id exists with other content",
    {
        "type": "urn:kundval:problem:conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "decision D1 exists with other content; correct it through its routes",
    },
)
NOT_FOUND = problem(
    "No such record (or not the caller's)",
    {"type": "urn:kundval:problem:not-found", "title": "No such resource", "status": 404},
)
CREATE_RESPONSES = {409: CONFLICT, 422: INVALID}
CHANGE_RESPONSES = {404: NOT_FOUND, 409: CONFLICT, 422: INVALID}


async def single_post(
    request: Req,
    conn: Conn,
    idem_key: str | None,
    produce: Callable[[bytes], Awaitable[tuple[Any, bool]]],
) -> Response[Any]:
    """Run a single-object create: 201 when stored now, 200 for an identical replay; with an
    Idempotency-Key the first reply is stored and returned again for the same key and body."""
    body = await request.body()

    async def run() -> tuple[int, bytes]:
        result, created = await produce(body)
        return (201 if created else 200), msgspec.json.encode(result)

    if idem_key is None:
        status, content = await run()
    else:
        status, content = await idempotency.once(
            conn,
            tenant_id=request.user.tenant_id,
            key_id=request.user.key_id,
            idem_key=idem_key,
            fingerprint=idempotency.request_hash(request.method, request.url.path, body),
            produce=run,
        )
    return Response(content=content, status_code=status, media_type="application/json")


REGISTRY = allow("registry")
REGISTRY_READERS = allow("registry", "invoice_admin", "reader", "auditor")
CASE_READERS = allow("registry", "invoice_admin", "auditor")

# Providers ---------------------------------------------------------------------------------------


@post(
    "/v1/providers",
    operation_id="createProvider",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Register a provider (organisationsnummer Luhn-checked)",
    responses={200: replay(s.Provider), **CREATE_RESPONSES},
)
async def create_provider(
    request: Req, conn: Conn, data: Payload[s.ProviderIn], idempotency_key: IdempotencyKey = None
) -> Response[s.Provider]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.create_provider(conn, request.user, parse(s.ProviderIn, data), body),
    )


@get(
    "/v1/providers",
    operation_id="listProviders",
    tags=["registry"],
    guards=[REGISTRY_READERS],
    summary="Providers by id; page on with `after`",
)
async def list_providers(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.ProviderPage:
    return await store.list_providers(conn, request.user.tenant_id, after, limit)


@get(
    "/v1/providers/{provider_id:str}",
    operation_id="getProvider",
    tags=["registry"],
    guards=[REGISTRY_READERS],
    summary="One provider",
    responses={404: NOT_FOUND},
)
async def get_provider(request: Req, conn: Conn, provider_id: FromPath[str]) -> s.Provider:
    return await store.get_provider(conn, request.user.tenant_id, provider_id)


@put(
    "/v1/providers/{provider_id:str}",
    operation_id="correctProvider",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Correct a provider's organisationsnummer or name",
    responses=CHANGE_RESPONSES,
)
async def correct_provider(
    request: Req, conn: Conn, provider_id: FromPath[str], data: Payload[s.ProviderCorrection]
) -> s.Provider:
    return await store.correct_provider(
        conn, request.user, provider_id, parse(s.ProviderCorrection, data), await request.body()
    )


# The insats catalogue ----------------------------------------------------------------------------


@post(
    "/v1/insatser",
    operation_id="createInsats",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Add an insats to the tenant's catalogue",
    responses={200: replay(s.Insats), **CREATE_RESPONSES},
)
async def create_insats(
    request: Req, conn: Conn, data: Payload[s.InsatsIn], idempotency_key: IdempotencyKey = None
) -> Response[s.Insats]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.create_insats(conn, request.user, parse(s.InsatsIn, data), body),
    )


@get(
    "/v1/insatser",
    operation_id="listInsatser",
    tags=["registry"],
    guards=[ANY_ROLE],
    summary="The insats catalogue by code; page on with `after`",
)
async def list_insatser(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.InsatsPage:
    return await store.list_insatser(conn, request.user.tenant_id, after, limit)


@put(
    "/v1/insatser/{code:str}",
    operation_id="correctInsats",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Correct an insats's title, category or report type",
    responses=CHANGE_RESPONSES,
)
async def correct_insats(
    request: Req, conn: Conn, code: FromPath[str], data: Payload[s.InsatsCorrection]
) -> s.Insats:
    return await store.correct_insats(
        conn, request.user, code, parse(s.InsatsCorrection, data), await request.body()
    )


# Customers ---------------------------------------------------------------------------------------

CUSTOMER_EXAMPLE = Example(
    summary="A customer with two zones and one provider choice",
    value={
        "pnr": "194211029188",
        "zones": [{"from": "2019-05-01", "zone": "landsbygd"}, {"from": "2024-03-16", "zone": "skargard"}],
        "choices": [{"from": "2023-06-01", "provider": "exempel-omsorg"}],
    },
)
CUSTOMER_REPLY = Example(
    summary="Registered",
    value={
        "ref": "CK3D9X2QM7A",
        "pnr": "194211029188",
        "name": None,
        "protected": False,
        "zones": [{"from": "2019-05-01", "zone": "landsbygd"}, {"from": "2024-03-16", "zone": "skargard"}],
        "choices": [{"from": "2023-06-01", "to": None, "provider": "exempel-omsorg"}],
    },
)


@post(
    "/v1/customers",
    operation_id="createCustomer",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Register a customer with its zone history and provider choices",
    description="Stored once per tenant (by personnummer); the reply carries the customer's opaque "
    "`ref`, which addresses it in every URL. Posting the same customer again answers 200 with the "
    "stored record; other content for the same number is a 409.",
    responses={
        201: ResponseSpec(
            s.Customer, description="Registered", generate_examples=False, examples=[CUSTOMER_REPLY]
        ),
        200: replay(s.Customer),
        **CREATE_RESPONSES,
    },
)
async def create_customer(
    request: Req,
    conn: Conn,
    data: Annotated[SkipValidation[s.CustomerIn], Body(examples=[CUSTOMER_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> Response[s.Customer]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.create_customer(conn, request.user, parse(s.CustomerIn, data), body),
    )


@get(
    "/v1/customers",
    operation_id="listCustomers",
    tags=["registry"],
    guards=[allow("registry", "invoice_admin", "auditor", "reader", "provider")],
    summary="Customers by ref, numbers masked; a provider sees only its own customers",
    description="A protected identity is listed by its ref only (no number, no name); `reader` gets refs only.",
)
async def list_customers(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.CustomerPage:
    return await store.list_customers(conn, request.user, after, limit)


@post(
    "/v1/customers/lookup",
    operation_id="findCustomer",
    tags=["registry"],
    guards=[allow("registry", "invoice_admin", "auditor", "provider")],
    summary="Find a customer by personnummer (kept out of URLs); the read is audited",
    status_code=200,
    responses={404: NOT_FOUND, 422: INVALID},
)
async def find_customer(request: Req, conn: Conn, data: Payload[s.CustomerLookup]) -> s.Customer:
    return await store.lookup_customer(conn, request.user, parse(s.CustomerLookup, data))


@get(
    "/v1/customers/{ref:str}",
    operation_id="getCustomer",
    tags=["registry"],
    guards=[allow("registry", "invoice_admin", "auditor", "reader", "provider")],
    summary="One customer: zones and choices, and the number where the caller may see it; audited",
    responses={404: NOT_FOUND},
)
async def get_customer(request: Req, conn: Conn, ref: FromPath[str]) -> s.Customer:
    return await store.read_customer(conn, request.user, ref)


@put(
    "/v1/customers/{ref:str}",
    operation_id="correctCustomer",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Correct a customer's name or protected-identity flag",
    responses=CHANGE_RESPONSES,
)
async def correct_customer(
    request: Req, conn: Conn, ref: FromPath[str], data: Payload[s.CustomerCorrection]
) -> s.Customer:
    return await store.correct_customer(
        conn, request.user, ref, parse(s.CustomerCorrection, data), await request.body()
    )


@post(
    "/v1/customers/{ref:str}/zones",
    operation_id="addZone",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Add a zone from a date (not before the first zone)",
    responses={200: replay(s.Customer, "The same entry existed: nothing changed"), **CHANGE_RESPONSES},
)
async def add_zone(
    request: Req,
    conn: Conn,
    ref: FromPath[str],
    data: Payload[s.ZoneEntry],
    idempotency_key: IdempotencyKey = None,
) -> Response[s.Customer]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.add_zone(conn, request.user, ref, parse(s.ZoneEntry, data), body),
    )


@put(
    "/v1/customers/{ref:str}/zones",
    operation_id="replaceZones",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Replace the whole zone history (corrects or removes entries)",
    responses=CHANGE_RESPONSES,
)
async def replace_zones(
    request: Req, conn: Conn, ref: FromPath[str], data: Payload[list[s.ZoneEntry]]
) -> s.Customer:
    return await store.replace_zones(
        conn, request.user, ref, parse(list[s.ZoneEntry], data), await request.body()
    )


@post(
    "/v1/customers/{ref:str}/choices",
    operation_id="addChoice",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Add a provider choice (`from`, optional `to`; else until the next choice)",
    responses={200: replay(s.Customer, "The same entry existed: nothing changed"), **CHANGE_RESPONSES},
)
async def add_choice(
    request: Req,
    conn: Conn,
    ref: FromPath[str],
    data: Payload[s.ChoiceIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[s.Customer]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.add_choice(conn, request.user, ref, parse(s.ChoiceIn, data), body),
    )


@put(
    "/v1/customers/{ref:str}/choices",
    operation_id="replaceChoices",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Replace the whole provider-choice history (corrects or removes entries)",
    responses=CHANGE_RESPONSES,
)
async def replace_choices(
    request: Req, conn: Conn, ref: FromPath[str], data: Payload[list[s.ChoiceIn]]
) -> s.Customer:
    return await store.replace_choices(
        conn, request.user, ref, parse(list[s.ChoiceIn], data), await request.body()
    )


@patch(
    "/v1/customers/{ref:str}/choices/{start:date}",
    operation_id="endChoice",
    tags=["registry"],
    guards=[REGISTRY],
    summary="End (or reopen, with null) the provider choice starting on `start`",
    responses=CHANGE_RESPONSES,
)
async def end_choice(
    request: Req, conn: Conn, ref: FromPath[str], start: FromPath[date], data: Payload[s.ChoiceEnd]
) -> s.Customer:
    return await store.end_choice(
        conn, request.user, ref, start, parse(s.ChoiceEnd, data), await request.body()
    )


# Decisions ---------------------------------------------------------------------------------------

DECISION_EXAMPLE = Example(
    summary="A decision with two lines",
    value={
        "id": "D1",
        "customer": "193805149493",
        "lines": [
            {
                "id": "D1-1",
                "code": "morgonhjalp",
                "category": "omsorg",
                "minutes": 30,
                "occasions": "1",
                "per": "day",
                "from": "2024-01-01",
                "to": None,
            },
            {
                "id": "D1-2",
                "code": "stadning",
                "category": "service",
                "minutes": 90,
                "occasions": "0.5",
                "per": "week",
                "from": "2024-01-01",
                "to": None,
            },
        ],
    },
)


@post(
    "/v1/decisions",
    operation_id="createDecision",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Register a decision (biståndsbeslut) with its lines",
    description="Each line's category must be the catalogue's for its insats; line ids are unique "
    "per tenant. `decided` defaults to the earliest line's `from`.",
    responses={200: replay(s.Decision), **CREATE_RESPONSES},
)
async def create_decision(
    request: Req,
    conn: Conn,
    data: Annotated[SkipValidation[s.DecisionIn], Body(examples=[DECISION_EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
) -> Response[s.Decision]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.create_decision(conn, request.user, parse(s.DecisionIn, data), body),
    )


@get(
    "/v1/decisions",
    operation_id="listDecisions",
    tags=["registry"],
    guards=[CASE_READERS],
    summary="Decisions by id (numbers masked), optionally of one customer",
)
async def list_decisions(
    request: Req,
    conn: Conn,
    customer: Annotated[str | None, QueryParameter(description="a customer's ref")] = None,
    after: After = "",
    limit: Limit = 100,
) -> s.DecisionPage:
    return await store.list_decisions(conn, request.user, customer, after, limit)


@get(
    "/v1/decisions/{decision_id:str}",
    operation_id="getDecision",
    tags=["registry"],
    guards=[CASE_READERS],
    summary="One decision with its lines",
    responses={404: NOT_FOUND},
)
async def get_decision(request: Req, conn: Conn, decision_id: FromPath[str]) -> s.Decision:
    return await store.get_decision(conn, request.user, decision_id)


@patch(
    "/v1/decisions/{decision_id:str}",
    operation_id="correctDecision",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Correct a decision's date",
    responses=CHANGE_RESPONSES,
)
async def correct_decision(
    request: Req, conn: Conn, decision_id: FromPath[str], data: Payload[s.DecisionCorrection]
) -> s.Decision:
    return await store.correct_decision(
        conn, request.user, decision_id, parse(s.DecisionCorrection, data), await request.body()
    )


@post(
    "/v1/decisions/{decision_id:str}/lines",
    operation_id="addDecisionLine",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Add a line to a decision",
    responses={200: replay(s.Decision), **CHANGE_RESPONSES},
)
async def add_decision_line(
    request: Req,
    conn: Conn,
    decision_id: FromPath[str],
    data: Payload[s.DecisionLineIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[s.Decision]:
    return await single_post(
        request,
        conn,
        idempotency_key,
        lambda body: store.add_line(conn, request.user, decision_id, parse(s.DecisionLineIn, data), body),
    )


@put(
    "/v1/decisions/{decision_id:str}/lines/{line_id:str}",
    operation_id="correctDecisionLine",
    tags=["registry"],
    guards=[REGISTRY],
    summary="Correct a decision line (the whole line; its id stays)",
    responses=CHANGE_RESPONSES,
)
async def correct_decision_line(
    request: Req,
    conn: Conn,
    decision_id: FromPath[str],
    line_id: FromPath[str],
    data: Payload[s.DecisionLineIn],
) -> s.Decision:
    return await store.correct_line(
        conn, request.user, decision_id, line_id, parse(s.DecisionLineIn, data), await request.body()
    )


@patch(
    "/v1/decisions/{decision_id:str}/lines/{line_id:str}",
    operation_id="endDecisionLine",
    tags=["registry"],
    guards=[REGISTRY],
    summary="End (or reopen, with null) a decision line: its inclusive last day",
    responses=CHANGE_RESPONSES,
)
async def end_decision_line(
    request: Req,
    conn: Conn,
    decision_id: FromPath[str],
    line_id: FromPath[str],
    data: Payload[s.DecisionLineEnd],
) -> s.Decision:
    return await store.end_line(
        conn, request.user, decision_id, line_id, parse(s.DecisionLineEnd, data), await request.body()
    )


ROUTES = [
    create_provider,
    list_providers,
    get_provider,
    correct_provider,
    create_insats,
    list_insatser,
    correct_insats,
    create_customer,
    list_customers,
    find_customer,
    get_customer,
    correct_customer,
    add_zone,
    replace_zones,
    add_choice,
    replace_choices,
    end_choice,
    create_decision,
    list_decisions,
    get_decision,
    correct_decision,
    add_decision_line,
    correct_decision_line,
    end_decision_line,
]
