"""The service's own state: the data it ships with, put in place at start, and its readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import asyncpg
import msgspec

from schemas.common import Ready
from service import db
from service.domain.catalogue import load_catalogue
from service.domain.errors import Unavailable
from service.domain.principal import Principal
from service.domain.tariff import TariffError, load_tariff
from service.settings import Settings
from service.store import metrics, tariffs, tenants

DATA = resources.files("service") / "data"
SHIPPED_TARIFFS = ("kson-2021.toml", "kson-2024.toml", "kson-2024-utford.toml", "kson-2024-min80.toml")
SYSTEM = "system:shipped"


async def seed_defaults(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Load the shipped insats catalogue for `tenant_id` where it has none of these codes yet, and the
    shipped tariff versions (active from installation) where they are not loaded yet; a shipped file
    changed under a stored id is refused like any other."""
    source = DATA / "kson-insatser.toml"
    await tenants.add_insatser(conn, tenant_id, load_catalogue(source.read_bytes(), str(source)).insatser)
    for name in SHIPPED_TARIFFS:
        path = DATA / "tariffs" / name
        text = path.read_text(encoding="utf-8")
        tariff = load_tariff(text.encode(), str(path))
        stored = await tariffs.get(conn, tenant_id, tariff.id)
        if stored is None:
            await tariffs.insert(conn, tenant_id, tariff, text, by=SYSTEM, active=True)
        elif stored.content_hash != tariff.content_hash():
            raise TariffError("", f"shipped tariff {tariff.id} differs from the stored one", name)


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[tuple[db.Database, asyncpg.Pool]]:
    """The service's database (migrated as the owner, checked, its shipped data in place) and a pool
    of the service's connections to it, for the server and the commands alike. Seeded before the
    pool exists: DDL under a live pool would invalidate its cached statements."""
    async with db.database(settings) as database:
        conn = await db.connect(database.dsn)
        try:
            await seed_defaults(conn, settings.default_tenant)
        finally:
            await conn.close()
        pool = await db.create_pool(database.dsn, settings)
        try:
            yield database, pool
        finally:
            await pool.close()


async def add_tenant(conn: asyncpg.Connection, tenant_id: str) -> None:
    """A tenant named by its id (a scenario's), unless it exists."""
    await tenants.create(conn, tenant_id, tenant_id)


async def readiness(pool: asyncpg.Pool) -> Ready:
    """Ready when the database answers and every migration is applied."""
    try:
        async with pool.acquire(timeout=5) as conn:
            pending = await db.pending_migrations(conn)
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        raise Unavailable(f"database unreachable: {type(err).__name__}") from None
    if pending:
        raise Unavailable(f"migrations not applied: {', '.join(pending)}")
    return Ready(status="ready", migrations=len(db.migration_files()))


class Books(msgspec.Struct, frozen=True, kw_only=True):
    """The state of a tenant's books for monitoring: no personal data, no provider ids."""

    runs: list[tuple[str, int, float]]  # (kind, runs, seconds in all)
    discrepancies: list[tuple[str, str, int]]  # (code, status, count)
    feed_position: int


async def books(conn: asyncpg.Connection, who: Principal) -> Books:
    return Books(
        runs=await metrics.runs(conn, who.tenant_id),
        discrepancies=await metrics.discrepancies(conn, who.tenant_id),
        feed_position=await metrics.feed_position(conn, who.tenant_id),
    )
