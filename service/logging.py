"""structlog configuration, the request-id and access-log middleware, and identity-number masking."""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.domain.identity import redact
from service.settings import Settings

log = structlog.get_logger("kundval.access")
_access = logging.getLogger("kundval.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


def mask_identity_numbers(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Processor: no personnummer or samordningsnummer leaves in any field of any event."""
    return {key: _redact_value(value) for key, value in event.items()}


def _json_dumps(obj: Any, **_kw: Any) -> str:
    # structlog passes default=...; msgspec's encoder takes enc_hook instead.
    return msgspec.json.encode(obj, enc_hook=str).decode()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment (so redirection and test capture see it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Configure structlog and route the standard library's logging (uvicorn, asyncpg) through it."""
    as_json = settings.log_format == "json" or (settings.log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer(serializer=_json_dumps)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    # One formatter renders structlog's and the standard library's events alike; masking runs last
    # before rendering, so it also sees exception text.
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_identity_numbers,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, settings.log_level.upper()))
    # Our own access line replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def request_logging_middleware(
    app: ASGIApp, observe: Callable[[str, str | None, int, float], None] | None = None
) -> ASGIApp:
    """Accept or create X-Request-ID, bind it to the log context, return it, and log one access line;
    `observe` gets (method, route template or None, status, seconds) of every request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # Generated ids are base64url: hex ids would now and then hold a date-shaped digit run that
        # the identity-number masking blanks out.
        request_id = given if _REQUEST_ID.match(given) else secrets.token_urlsafe(16)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            principal = scope.get("user")
            template = _route_template(scope.get("route_handler"))
            if observe is not None:
                observe(scope["method"], template, status, seconds)
            if _access.isEnabledFor(logging.INFO):  # structlog would build the event only to drop it
                log.info(
                    "request",
                    method=scope["method"],
                    route=template or scope.get("path", ""),
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                    role=getattr(principal, "role", None),
                    provider=getattr(principal, "provider_id", None),
                )
            structlog.contextvars.clear_contextvars()

    return middleware


def _route_template(handler: Any) -> str | None:
    """The matched route's template (no identifiers from the URL); None if no route matched."""
    paths = getattr(handler, "paths", None)
    return next(iter(paths)) if paths and len(paths) == 1 else None
