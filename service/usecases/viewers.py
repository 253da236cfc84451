"""Who sees which customer: the viewer for a caller, and the audit entry for what it was shown."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from service.domain.identity import mask
from service.domain.principal import Principal
from service.domain.visibility import Viewer
from service.store import audit, runs


async def viewer(
    conn: asyncpg.Connection, who: Principal, pnrs: Iterable[str | None], *, single: bool = False
) -> Viewer:
    """The caller's view of these customers (number, reference or nothing: domain.md 2). A provider
    is told the reference and protection only of customers it is or was chosen for: any other number
    it sees as it sent it, as if the registry did not know it, so that its documents never tell
    another provider's customer or a protected one from an unknown number."""
    known = {p for p in pnrs if p}
    return Viewer(
        role=who.role,
        provider=who.provider_id,
        customers=await runs.customers(
            conn, who.tenant_id, known, who.provider_id if who.role == "provider" else None
        ),
        single=single,
    )


async def audit_shown(conn: asyncpg.Connection, who: Principal, seen: Viewer, action: str) -> None:
    """Every read that showed a personnummer is logged with the customers it showed (domain.md 7b)."""
    await audit_read(conn, who, action, seen.shown)


def label(pnr: str, ref: str | None) -> str:
    """How the audit log names a customer: its ref, or the masked number while the registry does
    not know it (the log never holds a number in clear)."""
    return ref or mask(pnr)


async def audit_read(conn: asyncpg.Connection, who: Principal, action: str, customers: Iterable[str]) -> None:
    """A read of personal data (a customer's record or registry data, domain.md 3 and 7b): one entry
    per request naming the customers shown (`label`s); nothing when it showed none."""
    if ids := sorted(set(customers)):
        await audit.record(conn, who, action=action, entity_kind="customer", entity_ids=ids)
