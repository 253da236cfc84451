"""Bearer API keys, role guards and the rate limits of domain.md 7b. The key alone determines
tenant, role and provider."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from service.domain.principal import Principal, Role
from service.usecases import limits

# Routes anyone may call: liveness, readiness, the API description, and the workplace's login page
# and static files.
PUBLIC_PATHS = {"/health", "/ready", "/schema", "/login", "/static"}


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        settings = connection.app.state.settings
        address = connection.client.host if connection.client else "unknown"
        scheme, _, key = connection.headers.get("authorization", "").partition(" ")
        bearer = scheme.lower() == "bearer" and key.strip()
        async with connection.app.state.pool.acquire() as conn:
            principal = await limits.authenticate(
                conn,
                settings,
                key.strip() if bearer else None,
                address,
                connection.scope["method"] in limits.WRITES,
            )
        if principal is None:
            raise NotAuthorizedException(
                "the API key is unknown or revoked"
                if bearer
                else "send the API key as `Authorization: Bearer <key>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return AuthenticationResult(user=principal, auth=None)


def allow(*roles: Role) -> Guard:
    """Guard: only these roles may call the route."""
    allowed = frozenset(roles)

    # A coroutine: Litestar runs a plain function guard in a worker thread, a hop per request.
    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        principal: Principal = connection.user
        if principal.role not in allowed:
            raise PermissionDeniedException(
                f"role {principal.role} may not call this route (allowed: {', '.join(sorted(allowed))})"
            )

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the role matrix test and docs
    return guard


ANY_ROLE = allow("provider", "registry", "invoice_admin", "reader", "auditor")
