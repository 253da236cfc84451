"""Replies by Idempotency-Key: a single-object POST sent again with the same key gets its first reply.

Keys are scoped to the API key that sent them. The request hash covers method, path and body, so
the same key reused for anything else is refused (422) rather than answered with an unrelated reply.
Only successful replies are stored: a refused request stored nothing, and sending it again redoes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import asyncpg

from service.domain.errors import Invalid
from service.domain.principal import Principal
from service.store import idempotency as store

MAX_KEY_LENGTH = 200


def request_hash(method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _refused(message: str, problem: str) -> Invalid:
    return Invalid(message, errors=[{"field": "Idempotency-Key", "source": "header", "message": problem}])


async def once(
    conn: asyncpg.Connection,
    who: Principal,
    idem_key: str,
    request: tuple[str, str, bytes],
    produce: Callable[[], Awaitable[tuple[int, bytes]]],
) -> tuple[int, bytes]:
    """The stored (status, body) for this key, or `produce()`'s, stored in the caller's transaction.
    `request` is (method, path, body)."""
    if not idem_key or len(idem_key) > MAX_KEY_LENGTH:
        raise _refused(f"Idempotency-Key must have 1 to {MAX_KEY_LENGTH} characters", "bad length")
    fingerprint = request_hash(*request)
    await store.lock(conn, who.tenant_id, who.key_id, idem_key)
    stored = await store.reply(conn, who.tenant_id, who.key_id, idem_key)
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise _refused(
                "this Idempotency-Key was used for another request; use a new key for a new request",
                "reused for another body",
            )
        return stored.status, stored.response
    status, body = await produce()
    reply = store.Reply(request_hash=fingerprint, status=status, response=body)
    await store.save(conn, who.tenant_id, who.key_id, idem_key, reply)
    return status, body
