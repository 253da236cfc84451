"""Reconciliation runs: stored once, with their lines and findings, and never changed.

A period's current real run for a provider is the latest real run that covered it; what-if runs are
kept apart and never current.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from service.domain.lines import exact_text
from service.domain.principal import Principal
from service.reconcile.pricing import Outcome
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


class StoredLine(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    run_id: UUID
    ord: int
    provider_id: str
    kind: str
    component: str
    area: str
    basis: str
    tariff_id: str
    rule: str
    pnr: str | None
    zone: str | None
    unit: str | None
    quantity: str | None
    unit_price: Decimal | None
    amount: Decimal
    held_by: str | None
    discrepancy: str | None
    trail: dict[str, list[str]]
    detail: dict[str, Any]


_RUN_COLUMNS = ", ".join(RunRow.__struct_fields__)
_LINE_COLUMNS = ", ".join(StoredLine.__struct_fields__)
LINE_INSERT = [
    "tenant_id",
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
]


def _summary(outcome: Outcome, providers: list[str]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {
        p: {"provider": p, "total": Decimal("0.00"), "held": Decimal("0.00"), "open_blocking": 0}
        for p in providers
    }
    for line in outcome.lines:
        entry = per.setdefault(
            line.provider,
            {
                "provider": line.provider,
                "total": Decimal("0.00"),
                "held": Decimal("0.00"),
                "open_blocking": 0,
            },
        )
        entry["held" if line.kind == "held" else "total"] += line.amount
    for finding in outcome.findings:
        if finding.kind == "blocking" and finding.status == "open":
            per[finding.provider]["open_blocking"] += 1
    for provider, entry in per.items():
        entry["metrics"] = outcome.metrics.get(provider, {})
    return {
        "providers": [per[p] for p in sorted(per)],
        "discrepancy_counts": dict(sorted(Counter(f.code for f in outcome.findings).items())),
    }


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
    summary = _summary(outcome, providers)
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
    # COPY has no binary form for jsonb: stage the JSON as text, then one INSERT ... SELECT, which
    # also draws the line ids (a uuid4 per line in Python costs a second at 100 000 lines).
    await conn.execute(
        """CREATE TEMP TABLE kv_lines_in (LIKE run_lines) ON COMMIT DROP;
           ALTER TABLE kv_lines_in DROP id, ALTER trail TYPE text, ALTER detail TYPE text"""
    )
    await conn.copy_records_to_table(
        "kv_lines_in",
        columns=LINE_INSERT,
        records=[
            (
                tenant,
                run_id,
                ord_,
                line.provider,
                line.kind,
                line.component.id,
                line.component.area,
                line.component.basis,
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
            for ord_, line in enumerate(outcome.lines, start=1)
        ],
    )
    columns = ", ".join(LINE_INSERT)
    await conn.execute(
        f"""INSERT INTO run_lines (id, {columns})
            SELECT gen_random_uuid(), {columns.replace("trail", "trail::jsonb").replace("detail", "detail::jsonb")}
            FROM kv_lines_in"""
    )
    await conn.copy_records_to_table(
        "run_discrepancies",
        columns=[
            "tenant_id",
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
            "detail",
            "provider_detail",
        ],
        records=[
            (
                tenant,
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
                f.detail,
                f.provider_detail,
            )
            for f in outcome.findings
        ],
    )
    saved = await get(conn, tenant, run_id)
    assert saved is not None
    return saved


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
    """The period's current real run for a provider: the latest real run that covered it."""
    row = await conn.fetchrow(
        f"""SELECT {_RUN_COLUMNS} FROM runs
            WHERE tenant_id = $1 AND period = $2 AND kind = 'real' AND (provider_id IS NULL OR provider_id = $3)
            ORDER BY seq DESC LIMIT 1""",
        tenant,
        period,
        provider,
    )
    return RunRow(**dict(row)) if row else None


async def lines(
    conn: asyncpg.Connection, tenant: str, run_id: UUID, provider: str | None = None
) -> list[StoredLine]:
    rows = await conn.fetch(
        f"""SELECT {_LINE_COLUMNS} FROM run_lines
            WHERE tenant_id = $1 AND run_id = $2 AND ($3::text IS NULL OR provider_id = $3)
            ORDER BY ord""",
        tenant,
        run_id,
        provider,
    )
    return [StoredLine(**dict(r)) for r in rows]


async def line_count(conn: asyncpg.Connection, tenant: str, run_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM run_lines WHERE tenant_id = $1 AND run_id = $2", tenant, run_id
    )


async def line(conn: asyncpg.Connection, tenant: str, line_id: UUID) -> StoredLine | None:
    row = await conn.fetchrow(
        f"SELECT {_LINE_COLUMNS} FROM run_lines WHERE tenant_id = $1 AND id = $2", tenant, line_id
    )
    return StoredLine(**dict(row)) if row else None


async def providers(conn: asyncpg.Connection, tenant: str, only: str | None = None) -> list[tuple[str, str]]:
    """(id, name) of the tenant's providers, or of one."""
    rows = await conn.fetch(
        "SELECT id, name FROM providers WHERE tenant_id = $1 AND ($2::text IS NULL OR id = $2) ORDER BY id",
        tenant,
        only,
    )
    return [(r["id"], r["name"]) for r in rows]


async def customers(conn: asyncpg.Connection, tenant: str, pnrs: set[str]) -> dict[str, tuple[str, bool]]:
    """pnr -> (reference, protected identity) for the customers the registry knows."""
    rows = await conn.fetch(
        "SELECT pnr, ref, protected FROM customers WHERE tenant_id = $1 AND pnr = ANY ($2::text[])",
        tenant,
        sorted(pnrs),
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


async def trail(conn: asyncpg.Connection, tenant: str, line: StoredLine) -> TrailRows:
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
