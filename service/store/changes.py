"""Inputs changed since a run (domain.md 7b), the one definition of it: a run is stale, and a settled
period must be priced again, when it says so.

Every input record carries a change stamp (`changed_seq`, one sequence for all); a run records the
highest stamp of each input it read (`marks`) and the highest ruling it applied. For provider P's
period, what changed since is:

- a record of P: its visits of the period and a day either side (OVERLAP looks across the edges,
  also at the old version of a corrected visit), its claims of the calendar year (limits), its
  executions, delegations and enrolments valid before the period's end;
- a registry record (customer, zone, choice, decision, decision line), or any provider's pause, of a
  customer P had in the period: one P has a record of (an execution of the customer's decision, a
  visit, an enrolment, a claim of the year); P's lines and discrepancies all come from such records;
- what a cross-provider limit reads: other providers' claims of the year for the customers of P's
  claims, their enrolments (which make those claims payable) and rulings on them;
- the insats catalogue (tenant-wide);
- a ruling on a discrepancy the period's runs found for P.

A new visit of another provider never makes P's run stale. Records other than visits keep no earlier
version, so a correction that moves a record's start from inside the period to after its end is
not seen here (the narrowing by start date is what keeps a later month's records from recomputing a
settled one).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from service.domain.bounds import MAX_VISIT

INPUTS = (
    "insatser",
    "customers",
    "customer_zones",
    "provider_choices",
    "decisions",
    "decision_lines",
    "delegations",
    "enrolments",
    "executions",
    "pauses",
    "visits",
    "claims",
)

# The highest change stamp of each input: what a run records as its `marks`.
_MARKS = " UNION ALL ".join(
    f"SELECT '{name}' AS input, coalesce(max(changed_seq), 0) AS seq FROM {name} WHERE tenant_id = $1"
    for name in INPUTS
)


# A visit lasts at most MAX_VISIT, so one that ends after the day before the period started at most
# this many days before the period. The own-visits check asks day by day (each day's changed visits
# are one index range, visits_provider_day_changed), so a run of an earlier month does not read the
# visits of the later ones.
_VISIT_DAYS_BEFORE = MAX_VISIT.days + 1


def _mark(name: str) -> str:
    return f"coalesce((b.marks ->> '{name}')::bigint, 0)"


def _newer(name: str) -> str:
    """Whether anything of the input changed since the run: checked once per run before its records
    are, so that when nothing did (after a ruling, say) they are not read."""
    return f"{_mark(name)} < (SELECT {name} FROM newest)"


# The newest change stamp of each input (each the last entry of its change-stamp index).
_NEWEST = ",\n           ".join(
    f"(SELECT coalesce(max(changed_seq), 0) FROM {name} WHERE tenant_id = $1) AS {name}" for name in INPUTS
)


# The provider's own records valid before the period's end.
_OWN_PERIOD_RECORDS = "\n        UNION ALL\n        ".join(
    f"""SELECT '{name}' WHERE EXISTS (
            SELECT 1 FROM {name} x WHERE {_newer(name)} AND x.tenant_id = $1
              AND x.provider_id = b.provider_id AND x.changed_seq > {_mark(name)} AND x.valid_from < b.stop)"""
    for name in ("delegations", "enrolments", "executions")
)
# Registry records and pauses by customer, and from when they apply where they have a start
# (decision lines, below, have their customer on their decision).
_BY_CUSTOMER = (
    ("customers", "NULL::date"),
    ("customer_zones", "x.valid_from"),
    ("provider_choices", "x.valid_from"),
    ("decisions", "NULL::date"),
    ("pauses", "x.valid_from"),
)
_CUSTOMER_RECORDS = "\n    UNION ALL\n    ".join(
    f"""SELECT '{name}' AS input, x.pnr, x.changed_seq, {start} AS valid_from FROM {name} x
    WHERE (SELECT seq FROM floor WHERE input = '{name}') < (SELECT {name} FROM newest)
      AND x.tenant_id = $1 AND x.changed_seq > (SELECT seq FROM floor WHERE input = '{name}')"""
    for name, start in _BY_CUSTOMER
)
_CUSTOMER_INPUTS = ", ".join(f"'{name}'" for name, _ in (*_BY_CUSTOMER, ("decision_lines", None)))

# $1 tenant, $2 providers, $3 periods, $4 the runs to compare with (pairwise).
_CHANGED = f"""
WITH b AS (
    SELECT c.provider_id, c.period, r.input_marks AS marks, r.decision_seq,
           to_date(c.period, 'YYYY-MM') AS first,
           (to_date(c.period, 'YYYY-MM') + interval '1 month')::date AS stop,
           date_trunc('year', to_date(c.period, 'YYYY-MM'))::date AS year_start
    FROM unnest($2::text[], $3::text[], $4::uuid[]) AS c (provider_id, period, run_id)
    JOIN runs r ON r.tenant_id = $1 AND r.id = c.run_id
),
newest AS MATERIALIZED (
    SELECT {_NEWEST}
),
-- The customers of P's claims of the year: other providers' claims of them use up the same limits.
claimants AS (
    SELECT DISTINCT b.provider_id, b.period, k.pnr
    FROM b
    JOIN claims k ON k.tenant_id = $1 AND k.provider_id = b.provider_id AND k.pnr IS NOT NULL
                 AND k.claim_date >= b.year_start AND k.claim_date < b.stop
),
own AS MATERIALIZED (
    SELECT b.provider_id, b.period, x.input
    FROM b
    CROSS JOIN LATERAL (
        SELECT 'insatser' AS input WHERE EXISTS (
            SELECT 1 FROM insatser x WHERE {_newer("insatser")} AND x.tenant_id = $1
              AND x.changed_seq > {_mark("insatser")})
        UNION ALL
        {_OWN_PERIOD_RECORDS}
        UNION ALL
        SELECT 'visits' WHERE {_newer("visits")} AND EXISTS (
            SELECT 1 FROM generate_series(0, b.stop - b.first + {_VISIT_DAYS_BEFORE}) AS d (n)
            CROSS JOIN LATERAL (
                SELECT 1 FROM visits x WHERE x.tenant_id = $1 AND x.provider_id = b.provider_id
                  AND x.service_date = b.first - {_VISIT_DAYS_BEFORE} + d.n
                  AND x.changed_seq > {_mark("visits")} AND x.ended_at > b.first - 1
                LIMIT 1) x)
        UNION ALL
        SELECT 'visits' WHERE EXISTS (
            SELECT 1 FROM visit_versions vv
            JOIN visits x ON x.tenant_id = vv.tenant_id AND x.provider_id = vv.provider_id
                         AND x.external_id = vv.external_id
            WHERE {_newer("visits")} AND vv.tenant_id = $1 AND vv.provider_id = b.provider_id
              AND x.changed_seq > {_mark("visits")}
              AND ((vv.content ->> 'start')::timestamptz AT TIME ZONE 'Europe/Stockholm')::date
                  BETWEEN b.first - 1 AND b.stop)
        UNION ALL
        SELECT 'claims' WHERE EXISTS (
            SELECT 1 FROM claims x WHERE {_newer("claims")} AND x.tenant_id = $1
              AND x.provider_id = b.provider_id AND x.changed_seq > {_mark("claims")}
              AND x.claim_date >= b.year_start AND x.claim_date < b.stop)
    ) x
),
-- Registry records and every provider's pauses changed since the earliest of the runs, by customer;
-- then since each run.
floor AS (
    SELECT input, min(coalesce((b.marks ->> input)::bigint, 0)) AS seq
    FROM b
    CROSS JOIN unnest(ARRAY[{_CUSTOMER_INPUTS}]) AS input
    GROUP BY input
),
changed_records AS MATERIALIZED (
    {_CUSTOMER_RECORDS}
    UNION ALL
    SELECT 'decision_lines', d.pnr, x.changed_seq, x.valid_from FROM decision_lines x
    JOIN decisions d ON d.tenant_id = x.tenant_id AND d.id = x.decision_id
    WHERE (SELECT seq FROM floor WHERE input = 'decision_lines') < (SELECT decision_lines FROM newest)
      AND x.tenant_id = $1 AND x.changed_seq > (SELECT seq FROM floor WHERE input = 'decision_lines')
),
-- Who had each of those customers in each period asked about: P had a customer it executes a
-- decision of, visited, enrolled or claimed for. Read once per customer and period, not per run.
had AS MATERIALIZED (
    SELECT p.period, c.pnr, h.provider_id
    FROM (SELECT DISTINCT period, first, stop, year_start FROM b) p
    CROSS JOIN (SELECT DISTINCT pnr FROM changed_records) c
    CROSS JOIN LATERAL (
        SELECT e.provider_id FROM decisions d
        JOIN executions e ON e.tenant_id = d.tenant_id AND e.decision_id = d.id
        WHERE d.tenant_id = $1 AND d.pnr = c.pnr AND e.during && daterange(p.first, p.stop)
        UNION ALL
        (SELECT DISTINCT v.provider_id FROM visits v
         WHERE v.tenant_id = $1 AND v.pnr = c.pnr AND v.service_date BETWEEN p.first - 1 AND p.stop)
        UNION ALL
        SELECT e.provider_id FROM enrolments e
        WHERE e.tenant_id = $1 AND e.pnr = c.pnr AND e.during && daterange(p.year_start, p.stop)
    ) h
    UNION
    SELECT k.period, k.pnr, k.provider_id FROM claimants k WHERE k.pnr IN (SELECT pnr FROM changed_records)
),
-- ... changed since P's run, of a customer P had in the period.
registry AS MATERIALIZED (
    SELECT DISTINCT b.provider_id, b.period, x.input
    FROM changed_records x
    JOIN had h ON h.pnr = x.pnr
    JOIN b ON b.provider_id = h.provider_id AND b.period = h.period
    WHERE x.changed_seq > coalesce((b.marks ->> x.input)::bigint, 0)
      AND (x.valid_from IS NULL OR x.valid_from < b.stop)
),
-- Other providers' claims of the year for the customers of P's claims, and their enrolments.
limits AS MATERIALIZED (
    SELECT DISTINCT k.provider_id, k.period, x.input
    FROM claimants k
    JOIN b ON b.provider_id = k.provider_id AND b.period = k.period
    CROSS JOIN LATERAL (
        SELECT 'claims' AS input WHERE EXISTS (
            SELECT 1 FROM claims x WHERE {_newer("claims")} AND x.tenant_id = $1 AND x.pnr = k.pnr
              AND x.provider_id <> k.provider_id AND x.changed_seq > {_mark("claims")}
              AND x.claim_date >= b.year_start AND x.claim_date < b.stop)
        UNION ALL
        SELECT 'enrolments' WHERE EXISTS (
            SELECT 1 FROM enrolments x WHERE {_newer("enrolments")} AND x.tenant_id = $1 AND x.pnr = k.pnr
              AND x.provider_id <> k.provider_id AND x.changed_seq > {_mark("enrolments")}
              AND x.valid_from < b.stop)
    ) x
)
SELECT b.provider_id, b.period,
       ARRAY(SELECT DISTINCT c.input FROM (SELECT * FROM own UNION ALL SELECT * FROM registry
                                           UNION ALL SELECT * FROM limits) c
             WHERE c.provider_id = b.provider_id AND c.period = b.period ORDER BY 1) AS inputs,
       -- Rulings on what the period's runs found for P, and on other providers' claims that use up
       -- the same limits.
       EXISTS (SELECT 1 FROM discrepancy_decisions x
               JOIN run_discrepancies rd ON rd.tenant_id = x.tenant_id AND rd.key = x.key
               JOIN runs r ON r.tenant_id = rd.tenant_id AND r.id = rd.run_id
               WHERE x.tenant_id = $1 AND x.seq > b.decision_seq
                 AND ((r.period = b.period AND rd.provider_id = b.provider_id)
                      OR (rd.pnr IN (SELECT k.pnr FROM claimants k
                                     WHERE k.provider_id = b.provider_id AND k.period = b.period)
                          AND rd.day >= to_char(b.year_start, 'YYYY-MM-DD')
                          AND rd.day < to_char(b.stop, 'YYYY-MM-DD')))) AS rulings
FROM b
"""


class Changed(msgspec.Struct, frozen=True, kw_only=True):
    """What changed for a provider-period since a run: the inputs, and whether rulings did."""

    provider_id: str
    period: str
    inputs: list[str]
    rulings: bool

    @property
    def any(self) -> bool:
        return bool(self.inputs) or self.rulings


async def marks(conn: asyncpg.Connection, tenant: str) -> dict[str, int]:
    """The highest change stamp of each input (a run records them, read in its snapshot)."""
    return {r["input"]: r["seq"] for r in await conn.fetch(_MARKS, tenant)}


async def since(conn: asyncpg.Connection, tenant: str, runs: list[tuple[str, str, UUID]]) -> list[Changed]:
    """For each (provider, period, run): what changed for the provider's period since the run."""
    if not runs:
        return []
    async with conn.transaction():
        # JIT compiling this statement's many subplans takes seconds (its cost estimate is high
        # and every subplan is compiled); it runs in milliseconds without (as a run does: context.sql).
        # Inside a caller's transaction the setting lasts to that transaction's end.
        await conn.execute("SET LOCAL jit = off")
        rows = await conn.fetch(_CHANGED, tenant, *map(list, zip(*runs, strict=True)))
    return [Changed(**dict(r)) for r in rows]
