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
from service.domain.visibility import Viewer
from service.store import discrepancies, queue
from service.store.discrepancies import StoredFinding
from service.usecases import documents as document
from service.usecases import reviews
from service.usecases.access import own_provider
from service.usecases.runs import period_of
from service.usecases.viewers import audit_shown, viewer

ZERO = Decimal("0.00")
CLAIM_CODE = "EXTRAORDINARY"  # its amount at stake is what the claim requests
MAX_QUEUE = 100_000


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


async def _matching(
    conn: asyncpg.Connection, who: Principal, f: Filters
) -> tuple[list[tuple[StoredFinding, Decimal]], list[str], Viewer]:
    """The findings that match, largest amount at stake first; the period's codes; the caller's view
    of their customers (nothing shown yet: what is shown is audited by the caller)."""
    period = str(period_of(f.period))
    found = await discrepancies.find(
        conn,
        who.tenant_id,
        period=period,
        provider=own_provider(who, f.provider),
        kind=f.kind,
        status=f.status,
        limit=MAX_QUEUE,
    )
    codes = sorted({x.code for x in found})
    if f.code:
        found = [x for x in found if x.code == f.code]
    shown = await viewer(conn, who, (x.pnr for x in found))
    if f.customer and (wanted := f.customer.strip()):
        found = [x for x in found if x.pnr and wanted in (x.pnr, shown.ref(x.pnr))]
    held = await queue.held_amounts(conn, who.tenant_id, period)
    claims = [tuple(x.record.split(":", 1)) for x in found if x.code == CLAIM_CODE and ":" in x.record]
    requested = await queue.requested_amounts(conn, who.tenant_id, claims)  # type: ignore[arg-type]

    def at_stake(x: StoredFinding) -> Decimal:
        amount = held.get((x.run_id, x.key), ZERO)
        if not amount and x.code == CLAIM_CODE:
            amount = requested.get(tuple(x.record.split(":", 1)), ZERO)  # type: ignore[call-overload]
        return amount

    matched = [(x, at_stake(x)) for x in found]
    matched.sort(key=lambda m: (-m[1], m[0].key))
    return matched, codes, shown


async def page(
    conn: asyncpg.Connection, who: Principal, f: Filters, *, page: int = 1, per_page: int = 50
) -> QueuePage:
    """One page of the queue, largest amount at stake first."""
    matched, codes, shown = await _matching(conn, who, f)
    pages = max(1, -(-len(matched) // per_page))
    page = min(max(1, page), pages)
    items = [
        Item(discrepancy=document.discrepancy(x, shown), at_stake=amount)
        for x, amount in matched[(page - 1) * per_page : page * per_page]
    ]
    await audit_shown(conn, who, shown, "discrepancies.read")
    return QueuePage(
        items=items,
        total=len(matched),
        at_stake=sum((amount for _, amount in matched), ZERO),
        page=page,
        pages=pages,
        codes=codes,
    )


async def decide_many(
    conn: asyncpg.Connection, who: Principal, ids: list[UUID], decision: str, reason: str, amount: str | None
) -> list[Outcome]:
    """One decision and reason for each picked discrepancy, each on its own: a refusal of one (a hard
    one, one already changed) leaves the others decided. Each ruling is audited as through the API."""
    data = msgspec.convert({"decision": decision, "reason": reason, "amount": amount or None}, s.RulingIn)
    outcomes = []
    for discrepancy_id in ids:
        try:
            async with conn.transaction():
                detail = await reviews.rule(conn, who, discrepancy_id, data)
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


async def export_csv(conn: asyncpg.Connection, who: Principal, f: Filters) -> bytes:
    """The filtered queue for spreadsheets: semicolon-separated, decimal comma, UTF-8 with BOM."""
    matched, _, shown = await _matching(conn, who, f)
    items = [Item(discrepancy=document.discrepancy(x, shown), at_stake=amount) for x, amount in matched]
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
