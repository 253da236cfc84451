"""Tariff versions per tenant: rows, the writes that load and activate them, and the versions in force
over a window of days. The rules of loading and activating are in service/usecases/tariffs.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from uuid import UUID

import asyncpg
import msgspec

from service.domain.tariff import Component, Tariff, load_tariff
from service.domain.versions import TariffSpan, Version

_SOURCE = "<stored tariff>"


class TariffRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    valid_from: date
    valid_to: date | None
    status: str
    source: str
    content_hash: str
    loaded_by: str
    loaded_by_key: UUID | None
    loaded_at: datetime
    activated_by: str | None
    activated_by_key: UUID | None
    activated_at: datetime | None
    superseded_by: str | None


_COLUMNS = ", ".join(TariffRow.__struct_fields__)


@lru_cache(maxsize=64)
def model(source: str) -> Tariff:
    """The decoded tariff of a stored source (decoded once per process)."""
    return load_tariff(source.encode(), _SOURCE)


async def components(
    conn: asyncpg.Connection, tenant: str, tariff_ids: Iterable[str]
) -> dict[tuple[str, str], Component]:
    """(tariff id, component id) -> component, for these versions in the order given."""
    wanted = list(tariff_ids)
    rows = await conn.fetch(
        "SELECT id, source FROM tariffs WHERE tenant_id = $1 AND id = ANY ($2::text[])", tenant, wanted
    )
    sources = {r["id"]: r["source"] for r in rows}
    return {
        (tariff_id, c.id): c
        for tariff_id in wanted
        if tariff_id in sources
        for c in model(sources[tariff_id]).components
    }


async def lock(conn: asyncpg.Connection, tenant: str) -> None:
    """One writer of a tenant's versions at a time (placing a version reads them, then writes)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('kundval:tariffs:' || $1))", tenant)


async def get(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM tariffs WHERE tenant_id = $1 AND id = $2", tenant, tariff_id
    )
    return TariffRow(**dict(row)) if row else None


async def list_all(conn: asyncpg.Connection, tenant: str) -> list[TariffRow]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM tariffs WHERE tenant_id = $1 ORDER BY valid_from, id", tenant
    )
    return [TariffRow(**dict(r)) for r in rows]


async def active_versions(conn: asyncpg.Connection, tenant: str) -> list[Version]:
    rows = await conn.fetch(
        "SELECT id, valid_from, valid_to FROM tariffs WHERE tenant_id = $1 AND status = 'active'", tenant
    )
    return [Version(**dict(r)) for r in rows]


async def settled_through(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> str | None:
    """The latest period settled with lines of this version."""
    return await conn.fetchval(
        "SELECT max(period) FROM settlements WHERE tenant_id = $1 AND status = 'settled' AND $2 = ANY (tariffs)",
        tenant,
        tariff_id,
    )


async def insert(
    conn: asyncpg.Connection,
    tenant: str,
    tariff: Tariff,
    source: str,
    *,
    by: str,
    key: UUID | None = None,
    active: bool = False,
) -> None:
    """A new version, pending; or active from now (the shipped ones, loaded and activated by `by`).
    A simulation is stored as such, never active and never activated (followup.md 3)."""
    status = "simulation" if tariff.header.simulation else "active" if active else "pending"
    await conn.execute(
        """INSERT INTO tariffs (tenant_id, id, title, valid_from, valid_to, status, source, content_hash,
                                loaded_by, loaded_by_key, activated_by, activated_at)
           VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8, $10,
                   CASE WHEN $9 = 'active' THEN $8 END, CASE WHEN $9 = 'active' THEN now() END)""",
        tenant,
        tariff.id,
        tariff.header.title,
        tariff.valid_from,
        tariff.valid_to,
        source,
        tariff.content_hash(),
        by,
        status,
        key,
    )


async def supersede(conn: asyncpg.Connection, tenant: str, tariff_id: str, by: str) -> None:
    await conn.execute(
        "UPDATE tariffs SET status = 'superseded', superseded_by = $3 WHERE tenant_id = $1 AND id = $2",
        tenant,
        tariff_id,
        by,
    )


async def end_on(conn: asyncpg.Connection, tenant: str, tariff_id: str, last_day: date) -> None:
    await conn.execute(
        "UPDATE tariffs SET valid_to = $3 WHERE tenant_id = $1 AND id = $2", tenant, tariff_id, last_day
    )


async def activate(
    conn: asyncpg.Connection, tenant: str, tariff_id: str, *, by: str, key: UUID | None
) -> None:
    await conn.execute(
        """UPDATE tariffs SET status = 'active', activated_by = $3, activated_by_key = $4, activated_at = now()
           WHERE tenant_id = $1 AND id = $2""",
        tenant,
        tariff_id,
        by,
        key,
    )


async def spans(conn: asyncpg.Connection, tenant: str, first: date, end: date) -> list[TariffSpan]:
    """The active versions over [first, end), in date order, with the days each prices."""
    rows = await conn.fetch(
        """SELECT source, valid_from, valid_to FROM tariffs
           WHERE tenant_id = $1 AND status = 'active' AND during && daterange($2, $3)
           ORDER BY valid_from""",
        tenant,
        first,
        end,
    )
    return [TariffSpan(model(r["source"]), r["valid_from"], r["valid_to"]) for r in rows]


async def forced(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffSpan | None:
    """A what-if prices every day under one version, whatever its validity or status (None: no such
    version)."""
    row = await get(conn, tenant, tariff_id)
    return TariffSpan(model(row.source), date.min, None) if row else None
