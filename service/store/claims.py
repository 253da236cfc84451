"""The claims table (domain.md section 3): SIP, läkemedelsgenomgång, teamkonferens, extraordinär
insats. SQL only: the rules of use are in `service/usecases/claims.py`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from service.store.records import (
    Key,
    fetch,
    fetch_many,
    fetch_page,
    insert_many,
    insert_read,
    select,
    update,
)


class Content(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider sends; `content_hash` recognises the same claim sent again."""

    type: str
    claim_date: date
    pnr: str | None
    sip_role: str | None
    requested_amount: Decimal | None
    motivation: str | None
    content_hash: bytes


class Claim(Content, frozen=True, kw_only=True):
    """A stored claim, with its customer's ref and protection (None and False while the registry
    does not know the number, and for a teamkonferens)."""

    provider_id: str
    external_id: str
    status: str
    received_at: datetime
    ref: str | None
    protected: bool
    chosen: bool  # the provider is or was chosen for the customer


_COLUMNS = ("provider_id", "external_id", "status", "received_at", *Content.__struct_fields__)
_QUERY = select("claims", _COLUMNS)


async def claim(conn: asyncpg.Connection, key: Key, *, lock: bool = False) -> Claim | None:
    return await fetch(conn, _QUERY, Claim, key, lock=lock)


async def insert(conn: asyncpg.Connection, key: Key, content: Content) -> Claim | None:
    """Store a new claim and return it as `claim` would; None (and nothing stored) when the external
    id exists."""
    return await insert_read(conn, "claims", _COLUMNS, Claim, key, msgspec.structs.asdict(content))


async def insert_claims(
    conn: asyncpg.Connection, tenant: str, provider: str | None, claims: dict[str, Content]
) -> set[str]:
    """Store new claims of one provider (by external id) in one statement; the ids stored."""
    columns = {c: [getattr(x, c) for x in claims.values()] for c in Content.__struct_fields__}
    return await insert_many(conn, "claims", tenant, provider, list(claims), columns)


async def claims_by_id(
    conn: asyncpg.Connection, tenant: str, provider: str | None, ids: list[str]
) -> dict[str, Claim]:
    return await fetch_many(conn, _QUERY, Claim, tenant, provider, ids)


async def withdraw(conn: asyncpg.Connection, key: Key) -> None:
    await update(conn, "claims", key, {"status": "withdrawn"})


async def period_settled(conn: asyncpg.Connection, tenant: str, provider: str, period: str) -> bool:
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM settlements
                          WHERE tenant_id = $1 AND provider_id = $2 AND period = $3 AND status = 'settled')""",
        tenant,
        provider,
        period,
    )


async def claims(
    conn: asyncpg.Connection,
    tenant: str,
    provider: str | None,
    after: tuple[str, str],
    limit: int,
    status: str | None,
) -> list[Claim]:
    where = "AND ($6::text IS NULL OR x.status = $6)"
    return await fetch_page(conn, _QUERY, Claim, tenant, provider, after, limit, where, status)
