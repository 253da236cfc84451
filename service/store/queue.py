"""What the discrepancy queue needs beyond the discrepancies themselves: the amount each one holds."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg


async def held_amounts(conn: asyncpg.Connection, tenant: str, period: str) -> dict[tuple[UUID, str], Decimal]:
    """Per (run, discrepancy key): the amount of the lines it holds in the period's current real runs,
    as they would be paid if it were approved."""
    rows = await conn.fetch(
        """SELECT l.run_id, l.held_by, sum(l.amount) AS amount
           FROM current_runs c
           JOIN run_lines l ON l.tenant_id = c.tenant_id AND l.run_id = c.run_id AND l.provider_id = c.provider_id
           WHERE c.tenant_id = $1 AND c.period = $2 AND l.kind = 'held'
           GROUP BY l.run_id, l.held_by""",
        tenant,
        period,
    )
    return {(r["run_id"], r["held_by"]): r["amount"] for r in rows}


async def requested_amounts(
    conn: asyncpg.Connection, tenant: str, claims: list[tuple[str, str]]
) -> dict[tuple[str, str], Decimal]:
    """The amount each of these (provider, claim id) requests, where it names one."""
    if not claims:
        return {}
    rows = await conn.fetch(
        """SELECT c.provider_id, c.external_id, c.requested_amount
           FROM claims c JOIN unnest($2::text[], $3::text[]) AS w (provider_id, external_id)
             USING (provider_id, external_id)
           WHERE c.tenant_id = $1 AND c.requested_amount IS NOT NULL""",
        tenant,
        [p for p, _ in claims],
        [c for _, c in claims],
    )
    return {(r["provider_id"], r["external_id"]): r["requested_amount"] for r in rows}
