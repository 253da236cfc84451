"""Rate limits (domain.md 7b): failed authentications per client address, writes per API key and per
address, each counted over fixed windows in PostgreSQL so that every service process sees the same
counts. Over a limit a request is refused with TooManyRequests (429, Retry-After) until the window
ends; 0 turns a limit off."""

from __future__ import annotations

import asyncpg
import structlog

from service.domain.errors import TooManyRequests
from service.domain.principal import Principal
from service.settings import Settings
from service.store import limits

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

log = structlog.get_logger("kundval.limits")


async def _count(conn: asyncpg.Connection, settings: Settings, wanted: dict[str, int], what: str) -> None:
    buckets = {bucket: limit for bucket, limit in wanted.items() if limit > 0}
    if not buckets:
        return
    over = [
        c for c in await limits.hit(conn, sorted(buckets), settings.rate_window) if c.hits > buckets[c.bucket]
    ]
    if over:
        retry_after = max(c.retry_after for c in over)
        log.warning("rate_limited", what=what, buckets=[c.bucket.split(":", 2)[1] for c in over])
        raise TooManyRequests(
            f"too many {what} in {settings.rate_window} s; try again in {retry_after} s", retry_after
        )


async def failed_authentication(conn: asyncpg.Connection, settings: Settings, address: str) -> None:
    """Count a failed authentication from this address; refused once the address is over its limit."""
    await _count(
        conn,
        settings,
        {f"failed-auth:address:{address}": settings.rate_failed_auth},
        "failed authentications",
    )


async def write(conn: asyncpg.Connection, settings: Settings, who: Principal, address: str) -> None:
    """Count a write by this key from this address; refused once either is over its limit."""
    await _count(
        conn,
        settings,
        {
            f"write:key:{who.key_id}": settings.rate_writes_per_key,
            f"write:address:{address}": settings.rate_writes_per_address,
        },
        "writes",
    )


async def login_attempt(conn: asyncpg.Connection, settings: Settings, username: str) -> None:
    """Count an attempt to log in as `username`; refused once the account is over its limit (before
    its password is checked, so that guessing past the limit learns nothing)."""
    await _count(
        conn,
        settings,
        {f"login:user:{username}": settings.rate_logins_per_user},
        "attempts to log in to this account",
    )
