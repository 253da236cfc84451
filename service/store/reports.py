"""Reports (followup.md 2 and 3): the follow-up figures of provider-months over a range, and what-if
runs' amounts per provider, component and area.

A range reads one row per provider-month (figures kept when a run is stored, or frozen when the
month was settled), never the visits behind them.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec

from service.domain.followup import Figures
from service.domain.lines import PAID_KINDS
from service.store.runs import FOLLOWUP_COLUMNS, RunRow, figures_of, get

_FIGURES = FOLLOWUP_COLUMNS.replace("provider_id, ", "")


class MonthRow(msgspec.Struct, frozen=True, kw_only=True):
    """A provider-month: its settlement (settled or waiting to be attested), its current real run, and
    its figures: the settled ones when settled, else the current run's (None: no run yet)."""

    provider_id: str
    period: str
    settlement_id: UUID | None
    settlement_status: str | None  # 'settled' | 'prepared'
    run_id: UUID | None  # the settled run when settled, else the current real run
    source: str | None  # 'settlement' | 'run'
    figures: Figures | None


# $1 tenant, $2 periods, $3 provider (null: all). The settled figures are the frozen ones; a month
# settled before figures were kept (sql/migrations/0011) shows its settlement's payout per area.
_MONTHS = f"""
WITH p AS (
    SELECT id FROM providers WHERE tenant_id = $1 AND ($3::text IS NULL OR id = $3)
),
m AS (SELECT unnest($2::text[]) AS period),
c AS (
    SELECT provider_id, period, run_id FROM current_runs WHERE tenant_id = $1 AND period = ANY ($2::text[])
),
s AS (
    SELECT DISTINCT ON (provider_id, period) id, provider_id, period, status, run_id, totals_by_area
    FROM settlements
    WHERE tenant_id = $1 AND period = ANY ($2::text[]) AND status IN ('settled', 'prepared')
    ORDER BY provider_id, period, status = 'settled' DESC
)
SELECT p.id AS provider_id, m.period, s.id AS settlement_id, s.status AS settlement_status,
       s.totals_by_area, CASE WHEN s.status = 'settled' THEN s.run_id ELSE c.run_id END AS run_id,
       CASE WHEN s.status = 'settled' THEN 'settlement' WHEN f.run_id IS NOT NULL THEN 'run' END AS source,
       (sf.settlement_id IS NOT NULL OR f.run_id IS NOT NULL) AS kept,
       {", ".join(f"coalesce(sf.{x}, f.{x}) AS {x}" for x in _FIGURES.split(", "))}
FROM p
CROSS JOIN m
LEFT JOIN s ON s.provider_id = p.id AND s.period = m.period
LEFT JOIN c ON c.provider_id = p.id AND c.period = m.period
LEFT JOIN settlement_followup sf ON s.status = 'settled' AND sf.tenant_id = $1 AND sf.settlement_id = s.id
LEFT JOIN run_followup f ON s.status IS DISTINCT FROM 'settled' AND f.tenant_id = $1 AND f.run_id = c.run_id
                        AND f.provider_id = p.id
ORDER BY p.id, m.period
"""


async def months(
    conn: asyncpg.Connection, tenant: str, periods: list[str], provider: str | None
) -> list[MonthRow]:
    """Every provider-month of the periods (of one provider, if given), by provider and period."""
    out = []
    for r in await conn.fetch(_MONTHS, tenant, periods, provider):
        if r["kept"]:
            figures: Figures | None = figures_of(r)
        elif r["settlement_status"] == "settled":
            figures = Figures(payout_by_area={a: Decimal(x) for a, x in r["totals_by_area"].items()})
        else:
            figures = None
        out.append(
            MonthRow(
                provider_id=r["provider_id"],
                period=r["period"],
                settlement_id=r["settlement_id"],
                settlement_status=r["settlement_status"],
                run_id=r["run_id"],
                source=r["source"],
                figures=figures,
            )
        )
    return out


async def latest_whatif(
    conn: asyncpg.Connection, tenant: str, period: str, tariff: str, provider: str | None
) -> RunRow | None:
    """The latest what-if run of the period under a tariff that covers the provider (every provider's
    when none is named)."""
    run_id = await conn.fetchval(
        """SELECT id FROM runs
           WHERE tenant_id = $1 AND period = $2 AND kind = 'whatif' AND forced_tariff = $3
             AND (provider_id IS NULL OR provider_id = $4)
           ORDER BY seq DESC LIMIT 1""",
        tenant,
        period,
        tariff,
        provider,
    )
    return await get(conn, tenant, run_id) if run_id else None


async def amounts(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, provider: str | None
) -> dict[tuple[str, str], Decimal]:
    """(provider, component) -> the run's paid amount (lines, reductions and adjustments; held lines
    are not paid), of one provider if given."""
    rows = await conn.fetch(
        """SELECT provider_id, component, sum(amount) AS amount FROM run_lines
           WHERE tenant_id = $1 AND run_id = $2 AND kind = ANY ($3::text[])
             AND ($4::text IS NULL OR provider_id = $4)
           GROUP BY provider_id, component""",
        tenant,
        run_id,
        list(PAID_KINDS),
        provider,
    )
    return {(r["provider_id"], r["component"]): r["amount"] for r in rows}
