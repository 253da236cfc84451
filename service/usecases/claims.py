"""Claims (domain.md section 3), sent by role `provider`: SIP, läkemedelsgenomgång, teamkonferens,
extraordinär insats.

Idempotent on (provider, external id) like visits: the same claim again answers the stored one,
other content under the same id is a 409. A provider withdraws a claim instead of deleting it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable
from datetime import date
from decimal import Decimal

import asyncpg
import msgspec

from schemas import records as r
from service.domain.errors import Conflict, Invalid
from service.domain.money import InvalidMoney, parse_money
from service.domain.principal import Principal
from service.domain.visibility import record_customer
from service.store import audit
from service.store import claims as store
from service.usecases.access import listed_provider, record_owner
from service.usecases.ingestion import Checks, Collected, after_record, audit_write, found, own, record_page
from service.usecases.records import MAX_ROWS
from service.usecases.viewers import audit_read, label

_CANONICAL = msgspec.json.Encoder()


def _content(who: Principal, data: r.ClaimIn) -> store.Content:
    checks = Checks()
    checks.own_provider(data.provider, who)
    pnr = None if isinstance(data, r.TeamkonferensClaim) else checks.pnr(data.customer)
    amount: Decimal | None = None
    if isinstance(data, r.ExtraordinarInsatsClaim):
        try:
            amount = parse_money(data.requested_amount)
        except InvalidMoney as err:
            checks.add("requested_amount", str(err))
        else:
            if amount <= 0:
                checks.add("requested_amount", "must be more than zero")
    checks.done()
    content = {
        "type": type(data).__struct_config__.tag,
        "claim_date": data.date,
        "pnr": pnr,
        "sip_role": data.role if isinstance(data, r.SipClaim) else None,
        "requested_amount": amount,
        "motivation": data.motivation if isinstance(data, r.ExtraordinarInsatsClaim) else None,
    }
    # Canonical: the amount as a two-decimal string, so "2500" and "2500.00" are the same claim.
    digest = hashlib.sha256(
        _CANONICAL.encode([str(v) if isinstance(v, Decimal | date) else v for v in content.values()])
    ).digest()
    return store.Content(**content, content_hash=digest)


def _claim(row: store.Claim, role: str, *, single: bool) -> r.Claim:
    customer, ref = record_customer(row.pnr, row.ref, row.protected, row.chosen, role, single=single)
    return r.Claim(
        id=row.external_id,
        provider=row.provider_id,
        type=row.type,
        date=row.claim_date,
        customer=customer,
        customer_ref=ref,
        role=row.sip_role,
        requested_amount=row.requested_amount,
        motivation=row.motivation,
        status=row.status,
        received_at=row.received_at,
    )


async def _stored(
    conn: asyncpg.Connection, who: Principal, external_id: str, *, lock: bool = False
) -> store.Claim:
    return found(await store.claim(conn, own(who, external_id), lock=lock), f"no claim {external_id}")


async def create_claim(
    conn: asyncpg.Connection, who: Principal, data: r.ClaimIn, payload: bytes
) -> tuple[r.Claim, bool]:
    content = _content(who, data)
    row = await store.insert(conn, own(who, data.id), content)
    created = row is not None
    row = row or await _stored(conn, who, data.id)
    if not created and row.content_hash != content.content_hash:
        raise Conflict(f"claim {data.id} exists with other content; withdraw it and send a new claim")
    after = _claim(row, "invoice_admin", single=False)
    await audit_write(conn, who, "claim.create", [f"{who.provider_id}:{data.id}"], payload, after=after)
    return _claim(row, who.role, single=True), created


async def create_claims(
    conn: asyncpg.Connection, who: Principal, body: bytes | AsyncIterable[bytes]
) -> r.RecordBatchResult:
    """Claims of one request (a JSON array or NDJSON), all or nothing, with the checks of
    `create_claim`: every bad field of every row named (422); the same claim again is unchanged,
    other content under a stored id a 409 naming the ids. One audit entry for the batch."""
    batch = Collected(r.ClaimIn, MAX_ROWS, "claims")
    await batch.read(body)
    contents: dict[str, tuple[int, store.Content]] = {}
    for index, data in batch.items:
        try:
            content = _content(who, data)
        except Invalid as err:
            batch.errors.extend({"row": index, **e} for e in err.extra["errors"])
            continue
        seen = contents.setdefault(data.id, (index, content))
        if seen[1].content_hash != content.content_hash:
            batch.error(index, "id", f"repeats the id of row {seen[0]} with other content")
    batch.done()
    wanted = {external_id: content for external_id, (_, content) in contents.items()}
    stored = await store.insert_claims(conn, who.tenant_id, who.provider_id, wanted)
    inserted = len(stored)
    existing = await store.claims_by_id(
        conn, who.tenant_id, who.provider_id, [i for i in wanted if i not in stored]
    )
    conflicts = [i for i in wanted if i in existing and existing[i].content_hash != wanted[i].content_hash]
    if conflicts:
        raise Conflict(
            "nothing of this batch was stored: these ids are stored with other content; withdraw a "
            "claim and send a new one: " + ", ".join(conflicts[:100]),
            conflicts=[{"id": x} for x in conflicts[:100]],
        )
    result = r.RecordBatchResult(inserted=inserted, unchanged=len(contents) - inserted)
    await audit.record(
        conn,
        who,
        action="claim.batch",
        entity_kind="claim_batch",
        payload_sha256=batch.digest.hexdigest(),
        after={"received": batch.received, "inserted": inserted, "unchanged": result.unchanged},
    )
    return result


async def withdraw_claim(
    conn: asyncpg.Connection, who: Principal, external_id: str, payload: bytes
) -> r.Claim:
    """Withdraw a claim (again: no change), unless its period is already settled for the provider:
    what was paid stays paid."""
    before = await _stored(conn, who, external_id, lock=True)
    if before.status != "withdrawn":
        period = f"{before.claim_date:%Y-%m}"
        if await store.period_settled(conn, who.tenant_id, who.provider_id, period):
            raise Conflict(f"period {period} is settled: a claim in it can no longer be withdrawn")
        await store.withdraw(conn, own(who, external_id))
    after = await _stored(conn, who, external_id)
    await audit_write(
        conn,
        who,
        "claim.withdraw",
        [f"{who.provider_id}:{external_id}"],
        payload,
        before={"status": before.status},
        after={"status": after.status},
    )
    return _claim(after, who.role, single=True)


async def get_claim(
    conn: asyncpg.Connection, who: Principal, external_id: str, provider: str | None = None
) -> r.Claim:
    """One claim: a provider's own, or (invoice_admin, auditor) the named provider's; a read that
    shows a customer is audited."""
    key = (who.tenant_id, record_owner(who, provider), external_id)
    row = found(await store.claim(conn, key), f"no claim {external_id}")
    await audit_read(conn, who, "claim.read", _customers([row]))
    return _claim(row, who.role, single=True)


def _customers(rows: list[store.Claim]) -> list[str]:
    return [label(x.pnr, x.ref) for x in rows if x.pnr]


async def list_claims(
    conn: asyncpg.Connection, who: Principal, provider: str | None, status: str | None, after: str, limit: int
) -> r.ClaimPage:
    """A provider's own claims with their status, or (invoice_admin, auditor) every provider's.
    The cursor is `provider:external_id`. A list that shows customers is audited (one entry)."""
    provider = listed_provider(who, provider)
    rows = await store.claims(conn, who.tenant_id, provider, after_record(after), limit + 1, status)
    items, cursor = record_page(rows, limit)
    await audit_read(conn, who, "claim.list", _customers(items))
    return r.ClaimPage(items=[_claim(x, who.role, single=False) for x in items], next_after=cursor)
