"""The workplace's overview (workplace.md, screen 1): per period and provider, where the month stands
and what to do next. Read-only and free of personal data."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from service.domain.principal import Principal
from service.store import changes, queue, runs, settlements
from service.usecases.access import listed_provider

Status = Literal["reconciled", "prepared", "settled"]
RECENT_RUNS = 500  # real runs read to find each provider-period's current one


class ProviderPeriod(msgspec.Struct, frozen=True, kw_only=True):
    period: str
    provider: str
    name: str
    status: Status
    open_blocking: int  # undecided blocking discrepancies in the current run
    held: Decimal  # amount held by them (if approved)
    total: Decimal
    run: UUID
    run_started_at: datetime
    run_started_by: str
    inputs_changed: list[str]  # what changed since the run (empty: the run is current)
    decided_since: bool  # discrepancies decided after the run
    settlement: UUID | None
    settlement_prepared_by: str | None


async def overview(conn: asyncpg.Connection, who: Principal) -> list[ProviderPeriod]:
    """Newest period first, then provider: each provider-period that has a real run."""
    only = listed_provider(who, None)
    names = dict(await runs.providers(conn, who.tenant_id, only))
    current: dict[tuple[str, str], tuple[runs.RunRow, dict]] = {}
    for run in await runs.list_runs(
        conn, who.tenant_id, period=None, kind="real", before=None, limit=RECENT_RUNS
    ):
        for part in run.summary["providers"]:
            key = (run.period, part["provider"])
            if part["provider"] in names and key not in current:
                current[key] = (run, part)
    if not current:
        return []
    # Only a run that read an input older than its newest record, or applied fewer rulings than there
    # are, can be stale: changes.since (which reads per provider-period) is asked about those only.
    newest, ruling = await changes.marks(conn, who.tenant_id), await queue.latest_ruling(conn, who.tenant_id)
    maybe = [
        (p, period, r.id)
        for (period, p), (r, _) in current.items()
        if r.decision_seq < ruling or any(seq > r.input_marks.get(name, 0) for name, seq in newest.items())
    ]
    changed = {(c.period, c.provider_id): c for c in await changes.since(conn, who.tenant_id, maybe)}
    settled: dict[tuple[str, str], settlements.SettlementRow] = {}
    for period in {period for period, _ in current}:
        for row in await settlements.list_settlements(
            conn, who.tenant_id, period=period, provider=only, status=None, after=None, limit=10_000
        ):
            key = (row.period, row.provider_id)
            if key not in settled or row.prepared_at > settled[key].prepared_at:
                settled[key] = row
    result = []
    for (period, provider), (run, part) in current.items():
        found = settled.get((period, provider))
        change = changed.get((period, provider))
        result.append(
            ProviderPeriod(
                period=period,
                provider=provider,
                name=names[provider],
                status="settled"
                if found and found.status == "settled"
                else "prepared"
                if found and found.status == "prepared" and found.run_id == run.id
                else "reconciled",
                open_blocking=part["open_blocking"],
                held=Decimal(part["held"]),
                total=Decimal(part["total"]),
                run=run.id,
                run_started_at=run.started_at,
                run_started_by=run.started_by,
                inputs_changed=change.inputs if change else [],
                decided_since=change.rulings if change else False,
                settlement=found.id if found else None,
                settlement_prepared_by=found.prepared_by if found else None,
            )
        )
    result.sort(key=lambda r: (r.period, r.provider))
    result.sort(key=lambda r: r.period, reverse=True)
    return result
