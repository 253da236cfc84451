"""The discrepancy queue of the workplace (workplace.md, screen 3): a period's discrepancies filtered
(provider, code, kind, status, customer), sorted by the amount at stake, paged; decisions on many at
once with one reason and a result for each; the filtered list as CSV.

Built on the reviews use case: the same discrepancies, visibility, audit entries and rulings as the
JSON API (`/v1/discrepancies`)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec

from schemas import reconcile as s
from service.domain.errors import Problem
from service.domain.principal import Principal
from service.store import queue
from service.usecases import documents as document
from service.usecases import reviews
from service.usecases.access import own_provider
from service.usecases.runs import period_of
from service.usecases.viewers import audit_shown, viewer


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    period: str
    provider: str | None = None
    code: str | None = None
    kind: str | None = None
    status: str | None = None
    customer: str | None = None  # a personnummer or a customer reference


class Item(msgspec.Struct, frozen=True, kw_only=True):
    discrepancy: s.Discrepancy
    # What approving it would pay: the lines it holds, an extraordinary claim's requested amount; 0
    # where nothing it holds pays.
    at_stake: Decimal


class QueuePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Item]
    total: int  # matching the filters
    at_stake: Decimal  # of all that match
    page: int
    pages: int
    codes: list[str]  # the codes present in the period, for the filter


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    ok: bool
    message: str  # the ruling's status, or why it was refused


async def _wanted_customers(conn: asyncpg.Connection, who: Principal, f: Filters) -> list[str] | None:
    """The personnummer the customer filter names: as given, or the one behind a reference the
    caller may know (a provider only those of its customers)."""
    wanted = (f.customer or "").strip()
    if not wanted:
        return None
    chosen = who.provider_id if who.role == "provider" else None
    pnr = await queue.customer_by_ref(conn, who.tenant_id, wanted, chosen)
    return [wanted] if pnr is None else [wanted, pnr]


async def _matching(
    conn: asyncpg.Connection, who: Principal, f: Filters, *, offset: int = 0, limit: int | None = None
) -> queue.Matched:
    """The findings that match, largest amount at stake first, from `offset` (filtered, sorted and
    paged by the database)."""
    return await queue.matching(
        conn,
        who.tenant_id,
        str(period_of(f.period)),
        provider=own_provider(who, f.provider),
        code=f.code,
        kind=f.kind,
        status=f.status,
        customers=await _wanted_customers(conn, who, f),
        offset=offset,
        limit=limit,
    )


async def page(
    conn: asyncpg.Connection,
    who: Principal,
    f: Filters,
    explain: document.Explain,
    *,
    page: int = 1,
    per_page: int = 50,
) -> QueuePage:
    """One page of the queue, largest amount at stake first."""
    page = max(1, page)
    matched = await _matching(conn, who, f, offset=(page - 1) * per_page, limit=per_page)
    pages = max(1, -(-matched.total // per_page))
    if page > pages:  # past the end: the last page
        page = pages
        matched = await _matching(conn, who, f, offset=(page - 1) * per_page, limit=per_page)
    shown = await viewer(conn, who, (x.finding.pnr for x in matched.rows))
    items = [
        Item(discrepancy=document.discrepancy(x.finding, shown, explain), at_stake=x.at_stake)
        for x in matched.rows
    ]
    await audit_shown(conn, who, shown, "discrepancies.read")
    return QueuePage(
        items=items,
        total=matched.total,
        at_stake=matched.at_stake,
        page=page,
        pages=pages,
        codes=matched.codes,
    )


async def decide_many(
    conn: asyncpg.Connection,
    who: Principal,
    ids: list[UUID],
    decision: str,
    reason: str,
    amount: str | None,
    explain: document.Explain,
) -> list[Outcome]:
    """One decision and reason for each picked discrepancy, each on its own: a refusal of one (a hard
    one, one already changed) leaves the others decided. Each ruling is audited as through the API."""
    data = msgspec.convert({"decision": decision, "reason": reason, "amount": amount or None}, s.RulingIn)
    outcomes = []
    for discrepancy_id in ids:
        try:
            async with conn.transaction():
                detail = await reviews.rule(conn, who, discrepancy_id, data, explain)
            outcomes.append(Outcome(id=discrepancy_id, ok=True, message=detail.discrepancy.status))
        except Problem as err:
            outcomes.append(Outcome(id=discrepancy_id, ok=False, message=err.detail))
    return outcomes


CSV_HEADER = (
    "period",
    "provider",
    "code",
    "kind",
    "status",
    "customer",
    "date",
    "record",
    "at_stake",
    "detail",
)


async def export_csv(
    conn: asyncpg.Connection, who: Principal, f: Filters, explain: document.Explain
) -> bytes:
    """The filtered queue for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM; the
    explanations in the language of `explain`."""
    matched = await _matching(conn, who, f)
    shown = await viewer(conn, who, (x.finding.pnr for x in matched.rows))
    items = [
        Item(discrepancy=document.discrepancy(x.finding, shown, explain), at_stake=x.at_stake)
        for x in matched.rows
    ]
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for i in items:
        d = i.discrepancy
        writer.writerow(
            (f.period, d.provider, d.code, d.kind, d.status, d.customer or d.customer_ref or "", d.date,
             d.record, str(i.at_stake).replace(".", ","), d.detail)
        )  # fmt: skip
    await audit_shown(conn, who, shown, "discrepancies.export")
    return out.getvalue().encode()
