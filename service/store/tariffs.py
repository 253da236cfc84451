"""Tariff versions per tenant: load (pending), activate (a second invoice_admin), read, and the
versions in force over a window of days.

A version's id is immutable: loading the same file again is a no-op, loading other content under a
known id is refused. Where versions meet is decided by service/domain/versions.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from uuid import UUID

import asyncpg
import msgspec

from schemas import tariffs as s
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.periods import Period
from service.domain.principal import Principal
from service.domain.tariff import Component, Tariff, TariffError, load_tariff
from service.domain.versions import Overlap, Placement, TariffSpan, Version, place
from service.store import audit

SHIPPED = ("kson-2021.toml", "kson-2024.toml", "kson-2024-utford.toml", "kson-2024-min80.toml")
SYSTEM = "system:shipped"


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


@lru_cache(maxsize=64)
def model(source: str) -> Tariff:
    """The decoded tariff of a stored source (decoded once per process)."""
    return load_tariff(source.encode(), "<stored tariff>")


async def components(
    conn: asyncpg.Connection, tenant: str, tariff_ids: Iterable[str]
) -> dict[tuple[str, str], Component]:
    """(tariff id, component id) -> component, for these versions in the order given."""
    out: dict[tuple[str, str], Component] = {}
    for tariff_id in tariff_ids:
        out.update(
            {(tariff_id, c.id): c for c in model((await get(conn, tenant, tariff_id)).source).components}
        )
    return out


def decode(source: str, name: str = "tariff") -> Tariff:
    """Decode an uploaded file; a bad file is a 422 naming the field's path."""
    try:
        return load_tariff(source.encode(), name)
    except TariffError as err:
        raise Invalid(
            f"the tariff file is not valid: {err.path or 'file'}: {err.message}",
            [{"field": f"source:{err.path}" if err.path else "source", "message": err.message}],
        ) from None


def summary(row: TariffRow) -> s.Tariff:
    return s.Tariff(
        id=row.id,
        title=row.title,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,  # type: ignore[arg-type]
        content_hash=row.content_hash,
        loaded_by=row.loaded_by,
        loaded_at=row.loaded_at,
        activated_by=row.activated_by,
        activated_at=row.activated_at,
        superseded_by=row.superseded_by,
    )


def detail(row: TariffRow) -> s.TariffDetail:
    tariff = model(row.source)
    return s.TariffDetail(
        **msgspec.structs.asdict(summary(row)),
        file_valid_to=tariff.valid_to,
        components=[
            s.TariffComponent(
                id=c.id, title=c.title, area=c.area, basis=c.basis, unit=c.unit, account=c.account
            )
            for c in tariff.components
        ],
        source=row.source,
    )


async def _lock(conn: asyncpg.Connection, tenant: str) -> None:
    # Placement reads the versions and then writes: one writer per tenant at a time.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('kundval:tariffs:' || $1))", tenant)


async def _row(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffRow | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(TariffRow.__struct_fields__)} FROM tariffs WHERE tenant_id = $1 AND id = $2",
        tenant,
        tariff_id,
    )
    return TariffRow(**dict(row)) if row else None


async def get(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffRow:
    row = await _row(conn, tenant, tariff_id)
    if row is None:
        raise NotFound(f"no tariff {tariff_id}")
    return row


async def list_all(conn: asyncpg.Connection, tenant: str) -> list[TariffRow]:
    rows = await conn.fetch(
        f"SELECT {', '.join(TariffRow.__struct_fields__)} FROM tariffs WHERE tenant_id = $1 "
        "ORDER BY valid_from, id",
        tenant,
    )
    return [TariffRow(**dict(r)) for r in rows]


async def _placement(conn: asyncpg.Connection, tenant: str, tariff: Tariff) -> Placement:
    rows = await conn.fetch(
        "SELECT id, valid_from, valid_to FROM tariffs WHERE tenant_id = $1 AND status = 'active'", tenant
    )
    try:
        placement = place(
            Version(tariff.id, tariff.valid_from, tariff.valid_to), [Version(**dict(r)) for r in rows]
        )
    except Overlap as err:
        raise Conflict(str(err)) from None
    await _refuse_settled_change(conn, tenant, tariff.id, placement)
    return placement


async def _refuse_settled_change(
    conn: asyncpg.Connection, tenant: str, tariff_id: str, placement: Placement
) -> None:
    """domain.md 7: a version a settlement used is never replaced, and is ended only after the last
    period settled under it (settled amounts are never repriced)."""
    if placement.supersedes is not None:
        settled = await _settled_under(conn, tenant, placement.supersedes)
        if settled is not None:
            raise Conflict(
                f"{tariff_id} would replace {placement.supersedes}, which settlements used (up to "
                f"{settled}): a version in use is never replaced; load one starting after "
                f"{Period.parse(settled).last.isoformat()}",
                settled_through=settled,
            )
    if placement.ends is not None:
        old, last_day = placement.ends
        settled = await _settled_under(conn, tenant, old)
        if settled is not None and last_day < Period.parse(settled).last:
            raise Conflict(
                f"{tariff_id} would end {old} on {last_day.isoformat()}, but {settled} was settled under "
                f"it: a new version must start after {Period.parse(settled).last.isoformat()}",
                settled_through=settled,
            )


async def _settled_under(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> str | None:
    """The latest period settled with lines of this version."""
    return await conn.fetchval(
        "SELECT max(period) FROM settlements WHERE tenant_id = $1 AND status = 'settled' AND $2 = ANY (tariffs)",
        tenant,
        tariff_id,
    )


def initial_status(tariff: Tariff) -> str:
    """A loaded version waits for activation, unless it is a simulation: never in force, it takes
    none (followup.md 3)."""
    return "simulation" if tariff.header.simulation else "pending"


async def load(conn: asyncpg.Connection, who: Principal, source: str) -> tuple[TariffRow, bool]:
    """Store a new version as pending; (row, created). The same file again returns the stored one."""
    tariff = decode(source)
    await _lock(conn, who.tenant_id)
    digest = tariff.content_hash()
    existing = await _row(conn, who.tenant_id, tariff.id)
    if existing is not None:
        if existing.content_hash != digest:
            raise Conflict(
                f"tariff {tariff.id} is already loaded with other content; tariff ids are immutable: "
                "load the corrected file under a new id"
            )
        return existing, False
    if not tariff.header.simulation:  # a simulation is never in force: it may overlap anything
        await _placement(conn, who.tenant_id, tariff)
    await conn.execute(
        """INSERT INTO tariffs (tenant_id, id, title, valid_from, valid_to, status, source, content_hash,
                                loaded_by, loaded_by_key)
           VALUES ($1, $2, $3, $4, $5, $10, $6, $7, $8, $9)""",
        who.tenant_id,
        tariff.id,
        tariff.header.title,
        tariff.valid_from,
        tariff.valid_to,
        source,
        digest,
        who.name,
        who.key_id,
        initial_status(tariff),
    )
    await audit.record(
        conn,
        who,
        action="tariff.load",
        entity_kind="tariff",
        entity_ids=[tariff.id],
        payload=source.encode(),
        after={"id": tariff.id, "valid_from": tariff.valid_from, "valid_to": tariff.valid_to, "hash": digest},
    )
    return await get(conn, who.tenant_id, tariff.id), True


async def activate(conn: asyncpg.Connection, who: Principal, tariff_id: str) -> TariffRow:
    """Four eyes: a pending version is activated by an invoice_admin other than the one who loaded it."""
    await _lock(conn, who.tenant_id)
    row = await get(conn, who.tenant_id, tariff_id)
    if row.status != "pending":
        raise Conflict(f"tariff {tariff_id} is {row.status}, not pending")
    if row.loaded_by_key is not None and row.loaded_by_key == who.key_id:
        raise Conflict("a tariff is activated by a second invoice_admin, not the one who loaded it")
    tariff = model(row.source)
    placement = await _placement(conn, who.tenant_id, tariff)
    if placement.supersedes is not None:
        await conn.execute(
            "UPDATE tariffs SET status = 'superseded', superseded_by = $3 WHERE tenant_id = $1 AND id = $2",
            who.tenant_id,
            placement.supersedes,
            tariff_id,
        )
    if placement.ends is not None:
        await conn.execute(
            "UPDATE tariffs SET valid_to = $3 WHERE tenant_id = $1 AND id = $2",
            who.tenant_id,
            *placement.ends,
        )
    await conn.execute(
        """UPDATE tariffs SET status = 'active', activated_by = $3, activated_by_key = $4, activated_at = now()
           WHERE tenant_id = $1 AND id = $2""",
        who.tenant_id,
        tariff_id,
        who.name,
        who.key_id,
    )
    await audit.record(
        conn,
        who,
        action="tariff.activate",
        entity_kind="tariff",
        entity_ids=[tariff_id],
        before={"status": "pending"},
        after={
            "status": "active",
            "supersedes": placement.supersedes,
            "ends": [placement.ends[0], placement.ends[1]] if placement.ends else None,
        },
    )
    return await get(conn, who.tenant_id, tariff_id)


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


async def forced(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffSpan:
    """A what-if prices every day under one version, whatever its validity or status."""
    row = await get(conn, tenant, tariff_id)
    return TariffSpan(model(row.source), date.min, None)


async def seed_shipped(conn: asyncpg.Connection, tenant: str) -> None:
    """The shipped versions, active from installation (a simulation as a simulation); a shipped file
    changed under a stored id is refused like any other."""
    folder = resources.files("service") / "data" / "tariffs"
    for name in SHIPPED:
        source = (folder / name).read_text(encoding="utf-8")
        tariff = load_tariff(source.encode(), str(folder / name))
        stored = await conn.fetchval(
            "SELECT content_hash FROM tariffs WHERE tenant_id = $1 AND id = $2", tenant, tariff.id
        )
        if stored is not None:
            if stored != tariff.content_hash():
                raise TariffError("", f"shipped tariff {tariff.id} differs from the stored one", name)
            continue
        await conn.execute(
            """INSERT INTO tariffs (tenant_id, id, title, valid_from, valid_to, status, source, content_hash,
                                    loaded_by, activated_by, activated_at)
               VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8,
                       CASE WHEN $9 = 'active' THEN $8 END, CASE WHEN $9 = 'active' THEN now() END)""",
            tenant,
            tariff.id,
            tariff.header.title,
            tariff.valid_from,
            tariff.valid_to,
            source,
            tariff.content_hash(),
            SYSTEM,
            "simulation" if tariff.header.simulation else "active",
        )
