"""Reviewing discrepancies: read them, and rule on blocking ones (approve or reject, with a reason),
one at a time or every one a filter matches. The API calls a ruling a decision (docs/glossary.md).

A ruling binds to the discrepancy's stable key and the version of the record its latest run saw, so
it survives re-runs and applies from the next run; a correction of the record reopens it. Hard and
info discrepancies take no ruling (409). Every ruling is its own audit entry, also in bulk, where all
are made in the request's transaction or none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from schemas import reconcile as s
from schemas.rulings import BulkRulingIn, BulkRulingResult, Skipped
from service.domain.discrepancies import SEVERITIES
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.money import InvalidMoney, parse_money
from service.domain.principal import Principal
from service.events import event
from service.store import audit, discrepancies, rulings
from service.store.discrepancies import StoredFinding
from service.usecases import documents as document
from service.usecases.access import own_provider, require_visible
from service.usecases.runs import period_of, visible_run
from service.usecases.viewers import audit_shown, viewer

# More than this in one bulk request is refused: split the filter (e.g. by code) instead.
MAX_MATCHED = 10_000


async def list_discrepancies(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    period: str | None,
    run_id: UUID | None,
    provider: str | None,
    code: str | None,
    severity: str | None,
    status: str | None,
    after: UUID | None,
    limit: int,
    explain: document.Explain,
) -> s.DiscrepancyPage:
    """Discrepancies of a period's current runs (or of one run), filtered; ordered by key."""
    if run_id is None and period is None:
        raise Invalid(
            "give a period or a run", [{"field": "period", "message": "required unless run is given"}]
        )
    if run_id is not None:
        await visible_run(conn, who, run_id)
    rows = await discrepancies.find(
        conn,
        who.tenant_id,
        period=str(period_of(period)) if period else None,
        run_id=run_id,
        provider=own_provider(who, provider),
        code=code,
        kind=severity,
        status=status,
        after=after,
        limit=limit + 1,
    )
    shown = await viewer(conn, who, (f.pnr for f in rows))
    items = [document.discrepancy(f, shown, explain) for f in rows[:limit]]
    await audit_shown(conn, who, shown, "discrepancies.read")
    return s.DiscrepancyPage(items=items, next_after=str(items[-1].id) if len(rows) > limit else None)


async def _latest(conn: asyncpg.Connection, who: Principal, discrepancy_id: UUID) -> StoredFinding:
    found = await discrepancies.latest(conn, who.tenant_id, discrepancy_id)
    if found is None:
        raise NotFound(f"no discrepancy {discrepancy_id}")
    return found


async def _detail(
    conn: asyncpg.Connection, who: Principal, found: StoredFinding, explain: document.Explain
) -> s.DiscrepancyDetail:
    shown = await viewer(conn, who, [found.pnr], single=True)
    view = document.discrepancy(found, shown, explain)
    history = [
        s.Ruling(
            seq=h.seq,
            decision=h.decision,  # type: ignore[arg-type]
            reason=h.reason,
            amount=h.amount,
            version=h.version,
            decided_by=h.decided_by,
            decided_at=h.decided_at,
            in_force=h.seq == found.decision_seq and found.status_now != "open",
        )
        for h in await rulings.history(conn, who.tenant_id, found.key)
    ]
    await audit_shown(conn, who, shown, "discrepancy.read")
    return s.DiscrepancyDetail(discrepancy=view, history=history)


async def get_discrepancy(
    conn: asyncpg.Connection, who: Principal, discrepancy_id: UUID, explain: document.Explain
) -> s.DiscrepancyDetail:
    """A discrepancy as its latest run found it, with its ruling history."""
    found = await _latest(conn, who, discrepancy_id)
    require_visible(who, found.provider_id, f"no discrepancy {discrepancy_id}")
    return await _detail(conn, who, found, explain)


def _amount(code: str, data: s.RulingIn) -> Decimal | None:
    """EXTRAORDINARY approvals set the paid amount; no other ruling carries one."""
    needs = code == "EXTRAORDINARY" and data.decision == "approve"
    if needs and data.amount is None:
        raise Invalid(
            "approving an extraordinary insats sets the amount paid",
            [{"field": "amount", "message": "required when approving EXTRAORDINARY"}],
        )
    if not needs and data.amount is not None:
        raise Invalid(
            "only an approved extraordinary insats carries an amount",
            [{"field": "amount", "message": "only for approving EXTRAORDINARY"}],
        )
    if data.amount is None:
        return None
    try:
        return parse_money(data.amount)
    except InvalidMoney as err:
        raise Invalid(str(err), [{"field": "amount", "message": str(err)}]) from None


async def _rule(
    conn: asyncpg.Connection,
    who: Principal,
    discrepancy_id: UUID,
    data: s.RulingIn,
    *,
    bulk: dict[str, Any] | None = None,
) -> None:
    """Store one ruling and its audit entry (one made in bulk names the filter it was made by)."""
    reason = data.reason.strip()
    if not reason:
        raise Invalid("a decision needs a reason", [{"field": "reason", "message": "must not be blank"}])
    # Locked until commit, so `before` in the audit entry is exact.
    ident = await discrepancies.identity(conn, who.tenant_id, discrepancy_id)
    if ident is None:
        raise NotFound(f"no discrepancy {discrepancy_id}")
    if ident.kind != "blocking":
        raise Conflict(f"{ident.code} is a {ident.kind} discrepancy: it takes no decision")
    amount = _amount(ident.code, data)
    found = await _latest(conn, who, discrepancy_id)
    before = (
        {"decision": found.decision, "amount": found.amount, "version": found.decision_version}
        if found.decision is not None
        else None
    )
    await rulings.add(
        conn, who, ident.key, decision=data.decision, reason=reason, amount=amount, version=found.version
    )
    await audit.record(
        conn,
        who,
        action="discrepancy.decide",
        entity_kind="discrepancy",
        entity_ids=[str(discrepancy_id)],
        reason=reason,
        before=before,
        after={
            "code": ident.code,
            "provider": found.provider_id,
            "decision": data.decision,
            "amount": amount,
            "version": found.version,
            **({"bulk": bulk} if bulk is not None else {}),
        },
    )
    event(
        "discrepancy.ruled",
        tenant=who.tenant_id,
        discrepancy=str(discrepancy_id),
        code=ident.code,
        provider=found.provider_id,
        decision=data.decision,
        amount=amount,
        bulk=bulk is not None,
        by=who.role,
    )


async def rule(
    conn: asyncpg.Connection,
    who: Principal,
    discrepancy_id: UUID,
    data: s.RulingIn,
    explain: document.Explain,
) -> s.DiscrepancyDetail:
    """Approve or reject a blocking discrepancy; returns it as decided now, with its history."""
    await _rule(conn, who, discrepancy_id, data)
    return await _detail(conn, who, await _latest(conn, who, discrepancy_id), explain)


async def rule_many(conn: asyncpg.Connection, who: Principal, data: BulkRulingIn) -> BulkRulingResult:
    """One ruling and reason for every blocking discrepancy the filter matches; a filter asking for
    hard or info ones is refused, and those it matches are skipped and named in the reply."""
    wanted = data.filter
    if wanted.code not in SEVERITIES:
        raise Invalid(
            f"unknown discrepancy code {wanted.code}",
            [{"field": "filter.code", "message": "not a discrepancy code"}],
        )
    if wanted.kind in ("hard", "info"):
        raise Conflict(f"{wanted.kind} discrepancies take no decision")
    if (
        SEVERITIES[wanted.code] != "blocking"
    ):  # codes blocking only on some records still match hard/info ones
        raise Conflict(f"{wanted.code} is a {SEVERITIES[wanted.code]} discrepancy: it takes no decision")
    found = await discrepancies.find(
        conn,
        who.tenant_id,
        period=wanted.period,
        provider=wanted.provider,
        code=wanted.code,
        kind=wanted.kind,
        status=wanted.status,
        limit=MAX_MATCHED + 1,
    )
    if len(found) > MAX_MATCHED:
        raise Conflict(f"the filter matches more than {MAX_MATCHED} discrepancies: narrow it")
    single = s.RulingIn(decision=data.decision, reason=data.reason, amount=data.amount)
    bulk = msgspec.to_builtins(wanted)
    decided, skipped = [], []
    for item in found:
        if item.kind != "blocking":
            skipped.append(
                Skipped(
                    id=item.id,
                    key=item.key,
                    kind=item.kind,  # type: ignore[arg-type]
                    reason=f"{item.kind} discrepancies take no decision",
                )
            )
            continue
        await _rule(conn, who, item.id, single, bulk=bulk)
        decided.append(item.id)
    return BulkRulingResult(matched=len(found), decided=len(decided), ids=decided, skipped=skipped)
