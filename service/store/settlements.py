"""Settlements (domain.md 7): prepare, attest by a second invoice_admin, freeze; the change feed.

A settlement freezes the lines of the provider's current real run for the period, with totals per
component, area and booking account, the tariff versions, the audit chain's head and a SHA-256 over
the canonical JSON of the whole. The database refuses any change to a settled row.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from service.domain.lines import parse_exact, show_quantity
from service.domain.principal import Principal
from service.domain.tariff import Component
from service.reconcile import document, inputs
from service.store import audit, runs, tariffs

ZERO = Decimal("0.00")
PAID_KINDS = ("line", "reduction", "adjustment")


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


class LineRow(msgspec.Struct, frozen=True, kw_only=True):
    ord: int
    run_line_id: UUID
    kind: str
    component: str
    account: str
    area: str
    tariff_id: str
    pnr: str | None
    zone: str | None
    unit: str | None
    quantity: str | None
    unit_price: Decimal | None
    amount: Decimal
    original_period: str | None


_COLUMNS = ", ".join(SettlementRow.__struct_fields__)
_LINE_COLUMNS = ", ".join(LineRow.__struct_fields__)


def canonical(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, amounts (Decimal) as strings."""
    return msgspec.json.encode(value, order="sorted")


def digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


async def not_current(conn: asyncpg.Connection, tenant: str, run: runs.RunRow, provider: str) -> list[str]:
    """Why the run's lines are no longer those of the current inputs and decisions (empty: they are)."""
    reasons = []
    marks = {r["input"]: r["seq"] for r in await conn.fetch(inputs.queries()["high_water"], tenant)}
    changed = sorted(name for name, seq in marks.items() if seq > run.input_marks.get(name, 0))
    if changed:
        reasons.append(f"inputs changed since run {run.id}: {', '.join(changed)}")
    decided = await conn.fetchval(
        """SELECT max(d.seq) FROM discrepancy_decisions d
           JOIN discrepancies k ON k.tenant_id = d.tenant_id AND k.key = d.key
           WHERE d.tenant_id = $1 AND k.provider_id = $2""",
        tenant,
        provider,
    )
    if decided is not None and decided > run.decision_seq:
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
    totals = document.totals(lines, list(components.values()))
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
        sum(totals.values(), ZERO),
        totals,
        document.totals_by_area(lines),
        dict(sorted(accounts.items())),
        run.tariffs,
    )
    return _settlement(row)


async def attest(
    conn: asyncpg.Connection, who: Principal, prepared: SettlementRow, run: runs.RunRow
) -> SettlementRow:
    """Freeze a prepared settlement of the run: its lines, the audit chain's head, the document and its
    SHA-256; publish it to the feed (the use case checks that it may: service/usecases/settlements.py)."""
    tenant, settlement_id = who.tenant_id, prepared.id
    head_seq, head_hash = await audit.head(conn, tenant)
    attested_at = datetime.now(UTC)
    all_lines = await runs.lines(conn, tenant, run.id, prepared.provider_id)
    components = await tariffs.components(conn, tenant, run.tariffs)
    paid = [x for x in all_lines if x.kind in PAID_KINDS]
    doc = {
        "tenant": tenant,
        "provider": prepared.provider_id,
        "period": prepared.period,
        "run": str(run.id),
        "tariffs": run.tariffs,
        "lines": [_document_line(x, components) for x in paid],
        "held": [
            {
                "component": x.component,
                "customer": x.pnr,
                "zone": x.zone,
                "held_by": x.held_by,
                "amount_if_approved": x.amount,
            }
            for x in all_lines
            if x.kind == "held"
        ],
        "totals": prepared.totals,
        "totals_by_area": prepared.totals_by_area,
        "accounts": prepared.accounts,
        "total": prepared.total,
        "prepared_by": prepared.prepared_by,
        "attested_by": who.name,
        "attested_at": attested_at.isoformat(),
        "audit_head": {"seq": head_seq, "hash": head_hash},
    }
    doc = msgspec.json.decode(canonical(doc))  # as it reads back from jsonb: what is hashed is stored
    sha = digest(doc)
    await conn.executemany(
        f"""INSERT INTO settlement_lines (tenant_id, settlement_id, {_LINE_COLUMNS})
            VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, 3 + len(LineRow.__struct_fields__)))})""",
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
                x.quantity,
                x.unit_price,
                x.amount,
                x.detail.get("original_period"),
            )
            for n, x in enumerate(paid, 1)
        ],
    )
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
    await _publish(conn, tenant, settled, paid)
    return settled


def _document_line(line: runs.StoredLine, components: dict[tuple[str, str], Component]) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "component": line.component,
        "account": components[(line.tariff_id, line.component)].account,
        "area": line.area,
        "basis": line.basis,
        "rule": line.rule,
        "tariff": line.tariff_id,
        "customer": line.pnr,
        "zone": line.zone,
        "unit": line.unit,
        "quantity": shown_quantity(line.quantity, line.unit),
        "quantity_exact": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "sources": sorted({x for ids in line.trail.values() for x in ids}),
        "original_period": line.detail.get("original_period"),
    }


def shown_quantity(quantity: str | None, unit: str | None) -> str | None:
    return show_quantity(parse_exact(quantity), unit or "") if quantity is not None else None


async def _publish(
    conn: asyncpg.Connection, tenant: str, settled: SettlementRow, paid: list[runs.StoredLine]
) -> None:
    """Feed entries: the settlement, and one per corrected period whose adjustments it carries."""
    adjusted: dict[str, Decimal] = {}
    for line in paid:
        if line.kind == "adjustment":
            original = line.detail["original_period"]
            adjusted[original] = adjusted.get(original, ZERO) + line.amount
    await append_feed(
        conn,
        tenant,
        [("settlement", settled.id, settled.provider_id, settled.period, None, settled.total)]
        + [
            ("adjustment", settled.id, settled.provider_id, settled.period, original, amount)
            for original, amount in sorted(adjusted.items())
        ],
    )


async def append_feed(conn: asyncpg.Connection, tenant: str, entries: list[tuple]) -> list[int]:
    """Append (kind, settlement, provider, period, original_period, amount) entries; return positions.

    The tenant's feed_head row lock taken here is held until commit: the next writer gets its
    positions only after these are visible, so a poller never sees a gap that is filled later.
    """
    await conn.execute(
        "INSERT INTO feed_head (tenant_id, position) VALUES ($1, 0) ON CONFLICT DO NOTHING", tenant
    )
    last = await conn.fetchval(
        "UPDATE feed_head SET position = position + $2 WHERE tenant_id = $1 RETURNING position",
        tenant,
        len(entries),
    )
    positions = list(range(last - len(entries) + 1, last + 1))
    await conn.executemany(
        """INSERT INTO feed (tenant_id, position, kind, settlement_id, provider_id, period, original_period, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [(tenant, position, *entry) for position, entry in zip(positions, entries, strict=True)],
    )
    return positions


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


async def lines(conn: asyncpg.Connection, tenant: str, settlement_id: UUID) -> list[LineRow]:
    rows = await conn.fetch(
        f"""SELECT {_LINE_COLUMNS} FROM settlement_lines WHERE tenant_id = $1 AND settlement_id = $2
            ORDER BY ord""",
        tenant,
        settlement_id,
    )
    return [LineRow(**dict(r)) for r in rows]


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
