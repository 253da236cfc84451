"""The visits table: bulk merges, corrections that keep the replaced version, reads. SQL only: the
rules of use are in `service/usecases/visits.py`.

A batch is copied into a per-connection staging table and merged into `visits` with one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING`, in row order, so received_seq (arrival order, used by
the DUPLICATE check) follows the rows of the batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

import asyncpg
import msgspec


class Staged(NamedTuple):
    """One visit as COPY takes it into visit_stage (these are its columns, in order)."""

    ord: int
    external_id: str
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


class Visit(msgspec.Struct, frozen=True, kw_only=True):
    """A stored visit, with its customer's ref and protection (None and False while the registry
    does not know the number)."""

    provider_id: str
    external_id: str
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
    version: int
    received_at: datetime
    ref: str | None
    protected: bool


class Version(msgspec.Struct, frozen=True, kw_only=True):
    """A replaced version: its content as it was stored, and who replaced it when."""

    version: int
    content: dict[str, Any]
    replaced_at: datetime
    replaced_by: str


class Contended(Exception):
    """PostgreSQL broke a deadlock with another transaction storing some of the same visits."""


# Staged per connection and emptied at every commit.
STAGE = """CREATE TEMP TABLE IF NOT EXISTS visit_stage (
    ord            integer,
    external_id    text,
    pnr            text,
    staff_id       text,
    staff_category text,
    report_type    text,
    started_at     timestamptz,
    ended_at       timestamptz,
    codes          text[],
    method         text,
    status         text,
    content_hash   bytea
) ON COMMIT DELETE ROWS"""

CONTENT = ", ".join(Staged._fields[2:])

MERGE = f"""INSERT INTO visits (tenant_id, provider_id, external_id, {CONTENT})
            SELECT $1, $2, external_id, {CONTENT} FROM visit_stage ORDER BY ord
            ON CONFLICT (tenant_id, provider_id, external_id) DO NOTHING"""

CHANGED = """SELECT s.external_id FROM visit_stage s
             JOIN visits v ON v.tenant_id = $1 AND v.provider_id = $2 AND v.external_id = s.external_id
             WHERE v.content_hash <> s.content_hash ORDER BY s.ord LIMIT $3"""


async def merge(conn: asyncpg.Connection, tenant: str, provider: str, rows: list[Staged]) -> int:
    """Stage the rows and store those whose external id is new; how many were. Raises `Contended`
    when PostgreSQL breaks a deadlock with a concurrent merge."""
    await conn.execute(STAGE)
    await conn.copy_records_to_table("visit_stage", records=rows)
    try:
        status = await conn.execute(MERGE, tenant, provider)
    except asyncpg.DeadlockDetectedError:
        raise Contended from None
    return int(status.rsplit(" ", 1)[1])


async def changed(conn: asyncpg.Connection, tenant: str, provider: str, limit: int) -> list[str]:
    """After `merge`: the external ids of staged rows stored with other content, in row order."""
    return [r["external_id"] for r in await conn.fetch(CHANGED, tenant, provider, limit)]


_SELECT = f"""SELECT {", ".join(f"v.{c}" for c in Visit.__struct_fields__ if c not in ("ref", "protected"))},
                     c.ref, coalesce(c.protected, false) AS protected
              FROM visits v LEFT JOIN customers c ON c.tenant_id = v.tenant_id AND c.pnr = v.pnr"""


async def visit(
    conn: asyncpg.Connection, tenant: str, provider: str, external_id: str, *, lock: bool = False
) -> Visit | None:
    row = await conn.fetchrow(
        f"""{_SELECT} WHERE v.tenant_id = $1 AND v.provider_id = $2 AND v.external_id = $3
            {"FOR UPDATE OF v" if lock else ""}""",
        tenant,
        provider,
        external_id,
    )
    return None if row is None else Visit(**row)


async def versions(conn: asyncpg.Connection, tenant: str, provider: str, external_id: str) -> list[Version]:
    rows = await conn.fetch(
        """SELECT version, content, replaced_at, replaced_by FROM visit_versions
           WHERE tenant_id = $1 AND provider_id = $2 AND external_id = $3 ORDER BY version""",
        tenant,
        provider,
        external_id,
    )
    return [Version(**r) for r in rows]


async def replace(
    conn: asyncpg.Connection, tenant: str, before: Visit, after: Staged, replaced_by: str
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
        *after[2:],
    )


async def visits(
    conn: asyncpg.Connection,
    tenant: str,
    provider: str | None,
    month: date | None,
    after: tuple[str, str],
    limit: int,
) -> list[Visit]:
    """By (provider, external id) after `after`; one provider's, or with None every provider's;
    with `month` (its first day), only the visits whose local start day lies in it."""
    rows = await conn.fetch(
        f"""{_SELECT} WHERE v.tenant_id = $1 AND ($2::text IS NULL OR v.provider_id = $2)
              AND ($3::date IS NULL OR v.service_date >= $3 AND v.service_date < ($3 + interval '1 month'))
              AND (v.provider_id, v.external_id) > ($4, $5)
            ORDER BY v.provider_id, v.external_id LIMIT $6""",
        tenant,
        provider,
        month,
        *after,
        limit,
    )
    return [Visit(**r) for r in rows]
