"""Liveness, readiness and the caller's own identity."""

from __future__ import annotations

from litestar import Request, Response
from litestar.datastructures import State

from schemas.common import Health, Me, Ready
from service.auth import ANY_ROLE, allow
from service.domain.principal import Principal
from service.http.common import get, problem
from service.http.deps import Conn
from service.metrics import CONTENT_TYPE
from service.usecases import system


@get("/health", operation_id="getHealth", tags=["system"], summary="The process is alive")
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    operation_id="getReady",
    tags=["system"],
    summary="The database is reachable and its schema current",
    responses={503: problem("The database is unreachable or its migrations are not applied")},
)
async def ready(state: State) -> Ready:
    return await system.readiness(state.pool)


@get("/v1/me", operation_id="getMe", tags=["system"], guards=[ANY_ROLE], summary="The API key's identity")
async def me(request: Request[Principal, None, State]) -> Me:
    p = request.user
    return Me(tenant=p.tenant_id, role=p.role, provider=p.provider_id, key_name=p.name)


# A scraper is an external system reading aggregates with no personal data: the reader role fits it
# (it can change nothing and sees no registry), and auditors read everything.
@get(
    "/metrics",
    operation_id="getMetrics",
    tags=["system"],
    guards=[allow("reader", "auditor")],
    media_type=CONTENT_TYPE,
    summary="Prometheus metrics: requests of this process, runs, discrepancies, feed position",
)
async def metrics(request: Request[Principal, None, State], conn: Conn) -> Response[bytes]:
    books = await system.books(conn, request.user)
    return Response(request.app.state.metrics.render(books), media_type=CONTENT_TYPE)
