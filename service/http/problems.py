"""The JSON API's one mapping from errors to RFC 9457 problem details (application/problem+json).

Use cases raise the plain exceptions of `service/domain/errors.py`; framework errors (routing,
decoding, guards) are mapped here too. The `type` is a stable URN per kind of problem, the `title` is
fixed per type, and the occurrence goes in `detail`.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Receive, Scope, Send

from service.domain.errors import Problem, TooManyRequests, field_error

log = structlog.get_logger("kundval.errors")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:kundval:problem:"

# status -> (type slug, title) for problems raised by the framework itself.
_HTTP_TYPES = {
    400: ("bad-request", "The request could not be read"),
    401: ("unauthenticated", "A valid API key is required"),
    403: ("forbidden", "This API key's role may not do this"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "Method not allowed on this resource"),
    408: ("request-timeout", "The request did not arrive in time"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "The request is not valid"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def problem_response(
    request: Request, status: int, slug: str, title: str, detail: str | None, **extra: Any
) -> Response:
    body: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return Response(body, status_code=status, media_type=MEDIA_TYPE)


def _on_problem(request: Request, exc: Problem) -> Response:
    response = problem_response(request, exc.status, exc.slug, exc.title, exc.detail, **exc.extra)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _on_validation(request: Request, exc: ValidationException) -> Response:
    # Litestar's own body/parameter decoding: name each field, keep the occurrence out of `title`.
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        entry = field_error(str(item.get("message", "")))
        if entry["field"] is None and item.get("key") and item.get("source") != "body":
            entry["field"] = item["key"]
        if item.get("source"):
            entry["source"] = item["source"]
        errors.append(entry)
    if not errors or "malformed" in (exc.detail or "").lower():
        slug, title = _HTTP_TYPES[400]
        return problem_response(request, 400, slug, title, exc.detail, errors=errors)
    slug, title = _HTTP_TYPES[422]
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
    return problem_response(request, 422, slug, title, detail, errors=errors)


def _on_http(request: Request, exc: HTTPException) -> Response:
    slug, title = _HTTP_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
    headers = getattr(exc, "headers", None)
    response = problem_response(request, exc.status_code, slug, title, exc.detail)
    if headers:
        response.headers.update(headers)
    return response


def _on_unhandled(request: Request, exc: Exception) -> Response:
    # The trace goes to the log (with the request id); the client gets the id and nothing internal.
    log.error("unhandled_error", exc_info=exc)
    return problem_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
        "The error was logged; quote the request id when reporting it.",
    )


EXCEPTION_HANDLERS = {
    Problem: _on_problem,
    ValidationException: _on_validation,
    HTTPException: _on_http,
    Exception: _on_unhandled,
}


def body_limit_middleware(app: ASGIApp, max_body_bytes: int) -> ASGIApp:
    """Refuse a declared body over the limit before any work is done (Litestar enforces the same
    limit while reading bodies without a Content-Length)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"0")
            if declared.isdigit() and int(declared) > max_body_bytes:
                slug, title = _HTTP_TYPES[413]
                body = {
                    "type": TYPE_PREFIX + slug,
                    "title": title,
                    "status": 413,
                    "detail": f"the body is {int(declared)} bytes; the limit is {max_body_bytes}",
                    "instance": scope["path"],
                    "request_id": structlog.contextvars.get_contextvars().get("request_id"),
                }
                payload = msgspec.json.encode(body)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", MEDIA_TYPE.encode()),
                            (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": payload})
                return
        await app(scope, receive, send)

    return middleware
