"""Tenants (huvudmän): whether one exists or has a provider, and what a tenant starts with."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from service.domain.catalogue import Insats


async def exists(conn: asyncpg.Connection, tenant_id: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)", tenant_id)


async def create(conn: asyncpg.Connection, tenant_id: str, name: str) -> None:
    """Add the tenant unless it exists."""
    await conn.execute(
        "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", tenant_id, name
    )


async def has_provider(conn: asyncpg.Connection, tenant_id: str, provider_id: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM providers WHERE tenant_id = $1 AND id = $2)", tenant_id, provider_id
    )


async def add_insatser(conn: asyncpg.Connection, tenant_id: str, insatser: Iterable[Insats]) -> None:
    """The insatser whose codes the tenant has none of yet."""
    await conn.executemany(
        """INSERT INTO insatser (tenant_id, code, title, category, report_type)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        [(tenant_id, i.code, i.title, i.category, i.report_type) for i in insatser],
    )
