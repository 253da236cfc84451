"""The claims table (domain.md section 3): SIP, läkemedelsgenomgång, teamkonferens, extraordinär
insats. SQL only: the rules of use are in `service/usecases/claims.py`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg
import msgspec


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


_SELECT = f"""SELECT k.provider_id, k.external_id, k.status, k.received_at,
                     {", ".join(f"k.{c}" for c in Content.__struct_fields__)},
                     c.ref, coalesce(c.protected, false) AS protected
              FROM claims k LEFT JOIN customers c ON c.tenant_id = k.tenant_id AND c.pnr = k.pnr"""


async def claim(
    conn: asyncpg.Connection, tenant: str, provider: str, external_id: str, *, lock: bool = False
) -> Claim | None:
    row = await conn.fetchrow(
        f"""{_SELECT} WHERE k.tenant_id = $1 AND k.provider_id = $2 AND k.external_id = $3
            {"FOR UPDATE OF k" if lock else ""}""",
        tenant,
        provider,
        external_id,
    )
    return None if row is None else Claim(**row)


async def insert(
    conn: asyncpg.Connection, tenant: str, provider: str, external_id: str, content: Content
) -> bool:
    """Store a new claim; False (and nothing stored) when the external id exists."""
    columns = Content.__struct_fields__
    status = await conn.execute(
        f"""INSERT INTO claims (tenant_id, provider_id, external_id, {", ".join(columns)})
            VALUES ($1, $2, $3, {", ".join(f"${i}" for i in range(4, len(columns) + 4))})
            ON CONFLICT DO NOTHING""",
        tenant,
        provider,
        external_id,
        *msgspec.structs.astuple(content),
    )
    return status == "INSERT 0 1"


async def withdraw(conn: asyncpg.Connection, tenant: str, provider: str, external_id: str) -> None:
    await conn.execute(
        """UPDATE claims SET status = 'withdrawn', changed_seq = nextval('input_change_seq')
           WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
        tenant,
        provider,
        external_id,
    )


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
    status: str | None,
    after: tuple[str, str],
    limit: int,
) -> list[Claim]:
    """By (provider, external id) after `after`; one provider's, or with None every provider's."""
    rows = await conn.fetch(
        f"""{_SELECT} WHERE k.tenant_id = $1 AND ($2::text IS NULL OR k.provider_id = $2)
              AND ($3::text IS NULL OR k.status = $3)
              AND (k.provider_id, k.external_id) > ($4, $5)
            ORDER BY k.provider_id, k.external_id LIMIT $6""",
        tenant,
        provider,
        status,
        *after,
        limit,
    )
    return [Claim(**r) for r in rows]
