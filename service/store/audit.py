"""The audit log (domain.md 7b): append-only, hash-chained per tenant.

`record` is the one way anything is audited. Entries are chained: each hash covers the entry's fields
and the previous hash, so a changed, removed or reordered entry breaks the chain at that position, and
audit_head (the last position and hash) exposes a truncated tail.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog

from service.domain.principal import Principal

GENESIS = "0" * 64


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    seq: int
    at: datetime
    actor: str
    actor_key: UUID | None
    role: str
    provider_id: str | None
    request_id: str | None
    action: str
    entity_kind: str
    entity_ids: list[str]
    payload_sha256: str | None
    reason: str | None
    before: Any
    after: Any
    prev_hash: str
    hash: str


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries to list; None matches every value. `since` is inclusive, `until` exclusive."""

    actor: str | None = None
    action: str | None = None
    entity_kind: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int
    first_broken: int | None = None
    problem: str | None = None


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _canonical(value: Any) -> Any:
    """What the value reads back as from jsonb, so that hashing before and after storing agrees."""
    return None if value is None else msgspec.json.decode(msgspec.json.encode(value))


def entry_hash(fields: dict[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    body["at"] = body["at"].astimezone(UTC).isoformat()
    body["actor_key"] = str(body["actor_key"]) if body["actor_key"] else None
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


# The chain's two variable fields; everything else of an entry is known before the head is locked.
_CHAINED = ("prev_hash", "seq")


def _pieces(fields: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """The bytes `entry_hash` hashes, cut around the head's hash and the position: `entry_hash(fields)`
    is sha256(before + prev_hash + between + str(seq) + after). The encoding is `entry_hash`'s,
    sorted keys without spaces, one member at a time."""
    body = {k: v for k, v in fields.items() if k not in _CHAINED}
    body["at"] = body["at"].astimezone(UTC).isoformat()
    body["actor_key"] = str(body["actor_key"]) if body["actor_key"] else None
    members = {k: msgspec.json.encode({k: v}, order="sorted")[1:-1] for k, v in body.items()}
    keys = sorted([*members, *_CHAINED])
    cut = [keys.index(k) for k in _CHAINED]
    part = [
        b",".join(members[k] for k in keys[a:b])
        for a, b in ((0, cut[0]), (cut[0] + 1, cut[1]), (cut[1] + 1, len(keys)))
    ]
    return (
        b"{" + part[0] + (b"," if part[0] else b"") + b'"prev_hash":"',
        b'"' + (b"," + part[1] if part[1] else b"") + b',"seq":',
        (b"," + part[2] if part[2] else b"") + b"}",
    )


_COLUMNS = [f for f in AuditEntry.__struct_fields__ if f not in (*_CHAINED, "hash")]

# One statement, so that the tenant's head row is locked for no round trip of its own: lock the head,
# chain the entry onto it (hashed as `entry_hash` does), store it and move the head. The head's FOR
# UPDATE waits for a concurrent writer and then reads the head it left.
_APPEND = f"""
    WITH head AS (SELECT seq + 1 AS seq, hash FROM audit_head WHERE tenant_id = $1 FOR UPDATE),
    entry AS (
        INSERT INTO audit_log ({", ".join(_COLUMNS)}, seq, prev_hash, hash)
        SELECT {", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))}, head.seq, head.hash,
               encode(sha256(${len(_COLUMNS) + 1}::bytea || convert_to(head.hash, 'UTF8')
                             || ${len(_COLUMNS) + 2}::bytea || convert_to(head.seq::text, 'UTF8')
                             || ${len(_COLUMNS) + 3}::bytea), 'hex')
        FROM head
        RETURNING seq, hash)
    UPDATE audit_head SET seq = entry.seq, hash = entry.hash FROM entry
    WHERE audit_head.tenant_id = $1
    RETURNING entry.seq"""


async def record(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    action: str,
    entity_kind: str,
    entity_ids: Iterable[str] = (),
    payload: bytes | None = None,
    payload_sha256: str | None = None,
    reason: str | None = None,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one entry in the caller's transaction; return its position.

    The request id comes from the logging context bound per request. Locking the tenant's head row
    orders concurrent writers, so positions are gapless and the chain is linear; the lock is held
    until the caller commits, so the entry is written last in a transaction and in one statement.
    """
    fields: dict[str, Any] = {
        "tenant_id": who.tenant_id,
        "at": datetime.now(UTC),
        "actor": who.name,
        "actor_key": who.key_id,
        "role": who.role,
        "provider_id": who.provider_id,
        "request_id": structlog.contextvars.get_contextvars().get("request_id"),
        "action": action,
        "entity_kind": entity_kind,
        "entity_ids": list(entity_ids),
        # A streamed body is hashed as it is read; callers that have it whole pass `payload`.
        "payload_sha256": payload_digest(payload) if payload is not None else payload_sha256,
        "reason": reason,
        "before": _canonical(before),
        "after": _canonical(after),
    }
    arguments = [*(fields[c] for c in _COLUMNS), *_pieces(fields)]
    seq = await conn.fetchval(_APPEND, *arguments)
    if seq is None:  # the tenant's first entry: its chain starts at the genesis hash
        await conn.execute(
            "INSERT INTO audit_head (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            who.tenant_id,
            GENESIS,
        )
        seq = await conn.fetchval(_APPEND, *arguments)
    return seq


async def head(conn: asyncpg.Connection, tenant_id: str) -> tuple[int, str]:
    row = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE tenant_id = $1", tenant_id)
    return (row["seq"], row["hash"]) if row else (0, GENESIS)


async def entries(
    conn: asyncpg.Connection,
    tenant_id: str,
    where: AuditFilter | None = None,
    *,
    after_seq: int = 0,
    limit: int = 100,
) -> list[AuditEntry]:
    where = where or AuditFilter()
    rows = await conn.fetch(
        """SELECT * FROM audit_log
           WHERE tenant_id = $1 AND seq > $2
             AND ($3::text IS NULL OR actor = $3)
             AND ($4::text IS NULL OR action = $4)
             AND ($5::text IS NULL OR entity_kind = $5)
             AND ($6::text IS NULL OR $6 = ANY (entity_ids))
             AND ($7::timestamptz IS NULL OR at >= $7)
             AND ($8::timestamptz IS NULL OR at < $8)
           ORDER BY seq LIMIT $9""",
        tenant_id,
        after_seq,
        *msgspec.structs.astuple(where),
        limit,
    )
    return [AuditEntry(**dict(r)) for r in rows]


async def verify(conn: asyncpg.Connection, tenant_id: str) -> VerifyResult:
    """Walk the tenant's chain up to its recorded head, and find nothing after that head (the service
    writes audit_head: set back, it would leave the entries after it unchecked); name the first entry
    that does not hold.

    The head, and whether anything lies after it, are read in one statement: every position up to it
    is committed, so a gap is a removed entry, not one still being written, and a concurrent writer is
    never taken for entries after the head.
    """
    async with contextlib.AsyncExitStack() as stack:
        if not conn.is_in_transaction():
            await stack.enter_async_context(conn.transaction(readonly=True))
        return await _walk(conn, tenant_id)


async def _walk(conn: asyncpg.Connection, tenant_id: str) -> VerifyResult:
    head_seq, head_hash, beyond = await conn.fetchrow(
        """SELECT coalesce(h.seq, 0), coalesce(h.hash, $2),
                  EXISTS (SELECT 1 FROM audit_log a WHERE a.tenant_id = $1 AND a.seq > coalesce(h.seq, 0))
           FROM (SELECT 1) AS one LEFT JOIN audit_head h ON h.tenant_id = $1""",
        tenant_id,
        GENESIS,
    )
    expected_seq, prev = 1, GENESIS
    async for row in conn.cursor(
        "SELECT * FROM audit_log WHERE tenant_id = $1 AND seq <= $2 ORDER BY seq",
        tenant_id,
        head_seq,
        prefetch=1000,
    ):
        fields = dict(row)
        seq = fields["seq"]
        if seq != expected_seq:
            return _broken(expected_seq, f"entry {expected_seq} is missing (next present is {seq})")
        if fields["prev_hash"] != prev:
            return _broken(seq, "link to the previous entry is broken")
        if entry_hash(fields) != fields["hash"]:
            return _broken(seq, "entry content does not match its hash")
        prev, expected_seq = fields["hash"], seq + 1
    last = expected_seq - 1
    if last != head_seq:
        return _broken(
            last + 1, f"chain ends at {last} but its head records {head_seq}: entries were removed"
        )
    if prev != head_hash:
        return _broken(last, "the last entry does not match the recorded head")
    if beyond:
        return _broken(last + 1, f"entries go on after its recorded head {head_seq}: the head was set back")
    return VerifyResult(ok=True, checked=last)


def _broken(seq: int, problem: str) -> VerifyResult:
    return VerifyResult(ok=False, checked=seq - 1, first_broken=seq, problem=problem)
