"""The discrepancy queue's reads: a period's discrepancies filtered, ordered by the amount at stake
and paged in SQL, so that a page reads one page of rows however large the period."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import msgspec

from service.store.discrepancies import StoredFinding

CLAIM_CODE = "EXTRAORDINARY"  # its amount at stake is what the claim requests


class QueueRow(msgspec.Struct, frozen=True, kw_only=True):
    finding: StoredFinding
    at_stake: Decimal


class Matched(msgspec.Struct, frozen=True, kw_only=True):
    rows: list[QueueRow]  # the page asked for, largest amount at stake first
    total: int  # all that match
    at_stake: Decimal  # of all that match
    codes: list[str]  # the codes found in the runs chosen, matching or not (for the filter)


# Per discrepancy of the chosen runs ((provider, run) pairs: the period's current real runs) its
# amount at stake: the lines it holds as they would be paid if it were approved, else for an
# extraordinary claim the amount the claim requests, else what the record it blocks would earn on
# its own before caps (priced by the run: service/reconcile/pricing.py `at_stake`), else 0. The
# pairs come as arrays so that the planner knows how many rows to expect (the current_runs view it
# estimates at one, and joins accordingly); the CTEs are read once. The filters apply after the amounts are joined: a filter's
# estimate is a guess, and a low one turns the join with the held amounts into a nested loop.
_MATCHING = """
WITH chosen AS MATERIALIZED (
    SELECT * FROM unnest($2::text[], $3::uuid[]) AS c (provider_id, run_id)
),
held AS MATERIALIZED (
    SELECT l.run_id, l.held_by, sum(l.amount) AS amount
    FROM chosen c
    JOIN run_lines l ON l.tenant_id = $1 AND l.run_id = c.run_id AND l.provider_id = c.provider_id
    WHERE l.kind = 'held'
    GROUP BY l.run_id, l.held_by
),
found AS MATERIALIZED (
    SELECT rd.run_id, rd.key, rd.code, rd.kind, rd.pnr, rd.version,
           coalesce(nullif(h.amount, 0), cl.requested_amount, rd.at_stake, h.amount, 0.00) AS at_stake
    FROM chosen c
    JOIN run_discrepancies rd ON rd.tenant_id = $1 AND rd.run_id = c.run_id AND rd.provider_id = c.provider_id
    LEFT JOIN held h ON h.run_id = rd.run_id AND h.held_by = rd.key
    LEFT JOIN claims cl ON rd.code = '{claim_code}' AND strpos(rd.record, ':') > 0
         AND cl.tenant_id = $1 AND cl.provider_id = split_part(rd.record, ':', 1)
         AND cl.external_id = substr(rd.record, strpos(rd.record, ':') + 1)
),
m AS (
    SELECT rd.run_id, rd.key, rd.at_stake FROM found rd {status_join}
    WHERE ($4::text IS NULL OR rd.code = $4) AND ($5::text IS NULL OR rd.kind = $5)
      AND ($7::text[] IS NULL OR rd.pnr = ANY ($7::text[])) {status_filter}
),
t AS (SELECT count(*) AS total, coalesce(sum(at_stake), 0.00) AS sum,
             ARRAY(SELECT DISTINCT code FROM found ORDER BY 1) AS codes FROM m),
p AS (SELECT run_id, key, at_stake FROM m ORDER BY at_stake DESC, key COLLATE "C" LIMIT $8 OFFSET $9)
SELECT t.total, t.sum, t.codes, f.* FROM t LEFT JOIN (
    SELECT p.at_stake, d.id, rd.run_id, rd.key, rd.provider_id, rd.code, rd.kind, rd.record, rd.pnr, rd.day,
           rd.status, rd.version, rd.parameters, rd.provider_parameters, rd.detail, rd.provider_detail,
           l.seq AS decision_seq, l.decision, l.reason,
           l.amount, l.version AS decision_version, l.decided_by, l.decided_at
    FROM p
    JOIN run_discrepancies rd ON rd.tenant_id = $1 AND rd.run_id = p.run_id AND rd.key = p.key
    JOIN discrepancies d ON d.tenant_id = $1 AND d.key = p.key
    LEFT JOIN LATERAL (
        SELECT seq, decision, reason, amount, version, decided_by, decided_at FROM discrepancy_decisions x
        WHERE x.tenant_id = $1 AND x.key = p.key ORDER BY seq DESC LIMIT 1
    ) l ON true
) f ON true
ORDER BY f.at_stake DESC, f.key COLLATE "C"
"""
# The status as decided now, for a filter on it: domain.discrepancies.status in SQL, so that the
# filter pages in the database (open unless a blocking discrepancy's latest ruling was made on the
# record's present version). The latest rulings are read, once, only when filtering on it.
_STATUS_JOIN = """LEFT JOIN (
        SELECT DISTINCT ON (key) key, decision, version FROM discrepancy_decisions
        WHERE tenant_id = $1 ORDER BY key, seq DESC
    ) l ON l.key = rd.key"""
_STATUS_FILTER = """AND $6::text = CASE
          WHEN rd.kind <> 'blocking' OR l.version IS NULL OR l.version <> rd.version THEN 'open'
          WHEN l.decision = 'approve' THEN 'approved' ELSE 'rejected' END"""
_NO_STATUS = "AND $6::text IS NULL"


async def matching(
    conn: asyncpg.Connection,
    tenant: str,
    period: str,
    *,
    provider: str | None,
    code: str | None,
    kind: str | None,
    status: str | None,
    customers: list[str] | None,
    offset: int = 0,
    limit: int | None = None,
) -> Matched:
    """The period's discrepancies that match (`customers`: any of these personnummer), the page from
    `offset` (all with no `limit`), with the count and the amount at stake of all that match."""
    chosen = await conn.fetch(
        """SELECT provider_id, run_id FROM current_runs
           WHERE tenant_id = $1 AND period = $2 AND ($3::text IS NULL OR provider_id = $3)""",
        tenant,
        period,
        provider,
    )
    query = _MATCHING.format(
        claim_code=CLAIM_CODE,
        status_join=_STATUS_JOIN if status else "",
        status_filter=_STATUS_FILTER if status else _NO_STATUS,
    )
    async with conn.transaction():
        # Planned for these runs every time: a generic plan (which PostgreSQL switches to after five
        # executions of a prepared statement) guesses the runs' sizes and is 30 times slower.
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = await conn.fetch(
            query,
            tenant,
            [r["provider_id"] for r in chosen],
            [r["run_id"] for r in chosen],
            code,
            kind,
            status,
            customers,
            limit,
            offset,
        )
    found = [
        QueueRow(
            finding=StoredFinding(
                **{k: v for k, v in r.items() if k not in ("total", "sum", "codes", "at_stake")}
            ),
            at_stake=r["at_stake"],
        )
        for r in rows
        if r["id"] is not None
    ]
    return Matched(rows=found, total=rows[0]["total"], at_stake=rows[0]["sum"], codes=rows[0]["codes"])


async def customer_by_ref(conn: asyncpg.Connection, tenant: str, ref: str, chosen: str | None) -> str | None:
    """The personnummer of the customer with this reference; with `chosen`, only if that provider is or
    was chosen for the customer (a provider knows no other customer's reference)."""
    return await conn.fetchval(
        """SELECT pnr FROM customers c WHERE tenant_id = $1 AND ref = $2
             AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM provider_choices p
                  WHERE p.tenant_id = c.tenant_id AND p.pnr = c.pnr AND p.provider_id = $3))""",
        tenant,
        ref,
        chosen,
    )


async def latest_ruling(conn: asyncpg.Connection, tenant: str) -> int:
    """The newest ruling's number (0: none yet), to compare with the rulings a run applied."""
    return await conn.fetchval(
        "SELECT coalesce(max(seq), 0) FROM discrepancy_decisions WHERE tenant_id = $1", tenant
    )
