"""Corrections after close (domain.md 7): adjustment lines for settled periods that changed.

A real run of period P first looks, per provider in scope, at the settled periods S for which P is
the earliest period after S that is not settled (the unbroken block of settled periods right before
P; an earlier settled period books into the unsettled period after it instead). A period S whose
inputs or decisions changed since its baseline (service/store/changes.py) is priced again by the
engine, caps inside S, and stored as a run of kind 'recompute' (never S's current run: that stays
the settled one). The baseline is S's settled run, or the latest recomputation booked by a run that
is settled since.

What was paid for S is its settled lines and reductions plus the adjustments of S settled in later
periods. The difference between the recomputation and that, per (line or reduction, component,
tariff version, customer, zone), becomes adjustment lines in P's run, each linking the original
period and the lines on both sides (`Adjustment`, service/domain/lines.py), with an info LATE_DATA
discrepancy keyed by S naming them. The differences are taken from the recomputation's lines as
priced, in memory; its lines get their ids from the engine, so that the adjustments can link them.
Adjusting twice never double-counts: what earlier runs of P booked is not paid until P is settled,
and from then on it counts as paid. Caps are applied inside the recomputed S, never to adjustments.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID, uuid4

import asyncpg

from service.domain import discrepancies as d
from service.domain.discrepancies import Finding, Ruling
from service.domain.identity import mask
from service.domain.lines import ZERO, Adjustment, InvoiceLine, merged_trail
from service.domain.outcome import Outcome
from service.domain.periods import Period
from service.domain.principal import Principal
from service.domain.tariff import Component
from service.reconcile import inputs, pricing
from service.reconcile.inputs import Inputs
from service.store import changes, runs, settlements, tariffs

LATE_DATA = "LATE_DATA"
PAID = ("line", "reduction")

# (line | reduction, rule, tariff, component, customer, zone): what one adjustment line corrects.
Group = tuple[str, str, str, str, str | None, str | None]


@dataclass
class Pending:
    """A settled provider-period to recompute, read in the run's snapshot."""

    provider: str
    period: Period
    settled_run: UUID
    read: Inputs
    paid: list[InvoiceLine]  # its settled lines and reductions, and settled adjustments of it
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class Booked:
    provider: str
    period: str
    recompute_run: UUID
    adjustments: int


@dataclass
class _Side:
    """One side of a group: its recomputed lines, or what was paid."""

    lines: list[UUID] = field(default_factory=list)
    amount: Decimal = ZERO
    quantity: Fraction | None = None
    unit: str | None = None
    prices: set[Decimal] = field(default_factory=set)
    trails: list[dict[str, list[str]]] = field(default_factory=list)

    def add(self, line: InvoiceLine) -> None:
        assert line.id is not None
        self.lines.append(line.id)
        self.amount += line.amount
        if line.quantity is not None:
            self.quantity = (self.quantity or Fraction(0)) + line.quantity
            self.unit = line.unit
        if line.unit_price is not None:
            self.prices.add(line.unit_price)
        self.trails.append(line.trail)


def _group(line: InvoiceLine) -> Group:
    adjusts = line.adjustment.adjusts if line.adjustment is not None else line.kind
    return (adjusts, line.rule, line.tariff_id, line.component, line.pnr, line.zone)


def _previous(period: Period) -> Period:
    return Period.of(period.first - timedelta(days=1))


async def plan(conn: asyncpg.Connection, tenant: str, period: Period, providers: list[str]) -> list[Pending]:
    """The settled periods that book into `period`, changed since their baseline, read in the
    caller's (repeatable read) snapshot."""
    settled = await settlements.settled_runs(conn, tenant, providers, str(period))
    candidates: list[tuple[str, str]] = []
    for provider in providers:
        if (provider, str(period)) in settled:
            continue  # a settled period books nothing into itself
        before = _previous(period)
        while (provider, str(before)) in settled:
            candidates.append((provider, str(before)))
            before = _previous(before)
    if not candidates:
        return []
    baselines = await settlements.baselines(conn, tenant, candidates)
    changed = [c for c in await changes.since(conn, tenant, baselines) if c.any]
    pending = []
    for item in sorted(changed, key=lambda c: (c.provider_id, c.period)):
        provider, original = item.provider_id, Period.parse(item.period)
        started = datetime.now(UTC)
        spans = await tariffs.spans(conn, tenant, original.year_start, original.end)
        # The engine's temporary tables live to the end of the transaction: read each recomputed
        # period in a savepoint rolled back afterwards (the snapshot stays the run's).
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            read = await inputs.load(conn, tenant, original, provider, spans)
        finally:
            await savepoint.rollback()
        pending.append(
            Pending(
                provider=provider,
                period=original,
                settled_run=settled[(provider, item.period)],
                read=read,
                paid=await settlements.paid(conn, tenant, provider, item.period),
                started_at=started,
                finished_at=datetime.now(UTC),
            )
        )
    return pending


async def book(
    conn: asyncpg.Connection,
    who: Principal,
    pending: list[Pending],
    outcome: Outcome,
    *,
    rulings: dict[str, Ruling],
    decision_seq: int,
    on_saved: Callable[[asyncpg.Connection, runs.RunRow], Awaitable[None]],
) -> list[Booked]:
    """Store each recomputation as a 'recompute' run (committed on its own, before the real run) and
    add its differences to what was paid to `outcome`, the real run about to be stored: adjustment
    lines, a LATE_DATA discrepancy per period, and the recomputation's undecided blocking
    discrepancies (what they keep out of the adjustments needs a decision first)."""
    booked = []
    known = {f.key for f in outcome.findings}
    for item in pending:
        priced = await pricing.price_aside(item.read, rulings)
        for line in priced.lines:
            line.id = uuid4()  # the adjustments link to them
        async with conn.transaction():  # its own: runs.save stages lines in a temporary table
            recompute = await runs.save(
                conn,
                who,
                period=str(item.period),
                provider=item.provider,
                forced=None,
                kind="recompute",
                providers=[item.provider],
                outcome=priced,
                marks=item.read.marks,
                decision_seq=decision_seq,
                started_at=item.started_at,
                finished_at=item.finished_at,
            )
            await on_saved(conn, recompute)
        recomputed = [x for x in priced.lines if x.kind in PAID]
        components = await tariffs.components(
            conn, who.tenant_id, sorted({x.tariff_id for x in recomputed} | {x.tariff_id for x in item.paid})
        )
        lines = _differences(item, recompute.id, recomputed, components)
        if lines:
            finding = _late_data(
                item, lines, await runs.customers(conn, who.tenant_id, {x.pnr for x in lines if x.pnr})
            )
            for line in lines:
                line.discrepancy = finding.key
            outcome.lines.extend(lines)
            outcome.findings.append(finding)
            known.add(finding.key)
            for tariff_id in dict.fromkeys(x.tariff_id for x in lines):
                if tariff_id not in outcome.tariffs:
                    outcome.tariffs.append(tariff_id)
        for carried in priced.findings:
            if carried.kind == "blocking" and carried.status == "open" and carried.key not in known:
                outcome.findings.append(carried)
                known.add(carried.key)
        booked.append(Booked(item.provider, str(item.period), recompute.id, len(lines)))
    outcome.findings.sort(key=lambda f: f.key)
    return booked


async def link(conn: asyncpg.Connection, tenant: str, run_id: UUID, booked: list[Booked]) -> None:
    """Record which settled periods the stored run recomputed (the baseline once it is settled)."""
    await runs.recomputed(
        conn, tenant, run_id, [(b.provider, b.period, b.recompute_run, b.adjustments) for b in booked]
    )


def _differences(
    item: Pending,
    recompute_run: UUID,
    recomputed: list[InvoiceLine],
    components: dict[tuple[str, str], Component],
) -> list[InvoiceLine]:
    now: defaultdict[Group, _Side] = defaultdict(_Side)
    before: defaultdict[Group, _Side] = defaultdict(_Side)
    earlier: defaultdict[Group, list[UUID]] = defaultdict(list)
    for x in recomputed:
        now[_group(x)].add(x)
    for x in item.paid:
        group = _group(x)
        before[group].add(x)
        if x.kind == "adjustment":
            assert x.id is not None
            earlier[group].append(x.id)
    order = {key: n for n, key in enumerate(components)}
    lines = []
    for group in sorted(
        set(now) | set(before),
        key=lambda g: (order.get((g[2], g[3]), len(order)), g[0], g[4] or "", g[5] or ""),
    ):
        new, old = now[group], before[group]
        delta = new.amount - old.amount
        if delta == 0:
            continue
        adjusts, rule, tariff_id, component_id, pnr, zone = group
        component = components[(tariff_id, component_id)]
        unit = new.unit or old.unit
        quantity = None
        if unit is not None:
            quantity = (new.quantity or Fraction(0)) - (old.quantity or Fraction(0))
        prices = new.prices | old.prices
        lines.append(
            InvoiceLine(
                kind="adjustment",
                provider_id=item.provider,
                component=component.id,
                area=component.area,
                basis=component.basis,
                tariff_id=tariff_id,
                rule=rule,
                pnr=pnr,
                zone=zone,
                unit=unit,
                quantity=quantity,
                unit_price=prices.pop() if len(prices) == 1 else None,
                amount=delta,
                trail=merged_trail([*new.trails, *old.trails]),
                detail={},
                adjustment=Adjustment(
                    original_period=str(item.period),
                    adjusts=adjusts,  # type: ignore[arg-type]
                    settled_run=item.settled_run,
                    recompute_run=recompute_run,
                    paid_amount=old.amount,
                    recomputed_amount=new.amount,
                    original_lines=[i for i in old.lines if i not in earlier[group]],
                    earlier_adjustments=earlier[group],
                    recomputed_lines=new.lines,
                ),
                id=uuid4(),
            )
        )
    return lines


def _late_data(item: Pending, lines: list[InvoiceLine], customers: dict[str, tuple[str, bool]]) -> Finding:
    """Names each changed line by component, customer reference, zone and tariff: the explanation is
    shown to every role that reads discrepancies, so it carries no personnummer."""
    named, changes = [], []
    for x in lines:
        assert x.adjustment is not None
        customer = None
        if x.pnr is not None:
            customer = customers[x.pnr][0] if x.pnr in customers else mask(x.pnr)
        reduction = None if x.adjustment.adjusts == "line" else x.rule
        what = x.component if reduction is None else f"{x.component} {reduction} reduction"
        label = ", ".join(part for part in (what, customer, x.zone, x.tariff_id) if part)
        named.append(
            f"{label}: {x.adjustment.paid_amount} -> {x.adjustment.recomputed_amount} ({x.amount:+})"
        )
        change = {"component": x.component, "reduction": reduction, "customer": customer, "zone": x.zone}
        changes.append(
            {k: v for k, v in change.items() if v is not None}
            | {
                "tariff": x.tariff_id,
                "paid_amount": str(x.adjustment.paid_amount),
                "recomputed_amount": str(x.adjustment.recomputed_amount),
                "difference_amount": f"{x.amount:+}",
            }
        )
    total = sum((x.amount for x in lines), ZERO)
    # The version is a digest of the changes as they were always named, so that it stays the same.
    return d.on_provider_month(
        LATE_DATA,
        item.provider,
        str(item.period),
        version=hashlib.sha256("\n".join(named).encode()).hexdigest()[:32],
        part={"period": str(item.period), "difference_amount": f"{total:+}", "changes": changes},
    )
