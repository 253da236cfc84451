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


def _hashed(fields: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if k != "hash"}
    body["at"] = body["at"].astimezone(UTC).isoformat()
    body["actor_key"] = str(body["actor_key"]) if body["actor_key"] else None
    return body


def entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(_hashed(fields), order="sorted")).hexdigest()


def _pieces(fields: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """What `entry_hash` hashes, cut around the two fields the chain's head decides:
    sha256(before + prev_hash + between + str(seq) + after) is the entry's hash. The same encoding
    (sorted keys, no spaces), member by member."""
    members = sorted(
        (k, msgspec.json.encode({k: v}, order="sorted")[1:-1]) for k, v in _hashed(fields).items()
    )
    before = b"".join(m + b"," for k, m in members if k < "prev_hash")
    between = b"".join(b"," + m for k, m in members if "prev_hash" < k < "seq")
    after = b"".join(b"," + m for k, m in members if k > "seq")
    return b"{" + before + b'"prev_hash":"', b'"' + between + b',"seq":', after + b"}"


_COLUMNS = [f for f in AuditEntry.__struct_fields__ if f not in ("seq", "prev_hash", "hash")]

# Chained onto the tenant's head as the transaction commits (migration 0016): the head row, which
# orders every writer of the tenant, is then locked for no round trip between the service and the
# database.
_PENDING = f"""INSERT INTO audit_pending ({", ".join(_COLUMNS)}, hashed_before, hashed_between, hashed_after)
               VALUES ({", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 4))})"""


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
) -> None:
    """Append one entry in the caller's transaction.

    The request id comes from the logging context bound per request. The entry takes its position
    and hash when the transaction commits: the tenant's head row, locked then, orders concurrent
    writers, so positions are gapless and the chain is linear.
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
    await conn.execute(_PENDING, *(fields[c] for c in _COLUMNS), *_pieces(fields))


async def head(conn: asyncpg.Connection, tenant_id: str) -> tuple[int, str]:
    """The chain's head, after the entries this transaction has written (chained now, not at commit)."""
    if conn.is_in_transaction():
        await conn.execute("SET CONSTRAINTS audit_pending_chained IMMEDIATE")
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
