"""Visits (time registrations), sent by role `provider`: bulk ingestion, corrections, reads.

A batch is all or nothing. Every row is decoded and checked (collecting every problem, with its row
index and field), then the new rows are stored in one merge (`service/store/visits.py`). A row whose
external id is already stored counts as unchanged when its content hash is the same and makes the
batch a 409 when it is not: a changed visit goes through the correction route, which keeps the old
version.

Bad input (domain.md section 6): end not after start, start in the future, a datetime without an
offset, an unknown enum value, a malformed or Luhn-invalid personnummer, an unknown insats code or
one of another report type. A well-formed personnummer the registry does not know is *not* bad
input: the visit is stored and the engine raises UNKNOWN_CUSTOMER until the registry knows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from datetime import UTC, date, datetime

import asyncpg
import msgspec
from msgspec.structs import asdict

from schemas import records as r
from service.domain.bounds import MAX_VISIT
from service.domain.errors import Conflict, Invalid
from service.domain.identity import InvalidIdentity, parse_personnummer
from service.domain.principal import Principal
from service.domain.visibility import record_customer
from service.store import audit, registry
from service.store import visits as store
from service.usecases.access import listed_provider, record_owner
from service.usecases.ingestion import Rows, after_record, audit_write, found, own, record_page
from service.usecases.viewers import audit_read, label

MAX_ROWS = 10_000
MAX_CONFLICTS_NAMED = 100

_CANONICAL = msgspec.json.Encoder()


def content_hash(
    pnr: str,
    staff: str,
    staff_category: str,
    report_type: str,
    start: datetime,
    end: datetime,
    codes: list[str],
    method: str,
    status: str,
) -> bytes:
    """SHA-256 over a canonical encoding: instants in UTC, so the same visit written with another
    offset is the same content."""
    return hashlib.sha256(
        _CANONICAL.encode(
            (
                pnr,
                staff,
                staff_category,
                report_type,
                start.astimezone(UTC),
                end.astimezone(UTC),
                codes,
                method,
                status,
            )
        )
    ).digest()


class Batch(Rows):
    """Visits of one request; `rows` are the distinct ones, ready to store.

    Identity numbers repeat heavily within a batch (a customer has many visits), so each distinct
    text is checked once.
    """

    def __init__(self, provider_id: str, insatser: dict[str, str], now: datetime) -> None:
        super().__init__(r.VisitIn, MAX_ROWS, "visits")
        self.provider_id = provider_id
        self.insatser = insatser  # code -> report type
        self.now = now
        self.rows: list[store.Staged] = []
        self._seen: dict[str, tuple[int, bytes]] = {}
        self._pnrs: dict[str, str | InvalidIdentity] = {}

    def _pnr(self, text: str) -> str | InvalidIdentity:
        known = self._pnrs.get(text)
        if known is None:
            try:
                known = parse_personnummer(text).number
            except InvalidIdentity as err:
                known = err
            self._pnrs[text] = known
        return known

    def check(self, index: int, v: r.VisitIn) -> None:
        ok = True
        start, end, report_type = v.start, v.end, v.report_type
        if end <= start:
            self.error(index, "end", "must be after start")
            ok = False
        elif end - start > MAX_VISIT:
            self.error(index, "end", f"a visit lasts at most {MAX_VISIT.days} days")
            ok = False
        if start > self.now:
            self.error(index, "start", "lies in the future")
            ok = False
        pnr = self._pnr(v.customer)
        if isinstance(pnr, InvalidIdentity):
            self.error(index, "customer", str(pnr))
            ok = False
        insatser = self.insatser
        for j, code in enumerate(v.codes):
            found = insatser.get(code)
            if found != report_type:
                message = (
                    "unknown insats code"
                    if found is None
                    else f"insats {code} belongs to report type {found}, not {report_type}"
                )
                self.error(index, f"codes[{j}]", message)
                ok = False
        if v.provider is not None and v.provider != self.provider_id:
            self.error(index, "provider", "must be absent or the API key's own provider id")
            ok = False
        if not ok:
            return
        digest = content_hash(
            pnr, v.staff, v.staff_category, report_type, start, end, v.codes, v.method, v.status
        )  # type: ignore[arg-type]
        seen = self._seen.get(v.id)
        if seen is not None:
            # The same visit twice in one batch counts once; the same id with other content is bad input.
            if seen[1] != digest:
                self.error(index, "id", f"repeats the id of row {seen[0]} with other content")
            return
        self._seen[v.id] = (index, digest)
        self.rows.append(
            store.Staged(
                pnr,
                v.staff,
                v.staff_category,
                report_type,
                start,
                end,
                v.codes,
                v.method,
                v.status,
                digest,
                v.id,
                len(self.rows),
            )
        )


async def _batch(conn: asyncpg.Connection, who: Principal) -> Batch:
    insatser = await registry.catalogue(conn, who.tenant_id)
    report_types = {code: insats.report_type for code, insats in insatser.items()}
    return Batch(who.provider_id or "", report_types, datetime.now(UTC))


async def post_visits(
    conn: asyncpg.Connection, who: Principal, body: bytes | AsyncIterable[bytes]
) -> r.VisitBatchResult:
    """Store a batch: a JSON array (`bytes`), or NDJSON read as it arrives (chunks). Nothing is
    stored when a row is bad (422) or an id is stored with other content (409)."""
    batch = await _batch(conn, who)
    await batch.read(body)
    batch.done()
    rows = batch.rows
    inserted = 0
    if rows:
        try:
            inserted = await store.merge(conn, who.tenant_id, who.provider_id, rows)
        except store.Contended:
            raise Conflict(
                "another request was storing some of these visits at the same time; send the batch again"
            ) from None
        if inserted < len(rows) and (
            changed := await store.changed(
                conn, who.tenant_id, who.provider_id, rows, MAX_CONFLICTS_NAMED + 1
            )
        ):
            named = changed[:MAX_CONFLICTS_NAMED]
            raise Conflict(
                "nothing of this batch was stored: these ids are stored with other content; "
                "correct a visit with POST /v1/visits/{id}/corrections: "
                + ", ".join(named)
                + (" (and more)" if len(changed) > len(named) else ""),
                conflicts=[{"id": external_id} for external_id in named],
            )
    result = r.VisitBatchResult(inserted=inserted, unchanged=len(rows) - inserted)
    first, last = (rows[0].external_id, rows[-1].external_id) if rows else (None, None)
    await audit.record(
        conn,
        who,
        action="visits.post",
        entity_kind="visit_batch",
        entity_ids=[first, last] if rows else [],
        payload_sha256=batch.digest.hexdigest(),
        after={
            "received": batch.received,
            "distinct": len(rows),
            "inserted": result.inserted,
            "unchanged": result.unchanged,
            "first_id": first,
            "last_id": last,
        },
    )
    return result


# Reads and corrections ---------------------------------------------------------------------------


def _visit(row: store.Visit, role: str, *, single: bool) -> r.Visit:
    customer, ref = record_customer(row.pnr, row.ref, row.protected, row.chosen, role, single=single)
    return r.Visit(
        id=row.external_id,
        provider=row.provider_id,
        customer=customer,
        customer_ref=ref,
        staff=row.staff_id,
        staff_category=row.staff_category,
        report_type=row.report_type,
        start=row.started_at,
        end=row.ended_at,
        codes=row.codes,
        method=row.method,
        status=row.status,
        version=row.version,
        received_at=row.received_at,
    )


async def _stored(
    conn: asyncpg.Connection, who: Principal, external_id: str, *, lock: bool = False
) -> store.Visit:
    return found(await store.visit(conn, own(who, external_id), lock=lock), f"no visit {external_id}")


async def get_visit(
    conn: asyncpg.Connection, who: Principal, external_id: str, provider: str | None = None
) -> r.VisitDetail:
    """One visit with its earlier versions: a provider's own, or (invoice_admin, auditor) the named
    provider's. The read is audited (it shows the number)."""
    key = (who.tenant_id, record_owner(who, provider), external_id)
    row = found(await store.visit(conn, key), f"no visit {external_id}")
    history = await store.versions(conn, key)
    await audit_read(conn, who, "visit.read", [label(row.pnr, row.ref)])
    visit = _visit(row, who.role, single=True)
    # An earlier version of the same customer shows the number as the visit does (not at all for a
    # protected identity the caller may not see).
    versions = [
        r.VisitVersion(**(asdict(h) | {"content": h.content | {"customer": visit.customer}}))
        if h.content.get("customer") == row.pnr
        else r.VisitVersion(**asdict(h))
        for h in history
    ]
    return r.VisitDetail(visit=visit, history=versions)


async def correct_visit(
    conn: asyncpg.Connection, who: Principal, external_id: str, data: r.VisitCorrection, payload: bytes
) -> r.Visit:
    """Replace a visit's content; the old version is kept with who and when."""
    batch = await _batch(conn, who)
    batch.check(0, data.visit)
    if data.visit.id != external_id:
        batch.errors.append({"row": 0, "field": "id", "message": "must be the id in the path"})
    if batch.errors:
        errors = [{"field": f"visit.{e['field']}", "message": e["message"]} for e in batch.errors]
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    before = await _stored(conn, who, external_id, lock=True)
    [wanted] = batch.rows
    if wanted.content_hash != before.content_hash:
        await store.replace(conn, who.tenant_id, before, wanted, who.name)
    after = await _stored(conn, who, external_id)
    await audit_write(
        conn,
        who,
        "visit.correct",
        [f"{who.provider_id}:{external_id}"],
        payload,
        reason=data.reason,
        before=_visit(before, "invoice_admin", single=False),
        after=_visit(after, "invoice_admin", single=False),
    )
    return _visit(after, who.role, single=True)


async def list_visits(
    conn: asyncpg.Connection, who: Principal, provider: str | None, month: date | None, after: str, limit: int
) -> r.VisitPage:
    """A provider's own visits, or (invoice_admin, auditor) every provider's; optionally of one
    month (by local start; `month` is its first day). The cursor is `provider:external_id`. The
    read is audited: one entry naming the customers shown."""
    provider = listed_provider(who, provider)
    rows = await store.visits(conn, who.tenant_id, provider, after_record(after), limit + 1, month)
    items, cursor = record_page(rows, limit)
    await audit_read(conn, who, "visit.list", [label(x.pnr, x.ref) for x in items])
    return r.VisitPage(items=[_visit(x, who.role, single=False) for x in items], next_after=cursor)
