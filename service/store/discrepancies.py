"""Discrepancies: their stable identity (an opaque id per tenant and key), what each run found, and
the append-only history of decisions on them.

A decision is stored against the discrepancy's key and the version of the record it was made on;
the latest decision per key is the one in force, and only while the record keeps that version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas import reconcile as s
from service.domain.discrepancies import Decision, Finding, Status
from service.domain.discrepancies import status as effective_status
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.money import InvalidMoney, parse_money
from service.domain.principal import Principal
from service.store import audit


class StoredFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A discrepancy as a run found it, with its opaque id and the decision now in force."""

    id: UUID
    run_id: UUID
    key: str
    provider_id: str
    code: str
    kind: str
    record: str
    pnr: str | None
    day: str
    status: str  # as the run applied it
    version: str
    detail: str
    provider_detail: str
    decision_seq: int | None  # the latest decision on the key, in force or not
    decision: str | None
    reason: str | None
    amount: Decimal | None
    decision_version: str | None
    decided_by: str | None
    decided_at: datetime | None

    @property
    def status_now(self) -> Status:
        """As decided now: the latest decision, in force while the record keeps its version."""
        latest = None
        if self.decision_seq is not None:
            latest = Decision(
                self.decision_seq,
                self.key,
                self.decision,
                self.amount,
                self.decision_version,  # type: ignore[arg-type]
            )
        return effective_status(self.kind, latest, self.version)


async def in_force(conn: asyncpg.Connection, tenant: str) -> tuple[dict[str, Decision], int]:
    """The latest decision per key, and the highest decision position (the run records it)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (key) seq, key, decision, amount, version
           FROM discrepancy_decisions WHERE tenant_id = $1 ORDER BY key, seq DESC""",
        tenant,
    )
    decisions = {r["key"]: Decision(**dict(r)) for r in rows}
    return decisions, max((d.seq for d in decisions.values()), default=0)


async def register(conn: asyncpg.Connection, tenant: str, findings: Iterable[Finding]) -> None:
    """Give every new key its opaque id; a key seen before keeps the one it has."""
    rows = [(f.key, f.code, f.kind, f.provider) for f in findings]
    if not rows:
        return
    await conn.execute(
        """INSERT INTO discrepancies (tenant_id, key, code, kind, provider_id)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS k (key, code, kind, p)
           ORDER BY key
           ON CONFLICT (tenant_id, key) DO NOTHING""",
        tenant,
        *map(list, zip(*rows, strict=True)),
    )


# Reads ---------------------------------------------------------------------------------------

_SELECT = """
SELECT d.id, rd.run_id, rd.key, rd.provider_id, rd.code, rd.kind, rd.record, rd.pnr, rd.day, rd.status,
       rd.version, rd.detail, rd.provider_detail, l.seq AS decision_seq, l.decision, l.reason, l.amount, l.version AS decision_version,
       l.decided_by, l.decided_at
FROM chosen c
JOIN run_discrepancies rd ON rd.tenant_id = $1 AND rd.run_id = c.run_id AND rd.provider_id = c.provider_id
JOIN discrepancies d ON d.tenant_id = rd.tenant_id AND d.key = rd.key
LEFT JOIN LATERAL (
    SELECT seq, decision, reason, amount, version, decided_by, decided_at FROM discrepancy_decisions x
    WHERE x.tenant_id = rd.tenant_id AND x.key = rd.key ORDER BY seq DESC LIMIT 1
) l ON true
"""

# The runs whose findings are shown: one given run, or per provider the period's current real run
# (the latest real run that covered it).
_CHOSEN_RUN = """WITH chosen AS (
    SELECT p.provider_id, r.id AS run_id FROM runs r
    CROSS JOIN LATERAL (
        SELECT p.id AS provider_id FROM providers p
        WHERE p.tenant_id = r.tenant_id AND (r.provider_id IS NULL OR r.provider_id = p.id)
    ) p
    WHERE r.tenant_id = $1 AND r.id = $2::uuid
)"""
_CHOSEN_CURRENT = """WITH chosen AS (
    SELECT provider_id, run_id FROM current_runs WHERE tenant_id = $1 AND period = $2
)"""


async def find(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    period: str | None = None,
    run_id: UUID | None = None,
    provider: str | None = None,
    code: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    after: UUID | None = None,
    limit: int = 1000,
) -> list[StoredFinding]:
    """Findings of one run, or of the period's current real runs, filtered; ordered by key. The
    status as decided now is worked out in Python (StoredFinding.status_now), so a filter on it reads
    on in batches until `limit` match."""
    head = _CHOSEN_RUN if run_id is not None else _CHOSEN_CURRENT
    query = f"""{head}
        SELECT * FROM ({_SELECT}) f
        WHERE ($3::text IS NULL OR provider_id = $3) AND ($4::text IS NULL OR code = $4)
          AND ($5::text IS NULL OR kind = $5)
          AND ($6::uuid IS NULL OR key COLLATE "C" >
               (SELECT key FROM discrepancies WHERE tenant_id = $1 AND id = $6) COLLATE "C")
        ORDER BY key COLLATE "C" LIMIT $7"""
    batch = limit if status is None else max(limit, 1000)
    out: list[StoredFinding] = []
    while True:
        rows = await conn.fetch(
            query, tenant, str(run_id) if run_id is not None else period, provider, code, kind, after, batch
        )
        found = [StoredFinding(**dict(r)) for r in rows]
        out += [f for f in found if status is None or f.status_now == status]
        if len(found) < batch or len(out) >= limit:
            return out[:limit]
        after = found[-1].id


async def latest(conn: asyncpg.Connection, tenant: str, discrepancy_id: UUID) -> StoredFinding:
    """A discrepancy as its latest run found it (a real run before a what-if)."""
    row = await conn.fetchrow(
        f"""WITH chosen AS (
                SELECT rd.provider_id, rd.run_id FROM discrepancies d
                JOIN run_discrepancies rd ON rd.tenant_id = d.tenant_id AND rd.key = d.key
                JOIN runs r ON r.tenant_id = rd.tenant_id AND r.id = rd.run_id
                WHERE d.tenant_id = $1 AND d.id = $2
                ORDER BY r.kind = 'real' DESC, r.seq DESC LIMIT 1)
            SELECT * FROM ({_SELECT}) f WHERE id = $2""",
        tenant,
        discrepancy_id,
    )
    if row is None:
        raise NotFound(f"no discrepancy {discrepancy_id}")
    return StoredFinding(**dict(row))


async def history(conn: asyncpg.Connection, tenant: str, key: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT seq, decision, reason, amount, version, decided_by, decided_at
           FROM discrepancy_decisions WHERE tenant_id = $1 AND key = $2 ORDER BY seq""",
        tenant,
        key,
    )
    return [dict(r) for r in rows]


async def approvals(conn: asyncpg.Connection, tenant: str, keys: list[str]) -> list[dict[str, Any]]:
    """The decisions now in force on these keys, with the discrepancies' opaque ids (a line's trail)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (x.key) x.key, d.id AS discrepancy, x.decision, x.reason, x.amount,
                  x.decided_by, x.decided_at
           FROM discrepancy_decisions x
           JOIN discrepancies d ON d.tenant_id = x.tenant_id AND d.key = x.key
           WHERE x.tenant_id = $1 AND x.key = ANY ($2::text[])
           ORDER BY x.key, x.seq DESC""",
        tenant,
        keys,
    )
    return [dict(r) for r in rows]


# Decisions ------------------------------------------------------------------------------------


def _amount(code: str, data: s.DecisionIn) -> Decimal | None:
    """EXTRAORDINARY approvals set the paid amount; no other decision carries one."""
    needs = code == "EXTRAORDINARY" and data.decision == "approve"
    if needs and data.amount is None:
        raise Invalid(
            "approving an extraordinary insats sets the amount paid",
            [{"field": "amount", "message": "required when approving EXTRAORDINARY"}],
        )
    if not needs and data.amount is not None:
        raise Invalid(
            "only an approved extraordinary insats carries an amount",
            [{"field": "amount", "message": "only for approving EXTRAORDINARY"}],
        )
    if data.amount is None:
        return None
    try:
        return parse_money(data.amount)
    except InvalidMoney as err:
        raise Invalid(str(err), [{"field": "amount", "message": str(err)}]) from None


async def decide(
    conn: asyncpg.Connection,
    who: Principal,
    discrepancy_id: UUID,
    data: s.DecisionIn,
    *,
    bulk: dict[str, Any] | None = None,
) -> StoredFinding:
    """Approve or reject a blocking discrepancy, bound to the record version its latest run saw;
    applies from the next run. Every decision is its own audit entry (one made in bulk names the
    filter it was made by: service/store/decisions.py)."""
    reason = data.reason.strip()
    if not reason:
        raise Invalid("a decision needs a reason", [{"field": "reason", "message": "must not be blank"}])
    # Decisions on one key are made one at a time, so `before` in the audit entry is exact.
    ident = await conn.fetchrow(
        "SELECT key, code, kind FROM discrepancies WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        who.tenant_id,
        discrepancy_id,
    )
    if ident is None:
        raise NotFound(f"no discrepancy {discrepancy_id}")
    if ident["kind"] != "blocking":
        raise Conflict(f"{ident['code']} is a {ident['kind']} discrepancy: it takes no decision")
    amount = _amount(ident["code"], data)
    found = await latest(conn, who.tenant_id, discrepancy_id)
    before = (
        {"decision": found.decision, "amount": found.amount, "version": found.decision_version}
        if found.decision is not None
        else None
    )
    await conn.execute(
        """INSERT INTO discrepancy_decisions (tenant_id, key, decision, reason, amount, version, decided_by,
                                              decided_by_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        who.tenant_id,
        ident["key"],
        data.decision,
        reason,
        amount,
        found.version,
        who.name,
        who.key_id,
    )
    await audit.record(
        conn,
        who,
        action="discrepancy.decide",
        entity_kind="discrepancy",
        entity_ids=[str(discrepancy_id)],
        reason=reason,
        before=before,
        after={
            "code": ident["code"],
            "provider": found.provider_id,
            "decision": data.decision,
            "amount": amount,
            "version": found.version,
            **({"bulk": bulk} if bulk is not None else {}),
        },
    )
    return await latest(conn, who.tenant_id, discrepancy_id)
