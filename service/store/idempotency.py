"""Stored replies by Idempotency-Key (the rules are in `service/usecases/idempotency.py`). SQL only."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    request_hash: bytes
    status: int
    response: bytes


async def lock(conn: asyncpg.Connection, tenant: str, key_id: UUID | None, idem_key: str) -> None:
    """Hold the key until the transaction ends: a concurrent duplicate waits for the first."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant}/{key_id}/{idem_key}"
    )


async def reply(conn: asyncpg.Connection, tenant: str, key_id: UUID | None, idem_key: str) -> Reply | None:
    row = await conn.fetchrow(
        """SELECT request_hash, status, response FROM idempotency_keys
           WHERE tenant_id = $1 AND key_id = $2 AND idem_key = $3""",
        tenant,
        key_id,
        idem_key,
    )
    return None if row is None else Reply(**row)


async def save(
    conn: asyncpg.Connection, tenant: str, key_id: UUID | None, idem_key: str, reply: Reply
) -> None:
    await conn.execute(
        """INSERT INTO idempotency_keys (tenant_id, key_id, idem_key, request_hash, status, response)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        tenant,
        key_id,
        idem_key,
        reply.request_hash,
        reply.status,
        reply.response,
    )
