"""Liveness, readiness and the caller's own identity."""

from __future__ import annotations

from litestar import Request, get
from litestar.datastructures import State

from schemas.common import Health, Me, Ready
from service.auth import ANY_ROLE
from service.domain.principal import Principal
from service.usecases import system


@get("/health", operation_id="getHealth", tags=["system"], summary="The process is alive")
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    operation_id="getReady",
    tags=["system"],
    summary="The database is reachable and its schema current",
)
async def ready(state: State) -> Ready:
    return await system.readiness(state.pool)


@get("/v1/me", operation_id="getMe", tags=["system"], guards=[ANY_ROLE], summary="The API key's identity")
async def me(request: Request[Principal, None, State]) -> Me:
    p = request.user
    return Me(tenant=p.tenant_id, role=p.role, provider=p.provider_id, key_name=p.name)
