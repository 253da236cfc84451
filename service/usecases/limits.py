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
from service.store import apikeys, limits

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

log = structlog.get_logger("kundval.limits")


def _limited(wanted: dict[str, int]) -> dict[str, int]:
    """The buckets with a limit (0 is none)."""
    return {bucket: limit for bucket, limit in wanted.items() if limit > 0}


async def _count(conn: asyncpg.Connection, settings: Settings, wanted: dict[str, int], what: str) -> None:
    buckets = _limited(wanted)
    if buckets:
        _refuse_over(settings, await limits.hit(conn, sorted(buckets), settings.rate_window), buckets, what)


def _refuse_over(settings: Settings, counts: list[limits.Count], buckets: dict[str, int], what: str) -> None:
    over = [c for c in counts if c.hits > buckets[c.bucket]]
    if over:
        retry_after = max(c.retry_after for c in over)
        log.warning("rate_limited", what=what, buckets=[c.bucket.split(":", 2)[1] for c in over])
        raise TooManyRequests(
            f"too many {what} in {settings.rate_window} s; try again in {retry_after} s", retry_after
        )


async def authenticate(
    conn: asyncpg.Connection, settings: Settings, key: str | None, address: str, write: bool
) -> Principal | None:
    """The principal of a valid, unrevoked key (None: no key, or not a valid one), counted in the
    same statement: a failed authentication against the address, a write against the key and the
    address. Over a limit: TooManyRequests."""
    if key is None or not key.startswith(apikeys.PREFIX):
        await failed_authentication(conn, settings, address)
        return None
    failed = _limited({f"failed-auth:address:{address}": settings.rate_failed_auth})
    writes = _limited(
        {
            f"write:key:{limits.KEY}": settings.rate_writes_per_key,
            f"write:address:{address}": settings.rate_writes_per_address,
        }
        if write
        else {}
    )
    row, counts = await limits.authenticate(
        conn, apikeys.key_hash(key), sorted(writes), sorted(failed), settings.rate_window
    )
    if row is None:
        _refuse_over(settings, counts, failed, "failed authentications")
        return None
    _refuse_over(
        settings, counts, {b.replace(limits.KEY, str(row.id)): n for b, n in writes.items()}, "writes"
    )
    return Principal(
        tenant_id=row.tenant_id, role=row.role, name=row.name, key_id=row.id, provider_id=row.provider_id
    )


async def failed_authentication(conn: asyncpg.Connection, settings: Settings, address: str) -> None:
    """Count a failed authentication from this address; refused once the address is over its limit."""
    await _count(
        conn,
        settings,
        {f"failed-auth:address:{address}": settings.rate_failed_auth},
        "failed authentications",
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
