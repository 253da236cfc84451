"""Rulings on discrepancies (approve or reject, with a reason): an append-only history per
discrepancy key. The API and the table call a ruling a "decision" (`discrepancy_decisions`,
`/v1/discrepancies/{id}/decisions`); in the code a decision is a biståndsbeslut (docs/glossary.md).

A ruling is stored against the key and the version of the record it was made on; the latest per key
is the one in force, and only while the record keeps that version.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec

from service.domain.discrepancies import Ruling
from service.domain.principal import Principal


class RulingRow(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    decision: str
    reason: str
    amount: Decimal | None
    version: str
    decided_by: str
    decided_at: datetime


class ApprovalRow(msgspec.Struct, frozen=True, kw_only=True):
    """The ruling in force on a key, with the discrepancy's opaque id (a line's trail)."""

    key: str
    discrepancy: UUID
    decision: str
    reason: str
    amount: Decimal | None
    decided_by: str
    decided_at: datetime


async def in_force(conn: asyncpg.Connection, tenant: str) -> tuple[dict[str, Ruling], int]:
    """The latest ruling per key, and the highest ruling position (the run records it)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (key) seq, key, decision, amount, version
           FROM discrepancy_decisions WHERE tenant_id = $1 ORDER BY key, seq DESC""",
        tenant,
    )
    latest = {r["key"]: Ruling(**dict(r)) for r in rows}
    return latest, max((x.seq for x in latest.values()), default=0)


async def history(conn: asyncpg.Connection, tenant: str, key: str) -> list[RulingRow]:
    rows = await conn.fetch(
        """SELECT seq, decision, reason, amount, version, decided_by, decided_at
           FROM discrepancy_decisions WHERE tenant_id = $1 AND key = $2 ORDER BY seq""",
        tenant,
        key,
    )
    return [RulingRow(**dict(r)) for r in rows]


async def approvals(conn: asyncpg.Connection, tenant: str, keys: list[str]) -> list[ApprovalRow]:
    """The rulings now in force on these keys."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (x.key) x.key, d.id AS discrepancy, x.decision, x.reason, x.amount,
                  x.decided_by, x.decided_at
           FROM discrepancy_decisions x
           JOIN discrepancies d ON d.tenant_id = x.tenant_id AND d.key = x.key
           WHERE x.tenant_id = $1 AND x.key = ANY ($2::text[])
           ORDER BY x.key, x.seq DESC""",
        tenant,
        keys,
    )
    return [ApprovalRow(**dict(r)) for r in rows]


async def add(
    conn: asyncpg.Connection,
    who: Principal,
    key: str,
    *,
    decision: str,
    reason: str,
    amount: Decimal | None,
    version: str,
) -> None:
    await conn.execute(
        """INSERT INTO discrepancy_decisions (tenant_id, key, decision, reason, amount, version, decided_by,
                                              decided_by_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        who.tenant_id,
        key,
        decision,
        reason,
        amount,
        version,
        who.name,
        who.key_id,
    )
