"""The visits table: bulk merges, corrections that keep the replaced version, reads. SQL only: the
rules of use are in `service/usecases/visits.py`.

A batch is copied into a per-connection staging table and merged into `visits` with one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING`, in row order (a batch of one is inserted directly), so received_seq (arrival order, used by
the DUPLICATE check) follows the rows of the batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from service.store.records import Key, fetch, fetch_page, select


class Content(msgspec.Struct, frozen=True):
    """A visit as its provider sent it; `content_hash` recognises the same visit sent again."""

    pnr: str
    staff_id: str
    staff_category: str
    report_type: str
    started_at: datetime
    ended_at: datetime
    codes: list[str]
    method: str
    status: str
    content_hash: bytes


class Staged(Content, frozen=True):
    """A visit of a batch to merge: its content, external id and position in the batch."""

    external_id: str
    ord: int


class Visit(Content, frozen=True, kw_only=True):
    """A stored visit, with its customer's ref and protection (None and False while the registry
    does not know the number)."""

    provider_id: str
    external_id: str
    version: int
    received_at: datetime
    ref: str | None
    protected: bool
    chosen: bool  # the provider is or was chosen for the customer


class Version(msgspec.Struct, frozen=True, kw_only=True):
    """A replaced version: its content as it was stored, and who replaced it when."""

    version: int
    content: dict[str, Any]
    replaced_at: datetime
    replaced_by: str


class Contended(Exception):
    """PostgreSQL broke a deadlock with another transaction storing some of the same visits."""


CONTENT = ", ".join(Content.__struct_fields__)

# Staged per connection and emptied at every commit; its columns are Staged's.
STAGE = f"""CREATE TEMP TABLE IF NOT EXISTS visit_stage ON COMMIT DELETE ROWS AS
            SELECT {CONTENT}, external_id, 0 AS ord FROM visits WITH NO DATA"""

MERGE = f"""INSERT INTO visits (tenant_id, provider_id, external_id, {CONTENT})
            SELECT $1, $2, external_id, {CONTENT} FROM visit_stage ORDER BY ord
            ON CONFLICT (tenant_id, provider_id, external_id) DO NOTHING"""

CHANGED = """SELECT s.external_id FROM visit_stage s
             JOIN visits v ON v.tenant_id = $1 AND v.provider_id = $2 AND v.external_id = s.external_id
             WHERE v.content_hash <> s.content_hash ORDER BY s.ord LIMIT $3"""

# A batch of one (a system reporting each visit as it is registered) goes in without the staging
# table: making, filling and (at commit) emptying it would cost two round trips and a truncation.
_FIELDS = len(Content.__struct_fields__)
INSERT_ONE = f"""INSERT INTO visits (tenant_id, provider_id, external_id, {CONTENT})
                 VALUES ($1, $2, $3, {", ".join(f"${i}" for i in range(4, _FIELDS + 4))})
                 ON CONFLICT (tenant_id, provider_id, external_id) DO NOTHING"""

CHANGED_ONE = """SELECT external_id FROM visits
                 WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3 AND content_hash <> $4"""


async def merge(conn: asyncpg.Connection, tenant: str, provider: str, rows: list[Staged]) -> int:
    """Store the rows whose external id is new; how many were. Raises `Contended` when PostgreSQL
    breaks a deadlock with a concurrent merge."""
    try:
        if len(rows) == 1:
            row = rows[0]
            status = await conn.execute(
                INSERT_ONE, tenant, provider, row.external_id, *msgspec.structs.astuple(row)[:_FIELDS]
            )
        else:
            await conn.execute(STAGE)
            await conn.copy_records_to_table(
                "visit_stage", records=[msgspec.structs.astuple(r) for r in rows]
            )
            status = await conn.execute(MERGE, tenant, provider)
    except asyncpg.DeadlockDetectedError:
        raise Contended from None
    return int(status.rsplit(" ", 1)[1])


async def changed(
    conn: asyncpg.Connection, tenant: str, provider: str, rows: list[Staged], limit: int
) -> list[str]:
    """After `merge` of `rows`: the external ids of those stored with other content, in row order."""
    if len(rows) == 1:
        found = await conn.fetch(CHANGED_ONE, tenant, provider, rows[0].external_id, rows[0].content_hash)
    else:
        found = await conn.fetch(CHANGED, tenant, provider, limit)
    return [r["external_id"] for r in found]


_QUERY = select("visits", [c for c in Visit.__struct_fields__ if c not in ("ref", "protected", "chosen")])


async def visit(conn: asyncpg.Connection, key: Key, *, lock: bool = False) -> Visit | None:
    return await fetch(conn, _QUERY, Visit, key, lock=lock)


async def versions(conn: asyncpg.Connection, key: Key) -> list[Version]:
    rows = await conn.fetch(
        """SELECT version, content, replaced_at, replaced_by FROM visit_versions
           WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3 ORDER BY version""",
        *key,
    )
    return [Version(**r) for r in rows]


async def replace(
    conn: asyncpg.Connection, tenant: str, before: Visit, after: Content, replaced_by: str
) -> None:
    """Replace a visit's content; the old version goes to visit_versions (the posted fields, the
    number in full) with who replaced it."""
    kept = {
        "id": before.external_id,
        "customer": before.pnr,
        "staff": before.staff_id,
        "staff_category": before.staff_category,
        "report_type": before.report_type,
        "start": before.started_at,
        "end": before.ended_at,
        "codes": before.codes,
        "method": before.method,
        "status": before.status,
    }
    await conn.execute(
        """INSERT INTO visit_versions (tenant_id, provider_id, external_id, version, content, replaced_by)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        tenant,
        before.provider_id,
        before.external_id,
        before.version,
        kept,
        replaced_by,
    )
    await conn.execute(
        f"""UPDATE visits SET ({CONTENT}) = ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13),
                  version = version + 1, changed_seq = nextval('input_change_seq')
            WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3""",
        tenant,
        before.provider_id,
        before.external_id,
        *msgspec.structs.astuple(after)[: len(Content.__struct_fields__)],
    )


async def visits(
    conn: asyncpg.Connection,
    tenant: str,
    provider: str | None,
    after: tuple[str, str],
    limit: int,
    month: date | None,
) -> list[Visit]:
    """With `month` (its first day), only the visits whose local start day lies in it."""
    where = "AND ($6::date IS NULL OR x.service_date >= $6 AND x.service_date < ($6 + interval '1 month'))"
    return await fetch_page(conn, _QUERY, Visit, tenant, provider, after, limit, where, month)
