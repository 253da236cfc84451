"""Bearer API keys and role guards. The key alone determines tenant, role and provider."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from service.domain.principal import Principal, Role
from service.usecases import keys

# Routes anyone may call: liveness, readiness and the API description.
PUBLIC_PATHS = {"/health", "/ready", "/schema"}


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        scheme, _, key = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise NotAuthorizedException(
                "send the API key as `Authorization: Bearer <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        async with connection.app.state.pool.acquire() as conn:
            principal = await keys.authenticate(conn, key.strip())
        if principal is None:
            raise NotAuthorizedException(
                "the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        return AuthenticationResult(user=principal, auth=None)


def allow(*roles: Role) -> Guard:
    """Guard: only these roles may call the route."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        principal: Principal = connection.user
        if principal.role not in allowed:
            raise PermissionDeniedException(
                f"role {principal.role} may not call this route (allowed: {', '.join(sorted(allowed))})"
            )

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the role matrix test and docs
    return guard


ANY_ROLE = allow("provider", "registry", "invoice_admin", "reader", "auditor")
