"""Aggregates for /metrics: runs and their duration, discrepancies by code and status, feed position."""

from __future__ import annotations

import asyncpg


async def runs(conn: asyncpg.Connection, tenant: str) -> list[tuple[str, int, float]]:
    """(kind, runs, seconds they took in all)."""
    rows = await conn.fetch(
        "SELECT kind, count(*), coalesce(sum(duration_ms), 0) / 1000.0 FROM runs WHERE tenant_id = $1 GROUP BY kind",
        tenant,
    )
    return [(r[0], r[1], float(r[2])) for r in rows]


async def discrepancies(conn: asyncpg.Connection, tenant: str) -> list[tuple[str, str, int]]:
    """(code, status, count) over the findings of each period's current run per provider, with the
    status that run applied."""
    rows = await conn.fetch(
        """SELECT rd.code, rd.status, count(*) FROM current_runs c
           JOIN run_discrepancies rd
             ON rd.tenant_id = c.tenant_id AND rd.run_id = c.run_id AND rd.provider_id = c.provider_id
           WHERE c.tenant_id = $1
           GROUP BY rd.code, rd.status""",
        tenant,
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def feed_position(conn: asyncpg.Connection, tenant: str) -> int:
    return await conn.fetchval("SELECT position FROM feed_head WHERE tenant_id = $1", tenant) or 0
