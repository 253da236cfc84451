"""Discrepancies: their stable identity (an opaque id per tenant and key) and what each run found,
with the ruling now in force (the rulings themselves: service/store/rulings.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from service.domain.discrepancies import Finding, Ruling, Status
from service.domain.discrepancies import status as effective_status


class StoredFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A discrepancy as a run found it, with its opaque id and the latest ruling on it (the columns
    keep the table's word, decision)."""

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
    # The explanation: the parameters of its sentences (service/domain/discrepancies.py), or for a
    # discrepancy stored before migration 0013 the text the engine wrote then; each also as the
    # provider sees it.
    parameters: list[dict[str, Any]] | None
    provider_parameters: list[dict[str, Any]] | None
    detail: str | None
    provider_detail: str | None
    decision_seq: int | None  # the latest ruling on the key, in force or not
    decision: str | None
    reason: str | None
    amount: Decimal | None
    decision_version: str | None
    decided_by: str | None
    decided_at: datetime | None

    @property
    def status_now(self) -> Status:
        """As decided now: the latest ruling, in force while the record keeps its version."""
        latest = None
        if self.decision_seq is not None:
            latest = Ruling(
                self.decision_seq,
                self.key,
                self.decision,
                self.amount,
                self.decision_version,  # type: ignore[arg-type]
            )
        return effective_status(self.kind, latest, self.version)


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
       rd.version, rd.parameters, rd.provider_parameters, rd.detail, rd.provider_detail, l.seq AS decision_seq, l.decision, l.reason, l.amount, l.version AS decision_version,
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


async def latest(conn: asyncpg.Connection, tenant: str, discrepancy_id: UUID) -> StoredFinding | None:
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
    return StoredFinding(**dict(row)) if row else None


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    code: str
    kind: str


async def identity(conn: asyncpg.Connection, tenant: str, discrepancy_id: UUID) -> Identity | None:
    """The discrepancy's key, code and kind, locked until commit: rulings on one key are made one at a
    time."""
    row = await conn.fetchrow(
        "SELECT key, code, kind FROM discrepancies WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant,
        discrepancy_id,
    )
    return Identity(**dict(row)) if row else None
