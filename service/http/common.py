"""What the JSON API's controllers share: bodies decoded so that their problems name the field, paging
and header parameters, the documented problem replies, single-object POSTs (201 when stored now,
200 for an identical replay, Idempotency-Key honoured), and factories for the routes that carry one
object to one use case and back (`create_route`, `change_route`, `read_route`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeAlias, TypeVar

import litestar
import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIMediaType, Operation, Reference, RequestBody, Schema
from litestar.params import Body, BodyKwarg, FromPath, HeaderParameter, QueryParameter, SkipValidation

from schemas.registry import ProblemDetails
from service.auth import allow
from service.domain import validation
from service.domain.errors import Invalid, Problem
from service.domain.principal import Principal
from service.http.deps import Conn
from service.usecases import idempotency
from service.usecases.settlements import Export

Req = Request[Principal, None, State]
T = TypeVar("T")

# A JSON body decoded by `parse`, not by Litestar: its problems then name their field (and the
# position in a list), the same as a batch row's; the OpenAPI schema is still T's.
Payload: TypeAlias = Annotated[SkipValidation[T], BodyKwarg(media_type=RequestEncodingType.JSON)]


CSV = "text/csv; charset=utf-8"


def csv_attachment(export: Export) -> Response[bytes]:
    """A CSV export as a download under its own file name."""
    return Response(
        export.body,
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


def parse(kind: type[T], data: Any) -> T:
    value, errors = validation.convert(kind, data)
    if errors:
        raise Invalid("; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors), errors=errors)
    return value


class JSONRequest(Request[Principal, None, State]):
    """The app's request: a JSON body nested deeper than domain.md 6 allows is a 400 naming where,
    before msgspec would follow it into a RecursionError."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise _too_deep(validation.TooDeep(None)) from None
        try:
            validation.check_depth(value)
        except validation.TooDeep as err:
            raise _too_deep(err) from None
        return value


def _too_deep(err: validation.TooDeep) -> Problem:
    return Problem(str(err), errors=[{"field": err.field, "message": str(err)}])


CONTROL_CHARACTERS = "must not contain control characters"


async def refuse_control_characters(request: Request[Any, Any, Any]) -> None:
    """`before_request` of the app: no control character in a path or query parameter (asyncpg
    cannot store NUL, and none belongs in an id or a filter); every bad parameter is named. A
    coroutine, as Litestar would run a plain function in a worker thread."""
    given = [*request.path_params.items(), *request.query_params.multi_items()]
    bad = [
        {
            "field": name,
            "source": "path" if name in request.path_params else "query",
            "message": CONTROL_CHARACTERS,
        }
        for name, value in given
        if isinstance(value, str) and validation.has_control_character(value)
    ]
    if bad:
        raise Invalid("; ".join(f"{e['field']}: {CONTROL_CHARACTERS}" for e in bad), errors=bad)


NDJSON = "application/x-ndjson"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


async def batch_body(request: Request[Any, Any, Any]) -> bytes | AsyncIterable[bytes]:
    """A batch body for `service.usecases.ingestion.Rows`: a JSON array whole, NDJSON as it streams."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type == NDJSON:
        return request.stream()
    if media_type == "application/json":
        return await request.body()
    raise UnsupportedMediaType(f"send application/json or {NDJSON}, not {media_type}")


def batch_operation(
    row: Schema | Reference, description: str, max_rows: int, examples: dict[str, Example]
) -> type[Operation]:
    """The OpenAPI operation of a batch route: its body is read by the handler (to stream NDJSON),
    so its schema is declared here."""

    @dataclass
    class BatchOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                description=description,
                content={
                    "application/json": OpenAPIMediaType(
                        schema=Schema(type="array", items=row, max_items=max_rows), examples=examples
                    ),
                    NDJSON: OpenAPIMediaType(schema=row),
                },
            )

    return BatchOperation


def batch_responses(max_rows: int, correct: str) -> dict[int, ResponseSpec]:
    """The problem replies of a provider records' batch route; `correct` says how to correct one."""
    return {
        400: problem("The body is not valid JSON"),
        409: problem(f"Some ids are stored with other content; nothing of the batch was stored ({correct})"),
        413: problem(f"More than {max_rows} rows, or a body over the size limit"),
        415: problem("Neither application/json nor application/x-ndjson"),
        422: problem("Bad rows: every problem with its row index and field; nothing was stored"),
    }


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Optional. The same key with the same body returns the first reply again; "
        "with another body, 422. Scoped to the API key.",
    ),
]
# Positions (audit, feed) are bigint columns: a larger number is bad input, not a database error.
POSITION_MAX = 2**63 - 1
After = Annotated[str, QueryParameter(description="cursor: the `next_after` of the previous page")]
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="items per page")]
ProviderFilter = Annotated[
    str | None,
    QueryParameter(
        description="invoice_admin and auditor: only this provider's (a provider sees only its own)"
    ),
]

PROVIDER = allow("provider")
RECORD_READERS = allow("provider", "invoice_admin", "auditor")


def problem(description: str, *examples: dict[str, Any]) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
        examples=[Example(summary=e["title"], value=e) for e in examples] or None,
    )


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
UNREADABLE = problem(
    "The request could not be read: a body that is not JSON, or nested deeper than 32 levels"
)
UNAUTHENTICATED = problem("No API key, or not a valid one")
FORBIDDEN = problem("The API key's role may not do this")
TOO_LARGE = problem("The body is over the size limit")
TOO_MANY = problem("A rate limit is used up (failed authentications or writes); see `Retry-After`")

# Arguments of a handler that are not the request's own parameters.
_INJECTED = {"request", "conn", "state", "self"}


def problem_responses(path: str, method: str, guarded: bool, handler: Callable[..., Any]) -> dict[int, Any]:
    """The problems an operation can answer, from how its route is declared: a guarded route may
    answer 401, 403 and 429; a path with parameters 404; parameters or a body 400 and 422; a body
    413; a write 409."""
    responses: dict[int, ResponseSpec] = {}
    if guarded:
        responses |= {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: TOO_MANY}
    if "{" in path:
        responses[404] = NOT_FOUND
    if set(inspect.signature(handler).parameters) - _INJECTED:
        responses |= {400: UNREADABLE, 422: INVALID}
    if method in ("post", "put", "patch"):
        responses |= {400: UNREADABLE, 409: CONFLICT, 413: TOO_LARGE}
    return responses


def _documented(decorator: Callable[..., Any], method: str) -> Callable[..., Any]:
    """Litestar's route decorator, with the problem replies of `problem_responses` documented
    (a route's own `responses` say more about some of them and win)."""

    def route(path: str, **options: Any) -> Callable[[Callable[..., Any]], HTTPRouteHandler]:
        def make(handler: Callable[..., Any]) -> HTTPRouteHandler:
            known = problem_responses(path, method, bool(options.get("guards")), handler)
            options["responses"] = {**known, **(options.get("responses") or {})}
            return decorator(path, **options)(handler)

        return make

    return route


# Every JSON API route is declared with these, so that its document names its errors.
get = _documented(litestar.get, "get")
post = _documented(litestar.post, "post")
put = _documented(litestar.put, "put")
patch = _documented(litestar.patch, "patch")


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
            conn, request.user, idem_key, (request.method, request.url.path, body), run
        )
    return Response(content=content, status_code=status, media_type="application/json")


# Route factories ---------------------------------------------------------------------------------
#
# A use case behind these takes (conn, who, *path parameters, [data, payload]): the path's values in
# the path's order, the parsed body, and the raw body for the audit log.

_PATH_TYPES = {"str": str, "date": date}


def _path_parameters(path: str) -> list[tuple[str, Any, Any]]:
    return [
        (name, FromPath[_PATH_TYPES[kind]], inspect.Parameter.empty)
        for name, kind in re.findall(r"\{(\w+):(\w+)\}", path)
    ]


def _handler(
    decorator: Callable[..., HTTPRouteHandler],
    path: str,
    call: Callable[..., Awaitable[Any]],
    parameters: list[tuple[str, Any, Any]],
    returns: Any,
    options: dict[str, Any],
) -> HTTPRouteHandler:
    """A route whose handler has the signature Litestar reads (both the parsing of a request and
    the OpenAPI document come from it): request, conn, the path's parameters, then `parameters`.
    `call(request, conn, path values, arguments)` answers it."""
    at = _path_parameters(path)
    names = [name for name, _, _ in at]

    async def handler(request: Req, conn: Conn, **arguments: Any) -> Any:
        return await call(request, conn, [arguments.pop(n) for n in names], arguments)

    signature = [("request", Req, inspect.Parameter.empty), ("conn", Conn, inspect.Parameter.empty)]
    signature += at + parameters
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=a, default=d)
            for n, a, d in signature
        ],
        return_annotation=returns,
    )
    handler.__annotations__ = {n: a for n, a, _ in signature} | {"return": returns}
    return decorator(path, **options)(handler)


def _body(kind: type, examples: list[Example] | None) -> Any:
    if examples is None:
        return Payload[kind]
    return Annotated[SkipValidation[kind], Body(examples=examples)]


def create_route(
    decorator: Callable[..., HTTPRouteHandler],
    path: str,
    use: Callable[..., Awaitable[tuple[Any, bool]]],
    body: type,
    out: type,
    *,
    examples: list[Example] | None = None,
    replayed: str = "An identical replay: the stored record",
    responses: dict[int, ResponseSpec] | None = None,
    **options: Any,
) -> HTTPRouteHandler:
    """A single-object create (`single_post`); `use(...) -> (result, created)`. `replayed` describes
    the 200 reply; a route under a path parameter may also answer 404."""

    async def call(request: Req, conn: Conn, at: list[Any], arguments: dict[str, Any]) -> Response[Any]:
        data = parse(body, arguments["data"])
        return await single_post(
            request,
            conn,
            arguments["idempotency_key"],
            lambda payload: use(conn, request.user, *at, data, payload),
        )

    options["responses"] = {
        200: ResponseSpec(data_container=out, description=replayed, generate_examples=False),
        **(CHANGE_RESPONSES if "{" in path else CREATE_RESPONSES),
        **(responses or {}),
    }
    parameters = [
        ("data", _body(body, examples), inspect.Parameter.empty),
        ("idempotency_key", IdempotencyKey, None),
    ]
    return _handler(decorator, path, call, parameters, Response[out], options)


def change_route(
    decorator: Callable[..., HTTPRouteHandler],
    path: str,
    use: Callable[..., Awaitable[Any]],
    body: type,
    out: type,
    **options: Any,
) -> HTTPRouteHandler:
    """A correction of one object; `use(...)` returns the object as it is now."""

    async def call(request: Req, conn: Conn, at: list[Any], arguments: dict[str, Any]) -> Any:
        data = parse(body, arguments["data"])
        return await use(conn, request.user, *at, data, await request.body())

    options.setdefault("responses", CHANGE_RESPONSES)
    return _handler(decorator, path, call, [("data", Payload[body], inspect.Parameter.empty)], out, options)


def read_route(
    path: str,
    use: Callable[..., Awaitable[Any]],
    out: type,
    *,
    query: dict[str, tuple[Any, Any]] | None = None,
    **options: Any,
) -> HTTPRouteHandler:
    """GET one object by its path; `query` names query parameters (annotation, default), passed to
    `use` by name."""

    async def call(request: Req, conn: Conn, at: list[Any], arguments: dict[str, Any]) -> Any:
        return await use(conn, request.user, *at, **arguments)

    parameters = [(name, annotation, default) for name, (annotation, default) in (query or {}).items()]
    return _handler(get, path, call, parameters, out, {"responses": {404: NOT_FOUND}, **options})


# A single provider record: a provider reads its own, invoice_admin and auditor name the provider.
RecordOwner = Annotated[
    str | None,
    QueryParameter(
        description="invoice_admin and auditor: the provider whose record it is (required for them; "
        "a provider key reads only its own)"
    ),
]
OWNER_QUERY = {"provider": (RecordOwner, None)}
