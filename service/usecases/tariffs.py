"""Tariff versions (domain.md 5 and 7): load (pending), activate (a second invoice_admin), read.

A version's id is immutable: loading the same file again is a no-op, loading other content under a
known id is refused. Where versions meet is decided by service/domain/versions.py; a version a
settlement used is never replaced and is ended only after its last settled period.
"""

from __future__ import annotations

import asyncpg
import msgspec

from schemas import tariffs as s
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.periods import Period
from service.domain.principal import Principal
from service.domain.tariff import Tariff, TariffError, load_tariff
from service.domain.versions import Overlap, Placement, Version, place
from service.events import event
from service.store import audit
from service.store import tariffs as store
from service.store.tariffs import TariffRow


def decode(source: str) -> Tariff:
    """Decode an uploaded file; a bad file is a 422 naming the field's path."""
    try:
        return load_tariff(source.encode(), "tariff")
    except TariffError as err:
        raise Invalid(
            f"the tariff file is not valid: {err.path or 'file'}: {err.message}",
            [{"field": f"source:{err.path}" if err.path else "source", "message": err.message}],
        ) from None


def summary(row: TariffRow) -> s.Tariff:
    return s.Tariff(**{f: getattr(row, f) for f in s.Tariff.__struct_fields__})


def detail(row: TariffRow) -> s.TariffDetail:
    tariff = store.model(row.source)
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


async def _row(conn: asyncpg.Connection, tenant: str, tariff_id: str) -> TariffRow:
    row = await store.get(conn, tenant, tariff_id)
    if row is None:
        raise NotFound(f"no tariff {tariff_id}")
    return row


async def list_all(conn: asyncpg.Connection, who: Principal) -> list[s.Tariff]:
    return [summary(row) for row in await store.list_all(conn, who.tenant_id)]


async def get(conn: asyncpg.Connection, who: Principal, tariff_id: str) -> s.TariffDetail:
    return detail(await _row(conn, who.tenant_id, tariff_id))


async def _placement(conn: asyncpg.Connection, tenant: str, tariff: Tariff) -> Placement:
    try:
        placement = place(
            Version(tariff.id, tariff.valid_from, tariff.valid_to), await store.active_versions(conn, tenant)
        )
    except Overlap as err:
        raise Conflict(str(err)) from None
    if placement.supersedes is not None:
        settled = await store.settled_through(conn, tenant, placement.supersedes)
        if settled is not None:
            raise Conflict(
                f"{tariff.id} would replace {placement.supersedes}, which settlements used (up to "
                f"{settled}): a version in use is never replaced; load one starting after "
                f"{Period.parse(settled).last.isoformat()}",
                settled_through=settled,
            )
    if placement.ends is not None:
        old, last_day = placement.ends
        settled = await store.settled_through(conn, tenant, old)
        if settled is not None and last_day < Period.parse(settled).last:
            raise Conflict(
                f"{tariff.id} would end {old} on {last_day.isoformat()}, but {settled} was settled under "
                f"it: a new version must start after {Period.parse(settled).last.isoformat()}",
                settled_through=settled,
            )
    return placement


async def load(conn: asyncpg.Connection, who: Principal, source: str) -> tuple[s.Tariff, bool]:
    """Store a new version as pending; (version, created). The same file again returns the stored one."""
    tariff = decode(source)
    await store.lock(conn, who.tenant_id)
    digest = tariff.content_hash()
    existing = await store.get(conn, who.tenant_id, tariff.id)
    if existing is not None:
        if existing.content_hash != digest:
            raise Conflict(
                f"tariff {tariff.id} is already loaded with other content; tariff ids are immutable: "
                "load the corrected file under a new id"
            )
        return summary(existing), False
    if not tariff.header.simulation:  # a simulation is never in force: it may overlap anything
        await _placement(conn, who.tenant_id, tariff)
    await store.insert(conn, who.tenant_id, tariff, source, by=who.name, key=who.key_id)
    await audit.record(
        conn,
        who,
        action="tariff.load",
        entity_kind="tariff",
        entity_ids=[tariff.id],
        payload=source.encode(),
        after={"id": tariff.id, "valid_from": tariff.valid_from, "valid_to": tariff.valid_to, "hash": digest},
    )
    event("tariff.loaded", tenant=who.tenant_id, tariff=tariff.id, valid_from=tariff.valid_from, by=who.role)
    return summary(await _row(conn, who.tenant_id, tariff.id)), True


async def activate(conn: asyncpg.Connection, who: Principal, tariff_id: str) -> s.Tariff:
    """Four eyes: a pending version is activated by an invoice_admin other than the one who loaded it."""
    await store.lock(conn, who.tenant_id)
    row = await _row(conn, who.tenant_id, tariff_id)
    if row.status != "pending":
        raise Conflict(f"tariff {tariff_id} is {row.status}, not pending")
    # One person: the same key, or the same name (a user's session and the keys made for them share it).
    if (row.loaded_by_key is not None and row.loaded_by_key == who.key_id) or row.loaded_by == who.name:
        raise Conflict("a tariff is activated by a second invoice_admin, not the one who loaded it")
    placement = await _placement(conn, who.tenant_id, store.model(row.source))
    if placement.supersedes is not None:
        await store.supersede(conn, who.tenant_id, placement.supersedes, by=tariff_id)
    if placement.ends is not None:
        await store.end_on(conn, who.tenant_id, *placement.ends)
    await store.activate(conn, who.tenant_id, tariff_id, by=who.name, key=who.key_id)
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
    event(
        "tariff.activated",
        tenant=who.tenant_id,
        tariff=tariff_id,
        supersedes=placement.supersedes,
        ends=placement.ends[0] if placement.ends else None,
        by=who.role,
    )
    return summary(await _row(conn, who.tenant_id, tariff_id))
