"""Registry routes (role `registry` writes): providers, insatser, customers, zones, choices, decisions."""

from __future__ import annotations

from typing import Annotated

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Reference, Schema
from litestar.params import QueryParameter

from schemas import registry as s
from service.auth import ANY_ROLE, allow
from service.http.common import (
    INVALID,
    NOT_FOUND,
    After,
    Limit,
    Payload,
    Req,
    batch_body,
    batch_operation,
    change_route,
    create_route,
    get,
    parse,
    patch,
    post,
    problem,
    put,
    read_route,
)
from service.http.deps import Conn
from service.usecases import registry, registry_import
from service.usecases.registry_import import MAX_ROWS

REGISTRY = allow("registry")
REGISTRY_READERS = allow("registry", "invoice_admin", "reader", "auditor")
CASE_READERS = allow("registry", "invoice_admin", "auditor")
# reader reads settlements, the feed and reports, not the customer registry (domain.md 2).
CUSTOMER_READERS = allow("registry", "invoice_admin", "auditor", "provider")
WRITE = {"tags": ["registry"], "guards": [REGISTRY]}
SAME_ENTRY = "The same entry existed: nothing changed"

# Providers ---------------------------------------------------------------------------------------

create_provider = create_route(
    post,
    "/v1/providers",
    registry.create_provider,
    s.ProviderIn,
    s.Provider,
    operation_id="createProvider",
    summary="Register a provider (organisationsnummer Luhn-checked)",
    **WRITE,
)


@get(
    "/v1/providers",
    operation_id="listProviders",
    tags=["registry"],
    guards=[REGISTRY_READERS],
    summary="Providers by id; page on with `after`",
)
async def list_providers(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.ProviderPage:
    return await registry.list_providers(conn, request.user, after, limit)


get_provider = read_route(
    "/v1/providers/{provider_id:str}",
    registry.get_provider,
    s.Provider,
    operation_id="getProvider",
    tags=["registry"],
    guards=[REGISTRY_READERS],
    summary="One provider",
)
correct_provider = change_route(
    put,
    "/v1/providers/{provider_id:str}",
    registry.correct_provider,
    s.ProviderCorrection,
    s.Provider,
    operation_id="correctProvider",
    summary="Correct a provider's organisationsnummer or name",
    **WRITE,
)

# The insats catalogue ----------------------------------------------------------------------------

create_insats = create_route(
    post,
    "/v1/insatser",
    registry.create_insats,
    s.InsatsIn,
    s.Insats,
    operation_id="createInsats",
    summary="Add an insats to the tenant's catalogue",
    **WRITE,
)


@get(
    "/v1/insatser",
    operation_id="listInsatser",
    tags=["registry"],
    guards=[ANY_ROLE],
    summary="The insats catalogue by code; page on with `after`",
)
async def list_insatser(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.InsatsPage:
    return await registry.list_insatser(conn, request.user, after, limit)


correct_insats = change_route(
    put,
    "/v1/insatser/{code:str}",
    registry.correct_insats,
    s.InsatsCorrection,
    s.Insats,
    operation_id="correctInsats",
    summary="Correct an insats's title, category or report type",
    **WRITE,
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

create_customer = create_route(
    post,
    "/v1/customers",
    registry.create_customer,
    s.CustomerIn,
    s.Customer,
    examples=[CUSTOMER_EXAMPLE],
    responses={
        201: ResponseSpec(
            s.Customer, description="Registered", generate_examples=False, examples=[CUSTOMER_REPLY]
        )
    },
    operation_id="createCustomer",
    summary="Register a customer with its zone history and provider choices",
    description="Stored once per tenant (by personnummer); the reply carries the customer's opaque "
    "`ref`, which addresses it in every URL. Posting the same customer again answers 200 with the "
    "stored record; other content for the same number is a 409.",
    **WRITE,
)


@get(
    "/v1/customers",
    operation_id="listCustomers",
    tags=["registry"],
    guards=[CUSTOMER_READERS],
    summary="Customers by ref, numbers masked; a provider sees only its own customers; audited",
    description="A provider's own customers are those it is or was chosen for (by a provider choice; "
    "an enrolment or any other record it posts does not count). A protected identity is listed by its "
    "ref only (no number, no name). The read is audited: one entry naming the customers listed.",
)
async def list_customers(request: Req, conn: Conn, after: After = "", limit: Limit = 100) -> s.CustomerPage:
    return await registry.list_customers(conn, request.user, after, limit)


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
    return await registry.find_customer(conn, request.user, parse(s.CustomerLookup, data))


get_customer = read_route(
    "/v1/customers/{ref:str}",
    registry.read_customer,
    s.Customer,
    operation_id="getCustomer",
    tags=["registry"],
    guards=[CUSTOMER_READERS],
    summary="One customer: zones and choices, and the number where the caller may see it; audited",
    description="A provider reads only customers it is or was chosen for (any other ref is not found, "
    "the same reply as for no customer), and sees only its own choice spans.",
)
correct_customer = change_route(
    put,
    "/v1/customers/{ref:str}",
    registry.correct_customer,
    s.CustomerCorrection,
    s.Customer,
    operation_id="correctCustomer",
    summary="Correct a customer's name or protected identity; a field left out keeps its value",
    description="`name` replaces the stored name (null removes it); `protected` true protects the "
    "customer and only an explicit false lifts it. A field left out is kept, so `{}` changes nothing. "
    "The number is never corrected; zones and choices have their own routes. Audited, the name never "
    "in the audit log.",
    **WRITE,
)
add_zone = create_route(
    post,
    "/v1/customers/{ref:str}/zones",
    registry.add_zone,
    s.ZoneEntry,
    s.Customer,
    replayed=SAME_ENTRY,
    operation_id="addZone",
    summary="Add a zone from a date (not before the first zone)",
    **WRITE,
)
replace_zones = change_route(
    put,
    "/v1/customers/{ref:str}/zones",
    registry.replace_zones,
    list[s.ZoneEntry],
    s.Customer,
    operation_id="replaceZones",
    summary="Replace the whole zone history (corrects or removes entries)",
    **WRITE,
)
add_choice = create_route(
    post,
    "/v1/customers/{ref:str}/choices",
    registry.add_choice,
    s.ChoiceIn,
    s.Customer,
    replayed=SAME_ENTRY,
    operation_id="addChoice",
    summary="Add a provider choice (`from`, optional `to`; else until the next choice)",
    **WRITE,
)
replace_choices = change_route(
    put,
    "/v1/customers/{ref:str}/choices",
    registry.replace_choices,
    list[s.ChoiceIn],
    s.Customer,
    operation_id="replaceChoices",
    summary="Replace the whole provider-choice history (corrects or removes entries)",
    **WRITE,
)
end_choice = change_route(
    patch,
    "/v1/customers/{ref:str}/choices/{start:date}",
    registry.end_choice,
    s.ChoiceEnd,
    s.Customer,
    operation_id="endChoice",
    summary="End (or reopen, with null) the provider choice starting on `start`",
    **WRITE,
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

create_decision = create_route(
    post,
    "/v1/decisions",
    registry.create_decision,
    s.DecisionIn,
    s.Decision,
    examples=[DECISION_EXAMPLE],
    operation_id="createDecision",
    summary="Register a decision (biståndsbeslut) with its lines",
    description="Each line's category must be the catalogue's for its insats; line ids are unique "
    "per tenant. `decided` defaults to the earliest line's `from`.",
    **WRITE,
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
    return await registry.list_decisions(conn, request.user, customer, after, limit)


get_decision = read_route(
    "/v1/decisions/{decision_id:str}",
    registry.read_decision,
    s.Decision,
    operation_id="getDecision",
    tags=["registry"],
    guards=[CASE_READERS],
    summary="One decision with its lines",
)
correct_decision = change_route(
    patch,
    "/v1/decisions/{decision_id:str}",
    registry.correct_decision,
    s.DecisionCorrection,
    s.Decision,
    operation_id="correctDecision",
    summary="Correct a decision's date",
    **WRITE,
)
add_decision_line = create_route(
    post,
    "/v1/decisions/{decision_id:str}/lines",
    registry.add_decision_line,
    s.DecisionLineIn,
    s.Decision,
    operation_id="addDecisionLine",
    summary="Add a line to a decision",
    **WRITE,
)
correct_decision_line = change_route(
    put,
    "/v1/decisions/{decision_id:str}/lines/{line_id:str}",
    registry.correct_decision_line,
    s.DecisionLineIn,
    s.Decision,
    operation_id="correctDecisionLine",
    summary="Correct a decision line (the whole line; its id stays)",
    **WRITE,
)
end_decision_line = change_route(
    patch,
    "/v1/decisions/{decision_id:str}/lines/{line_id:str}",
    registry.end_decision_line,
    s.DecisionLineEnd,
    s.Decision,
    operation_id="endDecisionLine",
    summary="End (or reopen, with null) a decision line: its inclusive last day",
    **WRITE,
)

# The registry import -----------------------------------------------------------------------------

_EXPORT = [
    {"kind": "customer", **CUSTOMER_EXAMPLE.value},
    {"kind": "decision", **DECISION_EXAMPLE.value},
]


@post(
    "/v1/registry/import",
    operation_id="importRegistry",
    status_code=200,
    operation_class=batch_operation(
        Schema(
            one_of=[
                Reference(ref="#/components/schemas/CustomerIn"),
                Reference(ref="#/components/schemas/DecisionIn"),
            ],
            description='a customer or a decision, tagged with "kind": "customer" or "decision" '
            "(a customer's absent `protected` keeps the stored flag)",
        ),
        f"Up to {MAX_ROWS} customers and decisions together: a JSON array, or NDJSON (one a line). "
        "A decision may name a customer of the same batch.",
        MAX_ROWS,
        {"export": Example(summary="A customer and a decision", value=_EXPORT)},
    ),
    summary="Import the case system's export: customers and decisions, all or nothing",
    description="Send `application/json` (an array) or `application/x-ndjson` (streamed). A record "
    "identical to the stored one is unchanged (a replay writes nothing but the batch's audit entry); "
    "a changed one is a correction with the effects of the single-record routes: a customer's zones "
    "and choices are replaced whole, a decision's lines are created or corrected (stored lines it "
    "leaves out, and records absent from the export, are left as they are: end a choice or a line "
    "with an explicit `to`). A bad row makes the batch a 422 naming every bad field of every row; "
    "nothing of it is stored.",
    responses={
        200: ResponseSpec(s.ImportResult, description="Stored"),
        400: problem("The body is not valid JSON"),
        413: problem(f"More than {MAX_ROWS} rows, or a body over the size limit"),
        415: problem("Neither application/json nor application/x-ndjson"),
        422: problem(
            "Bad rows: every problem with its row index and field; nothing of the batch was stored",
            {
                "type": "urn:kundval:problem:validation",
                "title": "The request is not valid",
                "status": 422,
                "detail": "nothing of this batch was stored: row 3 choices[0].provider: unknown provider",
                "errors": [
                    {"row": 3, "field": "choices[0].provider", "message": "unknown provider"},
                    {"row": 7, "field": "lines[0].code", "message": "unknown insats code"},
                ],
            },
        ),
    },
    **WRITE,
)
async def import_registry(request: Req, conn: Conn) -> s.ImportResult:
    return await registry_import.import_registry(conn, request.user, await batch_body(request))


ROUTES = [
    import_registry,
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
