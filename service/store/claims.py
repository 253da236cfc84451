"""Claims (domain.md section 3): SIP, läkemedelsgenomgång, teamkonferens, extraordinär insats.

Idempotent on (provider, external id) like visits: the same claim again answers the stored one,
other content under the same id is a 409. A provider withdraws a claim instead of deleting it.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from schemas import records as r
from service.domain.errors import Conflict, NotFound
from service.domain.money import InvalidMoney, parse_money
from service.domain.principal import Principal
from service.domain.visibility import shown_pnr
from service.store import audit
from service.store.registry import Checks, page

_CANONICAL = msgspec.json.Encoder()


def _content(who: Principal, data: r.ClaimIn) -> dict[str, Any]:
    checks = Checks()
    checks.own_provider(data.provider, who)
    claim_type = type(data).__struct_config__.tag
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
        "type": claim_type,
        "claim_date": data.date,
        "pnr": pnr,
        "sip_role": data.role if isinstance(data, r.SipClaim) else None,
        "requested_amount": amount,
        "motivation": data.motivation if isinstance(data, r.ExtraordinarInsatsClaim) else None,
    }
    # Canonical: the amount as a two-decimal string, so "2500" and "2500.00" are the same claim.
    content["content_hash"] = hashlib.sha256(
        _CANONICAL.encode([str(v) if isinstance(v, Decimal | date) else v for v in content.values()])
    ).digest()
    return content


_SELECT = """SELECT k.*, c.ref, coalesce(c.protected, false) AS protected FROM claims k
             LEFT JOIN customers c ON c.tenant_id = k.tenant_id AND c.pnr = k.pnr"""


def _claim(row: asyncpg.Record, role: str, *, single: bool) -> r.Claim:
    return r.Claim(
        id=row["external_id"],
        provider=row["provider_id"],
        type=row["type"],
        date=row["claim_date"],
        customer=shown_pnr(row["pnr"], row["protected"], role, single=single),
        customer_ref=row["ref"],
        role=row["sip_role"],
        requested_amount=row["requested_amount"],
        motivation=row["motivation"],
        status=row["status"],
        received_at=row["received_at"],
    )


async def _fetch(
    conn: asyncpg.Connection, who: Principal, external_id: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""{_SELECT} WHERE k.tenant_id = $1 AND k.provider_id = $2 AND k.external_id = $3
            {"FOR UPDATE OF k" if lock else ""}""",
        who.tenant_id,
        who.provider_id,
        external_id,
    )
    if row is None:
        raise NotFound(f"no claim {external_id}")
    return row


def _ids(who: Principal, external_id: str) -> list[str]:
    return [f"{who.provider_id}:{external_id}"]


async def create(
    conn: asyncpg.Connection, who: Principal, data: r.ClaimIn, payload: bytes
) -> tuple[r.Claim, bool]:
    content = _content(who, data)
    inserted = await conn.fetchval(
        f"""INSERT INTO claims (tenant_id, provider_id, external_id, {", ".join(content)})
            VALUES ($1, $2, $3, {", ".join(f"${i}" for i in range(4, len(content) + 4))})
            ON CONFLICT DO NOTHING RETURNING external_id""",
        who.tenant_id,
        who.provider_id,
        data.id,
        *content.values(),
    )
    row = await _fetch(conn, who, data.id)
    if inserted is None and row["content_hash"] != content["content_hash"]:
        raise Conflict(f"claim {data.id} exists with other content; withdraw it and send a new claim")
    await audit.record(
        conn,
        who,
        action="claim.create",
        entity_kind="claim",
        entity_ids=_ids(who, data.id),
        payload=payload,
        after=_claim(row, "invoice_admin", single=False),
    )
    return _claim(row, who.role, single=True), inserted is not None


async def withdraw(conn: asyncpg.Connection, who: Principal, external_id: str, payload: bytes) -> r.Claim:
    """Withdraw a claim (again: no change), unless its period is already settled for the provider:
    what was paid stays paid."""
    before = await _fetch(conn, who, external_id, lock=True)
    period = f"{before['claim_date']:%Y-%m}"
    if before["status"] != "withdrawn" and await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM settlements
                          WHERE tenant_id = $1 AND provider_id = $2 AND period = $3 AND status = 'settled')""",
        who.tenant_id,
        who.provider_id,
        period,
    ):
        raise Conflict(f"period {period} is settled: a claim in it can no longer be withdrawn")
    if before["status"] != "withdrawn":
        await conn.execute(
            """UPDATE claims SET status = 'withdrawn', changed_seq = nextval('input_change_seq')
               WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
            who.tenant_id,
            who.provider_id,
            external_id,
        )
    after = await _fetch(conn, who, external_id)
    await audit.record(
        conn,
        who,
        action="claim.withdraw",
        entity_kind="claim",
        entity_ids=_ids(who, external_id),
        payload=payload,
        before={"status": before["status"]},
        after={"status": after["status"]},
    )
    return _claim(after, who.role, single=True)


async def get(conn: asyncpg.Connection, who: Principal, external_id: str) -> r.Claim:
    return _claim(await _fetch(conn, who, external_id), who.role, single=True)


async def list_claims(
    conn: asyncpg.Connection,
    who: Principal,
    provider: str | None,
    status: str | None,
    after: str,
    limit: int,
) -> r.ClaimPage:
    """A provider's own claims with their status, or (invoice_admin, auditor) every provider's.
    The cursor is `provider:external_id`."""
    after_provider, _, after_id = after.partition(":")
    rows = await conn.fetch(
        f"""{_SELECT} WHERE k.tenant_id = $1 AND ($2::text IS NULL OR k.provider_id = $2)
              AND ($3::text IS NULL OR k.status = $3)
              AND (k.provider_id, k.external_id) > ($4, $5)
            ORDER BY k.provider_id, k.external_id LIMIT $6""",
        who.tenant_id,
        who.provider_id or provider,
        status,
        after_provider,
        after_id,
        limit + 1,
    )
    items, cursor = page(rows, limit, lambda x: f"{x['provider_id']}:{x['external_id']}")
    return r.ClaimPage(items=[_claim(x, who.role, single=False) for x in items], next_after=cursor)
