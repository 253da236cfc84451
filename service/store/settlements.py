"""Settlements (domain.md 7): prepare, attest by a second invoice_admin, freeze; the change feed.

A settlement freezes the lines of the provider's current real run for the period, with totals per
component, area and booking account, the tariff versions, the audit chain's head and a SHA-256 over
the canonical JSON of the whole. The database refuses any change to a settled row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from service.domain.lines import (
    PAID_KINDS,
    ZERO,
    InvoiceLine,
    exact_text,
    totals,
    totals_by_area,
)
from service.domain.principal import Principal
from service.domain.settlement import digest, document
from service.domain.tariff import Component
from service.store import audit, changes, runs, tariffs


class SettlementRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    provider_id: str
    period: str
    run_id: UUID
    status: str
    prepared_by: str
    prepared_by_key: UUID | None
    prepared_at: datetime
    attested_by: str | None
    attested_by_key: UUID | None
    attested_at: datetime | None
    total: Decimal
    totals: dict[str, Decimal]
    totals_by_area: dict[str, Decimal]
    accounts: dict[str, Decimal]
    tariffs: list[str]
    audit_seq: int | None
    audit_hash: str | None
    sha256: str | None
    document: dict[str, Any] | None


_COLUMNS = ", ".join(SettlementRow.__struct_fields__)
# A settled line: the run's line it froze, with its booking account.
_SETTLED_LINE = f"""
SELECT {runs.LINE_SELECT}, sl.account
FROM settlement_lines sl
JOIN run_lines rl ON rl.tenant_id = sl.tenant_id AND rl.id = sl.run_line_id
"""


async def not_current(conn: asyncpg.Connection, tenant: str, run: runs.RunRow, provider: str) -> list[str]:
    """Why the run's lines are no longer those of the current inputs and decisions (empty: they are)."""
    (changed,) = await changes.since(conn, tenant, [(provider, run.period, run.id)])
    reasons = []
    if changed.inputs:
        reasons.append(f"inputs changed since run {run.id}: {', '.join(changed.inputs)}")
    if changed.rulings:
        reasons.append(f"discrepancies were decided after run {run.id}")
    return reasons


async def is_settled(conn: asyncpg.Connection, tenant: str, provider: str, period: str) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM settlements
               WHERE tenant_id = $1 AND provider_id = $2 AND period = $3 AND status = 'settled'""",
            tenant,
            provider,
            period,
        )
    )


async def undecided(conn: asyncpg.Connection, tenant: str, run_id: UUID, provider: str) -> list[str]:
    """The keys of the provider's blocking discrepancies the run left open."""
    rows = await conn.fetch(
        """SELECT key FROM run_discrepancies
           WHERE tenant_id = $1 AND run_id = $2 AND provider_id = $3 AND kind = 'blocking' AND status = 'open'
           ORDER BY key""",
        tenant,
        run_id,
        provider,
    )
    return [r["key"] for r in rows]


async def prepare(conn: asyncpg.Connection, who: Principal, run: runs.RunRow, provider: str) -> SettlementRow:
    """Store the provider's part of the run as the period's prepared settlement, superseding an earlier
    preparation (the use case checks that it may: service/usecases/settlements.py)."""
    tenant, period = who.tenant_id, run.period
    lines = [x for x in await runs.lines(conn, tenant, run.id, provider) if x.kind in PAID_KINDS]
    components = await tariffs.components(conn, tenant, run.tariffs)
    sums = totals(lines, list(components.values()))
    accounts: dict[str, Decimal] = {}
    for line in lines:
        account = components[(line.tariff_id, line.component)].account
        accounts[account] = accounts.get(account, ZERO) + line.amount
    await conn.execute(
        """UPDATE settlements SET status = 'superseded'
           WHERE tenant_id = $1 AND provider_id = $2 AND period = $3 AND status = 'prepared'""",
        tenant,
        provider,
        period,
    )
    row = await conn.fetchrow(
        f"""INSERT INTO settlements (tenant_id, id, provider_id, period, run_id, status, prepared_by,
                                     prepared_by_key, total, totals, totals_by_area, accounts, tariffs)
            VALUES ($1, $2, $3, $4, $5, 'prepared', $6, $7, $8, $9, $10, $11, $12)
            RETURNING {_COLUMNS}""",
        tenant,
        uuid.uuid4(),
        provider,
        period,
        run.id,
        who.name,
        who.key_id,
        sum(sums.values(), ZERO),
        sums,
        totals_by_area(lines),
        dict(sorted(accounts.items())),
        run.tariffs,
    )
    return _settlement(row)


async def attest(
    conn: asyncpg.Connection, who: Principal, prepared: SettlementRow, run: runs.RunRow
) -> SettlementRow:
    """Freeze a prepared settlement of the run: its lines, the audit chain's head, the document and its
    SHA-256, and its follow-up figures; publish it to the feed (the use case checks that it may:
    service/usecases/settlements.py)."""
    tenant, settlement_id = who.tenant_id, prepared.id
    head_seq, head_hash = await audit.head(conn, tenant)
    attested_at = datetime.now(UTC)
    all_lines = await runs.lines(conn, tenant, run.id, prepared.provider_id)
    components = await tariffs.components(conn, tenant, run.tariffs)
    paid = [x for x in all_lines if x.kind in PAID_KINDS]
    attested = msgspec.structs.replace(
        prepared, attested_by=who.name, attested_at=attested_at, audit_seq=head_seq, audit_hash=head_hash
    )
    doc = document(tenant, attested, all_lines, components)
    sha = digest(doc)
    await _freeze(conn, tenant, settlement_id, paid, components)
    await _freeze_followup(conn, tenant, settlement_id)
    row = await conn.fetchrow(
        f"""UPDATE settlements SET status = 'settled', attested_by = $3, attested_by_key = $4, attested_at = $5,
                   audit_seq = $6, audit_hash = $7, sha256 = $8, document = $9
            WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        tenant,
        settlement_id,
        who.name,
        who.key_id,
        attested_at,
        head_seq,
        head_hash,
        sha,
        doc,
    )
    settled = _settlement(row)
    await publish(conn, tenant, settled.id)
    return settled


async def _freeze(
    conn: asyncpg.Connection,
    tenant: str,
    settlement_id: UUID,
    paid: list[InvoiceLine],
    components: dict[tuple[str, str], Component],
) -> None:
    """The settled lines: frozen copies of the run's paid lines, with their booking accounts."""
    await conn.executemany(
        """INSERT INTO settlement_lines (tenant_id, settlement_id, ord, run_line_id, kind, component, account,
                                         area, tariff_id, pnr, zone, unit, quantity, unit_price, amount,
                                         original_period)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
        [
            (
                tenant,
                settlement_id,
                n,
                x.id,
                x.kind,
                x.component,
                components[(x.tariff_id, x.component)].account,
                x.area,
                x.tariff_id,
                x.pnr,
                x.zone,
                x.unit,
                exact_text(x.quantity) if x.quantity is not None else None,
                x.unit_price,
                x.amount,
                x.original_period,
            )
            for n, x in enumerate(paid, 1)
        ],
    )


async def _freeze_followup(conn: asyncpg.Connection, tenant: str, settlement_id: UUID) -> None:
    """The settled month's follow-up figures, as the settled run kept them (followup.md 1): reports
    read these for a settled month, whatever is run later (sql/migrations/0011)."""
    await conn.execute(
        """INSERT INTO settlement_followup (tenant_id, settlement_id, provider_id, period, run_id,
                                            granted_minutes, performed_minutes, customers_below_target,
                                            licensed_visits, declined_visits, declined_customers,
                                            customers_by_area, payout_by_area)
           SELECT s.tenant_id, s.id, s.provider_id, s.period, s.run_id, f.granted_minutes,
                  f.performed_minutes, f.customers_below_target, f.licensed_visits, f.declined_visits,
                  f.declined_customers, f.customers_by_area, f.payout_by_area
           FROM settlements s
           JOIN run_followup f ON f.tenant_id = s.tenant_id AND f.run_id = s.run_id
                              AND f.provider_id = s.provider_id
           WHERE s.tenant_id = $1 AND s.id = $2""",
        tenant,
        settlement_id,
    )


async def publish(conn: asyncpg.Connection, tenant: str, settlement_id: UUID) -> list[int]:
    """Feed entries for a settled settlement: itself, and one per corrected period whose adjustments
    it carries; return their positions.

    The database's feed_publish (migration 0008) is the only way into the feed: it makes the entries
    from what the settlement froze and takes their positions under the tenant's feed_head row lock,
    held until commit, so the next writer gets its positions only after these are visible and a poller
    never sees a gap that is filled later.
    """
    return await conn.fetchval("SELECT feed_publish($1, $2)", tenant, settlement_id)


async def lock_period(conn: asyncpg.Connection, tenant: str, provider: str, period: str) -> None:
    """Serialise preparations of one provider-period (two at once would both supersede the other)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"settle:{tenant}:{provider}:{period}"
    )


def _settlement(row: asyncpg.Record) -> SettlementRow:
    return SettlementRow(**dict(row))


async def get(
    conn: asyncpg.Connection, tenant: str, settlement_id: UUID, *, lock: bool = False
) -> SettlementRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM settlements WHERE tenant_id = $1 AND id = $2{' FOR UPDATE' if lock else ''}",
        tenant,
        settlement_id,
    )
    return _settlement(row) if row else None


async def list_settlements(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    period: str | None,
    provider: str | None,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[SettlementRow]:
    """Newest period first, then provider; keyset-paged on (period, provider, id)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM settlements
            WHERE tenant_id = $1 AND ($2::text IS NULL OR period = $2) AND ($3::text IS NULL OR provider_id = $3)
              AND ($4::text IS NULL OR status = $4)
              AND ($5::text IS NULL OR (period, provider_id, id::text) > (split_part($5, '|', 1),
                   split_part($5, '|', 2), split_part($5, '|', 3)))
            ORDER BY period, provider_id, id LIMIT $6""",
        tenant,
        period,
        provider,
        status,
        after,
        limit,
    )
    return [_settlement(r) for r in rows]


def cursor(row: SettlementRow) -> str:
    return f"{row.period}|{row.provider_id}|{row.id}"


async def lines(conn: asyncpg.Connection, tenant: str, settlement_id: UUID) -> list[InvoiceLine]:
    rows = await conn.fetch(
        f"{_SETTLED_LINE} WHERE sl.tenant_id = $1 AND sl.settlement_id = $2 ORDER BY sl.ord",
        tenant,
        settlement_id,
    )
    return await runs.read_lines(conn, tenant, rows)


async def paid(conn: asyncpg.Connection, tenant: str, provider: str, period: str) -> list[InvoiceLine]:
    """What was paid for a provider-period: its settled lines and reductions, and the settled
    adjustments of it in later periods."""
    rows = await conn.fetch(
        f"""{_SETTLED_LINE}
            JOIN settlements s ON s.tenant_id = sl.tenant_id AND s.id = sl.settlement_id
            WHERE s.tenant_id = $1 AND s.provider_id = $2 AND s.status = 'settled'
              AND ((s.period = $3 AND sl.original_period IS NULL) OR sl.original_period = $3)
            ORDER BY s.period, sl.ord""",
        tenant,
        provider,
        period,
    )
    return await runs.read_lines(conn, tenant, rows)


async def settled_runs(
    conn: asyncpg.Connection, tenant: str, providers: list[str], through: str
) -> dict[tuple[str, str], UUID]:
    """(provider, period) -> settled run, for the providers' settled periods up to `through`."""
    rows = await conn.fetch(
        """SELECT provider_id, period, run_id FROM settlements
           WHERE tenant_id = $1 AND status = 'settled' AND provider_id = ANY ($2::text[]) AND period <= $3""",
        tenant,
        providers,
        through,
    )
    return {(r["provider_id"], r["period"]): r["run_id"] for r in rows}


async def baselines(
    conn: asyncpg.Connection, tenant: str, settled: list[tuple[str, str]]
) -> list[tuple[str, str, UUID]]:
    """What each settled provider-period's payments add up to, as a run: its settled run, or the
    latest recomputation of it booked by a run that is settled since (service/reconcile/adjustments)."""
    rows = await conn.fetch(
        """SELECT c.provider_id, c.period, base.id
           FROM unnest($2::text[], $3::text[]) AS c (provider_id, period)
           CROSS JOIN LATERAL (
               SELECT r.id FROM runs r
               WHERE r.tenant_id = $1 AND r.id IN (
                   SELECT s.run_id FROM settlements s
                   WHERE s.tenant_id = $1 AND s.provider_id = c.provider_id AND s.period = c.period
                     AND s.status = 'settled'
                   UNION ALL
                   SELECT rr.recompute_run_id FROM run_recomputes rr
                   JOIN settlements s ON s.tenant_id = rr.tenant_id AND s.run_id = rr.run_id
                                     AND s.provider_id = rr.provider_id AND s.status = 'settled'
                   WHERE rr.tenant_id = $1 AND rr.provider_id = c.provider_id AND rr.original_period = c.period)
               ORDER BY r.seq DESC LIMIT 1
           ) base""",
        tenant,
        [p for p, _ in settled],
        [period for _, period in settled],
    )
    return [(r["provider_id"], r["period"], r["id"]) for r in rows]


async def feed(conn: asyncpg.Connection, tenant: str, after: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT position, kind, settlement_id, provider_id, period, original_period, amount, at FROM feed
           WHERE tenant_id = $1 AND position > $2 ORDER BY position LIMIT $3""",
        tenant,
        after,
        limit,
    )


def verify(settled: SettlementRow) -> bool:
    """The stored document still hashes to the stored SHA-256."""
    return settled.document is not None and digest(settled.document) == settled.sha256


async def verify_hashes(conn: asyncpg.Connection, tenant: str) -> str | None:
    """Every settled settlement still hashes to its stored SHA-256: its stored document, and the
    document made again, as attestation made it, from its lines as they are served (the JSON view and
    the CSV); and every frozen copy in settlement_lines still matches the run's line it froze.
    Returns what does not hold for the first that fails, in order of attestation."""
    settled_ids = await conn.fetch(
        "SELECT id FROM settlements WHERE tenant_id = $1 AND status = 'settled' ORDER BY attested_at, id",
        tenant,
    )
    for settled_id in (r["id"] for r in settled_ids):
        settled = await get(conn, tenant, settled_id)
        name = f"settlement {settled.id} ({settled.provider_id} {settled.period})"
        if not verify(settled):
            return f"{name}: its stored document no longer hashes to its SHA-256"
        served = await lines(conn, tenant, settled.id)
        held = [
            x for x in await runs.lines(conn, tenant, settled.run_id, settled.provider_id) if x.kind == "held"
        ]
        components = await tariffs.components(conn, tenant, settled.tariffs)
        if digest(document(tenant, settled, [*served, *held], components)) != settled.sha256:
            return f"{name}: its lines no longer hash to its SHA-256"
        if differs := await conn.fetchval(_COPY_DIFFERS, tenant, settled.id):
            return f"{name}: its line {differs} no longer matches the run's line it froze"
    return None


# The first settled line whose frozen copy no longer matches the run's line it froze.
_COPY_DIFFERS = """
SELECT min(sl.ord)
FROM settlement_lines sl
JOIN run_lines rl ON rl.tenant_id = sl.tenant_id AND rl.id = sl.run_line_id
LEFT JOIN run_line_adjustments a ON a.tenant_id = rl.tenant_id AND a.line_id = rl.id
WHERE sl.tenant_id = $1 AND sl.settlement_id = $2
  AND (sl.kind, sl.component, sl.area, sl.tariff_id, sl.pnr, sl.zone, sl.unit, sl.quantity, sl.unit_price,
       sl.amount, sl.original_period)
      IS DISTINCT FROM (rl.kind, rl.component, rl.area, rl.tariff_id, rl.pnr, rl.zone, rl.unit, rl.quantity,
                        rl.unit_price, rl.amount, a.original_period)
"""


async def verify_anchors(conn: asyncpg.Connection, tenant: str, checked: int) -> tuple[int, str] | None:
    """Each settlement recorded the audit chain's head when it was attested; that entry must still be
    in the chain, unchanged. A removed tail whose head record was rolled back with it passes the
    chain walk (it ends where audit_head says) but not this. Returns (first broken position, why)."""
    row = await conn.fetchrow(
        """SELECT s.id, s.audit_seq, a.hash FROM settlements s
           LEFT JOIN audit_log a ON a.tenant_id = s.tenant_id AND a.seq = s.audit_seq
           WHERE s.tenant_id = $1 AND s.status = 'settled' AND s.audit_seq > 0
             AND a.hash IS DISTINCT FROM s.audit_hash
           ORDER BY s.audit_seq LIMIT 1""",
        tenant,
    )
    if row is None:
        return None
    if row["hash"] is None:
        return (
            checked + 1,
            f"the chain ends at {checked} but settlement {row['id']} recorded its head at "
            f"{row['audit_seq']}: entries were removed",
        )
    return row["audit_seq"], f"entry {row['audit_seq']} is not the head settlement {row['id']} recorded"
