"""Provider records (domain.md section 3): executions, pauses, enrolments and delegations.

One table-driven implementation serves the four kinds: each is keyed by (tenant, provider,
external id), created idempotently, corrected whole (PUT) or ended (its `to`), and audited. The
provider is always the API key's. Another provider's record is simply not found (404), so its
existence is never revealed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import msgspec

from schemas import records as r
from service.domain.errors import Conflict, NotFound
from service.domain.principal import Principal
from service.domain.visibility import shown_pnr
from service.store import audit
from service.store.registry import Checks, catalogue, is_providers_customer, page

Validate = Callable[[asyncpg.Connection, Principal, Any, Checks, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    name: str  # audit entity kind
    table: str
    columns: dict[str, str]  # content column -> field of the request and response Structs
    out: type[msgspec.Struct]
    page: type[msgspec.Struct]
    validate: Validate


async def _no_more(*_args: Any) -> None:
    return None


async def _execution(conn: asyncpg.Connection, who: Principal, _data: Any, checks: Checks, row: dict) -> None:
    if not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM decisions WHERE tenant_id = $1 AND id = $2)",
        who.tenant_id,
        row["decision_id"],
    ):
        checks.add("decision", "unknown decision")


async def _pause(conn: asyncpg.Connection, who: Principal, _data: Any, checks: Checks, row: dict) -> None:
    # A pause stops granted time for every provider, so only a provider that has (or had) the
    # customer by choice or enrolment on some day up to the pause's last day may register one.
    if row["pnr"] and not await is_providers_customer(conn, who, row["pnr"], on_or_before=row["valid_to"]):
        checks.add(
            "customer", "not your customer (by choice or enrolment) on any day up to the pause's last day"
        )


async def _delegation(
    conn: asyncpg.Connection, who: Principal, _data: Any, checks: Checks, row: dict
) -> None:
    insats = (await catalogue(conn, who.tenant_id)).get(row["insats_code"])
    if insats is None:
        checks.add("code", "unknown insats code")
    elif insats.report_type != "hsl_delegated":
        checks.add("code", f"insats {insats.code} is not a delegable task (report type {insats.report_type})")


EXECUTION = Kind(
    "execution",
    "executions",
    {"decision_id": "decision", "valid_from": "from_", "valid_to": "to"},
    r.Execution,
    r.ExecutionPage,
    _execution,
)
PAUSE = Kind(
    "pause",
    "pauses",
    {"pnr": "customer", "reason": "reason", "valid_from": "from_", "valid_to": "to"},
    r.Pause,
    r.PausePage,
    _pause,
)
ENROLMENT = Kind(
    "enrolment",
    "enrolments",
    {"pnr": "customer", "area": "area", "valid_from": "from_", "valid_to": "to", "remiss": "remiss"},
    r.Enrolment,
    r.EnrolmentPage,
    _no_more,
)
DELEGATION = Kind(
    "delegation",
    "delegations",
    {"pnr": "customer", "insats_code": "code", "valid_from": "from_", "valid_to": "to"},
    r.Delegation,
    r.DelegationPage,
    _delegation,
)


async def _content(conn: asyncpg.Connection, who: Principal, kind: Kind, data: Any) -> dict[str, Any]:
    """The row's content columns from a request, checked; every problem at once as a 422."""
    checks = Checks()
    checks.own_provider(data.provider, who)
    row = {column: getattr(data, field) for column, field in kind.columns.items()}
    if "pnr" in row:
        row["pnr"] = checks.pnr(row["pnr"])
    checks.span(row["valid_from"], row["valid_to"])
    await kind.validate(conn, who, data, checks, row)
    checks.done()
    return row


def _select(kind: Kind) -> str:
    if "pnr" not in kind.columns:
        return f"SELECT x.*, NULL AS ref, false AS protected FROM {kind.table} x"
    return (
        f"SELECT x.*, c.ref, coalesce(c.protected, false) AS protected FROM {kind.table} x "
        "LEFT JOIN customers c ON c.tenant_id = x.tenant_id AND c.pnr = x.pnr"
    )


def _out(kind: Kind, row: asyncpg.Record, role: str, *, single: bool) -> Any:
    fields: dict[str, Any] = {"id": row["external_id"], "provider": row["provider_id"]}
    for column, field in kind.columns.items():
        fields[field] = row[column]
    if "pnr" in kind.columns:
        fields["customer"] = shown_pnr(row["pnr"], row["protected"], role, single=single)
        fields["customer_ref"] = row["ref"]
    return kind.out(**fields)


def _audited(kind: Kind, row: asyncpg.Record) -> Any:
    # The audit log keeps the customer's ref (or the masked number), never the number itself.
    return _out(kind, row, "invoice_admin", single=False)


async def _fetch(
    conn: asyncpg.Connection, kind: Kind, who: Principal, external_id: str, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""{_select(kind)} WHERE x.tenant_id = $1 AND x.provider_id = $2 AND x.external_id = $3
            {"FOR UPDATE OF x" if lock else ""}""",
        who.tenant_id,
        who.provider_id,
        external_id,
    )
    if row is None:
        raise NotFound(f"no {kind.name} {external_id}")
    return row


def _ids(who: Principal, external_id: str) -> list[str]:
    return [f"{who.provider_id}:{external_id}"]


async def create(
    conn: asyncpg.Connection, who: Principal, kind: Kind, data: Any, payload: bytes
) -> tuple[Any, bool]:
    content = await _content(conn, who, kind, data)
    columns = list(content)
    inserted = await conn.fetchval(
        f"""INSERT INTO {kind.table} (tenant_id, provider_id, external_id, {", ".join(columns)})
            VALUES ($1, $2, $3, {", ".join(f"${i}" for i in range(4, len(columns) + 4))})
            ON CONFLICT DO NOTHING RETURNING external_id""",
        who.tenant_id,
        who.provider_id,
        data.id,
        *content.values(),
    )
    row = await _fetch(conn, kind, who, data.id)
    if inserted is None and any(row[c] != v for c, v in content.items()):
        raise Conflict(f"{kind.name} {data.id} exists with other content; correct it with PUT")
    await audit.record(
        conn,
        who,
        action=f"{kind.name}.create",
        entity_kind=kind.name,
        entity_ids=_ids(who, data.id),
        payload=payload,
        after=_audited(kind, row),
    )
    return _out(kind, row, who.role, single=True), inserted is not None


async def _update(
    conn: asyncpg.Connection,
    who: Principal,
    kind: Kind,
    external_id: str,
    content: dict[str, Any],
    payload: bytes,
    action: str,
    before: asyncpg.Record,
) -> Any:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(content, start=4))
    await conn.execute(
        f"""UPDATE {kind.table} SET {sets}, changed_seq = nextval('input_change_seq')
            WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
        who.tenant_id,
        who.provider_id,
        external_id,
        *content.values(),
    )
    after = await _fetch(conn, kind, who, external_id)
    await audit.record(
        conn,
        who,
        action=f"{kind.name}.{action}",
        entity_kind=kind.name,
        entity_ids=_ids(who, external_id),
        payload=payload,
        before=_audited(kind, before),
        after=_audited(kind, after),
    )
    return _out(kind, after, who.role, single=True)


async def correct(
    conn: asyncpg.Connection, who: Principal, kind: Kind, external_id: str, data: Any, payload: bytes
) -> Any:
    before = await _fetch(conn, kind, who, external_id, lock=True)
    if data.id != external_id:
        checks = Checks()
        checks.add("id", "must be the id in the path (ids are not renamed)")
        checks.done()
    content = await _content(conn, who, kind, data)
    return await _update(conn, who, kind, external_id, content, payload, "correct", before)


async def end(
    conn: asyncpg.Connection, who: Principal, kind: Kind, external_id: str, to: date | None, payload: bytes
) -> Any:
    before = await _fetch(conn, kind, who, external_id, lock=True)
    checks = Checks()
    checks.span(before["valid_from"], to)
    if kind is PAUSE and before["pnr"]:
        await _pause(conn, who, None, checks, {"pnr": before["pnr"], "valid_to": to})
    checks.done()
    return await _update(conn, who, kind, external_id, {"valid_to": to}, payload, "end", before)


async def get(conn: asyncpg.Connection, who: Principal, kind: Kind, external_id: str) -> Any:
    return _out(kind, await _fetch(conn, kind, who, external_id), who.role, single=True)


async def list_records(
    conn: asyncpg.Connection, who: Principal, kind: Kind, provider: str | None, after: str, limit: int
) -> Any:
    """A provider's own records, or (invoice_admin, auditor) every provider's, optionally one's.
    The cursor is `provider:external_id`."""
    after_provider, _, after_id = after.partition(":")
    rows = await conn.fetch(
        f"""{_select(kind)} WHERE x.tenant_id = $1 AND ($2::text IS NULL OR x.provider_id = $2)
              AND (x.provider_id, x.external_id) > ($3, $4)
            ORDER BY x.provider_id, x.external_id LIMIT $5""",
        who.tenant_id,
        who.provider_id or provider,
        after_provider,
        after_id,
        limit + 1,
    )
    items, cursor = page(rows, limit, lambda x: f"{x['provider_id']}:{x['external_id']}")
    return kind.page(items=[_out(kind, x, who.role, single=False) for x in items], next_after=cursor)
