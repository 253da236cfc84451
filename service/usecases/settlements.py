"""Settlements (domain.md 7): prepare a provider-period and attest it (invoice_admin, four eyes), read
and export settlements (a provider its own; customers masked for those who may not see them), the feed.

Preparing needs the provider's current real run on current inputs and rulings, with every blocking
discrepancy decided; attesting needs a second invoice_admin and that run still current.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas import settlements as s
from service.domain.errors import Conflict, NotFound
from service.domain.export import decimal_comma, to_csv
from service.domain.lines import InvoiceLine, show_quantity
from service.domain.principal import Principal
from service.domain.visibility import Viewer
from service.events import event
from service.store import audit, runs
from service.store import settlements as store
from service.usecases.access import listed_provider, require_visible
from service.usecases.viewers import audit_shown, viewer


class Export(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    body: bytes


def _quantity(line: InvoiceLine) -> str | None:
    """A line's quantity as shown (a reduction or an adjustment has none)."""
    return show_quantity(line.quantity, line.unit or "") if line.quantity is not None else None


def _settlement(
    row: store.SettlementRow, lines: list[InvoiceLine] | None = None, shown: Viewer | None = None
) -> s.Settlement:
    return s.Settlement(
        id=row.id,
        provider=row.provider_id,
        period=row.period,
        status=row.status,  # type: ignore[arg-type]
        run=row.run_id,
        prepared_by=row.prepared_by,
        prepared_at=row.prepared_at,
        attested_by=row.attested_by,
        attested_at=row.attested_at,
        tariffs=row.tariffs,
        total=row.total,
        totals=row.totals,
        totals_by_area=row.totals_by_area,
        accounts=row.accounts,
        sha256=row.sha256,
        audit_head=s.AuditHead(seq=row.audit_seq, hash=row.audit_hash) if row.audit_seq is not None else None,
        lines=None
        if lines is None or shown is None
        else [
            s.SettlementLine(
                kind=x.kind,  # type: ignore[arg-type]
                component=x.component,
                account=x.account,
                area=x.area,
                tariff=x.tariff_id,
                customer=shown.customer(x.pnr),
                zone=x.zone,
                unit=x.unit,
                quantity=_quantity(x),
                unit_price=x.unit_price,
                amount=x.amount,
                original_period=x.original_period,
            )
            for x in lines
        ],
    )


async def _audited(
    conn: asyncpg.Connection, who: Principal, action: str, row: store.SettlementRow, after: dict[str, Any]
) -> s.Settlement:
    await audit.record(
        conn,
        who,
        action=action,
        entity_kind="settlement",
        entity_ids=[str(row.id), f"{row.provider_id}:{row.period}"],
        after=after,
    )
    event(
        action,
        tenant=who.tenant_id,
        settlement=str(row.id),
        provider=row.provider_id,
        period=row.period,
        **after,
        by=who.role,
    )
    return _settlement(row)


async def prepare(conn: asyncpg.Connection, who: Principal, data: s.SettlementIn) -> s.Settlement:
    """Prepare a provider-period for settlement; a 409 names what is missing."""
    tenant, provider, period = who.tenant_id, data.provider, data.period
    await store.lock_period(conn, tenant, provider, period)
    if await store.is_settled(conn, tenant, provider, period):
        raise Conflict(f"{provider} {period} is already settled; later changes become adjustments")
    run = await runs.current(conn, tenant, period, provider)
    if run is None:
        raise Conflict(f"no reconciliation run for {provider} {period}: run one first", missing=["run"])
    missing = await store.not_current(conn, tenant, run, provider)
    undecided = await store.undecided(conn, tenant, run.id, provider)
    if undecided:
        missing.append(f"{len(undecided)} blocking discrepancies undecided")
    if missing:
        raise Conflict(
            f"{provider} {period} cannot be prepared: {'; '.join(missing)}",
            missing=missing,
            undecided=undecided,
        )
    prepared = await store.prepare(conn, who, run, provider)
    return await _audited(
        conn, who, "settlement.prepare", prepared, {"run": str(run.id), "total": prepared.total}
    )


async def attest(conn: asyncpg.Connection, who: Principal, settlement_id: UUID) -> s.Settlement:
    """A second invoice_admin freezes a prepared settlement whose run is still current."""
    tenant = who.tenant_id
    prepared = await store.get(conn, tenant, settlement_id, lock=True)
    if prepared is None:
        raise NotFound(f"no settlement {settlement_id}")
    if prepared.status != "prepared":
        raise Conflict(f"settlement {settlement_id} is {prepared.status}, not prepared")
    if who.name == prepared.prepared_by or (
        who.key_id is not None and who.key_id == prepared.prepared_by_key
    ):
        raise Conflict(
            "four eyes: the settlement must be attested by another invoice_admin than the one who prepared it"
        )
    run = await runs.get(conn, tenant, prepared.run_id)
    assert run is not None  # a settlement references its run
    current = await runs.current(conn, tenant, prepared.period, prepared.provider_id)
    missing = await store.not_current(conn, tenant, run, prepared.provider_id)
    if current is None or current.id != run.id:
        missing.append(f"a newer run than {run.id} exists")
    if missing:
        raise Conflict(
            f"prepare {prepared.provider_id} {prepared.period} again: {'; '.join(missing)}", missing=missing
        )
    settled = await store.attest(conn, who, prepared, run)
    return await _audited(
        conn, who, "settlement.attest", settled, {"sha256": settled.sha256, "total": settled.total}
    )


async def list_settlements(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    period: str | None,
    provider: str | None,
    status: str | None,
    after: str | None,
    limit: int,
) -> s.SettlementPage:
    """Settlements by period and provider (a provider key lists its own), without their lines."""
    rows = await store.list_settlements(
        conn,
        who.tenant_id,
        period=period,
        provider=listed_provider(who, provider),
        status=status,
        after=after,
        limit=limit + 1,
    )
    page = rows[:limit]
    return s.SettlementPage(
        items=[_settlement(r) for r in page],
        next_after=store.cursor(page[-1]) if len(rows) > limit else None,
    )


async def _visible(
    conn: asyncpg.Connection, who: Principal, settlement_id: UUID
) -> tuple[store.SettlementRow, list[InvoiceLine], Viewer]:
    """A settlement the caller may see, its lines, and the caller's view of their customers."""
    row = await store.get(conn, who.tenant_id, settlement_id)
    if row is None:
        raise NotFound(f"no settlement {settlement_id}")
    require_visible(who, row.provider_id, f"no settlement {settlement_id}")
    lines = await store.lines(conn, who.tenant_id, settlement_id)
    return row, lines, await viewer(conn, who, (x.pnr for x in lines))


async def get_settlement(conn: asyncpg.Connection, who: Principal, settlement_id: UUID) -> s.Settlement:
    """One settlement with totals, accounts, hash and lines."""
    row, lines, shown = await _visible(conn, who, settlement_id)
    result = _settlement(row, lines, shown)
    await audit_shown(conn, who, shown, "settlement.read")
    return result


async def export_csv(conn: asyncpg.Connection, who: Principal, settlement_id: UUID) -> Export:
    """A settlement's lines for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM."""
    row, lines, shown = await _visible(conn, who, settlement_id)
    body = to_csv(
        (
            row.period,
            row.provider_id,
            x.kind,
            x.component,
            x.account,
            x.area,
            x.tariff_id,
            shown.customer(x.pnr),
            x.zone,
            x.unit,
            decimal_comma(_quantity(x)),
            decimal_comma(x.unit_price),
            decimal_comma(x.amount),
            x.original_period,
        )
        for x in lines
    )
    await audit_shown(conn, who, shown, "settlement.export")
    return Export(filename=f"kundval-{row.provider_id}-{row.period}.csv", body=body)


async def feed(conn: asyncpg.Connection, who: Principal, *, after: int, limit: int) -> s.FeedPage:
    """Settlements and adjustments in the order they were settled; poll with `after`."""
    items = [
        s.FeedEntry(
            position=r["position"],
            kind=r["kind"],
            settlement=r["settlement_id"],
            provider=r["provider_id"],
            period=r["period"],
            original_period=r["original_period"],
            amount=r["amount"],
            at=r["at"],
        )
        for r in await store.feed(conn, who.tenant_id, after, limit)
    ]
    return s.FeedPage(items=items, next_after=items[-1].position if items else after)
