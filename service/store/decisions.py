"""Decisions at scale (issue 5): one decision and reason for every discrepancy a filter matches.

Each matched blocking discrepancy gets its own decision row and its own audit entry, exactly as a
single decision would (service/store/discrepancies.decide), all in the request's transaction: the
whole bulk is decided or none of it. Hard and info discrepancies take no decision: a filter that
asks for them is refused, and the ones a filter matches are skipped and named in the reply.
"""

from __future__ import annotations

import asyncpg
import msgspec

from schemas import decisions as s
from schemas.reconcile import DecisionIn
from service.domain.discrepancies import KINDS
from service.domain.errors import Conflict, Invalid
from service.domain.principal import Principal
from service.store import discrepancies

# More than this in one request is refused: split the filter (e.g. by code) instead.
MAX_MATCHED = 10_000


async def decide_many(
    conn: asyncpg.Connection, who: Principal, data: s.BulkDecisionIn
) -> s.BulkDecisionResult:
    wanted = data.filter
    if wanted.code not in KINDS:
        raise Invalid(
            f"unknown discrepancy code {wanted.code}",
            [{"field": "filter.code", "message": "not a discrepancy code"}],
        )
    if wanted.kind in ("hard", "info"):
        raise Conflict(f"{wanted.kind} discrepancies take no decision")
    if KINDS[wanted.code] != "blocking":  # codes blocking only on some records still match hard/info ones
        raise Conflict(f"{wanted.code} is a {KINDS[wanted.code]} discrepancy: it takes no decision")
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
    single = DecisionIn(decision=data.decision, reason=data.reason, amount=data.amount)
    bulk = msgspec.to_builtins(wanted)
    decided, skipped = [], []
    for item in found:
        if item.kind != "blocking":
            skipped.append(
                s.Skipped(
                    id=item.id,
                    key=item.key,
                    kind=item.kind,  # type: ignore[arg-type]
                    reason=f"{item.kind} discrepancies take no decision",
                )
            )
            continue
        await discrepancies.decide(conn, who, item.id, single, bulk=bulk)
        decided.append(item.id)
    return s.BulkDecisionResult(matched=len(found), decided=len(decided), ids=decided, skipped=skipped)
