"""The application factory: everything is built from Settings here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service import __version__
from service.auth import PUBLIC_PATHS, ApiKeyAuthentication
from service.http import (
    audit,
    claims,
    deps,
    reconcile,
    records,
    registry,
    reports,
    rulings,
    settlements,
    system,
    tariffs,
    visits,
)
from service.http.common import JSONRequest, refuse_control_characters
from service.http.problems import EXCEPTION_HANDLERS, body_limit_middleware
from service.logging import configure_logging, request_logging_middleware
from service.metrics import Metrics
from service.serving import body_deadline_middleware
from service.settings import Settings
from service.usecases.system import opened
from service.web import ROUTES as WEB_ROUTES
from service.web import schema
from service.web.templates import template_config

ROUTES = [
    system.health,
    system.ready,
    system.me,
    system.metrics,
    audit.list_audit,
    audit.verify_audit,
    *registry.ROUTES,
    *records.ROUTES,
    *visits.ROUTES,
    *claims.ROUTES,
    *tariffs.ROUTES,
    *reconcile.ROUTES,
    *settlements.ROUTES,
    *reports.ROUTES,
    *rulings.ROUTES,
    *WEB_ROUTES,
]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with opened(settings) as (_, pool):  # the pool connects as the service's role
            app.state.pool = pool
            yield

    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        dependencies={"conn": Provide(deps.provide_conn)},
        middleware=[
            DefineMiddleware(ApiKeyAuthentication, exclude=[f"^{p}" for p in sorted(PUBLIC_PATHS)]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_class=JSONRequest,
        before_request=refuse_control_characters,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        template_config=template_config(),
        state=State({"settings": settings, "metrics": metrics}),
        # Logging is ours (service/logging.py): structlog, masked, one format for every logger.
        logging_config=None,
        debug=False,
    )
    # Wrapped around the whole app, not per route, so that unmatched routes (404, 405) also get a
    # request id, an access line and the body limit.
    app.asgi_handler = request_logging_middleware(
        body_limit_middleware(
            body_deadline_middleware(app.asgi_handler, settings.body_timeout), settings.max_body_bytes
        ),
        observe=metrics.observe,
    )
    return app


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="kundval",
        version=__version__,
        description=(
            "Invoicing and reconciliation for a municipal customer-choice system (kundval) in home care, "
            "home health care and home rehabilitation. Authenticate with `Authorization: Bearer <API key>`; "
            "errors are RFC 9457 problem details. Failed authentications (per client address) and writes "
            "(per key and per address) are rate-limited: over a limit the answer is 429 with `Retry-After` "
            "in seconds."
        ),
        security=[{"apiKey": []}],
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")}
        ),
        use_handler_docstrings=False,
        # /schema, served with the service's own copy of Redoc (service/web/schema.py).
        openapi_router=schema.openapi_router(),
        render_plugins=schema.render_plugins(),
    )
