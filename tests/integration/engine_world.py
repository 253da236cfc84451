"""Small worlds for the engine's tests: records inserted with SQL, priced in one snapshot.

`World` writes the input tables directly (the rules under test are the engine's, not the ingestion's
checks); `price` runs the engine's SQL and pricing without storing a run.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from service.domain.discrepancies import Finding
from service.domain.lines import InvoiceLine
from service.domain.outcome import Outcome
from service.domain.periods import Period
from service.reconcile import inputs, pricing
from service.store import discrepancies, tariffs

TENANT = "kson"
A, B = "prov-a", "prov-b"
ORGNR = {A: "5566778899", B: "5590123450"}
C1, C2, C3 = "193805149493", "194211029188", "193001239825"


class World:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def providers(self, *ids: str) -> None:
        for pid in ids:
            await self.conn.execute(
                "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, $3, $4)",
                TENANT,
                pid,
                ORGNR[pid],
                pid.upper(),
            )

    async def customer(
        self,
        pnr: str,
        zones: list[tuple[str, str]],
        choices: list[tuple[str, str] | tuple[str, str, str | None]] = (),
        *,
        protected: bool = False,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO customers (tenant_id, pnr, ref, protected) VALUES ($1, $2, $3, $4)",
            TENANT,
            pnr,
            "C" + pnr[-8:],
            protected,
        )
        for start, zone in zones:
            await self.conn.execute(
                "INSERT INTO customer_zones (tenant_id, pnr, valid_from, zone) VALUES ($1, $2, $3, $4)",
                TENANT,
                pnr,
                date.fromisoformat(start),
                zone,
            )
        for choice in choices:
            start, provider, end = (*choice, None)[:3]
            await self.conn.execute(
                """INSERT INTO provider_choices (tenant_id, pnr, valid_from, valid_to, provider_id)
                   VALUES ($1, $2, $3, $4, $5)""",
                TENANT,
                pnr,
                date.fromisoformat(start),
                _day(end),
                provider,
            )

    async def decision(self, decision_id: str, pnr: str, *lines: tuple) -> None:
        """lines: (id, code, category, minutes, occasions, per, from, to)."""
        await self.conn.execute(
            "INSERT INTO decisions (tenant_id, id, pnr, decided_on) VALUES ($1, $2, $3, '2020-01-01')",
            TENANT,
            decision_id,
            pnr,
        )
        for line_id, code, category, minutes, occasions, per, start, end in lines:
            await self.conn.execute(
                """INSERT INTO decision_lines (tenant_id, id, decision_id, insats_code, category, minutes,
                                               occasions, per, valid_from, valid_to)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                TENANT,
                line_id,
                decision_id,
                code,
                category,
                Decimal(str(minutes)),
                Decimal(str(occasions)),
                per,
                date.fromisoformat(start),
                _day(end),
            )

    async def execution(
        self, provider: str, ext: str, decision_id: str, start: str, end: str | None = None
    ) -> None:
        await self.conn.execute(
            """INSERT INTO executions (tenant_id, provider_id, external_id, decision_id, valid_from, valid_to)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            TENANT,
            provider,
            ext,
            decision_id,
            date.fromisoformat(start),
            _day(end),
        )

    async def pause(self, provider: str, ext: str, pnr: str, start: str, end: str | None = None) -> None:
        await self.conn.execute(
            """INSERT INTO pauses (tenant_id, provider_id, external_id, pnr, reason, valid_from, valid_to)
               VALUES ($1, $2, $3, $4, 'sjukhus', $5, $6)""",
            TENANT,
            provider,
            ext,
            pnr,
            date.fromisoformat(start),
            _day(end),
        )

    async def enrolment(
        self,
        provider: str,
        ext: str,
        pnr: str,
        area: str,
        start: str,
        end: str | None = None,
        remiss: str | None = "R",
    ) -> None:
        await self.conn.execute(
            """INSERT INTO enrolments (tenant_id, provider_id, external_id, pnr, area, valid_from, valid_to, remiss)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            TENANT,
            provider,
            ext,
            pnr,
            area,
            date.fromisoformat(start),
            _day(end),
            remiss,
        )

    async def delegation(
        self, provider: str, ext: str, pnr: str, code: str, start: str, end: str | None = None
    ) -> None:
        await self.conn.execute(
            """INSERT INTO delegations (tenant_id, provider_id, external_id, pnr, insats_code, valid_from, valid_to)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            TENANT,
            provider,
            ext,
            pnr,
            code,
            date.fromisoformat(start),
            _day(end),
        )

    async def visit(
        self,
        provider: str,
        ext: str,
        pnr: str,
        start: str,
        end: str,
        *,
        report_type: str = "bistand",
        codes: tuple[str, ...] = ("morgonhjalp",),
        staff: str = "S1",
        category: str = "underskoterska",
        method: str = "tag",
        status: str = "performed",
    ) -> None:
        await self.conn.execute(
            """INSERT INTO visits (tenant_id, provider_id, external_id, pnr, staff_id, staff_category, report_type,
                                   started_at, ended_at, codes, method, status, content_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
            TENANT,
            provider,
            ext,
            pnr,
            staff,
            category,
            report_type,
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
            list(codes),
            method,
            status,
            hashlib.sha256(ext.encode()).digest(),
        )

    async def claim(
        self,
        provider: str,
        ext: str,
        kind: str,
        day: str,
        pnr: str | None = None,
        *,
        role: str | None = None,
        requested: str | None = None,
    ) -> None:
        if kind == "sip":
            role = role or "deltagit"
        await self.conn.execute(
            """INSERT INTO claims (tenant_id, provider_id, external_id, type, claim_date, pnr, sip_role,
                                   requested_amount, motivation, content_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            TENANT,
            provider,
            ext,
            kind,
            date.fromisoformat(day),
            pnr,
            role,
            Decimal(requested) if requested else None,
            "motivering" if requested else None,
            hashlib.sha256(ext.encode()).digest(),
        )


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


async def price(
    conn: asyncpg.Connection, period: str, *, provider: str | None = None, tariff: str | None = None
) -> Outcome:
    """Price a period as a run would, without storing it."""
    month = Period.parse(period)
    async with conn.transaction(isolation="repeatable_read"):
        if tariff:
            spans = [await tariffs.forced(conn, TENANT, tariff)]
        else:
            spans = await tariffs.spans(conn, TENANT, month.year_start, month.end)
        decided, _ = await discrepancies.in_force(conn, TENANT)
        read = await inputs.load(conn, TENANT, month, provider, spans)
    return pricing.price(read, decided)


async def decide(
    conn: asyncpg.Connection, finding: Finding, decision: str, amount: str | None = None
) -> None:
    """A decision on a finding, on the version the engine saw (as the decision endpoint does)."""
    await discrepancies.register(conn, TENANT, [finding])
    await conn.execute(
        """INSERT INTO discrepancy_decisions (tenant_id, key, decision, reason, amount, version, decided_by)
           VALUES ($1, $2, $3, 'test', $4, $5, 'test')""",
        TENANT,
        finding.key,
        decision,
        Decimal(amount) if amount else None,
        finding.version,
    )


def lines(outcome: Outcome, component: str | None = None, kind: str = "line") -> list[InvoiceLine]:
    return [x for x in outcome.lines if x.kind == kind and (component is None or x.component == component)]


def codes(outcome: Outcome) -> dict[str, str]:
    """key -> kind of every finding."""
    return {f.key: f.kind for f in outcome.findings}


def finding(outcome: Outcome, key: str) -> Finding:
    return next(f for f in outcome.findings if f.key == key)
