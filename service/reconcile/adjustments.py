"""Corrections after close (domain.md 7): adjustment lines for settled periods that changed.

A real run of period P first looks, per provider in scope, at the settled periods S for which P is
the earliest period after S that is not settled (the unbroken block of settled periods right before
P; an earlier settled period books into the unsettled period after it instead). A period S whose
inputs or decisions changed since its baseline is priced again by the engine, caps inside S, and
stored as a run of kind 'recompute' (never S's current run: that stays the settled one). The
baseline is S's settled run, or the latest recomputation booked by a run that is settled since.

What was paid for S is its settled lines and reductions plus the adjustments of S settled in later
periods. The difference between the recomputation and that, per (line or reduction, component,
tariff version, customer, zone), becomes adjustment lines in P's run, each linking the original
period and the lines on both sides, with an info LATE_DATA discrepancy keyed by S naming them.
Adjusting twice never double-counts: what earlier runs of P booked is not paid until P is settled,
and from then on it counts as paid. Caps are applied inside the recomputed S, never to adjustments.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import asyncpg

from service.domain import discrepancies as d
from service.domain.discrepancies import Decision, Finding
from service.domain.identity import mask
from service.domain.lines import parse_exact
from service.domain.periods import Period
from service.domain.principal import Principal
from service.domain.tariff import Component
from service.reconcile import inputs, pricing
from service.reconcile.inputs import Inputs
from service.reconcile.pricing import TRAIL_KINDS, Outcome, PricedLine
from service.store import runs, tariffs

ZERO = Decimal("0.00")
LATE_DATA = "LATE_DATA"
PAID = ("line", "reduction")

# (line | reduction, rule, tariff, component, customer, zone): what one adjustment line corrects.
Group = tuple[str, str, str, str, str | None, str | None]


@dataclass(frozen=True)
class Paid:
    """A line paid for the original period: settled with it, or a settled adjustment of it."""

    run_line_id: UUID
    group: Group
    unit: str | None
    quantity: Fraction | None
    unit_price: Decimal | None
    amount: Decimal
    trail: dict[str, list[str]]
    adjustment: bool


@dataclass
class Pending:
    """A settled provider-period to recompute, read in the run's snapshot."""

    provider: str
    period: Period
    settled_run: UUID
    read: Inputs
    paid: list[Paid]
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
    trail: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(
        self,
        line_id: UUID,
        amount: Decimal,
        unit: str | None,
        quantity: Fraction | None,
        unit_price: Decimal | None,
        trail: dict[str, list[str]],
    ) -> None:
        self.lines.append(line_id)
        self.amount += amount
        if quantity is not None:
            self.quantity = (self.quantity or Fraction(0)) + quantity
            self.unit = unit
        if unit_price is not None:
            self.prices.add(unit_price)
        for kind, ids in trail.items():
            if kind in TRAIL_KINDS:
                self.trail[kind].update(ids)


def _previous(period: Period) -> Period:
    return Period.of(period.first - timedelta(days=1))


def _mark(name: str) -> str:
    return f"coalesce((b.marks ->> '{name}')::bigint, 0)"


# The settled periods (of the candidates) whose inputs or decisions changed since their baseline.
# Every input is compared by its change stamp, narrowed to the records that can reach the period's
# lines: records valid before its end, the provider's own visits around it (old versions of corrected
# visits too), claims of its calendar year (limits), decisions on what its runs found.
# $1 tenant, $2 providers, $3 periods (pairwise).
_CHANGED = f"""
WITH candidate AS (
    SELECT c.provider_id, c.period, to_date(c.period, 'YYYY-MM') AS first,
           (to_date(c.period, 'YYYY-MM') + interval '1 month')::date AS stop,
           date_trunc('year', to_date(c.period, 'YYYY-MM'))::date AS year_start
    FROM unnest($2::text[], $3::text[]) AS c (provider_id, period)
),
b AS (
    SELECT c.*, base.id AS base_run, base.input_marks AS marks, base.decision_seq
    FROM candidate c
    CROSS JOIN LATERAL (
        SELECT r.id, r.input_marks, r.decision_seq FROM runs r
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
    ) base
)
SELECT b.provider_id, b.period FROM b
WHERE EXISTS (SELECT 1 FROM insatser x WHERE x.tenant_id = $1 AND x.changed_seq > {_mark("insatser")})
   OR EXISTS (
        SELECT 1 FROM customers x WHERE x.tenant_id = $1 AND x.changed_seq > {_mark("customers")}
          AND (EXISTS (SELECT 1 FROM decisions dc JOIN decision_lines l
                         ON l.tenant_id = dc.tenant_id AND l.decision_id = dc.id
                       WHERE dc.tenant_id = $1 AND dc.pnr = x.pnr AND l.valid_from < b.stop)
               OR EXISTS (SELECT 1 FROM visits v WHERE v.tenant_id = $1 AND v.pnr = x.pnr
                            AND v.provider_id = b.provider_id
                            AND v.service_date >= b.first AND v.service_date < b.stop)
               OR EXISTS (SELECT 1 FROM claims k WHERE k.tenant_id = $1 AND k.pnr = x.pnr
                            AND k.claim_date >= b.year_start AND k.claim_date < b.stop)
               OR EXISTS (SELECT 1 FROM enrolments e WHERE e.tenant_id = $1 AND e.pnr = x.pnr
                            AND e.valid_from < b.stop)))
   OR EXISTS (SELECT 1 FROM customer_zones x WHERE x.tenant_id = $1
                AND x.changed_seq > {_mark("customer_zones")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM provider_choices x WHERE x.tenant_id = $1
                AND x.changed_seq > {_mark("provider_choices")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM decisions x WHERE x.tenant_id = $1 AND x.changed_seq > {_mark("decisions")})
   OR EXISTS (SELECT 1 FROM decision_lines x WHERE x.tenant_id = $1
                AND x.changed_seq > {_mark("decision_lines")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM executions x WHERE x.tenant_id = $1 AND x.provider_id = b.provider_id
                AND x.changed_seq > {_mark("executions")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM pauses x WHERE x.tenant_id = $1
                AND x.changed_seq > {_mark("pauses")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM enrolments x WHERE x.tenant_id = $1
                AND x.changed_seq > {_mark("enrolments")} AND x.valid_from < b.stop)
   OR EXISTS (SELECT 1 FROM delegations x WHERE x.tenant_id = $1 AND x.provider_id = b.provider_id
                AND x.changed_seq > {_mark("delegations")} AND x.valid_from < b.stop)
   -- The provider's visits of the period and a day either side (OVERLAP looks across its edges).
   OR EXISTS (SELECT 1 FROM visits x WHERE x.tenant_id = $1 AND x.provider_id = b.provider_id
                AND x.changed_seq > {_mark("visits")}
                AND x.service_date <= b.stop AND x.ended_at > b.first - 1)
   OR EXISTS (SELECT 1 FROM visit_versions vv
              JOIN visits x ON x.tenant_id = vv.tenant_id AND x.provider_id = vv.provider_id
                           AND x.external_id = vv.external_id
              WHERE vv.tenant_id = $1 AND vv.provider_id = b.provider_id
                AND x.changed_seq > {_mark("visits")}
                AND ((vv.content ->> 'start')::timestamptz AT TIME ZONE 'Europe/Stockholm')::date
                    BETWEEN b.first - 1 AND b.stop)
   -- Every provider's claims of the year: limits are used up across providers and over the year.
   OR EXISTS (SELECT 1 FROM claims x WHERE x.tenant_id = $1 AND x.changed_seq > {_mark("claims")}
                AND x.claim_date >= b.year_start AND x.claim_date < b.stop)
   -- Decisions on what the period's runs found (an enrolment's key may date from years before), and
   -- on any provider's records of its year (claim limits).
   OR EXISTS (SELECT 1 FROM discrepancy_decisions x
              JOIN run_discrepancies rd ON rd.tenant_id = x.tenant_id AND rd.key = x.key
              JOIN runs r ON r.tenant_id = rd.tenant_id AND r.id = rd.run_id
              WHERE x.tenant_id = $1 AND x.seq > b.decision_seq
                AND ((r.period = b.period AND rd.provider_id = b.provider_id)
                     OR (rd.day >= to_char(b.year_start, 'YYYY') AND rd.day < to_char(b.stop, 'YYYY-MM'))))
"""

# What was paid for a provider-period: its settled lines and reductions, and its settled adjustments.
_PAID = """
SELECT rl.id, rl.kind, rl.rule, rl.tariff_id, rl.component, rl.pnr, rl.zone, rl.unit, rl.quantity,
       rl.unit_price, rl.amount, rl.trail, rl.detail
FROM settlements s
JOIN settlement_lines sl ON sl.tenant_id = s.tenant_id AND sl.settlement_id = s.id
JOIN run_lines rl ON rl.tenant_id = sl.tenant_id AND rl.id = sl.run_line_id
WHERE s.tenant_id = $1 AND s.provider_id = $2 AND s.status = 'settled'
  AND ((s.period = $3 AND sl.original_period IS NULL) OR sl.original_period = $3)
ORDER BY s.period, sl.ord
"""


async def plan(conn: asyncpg.Connection, tenant: str, period: Period, providers: list[str]) -> list[Pending]:
    """The settled periods that book into `period`, changed since their baseline, read in the
    caller's (repeatable read) snapshot."""
    rows = await conn.fetch(
        """SELECT provider_id, period, run_id FROM settlements
           WHERE tenant_id = $1 AND status = 'settled' AND provider_id = ANY ($2::text[]) AND period <= $3""",
        tenant,
        providers,
        str(period),
    )
    settled = {(r["provider_id"], r["period"]): r["run_id"] for r in rows}
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
    changed = await conn.fetch(_CHANGED, tenant, [p for p, _ in candidates], [s for _, s in candidates])
    pending = []
    for row in sorted(changed, key=lambda r: (r["provider_id"], r["period"])):
        provider, original = row["provider_id"], Period.parse(row["period"])
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
        paid = [_paid(r) for r in await conn.fetch(_PAID, tenant, provider, str(original))]
        pending.append(
            Pending(
                provider=provider,
                period=original,
                settled_run=settled[(provider, str(original))],
                read=read,
                paid=paid,
                started_at=started,
                finished_at=datetime.now(UTC),
            )
        )
    return pending


def _paid(r: asyncpg.Record) -> Paid:
    adjustment = r["kind"] == "adjustment"
    return Paid(
        run_line_id=r["id"],
        group=(
            r["detail"]["adjusts"] if adjustment else r["kind"],
            r["rule"],
            r["tariff_id"],
            r["component"],
            r["pnr"],
            r["zone"],
        ),
        unit=r["unit"],
        quantity=parse_exact(r["quantity"]) if r["quantity"] is not None else None,
        unit_price=r["unit_price"],
        amount=r["amount"],
        trail=r["trail"],
        adjustment=adjustment,
    )


async def book(
    conn: asyncpg.Connection,
    who: Principal,
    pending: list[Pending],
    outcome: Outcome,
    *,
    decisions: dict[str, Decision],
    decision_seq: int,
) -> list[Booked]:
    """Store each recomputation as a 'recompute' run (committed on its own, before the real run) and
    add its differences to what was paid to `outcome`, the real run about to be stored: adjustment
    lines, a LATE_DATA discrepancy per period, and the recomputation's undecided blocking
    discrepancies (what they keep out of the adjustments needs a decision first)."""
    booked = []
    known = {f.key for f in outcome.findings}
    for item in pending:
        priced = pricing.price(item.read, decisions)
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
        recomputed = [
            x for x in await runs.lines(conn, who.tenant_id, recompute.id, item.provider) if x.kind in PAID
        ]
        components = await tariffs.components(
            conn, who.tenant_id, sorted({x.tariff_id for x in recomputed} | {p.group[2] for p in item.paid})
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
    await conn.executemany(
        """INSERT INTO run_recomputes (tenant_id, run_id, provider_id, original_period, recompute_run_id,
                                       adjustments)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(tenant, run_id, b.provider, b.period, b.recompute_run, b.adjustments) for b in booked],
    )


def _differences(
    item: Pending,
    recompute_run: UUID,
    recomputed: list[runs.StoredLine],
    components: dict[tuple[str, str], Component],
) -> list[PricedLine]:
    now: defaultdict[Group, _Side] = defaultdict(_Side)
    before: defaultdict[Group, _Side] = defaultdict(_Side)
    earlier: defaultdict[Group, list[UUID]] = defaultdict(list)
    for x in recomputed:
        group = (x.kind, x.rule, x.tariff_id, x.component, x.pnr, x.zone)
        quantity = parse_exact(x.quantity) if x.quantity is not None else None
        now[group].add(x.id, x.amount, x.unit, quantity, x.unit_price, x.trail)
    for p in item.paid:
        before[p.group].add(p.run_line_id, p.amount, p.unit, p.quantity, p.unit_price, p.trail)
        if p.adjustment:
            earlier[p.group].append(p.run_line_id)
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
        unit = new.unit or old.unit
        quantity = None
        if unit is not None:
            quantity = (new.quantity or Fraction(0)) - (old.quantity or Fraction(0))
        prices = new.prices | old.prices
        trail: defaultdict[str, set[str]] = defaultdict(set)
        for side in (new, old):
            for kind, ids in side.trail.items():
                trail[kind].update(ids)
        original_lines = [i for i in old.lines if i not in earlier[group]]
        lines.append(
            PricedLine(
                kind="adjustment",
                provider=item.provider,
                component=components[(tariff_id, component_id)],
                tariff_id=tariff_id,
                rule=rule,
                pnr=pnr,
                zone=zone,
                unit=unit,
                quantity=quantity,
                unit_price=prices.pop() if len(prices) == 1 else None,
                amount=delta,
                trail={k: sorted(trail[k]) for k in TRAIL_KINDS if trail.get(k)},
                detail={
                    "original_period": str(item.period),
                    "adjusts": adjusts,
                    "settled_run": str(item.settled_run),
                    "recompute_run": str(recompute_run),
                    "paid_amount": str(old.amount),
                    "recomputed_amount": str(new.amount),
                    "original_lines": [str(i) for i in original_lines],
                    "earlier_adjustments": [str(i) for i in earlier[group]],
                    "recomputed_lines": [str(i) for i in new.lines],
                },
            )
        )
    return lines


def _late_data(item: Pending, lines: list[PricedLine], customers: dict[str, tuple[str, bool]]) -> Finding:
    """Names each changed line by component, customer reference, zone and tariff: the detail is
    shown to every role that reads discrepancies, so it carries no personnummer."""
    named = []
    for x in lines:
        customer = None
        if x.pnr is not None:
            customer = customers[x.pnr][0] if x.pnr in customers else mask(x.pnr)
        what = x.component.id if x.detail["adjusts"] == "line" else f"{x.component.id} {x.rule} reduction"
        label = ", ".join(part for part in (what, customer, x.zone, x.tariff_id) if part)
        named.append(f"{label}: {x.detail['paid_amount']} -> {x.detail['recomputed_amount']} ({x.amount:+})")
    total = sum((x.amount for x in lines), ZERO)
    return d.on_provider_month(
        LATE_DATA,
        item.provider,
        str(item.period),
        version=hashlib.sha256("\n".join(named).encode()).hexdigest()[:32],
        detail=f"{item.period} changed after it was settled; recomputed, it differs from what was paid "
        f"by {total:+} kr: {'; '.join(named)}",
    )
