"""Replies by Idempotency-Key: a single-object POST sent again with the same key gets its first reply.

Keys are scoped to the API key that sent them. The request hash covers method, path and body, so
the same key reused for anything else is refused (422) rather than answered with an unrelated reply.
Only successful replies are stored: a refused request stored nothing, and sending it again redoes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from service.domain.errors import Invalid

MAX_KEY_LENGTH = 200


def request_hash(method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


async def once(
    conn: asyncpg.Connection,
    *,
    tenant_id: str,
    key_id: UUID,
    idem_key: str,
    fingerprint: bytes,
    produce: Callable[[], Awaitable[tuple[int, bytes]]],
) -> tuple[int, bytes]:
    """The stored (status, body) for this key, or `produce()`'s, stored in the caller's transaction.

    A transaction-scoped advisory lock on the key makes a concurrent duplicate wait for the first
    and then replay it.
    """
    if not idem_key or len(idem_key) > MAX_KEY_LENGTH:
        raise Invalid(
            f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters",
            errors=[{"field": "Idempotency-Key", "source": "header", "message": "bad length"}],
        )
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant_id}/{key_id}/{idem_key}"
    )
    stored = await conn.fetchrow(
        """SELECT request_hash, status, response FROM idempotency_keys
           WHERE tenant_id = $1 AND key_id = $2 AND idem_key = $3""",
        tenant_id,
        key_id,
        idem_key,
    )
    if stored is not None:
        if stored["request_hash"] != fingerprint:
            raise Invalid(
                "this Idempotency-Key was used for another request; use a new key for a new request",
                errors=[
                    {"field": "Idempotency-Key", "source": "header", "message": "reused for another body"}
                ],
            )
        return stored["status"], stored["response"]
    status, body = await produce()
    await conn.execute(
        """INSERT INTO idempotency_keys (tenant_id, key_id, idem_key, request_hash, status, response)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        tenant_id,
        key_id,
        idem_key,
        fingerprint,
        status,
        body,
    )
    return status, body
