"""The audit log, for internal control: read it, and verify the chain (domain.md 7b)."""

from __future__ import annotations

import asyncpg

from schemas.common import AuditEntry, AuditPage, AuditVerification
from service.domain.principal import Principal
from service.store import audit, settlements
from service.store.audit import AuditFilter

__all__ = ["AuditFilter", "entries", "verify"]


async def entries(
    conn: asyncpg.Connection, who: Principal, where: AuditFilter, *, after: int = 0, limit: int = 100
) -> AuditPage:
    """Entries in chain order after position `after`, filtered; `next_after` continues the page."""
    rows = await audit.entries(conn, who.tenant_id, where, after_seq=after, limit=limit + 1)
    items = [AuditEntry(**{f: getattr(r, f) for f in AuditEntry.__struct_fields__}) for r in rows[:limit]]
    return AuditPage(items=items, next_after=items[-1].seq if len(rows) > limit else None)


async def verify(conn: asyncpg.Connection, who: Principal) -> AuditVerification:
    """Walk the tenant's chain and name the first entry that does not hold; then check what each
    settlement froze (domain.md 7b): the chain's head it recorded when it was attested must still be in
    the chain, so that a chain cut back to before it is found even if the chain's own head record was
    rolled back with it; and it must still hash to its stored SHA-256 (a problem there has no position
    in the chain: `first_broken` is None, and `problem` names the settlement)."""
    result = await audit.verify(conn, who.tenant_id)
    if result.ok and (broken := await settlements.verify_anchors(conn, who.tenant_id, result.checked)):
        first, problem = broken
        return AuditVerification(ok=False, checked=first - 1, first_broken=first, problem=problem)
    if result.ok and (problem := await settlements.verify_hashes(conn, who.tenant_id)):
        return AuditVerification(ok=False, checked=result.checked, first_broken=None, problem=problem)
    return AuditVerification(
        ok=result.ok, checked=result.checked, first_broken=result.first_broken, problem=result.problem
    )
