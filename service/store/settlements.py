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

from service.domain.errors import Conflict, NotFound
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


async def _not_current(conn: asyncpg.Connection, tenant: str, run: runs.RunRow, provider: str) -> list[str]:
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


async def prepare(conn: asyncpg.Connection, who: Principal, provider: str, period: str) -> SettlementRow:
    tenant = who.tenant_id
    await _lock(conn, tenant, provider, period)
    if await conn.fetchval(
        "SELECT 1 FROM settlements WHERE tenant_id = $1 AND provider_id = $2 AND period = $3 AND status = 'settled'",
        tenant,
        provider,
        period,
    ):
        raise Conflict(f"{provider} {period} is already settled; later changes become adjustments")
    run = await runs.current(conn, tenant, period, provider)
    if run is None:
        raise Conflict(f"no reconciliation run for {provider} {period}: run one first", missing=["run"])
    missing = await _not_current(conn, tenant, run, provider)
    undecided = [
        r["key"]
        for r in await conn.fetch(
            """SELECT key FROM run_discrepancies
               WHERE tenant_id = $1 AND run_id = $2 AND provider_id = $3 AND kind = 'blocking' AND status = 'open'
               ORDER BY key""",
            tenant,
            run.id,
            provider,
        )
    ]
    if undecided:
        missing.append(f"{len(undecided)} blocking discrepancies undecided")
    if missing:
        raise Conflict(
            f"{provider} {period} cannot be prepared: {'; '.join(missing)}",
            missing=missing,
            undecided=undecided,
        )
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
    settlement = _settlement(row)
    await audit.record(
        conn,
        who,
        action="settlement.prepare",
        entity_kind="settlement",
        entity_ids=[str(settlement.id), f"{provider}:{period}"],
        after={"run": str(run.id), "total": settlement.total},
    )
    return settlement


async def attest(conn: asyncpg.Connection, who: Principal, settlement_id: UUID) -> SettlementRow:
    tenant = who.tenant_id
    prepared = await get(conn, tenant, settlement_id, lock=True)
    if prepared.status != "prepared":
        raise Conflict(f"settlement {settlement_id} is {prepared.status}, not prepared")
    if who.name == prepared.prepared_by or (
        who.key_id is not None and who.key_id == prepared.prepared_by_key
    ):
        raise Conflict(
            "four eyes: the settlement must be attested by another invoice_admin than the one who prepared it"
        )
    run = await runs.get(conn, tenant, prepared.run_id)
    current = await runs.current(conn, tenant, prepared.period, prepared.provider_id)
    missing = await _not_current(conn, tenant, run, prepared.provider_id)
    if current is None or current.id != run.id:
        missing.append(f"a newer run than {run.id} exists")
    if missing:
        raise Conflict(
            f"prepare {prepared.provider_id} {prepared.period} again: {'; '.join(missing)}", missing=missing
        )
    head_seq, head_hash = await audit.head(conn, tenant)
    attested_at = datetime.now(UTC)
    all_lines = await runs.lines(conn, tenant, run.id, prepared.provider_id)
    components = await tariffs.components(conn, tenant, run.tariffs)
    paid = [
        _frozen(n, x, components) for n, x in enumerate((x for x in all_lines if x.kind in PAID_KINDS), 1)
    ]
    attested = msgspec.structs.replace(
        prepared, attested_by=who.name, attested_at=attested_at, audit_seq=head_seq, audit_hash=head_hash
    )
    # Decoded again as jsonb reads it back: what is hashed is what is stored.
    doc = msgspec.json.decode(canonical(settled_document(tenant, attested, paid, all_lines)))
    sha = digest(doc)
    await conn.executemany(
        f"""INSERT INTO settlement_lines (tenant_id, settlement_id, {_LINE_COLUMNS})
            VALUES ($1, $2, {", ".join(f"${i}" for i in range(3, 3 + len(LineRow.__struct_fields__)))})""",
        [(tenant, settlement_id, *msgspec.structs.astuple(x)) for x in paid],
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
    await publish(conn, tenant, settled.id)
    await audit.record(
        conn,
        who,
        action="settlement.attest",
        entity_kind="settlement",
        entity_ids=[str(settled.id), f"{settled.provider_id}:{settled.period}"],
        after={"sha256": sha, "total": settled.total},
    )
    return settled


def _frozen(n: int, line: runs.StoredLine, components: dict[tuple[str, str], Component]) -> LineRow:
    """A paid run line as the settlement freezes it, `n`-th."""
    return LineRow(
        ord=n,
        run_line_id=line.id,
        kind=line.kind,
        component=line.component,
        account=components[(line.tariff_id, line.component)].account,
        area=line.area,
        tariff_id=line.tariff_id,
        pnr=line.pnr,
        zone=line.zone,
        unit=line.unit,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        original_period=line.detail.get("original_period"),
    )


def settled_document(
    tenant: str, settled: SettlementRow, paid: list[LineRow], run_lines: list[runs.StoredLine]
) -> dict[str, Any]:
    """The settled provider-period the SHA-256 is taken over: the settlement's frozen lines with the
    run lines they came from (`run_lines`: the run's lines for the provider, held ones included).
    Attestation makes it, and verification makes it again from what is stored."""
    sources = {x.id: x for x in run_lines}
    return {
        "tenant": tenant,
        "provider": settled.provider_id,
        "period": settled.period,
        "run": str(settled.run_id),
        "tariffs": settled.tariffs,
        "lines": [_document_line(x, sources[x.run_line_id]) for x in paid],
        "held": [
            {
                "component": x.component,
                "customer": x.pnr,
                "zone": x.zone,
                "held_by": x.held_by,
                "amount_if_approved": x.amount,
            }
            for x in run_lines
            if x.kind == "held"
        ],
        "totals": settled.totals,
        "totals_by_area": settled.totals_by_area,
        "accounts": settled.accounts,
        "total": settled.total,
        "prepared_by": settled.prepared_by,
        "attested_by": settled.attested_by,
        "attested_at": settled.attested_at.isoformat() if settled.attested_at else None,
        "audit_head": {"seq": settled.audit_seq, "hash": settled.audit_hash},
    }


def _document_line(line: LineRow, source: runs.StoredLine) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "component": line.component,
        "account": line.account,
        "area": line.area,
        "basis": source.basis,
        "rule": source.rule,
        "tariff": line.tariff_id,
        "customer": line.pnr,
        "zone": line.zone,
        "unit": line.unit,
        "quantity": shown_quantity(line.quantity, line.unit),
        "quantity_exact": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "sources": sorted({x for ids in source.trail.values() for x in ids}),
        "original_period": line.original_period,
    }


def shown_quantity(quantity: str | None, unit: str | None) -> str | None:
    return show_quantity(parse_exact(quantity), unit or "") if quantity is not None else None


async def publish(conn: asyncpg.Connection, tenant: str, settlement_id: UUID) -> list[int]:
    """Feed entries for a settled settlement: itself, and one per corrected period whose adjustments
    it carries; return their positions.

    The database's feed_publish (migration 0008) is the only way into the feed: it makes the entries
    from what the settlement froze and takes their positions under the tenant's feed_head row lock,
    held until commit, so the next writer gets its positions only after these are visible and a poller
    never sees a gap that is filled later.
    """
    return await conn.fetchval("SELECT feed_publish($1, $2)", tenant, settlement_id)


async def _lock(conn: asyncpg.Connection, tenant: str, provider: str, period: str) -> None:
    """Serialise preparations of one provider-period (two at once would both supersede the other)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"settle:{tenant}:{provider}:{period}"
    )


def _settlement(row: asyncpg.Record) -> SettlementRow:
    return SettlementRow(**dict(row))


async def get(
    conn: asyncpg.Connection, tenant: str, settlement_id: UUID, *, lock: bool = False
) -> SettlementRow:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM settlements WHERE tenant_id = $1 AND id = $2{' FOR UPDATE' if lock else ''}",
        tenant,
        settlement_id,
    )
    if row is None:
        raise NotFound(f"no settlement {settlement_id}")
    return _settlement(row)


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


async def verify_hashes(conn: asyncpg.Connection, tenant: str) -> str | None:
    """Every settled settlement still hashes to its stored SHA-256: its stored document, and the
    document made again from its frozen lines (what the JSON view and the CSV serve) as attestation
    made it. Returns what does not hold for the first that fails, in order of attestation."""
    settled_ids = await conn.fetch(
        "SELECT id FROM settlements WHERE tenant_id = $1 AND status = 'settled' ORDER BY attested_at, id",
        tenant,
    )
    for settled_id in (r["id"] for r in settled_ids):
        settled = await get(conn, tenant, settled_id)
        name = f"settlement {settled.id} ({settled.provider_id} {settled.period})"
        if not verify(settled):
            return f"{name}: its stored document no longer hashes to its SHA-256"
        frozen = await lines(conn, tenant, settled.id)
        run_lines = await runs.lines(conn, tenant, settled.run_id, settled.provider_id)
        known = {x.id for x in run_lines}
        if any(x.run_line_id not in known for x in frozen) or (
            digest(settled_document(tenant, settled, frozen, run_lines)) != settled.sha256
        ):
            return f"{name}: its lines no longer hash to its SHA-256"
    return None


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
