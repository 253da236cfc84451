"""Reconciliation runs: stored once, with their lines and findings, and never changed.

A period's current real run for a provider is the latest real run that covered it; what-if runs are
kept apart and never current.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from service.domain.discrepancies import Finding
from service.domain.followup import Figures
from service.domain.lines import Adjustment, InvoiceLine, exact_text, parse_exact
from service.domain.outcome import Outcome
from service.domain.principal import Principal
from service.store import discrepancies, rulings


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    seq: int
    period: str
    provider_id: str | None
    kind: str
    forced_tariff: str | None
    tariffs: list[str]
    started_by: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    input_seq: int
    input_marks: dict[str, int]
    decision_seq: int
    grand_total: Decimal
    summary: dict[str, Any]
    warnings: list[str]


# A stored line's columns; `quantity` is stored as its exact text ("39/14").
LINE_COLUMNS = (
    "id",
    "run_id",
    "ord",
    "provider_id",
    "kind",
    "component",
    "area",
    "basis",
    "tariff_id",
    "rule",
    "pnr",
    "zone",
    "unit",
    "quantity",
    "unit_price",
    "amount",
    "held_by",
    "discrepancy",
    "trail",
    "detail",
)
_RUN_COLUMNS = ", ".join(RunRow.__struct_fields__)
LINE_SELECT = ", ".join(f"rl.{c}" for c in LINE_COLUMNS)
# The lines an adjustment links, by relation (sql/migrations/0007), and the fields of Adjustment.
LINK_RELATIONS = {
    "original": "original_lines",
    "earlier": "earlier_adjustments",
    "recomputed": "recomputed_lines",
}
_LINKED = ",\n       ".join(
    f"""ARRAY(SELECT k.linked_line_id FROM run_line_links k WHERE k.tenant_id = a.tenant_id
               AND k.line_id = a.line_id AND k.relation = '{relation}' ORDER BY k.n) AS {field}"""
    for relation, field in LINK_RELATIONS.items()
)
# What an adjustment corrects, with the lines it links in order.
_ADJUSTMENTS = f"""
SELECT a.line_id, a.original_period, a.adjusts, a.settled_run_id AS settled_run,
       a.recompute_run_id AS recompute_run, a.paid_amount, a.recomputed_amount,
       {_LINKED}
FROM run_line_adjustments a
WHERE a.tenant_id = $1 AND a.line_id = ANY ($2::uuid[])
"""


async def read_lines(
    conn: asyncpg.Connection, tenant: str, rows: Iterable[asyncpg.Record]
) -> list[InvoiceLine]:
    """Typed lines from rows of run_lines' columns (and a settled line's `account`), with what each
    adjustment among them corrects."""
    out = []
    for r in rows:
        quantity = r["quantity"]
        out.append(InvoiceLine(**{**r, "quantity": parse_exact(quantity) if quantity is not None else None}))
    adjusting = [x.id for x in out if x.kind == "adjustment"]
    if adjusting:
        found = {
            r["line_id"]: Adjustment(**{k: v for k, v in r.items() if k != "line_id"})
            for r in await conn.fetch(_ADJUSTMENTS, tenant, adjusting)
        }
        for x in out:
            if x.kind == "adjustment":
                x.adjustment = found[x.id]
    return out


async def save(
    conn: asyncpg.Connection,
    who: Principal,
    *,
    period: str,
    provider: str | None,
    forced: str | None,
    kind: str | None = None,
    providers: list[str],
    outcome: Outcome,
    marks: dict[str, int],
    decision_seq: int,
    started_at: datetime,
    finished_at: datetime,
) -> RunRow:
    """Store a run, its lines and findings, in the caller's transaction (the use case audits it). `kind`
    defaults to 'whatif' with a forced tariff, else 'real' ('recompute': service/reconcile/adjustments.py)."""
    kind = kind or ("whatif" if forced else "real")
    run_id = uuid.uuid4()
    tenant = who.tenant_id
    summary = outcome.summary(providers)
    grand_total = sum((p["total"] for p in summary["providers"]), Decimal("0.00"))
    await discrepancies.register(conn, tenant, outcome.findings)
    await conn.execute(
        """INSERT INTO runs (tenant_id, id, period, provider_id, kind, forced_tariff, tariffs, started_by,
                             started_by_key, started_at, finished_at, duration_ms, input_seq, input_marks,
                             decision_seq, grand_total, summary, warnings)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)""",
        tenant,
        run_id,
        period,
        provider,
        kind,
        forced,
        outcome.tariffs,
        who.name,
        who.key_id,
        started_at,
        finished_at,
        int((finished_at - started_at).total_seconds() * 1000),
        max(marks.values(), default=0),
        marks,
        decision_seq,
        grand_total,
        summary,
        outcome.warnings,
    )
    await _store_lines(conn, tenant, run_id, outcome.lines)
    await _store_findings(conn, tenant, run_id, outcome.findings, outcome.at_stake)
    await _store_followup(conn, tenant, run_id, outcome.followup(providers))
    saved = await get(conn, tenant, run_id)
    assert saved is not None
    return saved


FINDING_COLUMNS = [
    "run_id",
    "key",
    "provider_id",
    "code",
    "kind",
    "record",
    "pnr",
    "day",
    "status",
    "decision_seq",
    "version",
    "at_stake",
    "parameters",
    "provider_parameters",
]


async def _store_findings(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, findings: list[Finding], at_stake: dict[str, Decimal]
) -> None:
    """A run's discrepancies with their parameters (staged as text, as the lines are) and, for those
    blocking a record that holds no line, the record's own price."""
    await conn.execute(
        f"""CREATE TEMP TABLE kv_findings_in ON COMMIT DROP AS
            SELECT {", ".join(FINDING_COLUMNS[:-2])}, ''::text AS parameters, ''::text AS provider_parameters
            FROM run_discrepancies WITH NO DATA"""
    )
    await conn.copy_records_to_table(
        "kv_findings_in",
        columns=FINDING_COLUMNS,
        records=[
            (
                run_id,
                f.key,
                f.provider,
                f.code,
                f.kind,
                f.record,
                f.pnr,
                f.day,
                f.status,
                f.decision_seq,
                f.version,
                at_stake.get(f.key),
                msgspec.json.encode(f.parts).decode(),
                msgspec.json.encode(f.provider_parts).decode(),
            )
            for f in findings
        ],
    )
    columns = ", ".join(FINDING_COLUMNS)
    staged = columns.replace("parameters", "parameters::jsonb")
    await conn.execute(
        f"INSERT INTO run_discrepancies (tenant_id, {columns}) SELECT $1, {staged} FROM kv_findings_in",
        tenant,
    )


async def _store_lines(conn: asyncpg.Connection, tenant: str, run_id: UUID, lines: list[InvoiceLine]) -> None:
    """A run's lines in their order, and what each adjustment among them corrects."""
    # COPY has no binary form for jsonb: stage the JSON as text, then one INSERT ... SELECT, which
    # also draws the ids the engine did not set (a uuid4 per line in Python costs a second at
    # 100 000 lines; the engine sets them only on lines that something links to).
    await conn.execute(
        """CREATE TEMP TABLE kv_lines_in (LIKE run_lines) ON COMMIT DROP;
           ALTER TABLE kv_lines_in DROP tenant_id, ALTER id DROP NOT NULL, ALTER trail TYPE text,
                                   ALTER detail TYPE text"""
    )
    await conn.copy_records_to_table(
        "kv_lines_in",
        columns=LINE_COLUMNS,
        records=[
            (
                line.id,
                run_id,
                ord_,
                line.provider_id,
                line.kind,
                line.component,
                line.area,
                line.basis,
                line.tariff_id,
                line.rule,
                line.pnr,
                line.zone,
                line.unit,
                exact_text(line.quantity) if line.quantity is not None else None,
                line.unit_price,
                line.amount,
                line.held_by,
                line.discrepancy,
                msgspec.json.encode(line.trail).decode(),
                msgspec.json.encode(line.detail).decode(),
            )
            for ord_, line in enumerate(lines, start=1)
        ],
    )
    columns = ", ".join(LINE_COLUMNS[1:])
    staged = columns.replace("trail", "trail::jsonb").replace("detail", "detail::jsonb")
    await conn.execute(
        f"""INSERT INTO run_lines (tenant_id, id, {columns})
            SELECT $1, coalesce(id, gen_random_uuid()), {staged} FROM kv_lines_in""",
        tenant,
    )
    adjustments = [(x.id, x.adjustment) for x in lines if x.adjustment is not None]
    if not adjustments:
        return
    await conn.executemany(
        """INSERT INTO run_line_adjustments (tenant_id, line_id, original_period, adjusts, settled_run_id,
                                             recompute_run_id, paid_amount, recomputed_amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [
            (
                tenant,
                line_id,
                a.original_period,
                a.adjusts,
                a.settled_run,
                a.recompute_run,
                a.paid_amount,
                a.recomputed_amount,
            )
            for line_id, a in adjustments
        ],
    )
    await conn.executemany(
        """INSERT INTO run_line_links (tenant_id, line_id, relation, n, linked_line_id)
           VALUES ($1, $2, $3, $4, $5)""",
        [
            (tenant, line_id, relation, n, linked)
            for line_id, a in adjustments
            for relation, field in LINK_RELATIONS.items()
            for n, linked in enumerate(getattr(a, field), start=1)
        ],
    )


async def recomputed(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, periods: list[tuple[str, str, UUID, int]]
) -> None:
    """Which settled periods a stored run recomputed: (provider, period, recompute run, adjustment
    lines booked); the baseline of later changes once the run is settled."""
    await conn.executemany(
        """INSERT INTO run_recomputes (tenant_id, run_id, provider_id, original_period, recompute_run_id,
                                       adjustments)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(tenant, run_id, *entry) for entry in periods],
    )


async def get(conn: asyncpg.Connection, tenant: str, run_id: UUID) -> RunRow | None:
    row = await conn.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM runs WHERE tenant_id = $1 AND id = $2", tenant, run_id
    )
    return RunRow(**dict(row)) if row else None


async def list_runs(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    period: str | None,
    kind: str | None,
    before: int | None,
    limit: int,
) -> list[RunRow]:
    """Newest first; page on with the last run's position."""
    rows = await conn.fetch(
        f"""SELECT {_RUN_COLUMNS} FROM runs
            WHERE tenant_id = $1 AND ($2::text IS NULL OR period = $2) AND ($3::text IS NULL OR kind = $3)
              AND ($4::bigint IS NULL OR seq < $4)
            ORDER BY seq DESC LIMIT $5""",
        tenant,
        period,
        kind,
        before,
        limit,
    )
    return [RunRow(**dict(r)) for r in rows]


async def recomputes(conn: asyncpg.Connection, tenant: str, run_id: UUID) -> list[RunRow]:
    """The recomputations of settled periods a run booked adjustments from, in the order stored."""
    rows = await conn.fetch(
        f"""SELECT {_RUN_COLUMNS} FROM runs
            WHERE tenant_id = $1
              AND id IN (SELECT recompute_run_id FROM run_recomputes WHERE tenant_id = $1 AND run_id = $2)
            ORDER BY seq""",
        tenant,
        run_id,
    )
    return [RunRow(**dict(r)) for r in rows]


async def current(conn: asyncpg.Connection, tenant: str, period: str, provider: str) -> RunRow | None:
    """The period's current real run for a provider (the view current_runs, sql/migrations/0007)."""
    row = await conn.fetchrow(
        f"""SELECT {_RUN_COLUMNS} FROM runs
            WHERE tenant_id = $1 AND id = (SELECT run_id FROM current_runs
                                           WHERE tenant_id = $1 AND period = $2 AND provider_id = $3)""",
        tenant,
        period,
        provider,
    )
    return RunRow(**dict(row)) if row else None


FOLLOWUP_COLUMNS = (
    "provider_id, granted_minutes, performed_minutes, customers_below_target, licensed_visits, "
    "declined_visits, declined_customers, customers_by_area, payout_by_area"
)


async def _store_followup(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, figures: dict[str, Figures]
) -> None:
    await conn.executemany(
        f"""INSERT INTO run_followup (tenant_id, run_id, {FOLLOWUP_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        [
            (
                tenant,
                run_id,
                provider,
                exact_text(f.granted_minutes),
                exact_text(f.performed_minutes),
                f.customers_below_target,
                dict(f.licensed_visits),
                f.declined_visits,
                sorted(f.declined_customers),
                {area: sorted(who) for area, who in f.customers_by_area.items()},
                {area: str(amount) for area, amount in f.payout_by_area.items()},
            )
            for provider, f in figures.items()
        ],
    )


async def followup(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, provider: str | None = None
) -> dict[str, Figures]:
    """The follow-up figures kept with a run, per provider (of one provider, if given)."""
    rows = await conn.fetch(
        f"""SELECT {FOLLOWUP_COLUMNS} FROM run_followup
            WHERE tenant_id = $1 AND run_id = $2 AND ($3::text IS NULL OR provider_id = $3)
            ORDER BY provider_id""",
        tenant,
        run_id,
        provider,
    )
    return {r["provider_id"]: figures_of(r) for r in rows}


def figures_of(row: asyncpg.Record) -> Figures:
    """Figures from a row of run_followup's columns (or settlement_followup's, the same)."""
    return Figures(
        granted_minutes=parse_exact(row["granted_minutes"]),
        performed_minutes=parse_exact(row["performed_minutes"]),
        customers_below_target=row["customers_below_target"],
        licensed_visits=row["licensed_visits"],
        declined_visits=row["declined_visits"],
        declined_customers=frozenset(row["declined_customers"]),
        customers_by_area={area: frozenset(who) for area, who in row["customers_by_area"].items()},
        payout_by_area={area: Decimal(amount) for area, amount in row["payout_by_area"].items()},
    )


async def lines(
    conn: asyncpg.Connection,
    tenant: str,
    run_id: UUID,
    provider: str | None = None,
    *,
    kinds: list[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[InvoiceLine]:
    """A run's lines in order: all, or those of `kinds`, from `offset` (all with no `limit`)."""
    rows = await conn.fetch(
        f"""SELECT {LINE_SELECT} FROM run_lines rl
            WHERE rl.tenant_id = $1 AND rl.run_id = $2 AND ($3::text IS NULL OR rl.provider_id = $3)
              AND ($4::text[] IS NULL OR rl.kind = ANY ($4::text[]))
            ORDER BY rl.ord LIMIT $5 OFFSET $6""",
        tenant,
        run_id,
        provider,
        kinds,
        limit,
        offset,
    )
    return await read_lines(conn, tenant, rows)


class LineSum(msgspec.Struct, frozen=True, kw_only=True):
    """The amounts of a run's lines of one kind, component and area, summed."""

    kind: str
    component: str
    area: str
    amount: Decimal


async def line_sums(conn: asyncpg.Connection, tenant: str, run_id: UUID, provider: str) -> list[LineSum]:
    """A provider's lines of a run summed per kind, component and area: what the totals add up,
    without reading the lines."""
    rows = await conn.fetch(
        """SELECT kind, component, area, sum(amount) AS amount FROM run_lines
           WHERE tenant_id = $1 AND run_id = $2 AND provider_id = $3
           GROUP BY kind, component, area""",
        tenant,
        run_id,
        provider,
    )
    return [LineSum(**r) for r in rows]


async def line_count(conn: asyncpg.Connection, tenant: str, run_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM run_lines WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
    )


async def line(conn: asyncpg.Connection, tenant: str, line_id: UUID) -> InvoiceLine | None:
    row = await conn.fetchrow(
        f"SELECT {LINE_SELECT} FROM run_lines rl WHERE rl.tenant_id = $1 AND rl.id = $2", tenant, line_id
    )
    return (await read_lines(conn, tenant, [row]))[0] if row else None


async def providers(conn: asyncpg.Connection, tenant: str, only: str | None = None) -> list[tuple[str, str]]:
    """(id, name) of the tenant's providers, or of one."""
    rows = await conn.fetch(
        "SELECT id, name FROM providers WHERE tenant_id = $1 AND ($2::text IS NULL OR id = $2) ORDER BY id",
        tenant,
        only,
    )
    return [(r["id"], r["name"]) for r in rows]


async def customers(
    conn: asyncpg.Connection, tenant: str, pnrs: set[str], chosen: str | None = None
) -> dict[str, tuple[str, bool]]:
    """pnr -> (reference, protected identity) for the customers the registry knows; with `chosen`,
    only those that provider is or was chosen for."""
    rows = await conn.fetch(
        """SELECT pnr, ref, protected FROM customers c WHERE tenant_id = $1 AND pnr = ANY ($2::text[])
             AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM provider_choices p
                  WHERE p.tenant_id = c.tenant_id AND p.pnr = c.pnr AND p.provider_id = $3))""",
        tenant,
        sorted(pnrs),
        chosen,
    )
    return {r["pnr"]: (r["ref"], r["protected"]) for r in rows}


class TrailRows(msgspec.Struct, frozen=True, kw_only=True):
    """The records behind a line, as they are stored now (columns named as the API names them)."""

    decision_lines: list[dict[str, Any]]
    delegations: list[dict[str, Any]]
    enrolments: list[dict[str, Any]]
    visits: list[dict[str, Any]]  # with `seconds`, the visit's length
    claims: list[dict[str, Any]]
    approvals: list[rulings.ApprovalRow]


async def trail(conn: asyncpg.Connection, tenant: str, line: InvoiceLine) -> TrailRows:
    """The records behind a line, as they are stored now."""
    ids = line.trail
    p = line.provider_id
    decision_lines = await conn.fetch(
        """SELECT decision_id AS decision, id, insats_code AS code, category, minutes, occasions, per,
                  valid_from AS "from", valid_to AS "to"
           FROM decision_lines WHERE tenant_id = $1 AND id = ANY ($2::text[]) ORDER BY id""",
        tenant,
        ids.get("decision_lines", []),
    )
    delegations = await conn.fetch(
        """SELECT external_id AS id, valid_from AS "from", valid_to AS "to", insats_code AS code
           FROM delegations WHERE tenant_id = $1 AND provider_id = $2 AND external_id = ANY ($3::text[])
           ORDER BY external_id""",
        tenant,
        p,
        ids.get("delegations", []),
    )
    enrolments = await conn.fetch(
        """SELECT external_id AS id, valid_from AS "from", valid_to AS "to", area, remiss
           FROM enrolments WHERE tenant_id = $1 AND provider_id = $2 AND external_id = ANY ($3::text[])
           ORDER BY external_id""",
        tenant,
        p,
        ids.get("enrolments", []),
    )
    visits = await conn.fetch(
        """SELECT external_id AS id, staff_id AS staff, staff_category, report_type, started_at AS start,
                  ended_at AS "end", extract(epoch FROM ended_at - started_at) AS seconds, codes, method, status
           FROM visits WHERE tenant_id = $1 AND provider_id = $2 AND external_id = ANY ($3::text[])
           ORDER BY external_id""",
        tenant,
        p,
        ids.get("visits", []),
    )
    claims = await conn.fetch(
        """SELECT external_id AS id, type, claim_date AS date, sip_role AS role, requested_amount
           FROM claims WHERE tenant_id = $1 AND provider_id = $2 AND external_id = ANY ($3::text[])
           ORDER BY external_id""",
        tenant,
        p,
        ids.get("claims", []),
    )
    return TrailRows(
        decision_lines=[dict(r) for r in decision_lines],
        delegations=[dict(r) for r in delegations],
        enrolments=[dict(r) for r in enrolments],
        visits=[dict(r) for r in visits],
        claims=[dict(r) for r in claims],
        approvals=await rulings.approvals(conn, tenant, ids.get("approvals", [])),
    )
