"""Data the service ships with, put in place for the default tenant at start-up (idempotent)."""

from __future__ import annotations

from importlib import resources

import asyncpg

from service.domain.catalogue import load_catalogue
from service.store import tariffs

DATA = resources.files("service") / "data"


async def seed_defaults(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Load the shipped insats catalogue for `tenant_id` where it has none of these codes yet, and the
    shipped tariff versions (active from installation) where they are not loaded yet."""
    source = DATA / "kson-insatser.toml"
    catalogue = load_catalogue(source.read_bytes(), str(source))
    await conn.executemany(
        """INSERT INTO insatser (tenant_id, code, title, category, report_type)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        [(tenant_id, i.code, i.title, i.category, i.report_type) for i in catalogue.insatser],
    )
    await tariffs.seed_shipped(conn, tenant_id)
