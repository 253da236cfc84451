"""A reconciliation run: read the inputs in one snapshot, price them, store the run.

The reading runs in a REPEATABLE READ transaction, so every query of the run sees the same inputs
and decisions; the run is then stored (with its audit entry) in a transaction of its own, because a
repeatable-read transaction cannot take the audit chain's head lock after other writers moved it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from service.domain.errors import NotFound
from service.domain.periods import Period
from service.domain.principal import Principal
from service.reconcile import adjustments, inputs, pricing
from service.store import discrepancies, runs, tariffs


async def run(
    pool: asyncpg.Pool, who: Principal, *, period: Period, provider: str | None, forced: str | None
) -> runs.RunRow:
    tenant = who.tenant_id
    async with pool.acquire() as conn:
        started = datetime.now(UTC)
        async with conn.transaction(isolation="repeatable_read"):
            scope = await runs.providers(conn, tenant, provider)
            if provider is not None and not scope:
                raise NotFound(f"no provider {provider}")
            if forced is not None:
                if (span := await tariffs.forced(conn, tenant, forced)) is None:
                    raise NotFound(f"no tariff {forced}")
                spans = [span]
            else:
                spans = await tariffs.spans(conn, tenant, period.year_start, period.end)
            decisions, decision_seq = await discrepancies.in_force(conn, tenant)
            # Settled periods that changed are recomputed first; their differences are booked here.
            late = [] if forced else await adjustments.plan(conn, tenant, period, [p for p, _ in scope])
            read = await inputs.load(conn, tenant, period, provider, spans)
        outcome = pricing.price(read, decisions)
        booked = await adjustments.book(
            conn, who, late, outcome, decisions=decisions, decision_seq=decision_seq
        )
        async with conn.transaction():
            row = await runs.save(
                conn,
                who,
                period=str(period),
                provider=provider,
                forced=forced,
                providers=[p for p, _ in scope],
                outcome=outcome,
                marks=read.marks,
                decision_seq=decision_seq,
                started_at=started,
                finished_at=datetime.now(UTC),
            )
            await adjustments.link(conn, tenant, row.id, booked)
            return row
